// Data-movement kernels: transpose, concatenate, slice. Each walks the output in row-major order
// with an odometer over all but the innermost dim, so the inner loop is a plain (often contiguous)
// copy and the index math is additions only.
#include <algorithm>
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

namespace {

// True when `perm` keeps a prefix of dims in place and swaps the two contiguous groups after it
// (NCHW <-> NHWC, the transposes around every convolution): then the transpose is `batch`
// 2-D transposes of [rows, cols] row-major matrices.
bool as_batched_2d(size_t rank, const size_t* in_dims, const size_t* perm, size_t* batch, size_t* rows,
                   size_t* cols) {
  size_t b = 0;
  while (b < rank && perm[b] == b) ++b;
  if (b == rank) return false;
  const size_t k = perm[b];
  if (k <= b) return false;
  size_t i = b;
  for (size_t d = k; d < rank; ++d, ++i) {
    if (perm[i] != d) return false;
  }
  for (size_t d = b; d < k; ++d, ++i) {
    if (perm[i] != d) return false;
  }
  *batch = numel(b, in_dims);
  *rows = numel(k - b, in_dims + b);
  *cols = numel(rank - k, in_dims + k);
  return true;
}

// Cache-blocked transpose of each [rows, cols] matrix into [cols, rows].
void transpose_2d(const float* in, float* out, size_t batch, size_t rows, size_t cols) {
  constexpr size_t kTile = 32;
  for (size_t n = 0; n < batch; ++n, in += rows * cols, out += rows * cols) {
    for (size_t i0 = 0; i0 < rows; i0 += kTile) {
      const size_t i1 = std::min(rows, i0 + kTile);
      for (size_t j0 = 0; j0 < cols; j0 += kTile) {
        const size_t j1 = std::min(cols, j0 + kTile);
        for (size_t j = j0; j < j1; ++j) {
          for (size_t i = i0; i < i1; ++i) out[j * rows + i] = in[i * cols + j];
        }
      }
    }
  }
}

}  // namespace

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
  size_t batch2d = 0, rows2d = 0, cols2d = 0;
  if (as_batched_2d(rank, in_dims, perm, &batch2d, &rows2d, &cols2d) && rows2d > 1 && cols2d > 1) {
    transpose_2d(in, out, batch2d, rows2d, cols2d);
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
