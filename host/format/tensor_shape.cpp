#include "format/tensor_shape.h"

#include <algorithm>
#include <string>

#include "format/scalar_type.h"

namespace etp::format {

Result<uint64_t> checked_tensor_nbytes(int scalar_type, const flatbuffers::Vector<int32_t>* sizes,
                                       const flatbuffers::Vector<uint8_t>* dim_order) {
  const size_t element_size = scalar_type_size(scalar_type);
  if (element_size == 0) {
    return Status(StatusCode::kMalformed, "unknown scalar type " + std::to_string(scalar_type) + " (expected 0..29)");
  }
  const size_t rank = sizes ? sizes->size() : 0;
  const size_t order_rank = dim_order ? dim_order->size() : 0;
  if (rank > kMaxTensorRank) {
    return Status(StatusCode::kMalformed,
                  "rank " + std::to_string(rank) + " exceeds the limit of " + std::to_string(kMaxTensorRank));
  }
  if (order_rank != rank) {
    return Status(StatusCode::kMalformed,
                  "dim_order has " + std::to_string(order_rank) + " entries but sizes has " + std::to_string(rank));
  }
  uint32_t seen = 0;
  for (size_t i = 0; i < rank; ++i) {
    const uint8_t d = dim_order->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (d >= rank || (seen & (1u << d)) != 0) {
      return Status(StatusCode::kMalformed, "dim_order is not a permutation of 0.." + std::to_string(rank - 1));
    }
    seen |= 1u << d;
  }
  uint64_t nbytes = element_size;
  for (size_t i = 0; i < rank; ++i) {
    const int32_t size = sizes->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (size < 0) {
      return Status(StatusCode::kMalformed,
                    "size " + std::to_string(size) + " of dim " + std::to_string(i) + " is negative");
    }
    if (__builtin_mul_overflow(nbytes, static_cast<uint64_t>(size), &nbytes)) {
      return Status(StatusCode::kMalformed, "byte size overflows 64 bits");
    }
  }
  int64_t sizes64[kMaxTensorRank] = {0};
  for (size_t i = 0; i < rank; ++i) sizes64[i] = sizes->Get(static_cast<flatbuffers::uoffset_t>(i));
  if (!shape_span_fits_int64(sizes64, rank, element_size)) {
    std::string shape;
    for (size_t i = 0; i < rank; ++i) shape += (i ? ", " : "") + std::to_string(sizes64[i]);
    return Status(StatusCode::kMalformed, "shape [" + shape +
                                              "] is too large: its sizes (a 0 counted as 1) times the element size "
                                              "exceed INT64_MAX bytes");
  }
  return nbytes;
}

bool shape_span_fits_int64(const int64_t* sizes, size_t rank, size_t element_size) {
  int64_t span = static_cast<int64_t>(std::max<size_t>(element_size, 1));
  for (size_t i = 0; i < rank; ++i) {
    if (sizes[i] > 0 && __builtin_mul_overflow(span, sizes[i], &span)) return false;
  }
  return true;
}

}  // namespace etp::format
