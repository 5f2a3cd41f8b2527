#include "runtime/host_tensor.h"

#include <algorithm>

#include <cstring>

#include "format/scalar_type.h"
#include "format/tensor_shape.h"

namespace etp::runtime {
namespace {

// Callers guarantee 0 <= rank <= ETP_MAX_RANK (ProgramFile verifies every tensor's rank, et_view
// checks its own); the clamp keeps a broken caller inside the shape arrays, and lets the
// compiler see that the loops below cannot run past them.
int32_t bounded_rank(int32_t rank) { return rank < 0 ? 0 : rank > ETP_MAX_RANK ? ETP_MAX_RANK : rank; }

}  // namespace

size_t element_size(int32_t dtype) { return format::scalar_type_size(dtype); }

void HostTensor::init(int32_t dtype, int32_t rank, const int32_t* in_sizes, const uint8_t* in_dim_order,
                      int32_t dynamism) {
  rank = bounded_rank(rank);
  raw.dtype = dtype;
  raw.rank = rank;
  raw.dynamism = dynamism;
  for (int32_t i = 0; i < rank; ++i) {
    sizes[i] = in_sizes[i];
    dim_order[i] = in_dim_order[i];
  }
  raw.sizes = sizes;
  raw.dim_order = dim_order;
  raw.strides = strides;
  update_strides();
  max_numel = static_cast<uint64_t>(numel());
  raw.capacity = raw.nbytes;
}

void HostTensor::update_strides() {
  int64_t stride = 1;
  for (int32_t i = raw.rank; i-- > 0;) {
    strides[dim_order[i]] = stride;
    stride *= sizes[dim_order[i]];
  }
  raw.nbytes = static_cast<uint64_t>(numel()) * element_size(raw.dtype);
}

int64_t HostTensor::numel() const {
  int64_t n = 1;
  for (int32_t i = 0; i < raw.rank; ++i) n *= sizes[i];
  return n;
}

std::string HostTensor::shape_string() const {
  std::string out = "[";
  for (int32_t i = 0; i < raw.rank; ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + "]";
}

Status HostTensor::resize(int32_t rank, const int64_t* new_sizes) {
  auto requested = [&] {
    std::string out = "[";
    for (int32_t i = 0; i < rank; ++i) out += (i ? ", " : "") + std::to_string(new_sizes[i]);
    return out + "]";
  };
  if (rank != raw.rank) {
    return Status(StatusCode::kInvalidArgument, "cannot resize a rank-" + std::to_string(raw.rank) +
                                                    " tensor to rank " + std::to_string(rank) + " " + requested());
  }
  bool same = true;
  uint64_t count = 1;
  for (int32_t i = 0; i < rank; ++i) {
    if (new_sizes[i] < 0) return Status(StatusCode::kInvalidArgument, "negative size in " + requested());
    same = same && new_sizes[i] == sizes[i];
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(new_sizes[i]), &count)) {
      return Status(StatusCode::kInvalidArgument, "size overflow in " + requested());
    }
  }
  // A 0 makes count 0 whatever the other sizes are; they must still leave strides and
  // sub-products in int64 (see shape_span_fits_int64).
  if (!format::shape_span_fits_int64(new_sizes, static_cast<size_t>(rank), element_size(raw.dtype))) {
    return Status(StatusCode::kInvalidArgument, "size overflow in " + requested() +
                                                    ": its sizes (a 0 counted as 1) times the element size exceed "
                                                    "INT64_MAX bytes");
  }
  if (same) return Status::success();
  if (raw.dynamism == ETP_DYNAMISM_STATIC) {
    return Status(StatusCode::kInvalidArgument,
                  "cannot resize a static tensor of shape " + shape_string() + " to " + requested());
  }
  uint64_t bytes = 0;
  if (count > max_numel || __builtin_mul_overflow(count, element_size(raw.dtype), &bytes) || bytes > raw.capacity) {
    return Status(
        StatusCode::kInvalidArgument,
        "shape " + requested() + " has " + std::to_string(count) + " elements, more than the planned bound of " +
            std::to_string(std::min<uint64_t>(max_numel, raw.capacity / std::max<size_t>(1, element_size(raw.dtype)))));
  }
  for (int32_t i = 0; i < rank; ++i) sizes[i] = new_sizes[i];
  update_strides();
  return Status::success();
}

void HostTensor::set_view_shape(int32_t rank, const int64_t* new_sizes) {
  rank = bounded_rank(rank);
  raw.rank = rank;
  for (int32_t i = 0; i < rank; ++i) {
    sizes[i] = new_sizes[i];
    dim_order[i] = static_cast<uint8_t>(i);
  }
  update_strides();
}

void copy_logical(const etp_tensor& t, const uint8_t* from, uint8_t* to, bool to_tensor) {
  const size_t element = element_size(t.dtype);
  if (t.nbytes == 0) return;  // `from` or `to` may be null
  if (is_contiguous(t)) {
    std::memcpy(to, from, t.nbytes);
    return;
  }
  for_each_element(t, [&](int64_t n, int64_t offset) {
    const int64_t dst = (to_tensor ? offset : n) * static_cast<int64_t>(element);
    const int64_t src = (to_tensor ? n : offset) * static_cast<int64_t>(element);
    std::memcpy(to + dst, from + src, element);
  });
}

}  // namespace etp::runtime
