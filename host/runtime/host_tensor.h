// HostTensor: the host's tensor object. Its first member is the etp_tensor that plugins see,
// so a pointer a plugin passes back (e.g. to resize_tensor) converts to the HostTensor.
// Shape arrays live inside the object and never move. Not thread-safe; a Method owns its
// tensors and runs on one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "core/error.h"
#include "etp_plugin.h"

namespace etp::runtime {

struct HostTensor {
  etp_tensor raw{};                 // must stay first (see above)
  int64_t sizes[ETP_MAX_RANK] = {};
  uint8_t dim_order[ETP_MAX_RANK] = {};
  int64_t strides[ETP_MAX_RANK] = {};
  uint64_t max_numel = 0;  // planned bound (numel at load)

  // Sets dtype, shape and dim order; `capacity` is the bytes at `data` (planned bound).
  void init(int32_t dtype, int32_t rank, const int32_t* sizes, const uint8_t* dim_order, int32_t dynamism);

  // Resizes within the rules of ExecuTorch: same rank; STATIC tensors keep their shape;
  // DYNAMIC_BOUND tensors may hold at most max_numel elements. Strides are recomputed.
  Status resize(int32_t rank, const int64_t* new_sizes);

  // Sets sizes without bound checks, for views the host makes itself (et_view); rank may change
  // and the dim order becomes contiguous.
  void set_view_shape(int32_t rank, const int64_t* new_sizes);

  static HostTensor* from(etp_tensor* t) { return reinterpret_cast<HostTensor*>(t); }
  static const HostTensor* from(const etp_tensor* t) { return reinterpret_cast<const HostTensor*>(t); }

  int64_t numel() const;
  std::string shape_string() const;

 private:
  void update_strides();
};

static_assert(std::is_standard_layout<HostTensor>::value, "HostTensor must be standard layout");
static_assert(offsetof(HostTensor, raw) == 0, "etp_tensor must be the first member");

// Bytes per element for an etp dtype (0 if unknown).
size_t element_size(int32_t dtype);

}  // namespace etp::runtime
