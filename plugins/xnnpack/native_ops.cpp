// Data-movement kernels: transpose, concatenate, slice. Each walks the output in row-major order
// with an odometer over all but the innermost dim, so the inner loop is a plain (often contiguous)
// copy and the index math is additions only.
#include "native_ops.h"
#include <algorithm>

#include <cstdint>
#include <cstring>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

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
bool as_batched_2d(size_t rank, const size_t* in_dims, const size_t* perm, size_t* batch, size_t* rows, size_t* cols) {
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

// Cache-blocked transpose of each [rows, cols] matrix into [cols, rows]. A tile writes one
// output line per column it covers, `rows` elements apart: with many rows those lines share
// L1 sets (4 KiB apart for 1024 fp32 rows), so tall inputs take tiles only 4 or 8 columns
// wide. Tile shapes measured on [32,1024], [1024,64], [512,512], [4096,16] and others: the
// NHWC -> NCHW transpose after a 32x32x64 convolution went from 48 to 8 us.
// Bytes (int8 graphs) take 8x8 register blocks; their output lines are 4x closer than fp32
// ones, so tiles stay 8 columns wide or more (qmobile's NCHW <-> NHWC transposes: 0.75-0.85 us
// each with byte-by-byte copies).
template <typename T>
void transpose_2d(const T* in, T* out, size_t batch, size_t rows, size_t cols) {
  const size_t tile_i = rows >= 256 ? 64 : 32;
  const size_t tile_j = sizeof(T) == 1 ? (rows < 256 ? 32 : 8) : rows < 256 ? 32 : cols < 128 ? 4 : 8;
  for (size_t n = 0; n < batch; ++n, in += rows * cols, out += rows * cols) {
    for (size_t i0 = 0; i0 < rows; i0 += tile_i) {
      const size_t i1 = std::min(rows, i0 + tile_i);
      for (size_t j0 = 0; j0 < cols; j0 += tile_j) {
        const size_t j1 = std::min(cols, j0 + tile_j);
        size_t i_done = i0, j_done = j0;
#if defined(__SSE2__)
        if constexpr (sizeof(T) == 4) {
          // 4x4 register blocks (the NCHW <-> NHWC transposes around every convolution are
          // most of a small convolution's overhead); the tile's ragged edges go below.
          const size_t i4 = i0 + (i1 - i0) / 4 * 4, j4 = j0 + (j1 - j0) / 4 * 4;
          for (size_t i = i0; i < i4; i += 4) {
            for (size_t j = j0; j < j4; j += 4) {
              const T* src = in + i * cols + j;
              __m128 r0 = _mm_loadu_ps(reinterpret_cast<const float*>(src));
              __m128 r1 = _mm_loadu_ps(reinterpret_cast<const float*>(src + cols));
              __m128 r2 = _mm_loadu_ps(reinterpret_cast<const float*>(src + 2 * cols));
              __m128 r3 = _mm_loadu_ps(reinterpret_cast<const float*>(src + 3 * cols));
              _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
              T* dst = out + j * rows + i;
              _mm_storeu_ps(reinterpret_cast<float*>(dst), r0);
              _mm_storeu_ps(reinterpret_cast<float*>(dst + rows), r1);
              _mm_storeu_ps(reinterpret_cast<float*>(dst + 2 * rows), r2);
              _mm_storeu_ps(reinterpret_cast<float*>(dst + 3 * rows), r3);
            }
          }
          for (size_t j = j4; j < j1; ++j) {  // columns right of the 4x4 blocks
            for (size_t i = i0; i < i4; ++i) out[j * rows + i] = in[i * cols + j];
          }
          i_done = i4;  // rows below the blocks, every column
        }
        if constexpr (sizeof(T) == 1) {
          const size_t i8 = i0 + (i1 - i0) / 8 * 8, j8 = j0 + (j1 - j0) / 8 * 8;
          for (size_t i = i0; i < i8; i += 8) {
            for (size_t j = j0; j < j8; j += 8) {
              const auto* src = reinterpret_cast<const uint8_t*>(in + i * cols + j);
              auto row = [&](size_t k) { return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + k * cols)); };
              // Bytes of rows 0..7 interleaved pairwise, then by 2 and 4: each 64-bit half of
              // v0..v3 is one column, rows 0..7 in order.
              const __m128i t0 = _mm_unpacklo_epi8(row(0), row(1)), t1 = _mm_unpacklo_epi8(row(2), row(3));
              const __m128i t2 = _mm_unpacklo_epi8(row(4), row(5)), t3 = _mm_unpacklo_epi8(row(6), row(7));
              const __m128i u0 = _mm_unpacklo_epi16(t0, t1), u1 = _mm_unpackhi_epi16(t0, t1);
              const __m128i u2 = _mm_unpacklo_epi16(t2, t3), u3 = _mm_unpackhi_epi16(t2, t3);
              const __m128i v[4] = {_mm_unpacklo_epi32(u0, u2), _mm_unpackhi_epi32(u0, u2), _mm_unpacklo_epi32(u1, u3),
                                    _mm_unpackhi_epi32(u1, u3)};
              auto* dst = reinterpret_cast<uint8_t*>(out + j * rows + i);
              for (size_t k = 0; k < 4; ++k) {
                _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + (2 * k) * rows), v[k]);
                _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + (2 * k + 1) * rows), _mm_unpackhi_epi64(v[k], v[k]));
              }
            }
          }
          for (size_t j = j8; j < j1; ++j) {  // columns right of the 8x8 blocks
            for (size_t i = i0; i < i8; ++i) out[j * rows + i] = in[i * cols + j];
          }
          i_done = i8;
        }
#endif
        for (size_t j = j_done; j < j1; ++j) {
          for (size_t i = i_done; i < i1; ++i) out[j * rows + i] = in[i * cols + j];
        }
      }
    }
  }
}

// Element types by size: data movement only copies bits.
template <typename F>
bool by_element_size(size_t elem_size, F&& f) {
  switch (elem_size) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    default: return false;
  }
}

template <typename T>
void transpose_typed(const T* in, T* out, size_t rank, const size_t* in_dims, const size_t* perm, size_t n) {
  size_t batch2d = 0, rows2d = 0, cols2d = 0;
  if (as_batched_2d(rank, in_dims, perm, &batch2d, &rows2d, &cols2d) && rows2d > 1 && cols2d > 1) {
    transpose_2d(in, out, batch2d, rows2d, cols2d);
    return;
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
    const T* src = in + offset;
    if (step == 1) {
      std::memcpy(out, src, inner * sizeof(T));
    } else {
      for (size_t j = 0; j < inner; ++j) out[j] = src[j * step];
    }
    out += inner;
    advance(last, out_dims, strides, idx, &offset);
  }
}

}  // namespace

bool transpose(const void* in, void* out, size_t rank, const size_t* in_dims, const size_t* perm, size_t elem_size) {
  if (rank > kMaxRank) return false;
  bool seen[kMaxRank] = {};
  for (size_t i = 0; i < rank; ++i) {
    if (perm[i] >= rank || seen[perm[i]]) return false;
    seen[perm[i]] = true;
  }
  return by_element_size(elem_size, [&](auto zero) {
    using T = decltype(zero);
    const size_t n = numel(rank, in_dims);
    if (n == 0) return true;
    if (rank == 0) {
      std::memcpy(out, in, sizeof(T));
      return true;
    }
    transpose_typed(static_cast<const T*>(in), static_cast<T*>(out), rank, in_dims, perm, n);
    return true;
  });
}

bool concatenate(const void* const* inputs, size_t num_inputs, size_t rank, const size_t* const* input_dims,
                 size_t axis, void* out_data, size_t elem_size) {
  if (elem_size == 0) return false;
  auto* out = static_cast<uint8_t*>(out_data);
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
    inner[i] = numel(rank - axis, input_dims[i] + axis) * elem_size;
    total_inner += inner[i];
  }
  if (outer == 0 || total_inner == 0) return true;
  for (size_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < num_inputs; ++i) {
      if (inner[i] == 0) continue;
      std::memcpy(out, static_cast<const uint8_t*>(inputs[i]) + o * inner[i], inner[i]);
      out += inner[i];
    }
  }
  return true;
}

bool slice(const void* in_data, void* out_data, size_t rank, const size_t* in_dims, const size_t* offsets,
           const size_t* sizes, size_t elem_size) {
  if (rank > kMaxRank || elem_size == 0) return false;
  const auto* in = static_cast<const uint8_t*>(in_data);
  auto* out = static_cast<uint8_t*>(out_data);
  for (size_t i = 0; i < rank; ++i) {
    if (offsets[i] > in_dims[i] || sizes[i] > in_dims[i] - offsets[i]) return false;
  }
  const size_t n = numel(rank, sizes);
  if (n == 0) return true;
  if (rank == 0) {
    std::memcpy(out, in, elem_size);
    return true;
  }
  size_t strides[kMaxRank];  // in bytes
  contiguous_strides(rank, in_dims, strides);
  for (size_t i = 0; i < rank; ++i) strides[i] *= elem_size;
  size_t offset = 0;
  for (size_t i = 0; i < rank; ++i) offset += offsets[i] * strides[i];
  const size_t last = rank - 1;
  const size_t inner = sizes[last];
  const size_t rows = n / inner;
  size_t idx[kMaxRank] = {};
  for (size_t r = 0; r < rows; ++r) {
    std::memcpy(out, in + offset, inner * elem_size);
    out += inner * elem_size;
    advance(last, sizes, strides, idx, &offset);
  }
  return true;
}

uint16_t to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) return sign | (x > 0x7f800000u ? 0x7e00u : 0x7c00u);  // NaN, inf
  if (x >= 0x477ff000u) return sign | 0x7c00u;                                // rounds past 65504
  if (x < 0x38800000u) {                                                      // subnormal or 0
    if (x < 0x33000000u) return sign;                                         // below half the smallest
    const uint32_t mantissa = (x & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - (x >> 23);  // 14..24
    uint32_t h = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (h & 1u))) ++h;
    return sign | static_cast<uint16_t>(h);
  }
  uint32_t h = ((x >> 13) - (112u << 10));  // rebias exponent 127 -> 15
  const uint32_t rest = x & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // carries into the exponent correctly
  return sign | static_cast<uint16_t>(h);
}

float from_half(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu, bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf, NaN (payload kept)
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    exponent = 113;
    while ((mantissa & 0x400u) == 0) mantissa <<= 1, --exponent;
    bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

namespace {

#if defined(__x86_64__)
__attribute__((target("avx,f16c"))) void half_to_float_f16c(const uint16_t* in, float* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
  }
  for (; i < n; ++i) out[i] = from_half(in[i]);
}

__attribute__((target("avx,f16c"))) void float_to_half_f16c(const float* in, uint16_t* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) out[i] = to_half(in[i]);
}

bool has_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;  // CPUID leaf 1, ECX bit 29 (clang-14 has no "f16c" builtin name)
  return __builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
const bool kHasF16c = has_f16c();
#endif

}  // namespace

void half_to_float(const uint16_t* in, float* out, size_t n) {
#if defined(__x86_64__)
  if (kHasF16c) return half_to_float_f16c(in, out, n);
#endif
  for (size_t i = 0; i < n; ++i) out[i] = from_half(in[i]);
}

void float_to_half(const float* in, uint16_t* out, size_t n) {
#if defined(__x86_64__)
  if (kHasF16c) return float_to_half_f16c(in, out, n);
#endif
  for (size_t i = 0; i < n; ++i) out[i] = to_half(in[i]);
}

}  // namespace etp_xnnpack::native
