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
  etp_tensor raw{};  // must stay first (see above)
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

// True when `t`'s dim order is the identity (its bytes are in row-major order).
inline bool is_contiguous(const etp_tensor& t) {
  for (int32_t d = 0; d < t.rank; ++d) {
    if (t.dim_order[d] != d) return false;
  }
  return true;
}

// Calls fn(logical_index, storage_offset) for every element of `t`, in row-major logical
// order, whatever its dim order (offsets in elements, through the strides).
template <typename F>
void for_each_element(const etp_tensor& t, F&& fn) {
  int64_t numel = 1;
  for (int32_t d = 0; d < t.rank; ++d) numel *= t.sizes[d];
  int64_t index[ETP_MAX_RANK] = {0};
  for (int64_t n = 0; n < numel; ++n) {
    int64_t offset = 0;
    for (int32_t d = 0; d < t.rank; ++d) offset += index[d] * t.strides[d];
    fn(n, offset);
    for (int32_t d = t.rank - 1; d >= 0 && ++index[d] == t.sizes[d]; --d) index[d] = 0;
  }
}

// Copies between a row-major buffer and `t`'s storage (any dim order); one block when `t`
// is contiguous. `to_tensor` chooses the direction.
void copy_logical(const etp_tensor& t, const uint8_t* from, uint8_t* to, bool to_tensor);

}  // namespace etp::runtime
