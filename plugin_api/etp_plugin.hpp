// etp_plugin.hpp: optional header-only C++ helpers for plugin authors, on top of
// etp_plugin.h. Nothing here is part of the ABI; a plugin may ignore it entirely.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <exception>
#include <initializer_list>

#include "etp_plugin.h"

// ETP_PLUGIN_EXPORT (the one exported symbol) is defined in etp_plugin.h since ABI 1.2.
#ifndef ETP_PLUGIN_EXPORT
#define ETP_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))
#endif

namespace etp_sdk {

// Bytes per element of an etp_dtype (0 for unknown values).
inline size_t dtype_size(int32_t dtype) {
  switch (dtype) {
    case ETP_DTYPE_UINT8: case ETP_DTYPE_INT8: case ETP_DTYPE_BOOL: case ETP_DTYPE_QINT8: case ETP_DTYPE_QUINT8:
      return 1;
    case ETP_DTYPE_INT16: case ETP_DTYPE_FLOAT16: case ETP_DTYPE_BFLOAT16: case ETP_DTYPE_UINT16:
      return 2;
    case ETP_DTYPE_INT32: case ETP_DTYPE_FLOAT32: case ETP_DTYPE_QINT32: case ETP_DTYPE_UINT32: case ETP_DTYPE_COMPLEX32:
      return 4;
    case ETP_DTYPE_INT64: case ETP_DTYPE_FLOAT64: case ETP_DTYPE_UINT64: case ETP_DTYPE_COMPLEX64:
      return 8;
    case ETP_DTYPE_COMPLEX128:
      return 16;
    default:
      return 0;
  }
}

inline const char* dtype_name(int32_t dtype) {
  switch (dtype) {
    case ETP_DTYPE_UINT8: return "uint8";
    case ETP_DTYPE_INT8: return "int8";
    case ETP_DTYPE_INT16: return "int16";
    case ETP_DTYPE_INT32: return "int32";
    case ETP_DTYPE_INT64: return "int64";
    case ETP_DTYPE_FLOAT16: return "float16";
    case ETP_DTYPE_FLOAT32: return "float32";
    case ETP_DTYPE_FLOAT64: return "float64";
    case ETP_DTYPE_BOOL: return "bool";
    case ETP_DTYPE_BFLOAT16: return "bfloat16";
    case ETP_DTYPE_QINT8: return "qint8";
    case ETP_DTYPE_QUINT8: return "quint8";
    case ETP_DTYPE_QINT32: return "qint32";
    case ETP_DTYPE_UINT16: return "uint16";
    case ETP_DTYPE_UINT32: return "uint32";
    case ETP_DTYPE_UINT64: return "uint64";
    case ETP_DTYPE_COMPLEX32: return "complex32";
    case ETP_DTYPE_COMPLEX64: return "complex64";
    case ETP_DTYPE_COMPLEX128: return "complex128";
    default: return "unknown dtype";
  }
}

inline int64_t numel(const etp_tensor& t) {
  int64_t n = 1;
  for (int32_t i = 0; i < t.rank; ++i) n *= t.sizes[i];
  return n;
}

// True when the dim order is the identity (row-major contiguous).
inline bool is_contiguous_order(const etp_tensor& t) {
  for (int32_t i = 0; i < t.rank; ++i) {
    if (t.dim_order[i] != i) return false;
  }
  return true;
}

// Logs an ERROR through the host (printf-style) and returns `status`, so kernels can write
// `return fail(host, ETP_ERR_DTYPE, "aten::add.out: ...")`.
inline etp_status fail(const etp_host_api* host, etp_status status, const char* format, ...)
    __attribute__((format(printf, 3, 4)));
inline etp_status fail(const etp_host_api* host, etp_status status, const char* format, ...) {
  char message[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  if (host != nullptr && ETP_ABI_HAS(host, log)) host->log(host->self, ETP_LOG_ERROR, message);
  return status;
}

// Resizes an output tensor through the host, which enforces the planned bound.
inline etp_status resize(const etp_host_api* host, etp_tensor* tensor, int32_t rank, const int64_t* sizes) {
  return host->resize_tensor(host->self, tensor, rank, sizes);
}
inline etp_status resize(const etp_host_api* host, etp_tensor* tensor, std::initializer_list<int64_t> sizes) {
  return resize(host, tensor, static_cast<int32_t>(sizes.size()), sizes.begin());
}

// Runs `body` (returning etp_status) and turns any escaping exception into
// ETP_ERR_INTERNAL with a log line, so no exception crosses the ABI.
template <typename Body>
etp_status guarded(const etp_host_api* host, const char* what, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    return fail(host, ETP_ERR_INTERNAL, "%s: unexpected exception: %s", what, e.what());
  } catch (...) {
    return fail(host, ETP_ERR_INTERNAL, "%s: unexpected exception", what);
  }
}

// A static table of (operator name, kernel) pairs with the plugin-table functions over it.
struct KernelEntry {
  const char* name;
  etp_kernel_fn fn;
};

class KernelTable {
 public:
  constexpr KernelTable(const KernelEntry* entries, uint32_t count) : entries_(entries), count_(count) {}

  etp_status resolve(const char* op_name, etp_kernel* out) const {
    for (uint32_t i = 0; i < count_; ++i) {
      if (std::strcmp(entries_[i].name, op_name) == 0) {
        out->fn = entries_[i].fn;
        out->self = nullptr;
        return ETP_OK;
      }
    }
    return ETP_ERR_NOT_FOUND;
  }
  uint32_t size() const { return count_; }
  const char* name(uint32_t index) const { return index < count_ ? entries_[index].name : nullptr; }

 private:
  const KernelEntry* entries_;
  uint32_t count_;
};

}  // namespace etp_sdk
