#include "format/tensor_shape.h"

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
  return nbytes;
}

}  // namespace etp::format
