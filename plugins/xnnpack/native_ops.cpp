// Data-movement kernels: transpose, concatenate, slice. Each walks the output in row-major order
// with an odometer over all but the innermost dim, so the inner loop is a plain (often contiguous)
// copy and the index math is additions only.
#include "native_ops.h"

#include <cstring>

namespace etp_xnnpack::native {
namespace {

// Row-major element strides of `dims`.
void contiguous_strides(size_t rank, const size_t* dims, size_t* strides) {
  size_t stride = 1;
  for (size_t i = rank; i-- > 0;) {
    strides[i] = stride;
    stride *= dims[i];
  }
}

// Advances the odometer `idx` over dims [0, last) of `dims` and keeps `offset` equal to
// sum(idx[d] * strides[d]). The innermost dim (`last`) is handled by the caller's row loop.
inline void advance(size_t last, const size_t* dims, const size_t* strides, size_t* idx, size_t* offset) {
  for (size_t d = last; d-- > 0;) {
    if (++idx[d] < dims[d]) {
      *offset += strides[d];
      return;
    }
    *offset -= (dims[d] - 1) * strides[d];
    idx[d] = 0;
  }
}

}  // namespace

size_t numel(size_t rank, const size_t* dims) {
  size_t n = 1;
  for (size_t i = 0; i < rank; ++i) n *= dims[i];
  return n;
}

bool transpose(const float* in, float* out, size_t rank, const size_t* in_dims, const size_t* perm) {
  if (rank > kMaxRank) return false;
  bool seen[kMaxRank] = {};
  for (size_t i = 0; i < rank; ++i) {
    if (perm[i] >= rank || seen[perm[i]]) return false;
    seen[perm[i]] = true;
  }
  const size_t n = numel(rank, in_dims);
  if (n == 0) return true;
  if (rank == 0) {
    out[0] = in[0];
    return true;
  }
  size_t in_strides[kMaxRank];
  contiguous_strides(rank, in_dims, in_strides);
  size_t out_dims[kMaxRank], strides[kMaxRank];  // strides: input stride of each output dim
  for (size_t i = 0; i < rank; ++i) {
    out_dims[i] = in_dims[perm[i]];
    strides[i] = in_strides[perm[i]];
  }
  const size_t last = rank - 1;
  const size_t inner = out_dims[last];
  const size_t step = strides[last];
  const size_t rows = n / inner;
  size_t idx[kMaxRank] = {};
  size_t offset = 0;
  for (size_t r = 0; r < rows; ++r) {
    const float* src = in + offset;
    if (step == 1) {
      std::memcpy(out, src, inner * sizeof(float));
    } else {
      for (size_t j = 0; j < inner; ++j) out[j] = src[j * step];
    }
    out += inner;
    advance(last, out_dims, strides, idx, &offset);
  }
  return true;
}

bool concatenate(const float* const* inputs, size_t num_inputs, size_t rank, const size_t* const* input_dims,
                 size_t axis, float* out) {
  if (num_inputs == 0 || num_inputs > kMaxConcatInputs || rank == 0 || rank > kMaxRank || axis >= rank) {
    return false;
  }
  const size_t* first = input_dims[0];
  for (size_t i = 1; i < num_inputs; ++i) {
    for (size_t d = 0; d < rank; ++d) {
      if (d != axis && input_dims[i][d] != first[d]) return false;
    }
  }
  // Every input is [outer, inner_i] with outer = prod(dims[0, axis)); the output interleaves rows.
  const size_t outer = numel(axis, first);
  size_t inner[kMaxConcatInputs];
  size_t total_inner = 0;
  for (size_t i = 0; i < num_inputs; ++i) {
    inner[i] = numel(rank - axis, input_dims[i] + axis);
    total_inner += inner[i];
  }
  if (outer == 0 || total_inner == 0) return true;
  for (size_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < num_inputs; ++i) {
      if (inner[i] == 0) continue;
      std::memcpy(out, inputs[i] + o * inner[i], inner[i] * sizeof(float));
      out += inner[i];
    }
  }
  return true;
}

bool slice(const float* in, float* out, size_t rank, const size_t* in_dims, const size_t* offsets,
           const size_t* sizes) {
  if (rank > kMaxRank) return false;
  for (size_t i = 0; i < rank; ++i) {
    if (offsets[i] > in_dims[i] || sizes[i] > in_dims[i] - offsets[i]) return false;
  }
  const size_t n = numel(rank, sizes);
  if (n == 0) return true;
  if (rank == 0) {
    out[0] = in[0];
    return true;
  }
  size_t strides[kMaxRank];
  contiguous_strides(rank, in_dims, strides);
  size_t offset = 0;
  for (size_t i = 0; i < rank; ++i) offset += offsets[i] * strides[i];
  const size_t last = rank - 1;
  const size_t inner = sizes[last];
  const size_t rows = n / inner;
  size_t idx[kMaxRank] = {};
  for (size_t r = 0; r < rows; ++r) {
    std::memcpy(out, in + offset, inner * sizeof(float));
    out += inner;
    advance(last, sizes, strides, idx, &offset);
  }
  return true;
}

}  // namespace etp_xnnpack::native
