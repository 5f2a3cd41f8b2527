// Checks shared by PTE tensors and PTD tensor layouts: dtype, sizes, dim order, byte size.
#pragma once

#include <cstdint>

#include <flatbuffers/flatbuffers.h>

#include "core/error.h"

namespace etp::format {

// ExecuTorch's limit on tensor rank (kTensorDimensionLimit).
constexpr size_t kMaxTensorRank = 16;

// Validates a serialized tensor shape and returns its size in bytes. `sizes` and
// `dim_order` may be null (rank 0). Checks: known dtype, rank <= 16, sizes >= 0,
// dim_order a permutation of [0, rank), and no overflow in the byte count. The error
// message says what is wrong but not where; callers add that.
Result<uint64_t> checked_tensor_nbytes(int scalar_type, const flatbuffers::Vector<int32_t>* sizes,
                                       const flatbuffers::Vector<uint8_t>* dim_order);

}  // namespace etp::format
