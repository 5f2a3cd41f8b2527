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

// True when the sizes, each 0 counted as 1, times `element_size` multiply to at most INT64_MAX
// (sizes must be >= 0). A dim of size 0 makes a tensor empty, and the running byte count 0, so
// the other dims are not bounded by it: then strides (in elements or bytes) and any product of
// sizes that leaves the 0 out could overflow int64 in the host and in every plugin. With this
// bound none can, for empty tensors as for others (for which it only refuses more than 2^63
// bytes). The loader checks every tensor with it, and so does HostTensor::resize.
bool shape_span_fits_int64(const int64_t* sizes, size_t rank, size_t element_size);

}  // namespace etp::format
