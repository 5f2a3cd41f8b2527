// Helpers shared by the data-movement, indexing and linear-algebra kernels: more argument
// accessors, output resizing with a message, and strided copies of "views" (a base pointer plus
// per-dim strides), so view-like operators are written as one copy between two views.
// Header-only and plugin-private; everything lives in etp_portable::movement.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernel_util.h"

namespace etp_portable {
namespace movement {

// ----- arguments --------------------------------------------------------------------------

// optional_int_arg, optional_int_list_arg and tensor_list_arg live in kernel_util.h.

// A bool that must be false (non_blocking, sparse, scale_grad_by_freq ...).
inline bool false_arg(const Ctx& c, uint32_t i, const char* what) {
  bool v = false;
  if (!bool_arg(c, i, &v)) return false;
  if (v) {
    fail(c.host, ETP_ERR_NOT_SUPPORTED, "%s: %s=True is not supported", c.op, what);
    return false;
  }
  return true;
}

// ----- checks and resizing ------------------------------------------------------------------

// Checks that both entries of the [h, w] pair `v` (argument `what`) are >= min.
inline bool pair_at_least(const Ctx& c, const char* what, const int64_t v[2], int64_t min) {
  for (int k = 0; k < 2; ++k) {
    if (v[k] < min) {
      fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: %s entry %lld must be >= %lld", c.op, what,
           static_cast<long long>(v[k]), static_cast<long long>(min));
      return false;
    }
  }
  return true;
}

// Fails with ETP_ERR_DTYPE unless `t` has dtype `expected`.
inline etp_status same_dtype(const Ctx& c, const etp_tensor& t, int32_t expected, const char* what) {
  if (t.dtype != expected) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: %s has dtype %s, expected %s", c.op, what, etp_sdk::dtype_name(t.dtype),
                etp_sdk::dtype_name(expected));
  }
  return ETP_OK;
}

// Fails with ETP_ERR_DTYPE when the dtype has no known element size.
inline etp_status known_dtype(const Ctx& c, const etp_tensor& t, const char* what) {
  if (etp_sdk::dtype_size(t.dtype) == 0) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: %s has unsupported dtype %s (%d)", c.op, what,
                etp_sdk::dtype_name(t.dtype), t.dtype);
  }
  return ETP_OK;
}

// Index dtypes (int64 or int32).
inline etp_status index_dtype(const Ctx& c, const etp_tensor& t, const char* what) {
  if (t.dtype != ETP_DTYPE_INT64 && t.dtype != ETP_DTYPE_INT32) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: %s has dtype %s, expected int64 or int32", c.op, what,
                etp_sdk::dtype_name(t.dtype));
  }
  return ETP_OK;
}
inline int64_t load_index(const etp_tensor& t, int64_t offset) {
  return t.dtype == ETP_DTYPE_INT32 ? static_cast<const int32_t*>(t.data)[offset]
                                    : static_cast<const int64_t*>(t.data)[offset];
}

inline bool same_shape(const etp_tensor& a, const etp_tensor& b) {
  if (a.rank != b.rank) return false;
  for (int32_t d = 0; d < a.rank; ++d) {
    if (a.sizes[d] != b.sizes[d]) return false;
  }
  return true;
}

inline uint8_t* byte_ptr(const etp_tensor& t) { return static_cast<uint8_t*>(t.data); }

// ----- views ---------------------------------------------------------------------------------

// Copies the `rank`/`sizes` index space from src (base, strides in elements) to dst, elements
// of `elem` bytes. Both sides share the element type.
inline void copy_view(int32_t rank, const int64_t* sizes, uint8_t* dst, const int64_t* dst_strides, const uint8_t* src,
                      const int64_t* src_strides, size_t elem) {
  // Rows contiguous on both sides (slices along outer dims, cat, RoPE's halves): one memcpy per
  // row, after coalesce_dims has made the rows as long as both layouts allow. memmove, not
  // memcpy: a program may plan an out over its input, and overlap must not be undefined.
  int64_t shape[ETP_MAX_RANK];
  int64_t st[2][ETP_MAX_RANK];
  for (int32_t d = 0; d < rank; ++d) {
    shape[d] = sizes[d];
    st[0][d] = dst_strides[d];
    st[1][d] = src_strides[d];
    if (sizes[d] == 0) return;
  }
  rank = coalesce_dims<2>(rank, shape, st);
  // Rows under 64 bytes copy faster element by element than through a call.
  if (rank > 0 && st[0][rank - 1] == 1 && st[1][rank - 1] == 1 && shape[rank - 1] * static_cast<int64_t>(elem) >= 64) {
    const size_t bytes = static_cast<size_t>(shape[rank - 1]) * elem;
    const int64_t e = static_cast<int64_t>(elem);
    for_each_strided(rank - 1, shape, st[0], st[1], nullptr,
                     [&](int64_t od, int64_t os, int64_t) { std::memmove(dst + od * e, src + os * e, bytes); });
    return;
  }
  sizes = shape;
  dst_strides = st[0];
  src_strides = st[1];
  switch (elem) {
#define ETP_MV_CASE(N, T)                                                                    \
  case N: {                                                                                  \
    T* d = reinterpret_cast<T*>(dst);                                                        \
    const T* s = reinterpret_cast<const T*>(src);                                            \
    for_each_strided(rank, sizes, dst_strides, src_strides, nullptr,                         \
                     [&](int64_t od, int64_t os, int64_t) { d[od] = s[os]; });               \
    return;                                                                                  \
  }
    ETP_MV_CASE(1, uint8_t)
    ETP_MV_CASE(2, uint16_t)
    ETP_MV_CASE(4, uint32_t)
    ETP_MV_CASE(8, uint64_t)
#undef ETP_MV_CASE
    default:
      for_each_strided(rank, sizes, dst_strides, src_strides, nullptr, [&](int64_t od, int64_t os, int64_t) {
        std::memcpy(dst + od * static_cast<int64_t>(elem), src + os * static_cast<int64_t>(elem), elem);
      });
  }
}

// Copies a whole tensor into another of the same numel and element size, both walked in
// logical (row-major) order; shapes may differ (view_copy, squeeze, unsqueeze ...).
inline void copy_logical(const etp_tensor& src, etp_tensor* dst) {
  const size_t elem = etp_sdk::dtype_size(src.dtype);
  const int64_t n = etp_sdk::numel(src);
  if (n == 0) return;
  if (etp_sdk::is_contiguous_order(src) && etp_sdk::is_contiguous_order(*dst)) {
    std::memmove(dst->data, src.data, static_cast<size_t>(n) * elem);
    return;
  }
  if (same_shape(src, *dst)) {
    copy_view(src.rank, src.sizes, byte_ptr(*dst), dst->strides, byte_ptr(src), src.strides, elem);
    return;
  }
  // Different shapes and a permuted order on one side: walk src with an odometer while the
  // destination follows in its own logical order.
  int64_t didx[ETP_MAX_RANK] = {0};
  int64_t doff = 0;
  const uint8_t* s = byte_ptr(src);
  uint8_t* d = byte_ptr(*dst);
  for_each_strided(src.rank, src.sizes, src.strides, nullptr, nullptr, [&](int64_t so, int64_t, int64_t) {
    std::memcpy(d + doff * static_cast<int64_t>(elem), s + so * static_cast<int64_t>(elem), elem);
    for (int32_t k = dst->rank - 1; k >= 0; --k) {
      if (++didx[k] < dst->sizes[k]) {
        doff += dst->strides[k];
        break;
      }
      doff -= dst->strides[k] * (dst->sizes[k] - 1);
      didx[k] = 0;
    }
  });
}

// Copies a view of src into a view of dst converting the element type (dtype conversion as
// static_cast; to bool is != 0). Defined in copy.cpp. ETP_ERR_DTYPE (logged) when either
// dtype cannot be converted; same dtypes of any element size are always accepted.
etp_status convert_view(const Ctx& c, int32_t rank, const int64_t* sizes, const etp_tensor& dst, int64_t dst_base,
                        const int64_t* dst_strides, const etp_tensor& src, int64_t src_base,
                        const int64_t* src_strides);

// Stores `value` converted to dst's dtype at every position of a view of dst. Defined in
// copy.cpp. ETP_ERR_DTYPE (logged) for dtypes without arithmetic.
etp_status fill_view(const Ctx& c, int32_t rank, const int64_t* sizes, const etp_tensor& dst, int64_t dst_base,
                     const int64_t* dst_strides, double value);

}  // namespace movement
}  // namespace etp_portable
