// Dynamically quantized fully-connected layers (native_qd8.h). The arithmetic, from XNNPACK's
// sources at the commit ExecuTorch 1.4.1 pins (quantization.h, the qd8-f32-qb4w/qc4w/qc8w GEMM
// kernels and their weight packing), checked bit for bit against ExecuTorch's runtime on
// exported layers; fl() is rounding to fp32, fma() a fused multiply-add:
//
// Row quantization (xnn_f32_qd8_asymmetric_quantization_params): rmin = min(0, min x),
//   rmax = max(0, max x); m = rmin == rmax ? 1 : fl(255 / fl(rmax - rmin)); dmin = fl(rmin m),
//   dmax = fl(rmax m); the zero point is fl(-128 - dmin) if fl(fl(-128 + dmin) + fl(127 + dmax))
//   > 0, else fl(127 - dmax), clamped to [-128, 127] and rounded to nearest even; the scale
//   kept is fl(1 / m); q = saturate_int8(round_even(fl(x m)) + zero_point). Stored offset to
//   u8, a = q + 128 (zp' = zero_point + 128), as XNNPACK's VNNI kernels take them.
//
// Per-channel weights (qc4w, qc8w): acc = sum_k (a_k - zp') w_k exactly in int32;
//   out = clamp(fma(fl(float(acc) * inv_scale), scale[n], bias[n])).
//
// Block weights (qb4w, 4-bit w, bf16 scale s_b per block of k):
//   ksum[n] = -sum over chunks of 16 k, in k order, of fl(float(sum of the chunk's w) * s_b)
//   (each step rounded to fp32) at packing; then v = fl(ksum * zp'); for each block in k order
//   v = fma(float(sum_{k in b} a_k w_k), s_b, v); out = clamp(fl(fl(v * inv_scale) + bias[n])).
//
// 4-bit weights are unpacked as 16 w (a nibble moved to the top of its byte) by the VNNI kernel
// and the portable loop, whose block sums are then 16 times the true ones, divided back exactly
// before the multiply-add with s_b; the AVX2 kernel forms the true sums (from w + 8).
//
// This file is compiled with -ffp-contract=off: every fp32 step above is one rounding.
#include "native_qd8.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "native_qd8_layout.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace etp_xnnpack::native {
namespace {

using qd8_layout::bf16_slot;
using qd8_layout::kChunkK4;
using qd8_layout::kChunkK8;
using qd8_layout::kMaxRows;
using qd8_layout::kPanel;
using qd8_layout::panel_bytes;
using qd8_layout::round_up;
constexpr size_t kKsumChunk = 16;

size_t panels_of(const Qd8Layer& l) { return (l.n + kPanel - 1) / kPanel; }

// Weight (c, k) of the file's layout, 0 outside the layer.
int32_t weight_at(const Qd8Layer& l, const uint8_t* w, size_t c, size_t k) {
  if (c >= l.n || k >= l.k) return 0;
  if (l.kind == Qd8Weights::kQC8) return static_cast<int8_t>(w[c * l.k + k]);
  const uint8_t byte = w[c * ((l.k + 1) / 2) + k / 2];
  return static_cast<int32_t>(k % 2 == 0 ? byte & 15u : byte >> 4) - 8;
}

// Writes the chunks of k range [k_begin, k_end) of one panel's columns.
void pack_chunks(const Qd8Layer& l, const uint8_t* w, size_t panel, size_t k_begin, size_t k_end, uint8_t* dst) {
  const bool four_bit = l.kind != Qd8Weights::kQC8;
  const size_t step = four_bit ? kChunkK4 : kChunkK8;
  for (size_t k0 = k_begin; k0 < k_end; k0 += step, dst += 64) {
    for (size_t c = 0; c < kPanel; ++c) {
      const size_t col = panel * kPanel + c;
      for (size_t j = 0; j < 4; ++j) {
        if (four_bit) {
          const uint32_t lo = static_cast<uint32_t>(weight_at(l, w, col, k0 + j)) & 15u;
          const uint32_t hi = static_cast<uint32_t>(weight_at(l, w, col, k0 + 4 + j)) & 15u;
          dst[c * 4 + j] = static_cast<uint8_t>(lo | hi << 4);
        } else {
          dst[c * 4 + j] = static_cast<uint8_t>(weight_at(l, w, col, k0 + j));
        }
      }
    }
  }
}

// A 4-bit two's complement nibble's value.
int32_t nibble(uint32_t bits) { return static_cast<int32_t>(bits ^ 8u) - 8; }

// ---- the portable kernel: one output at a time, the same arithmetic as the SIMD ones ---------

// Column c's sum over one chunk, times 16 for 4-bit weights (as the SIMD kernels see them).
int64_t chunk_dot(const Qd8Layer& l, const uint8_t* chunk, size_t c, const uint8_t* a) {
  int64_t acc = 0;
  for (size_t j = 0; j < 4; ++j) {
    const uint8_t byte = chunk[c * 4 + j];
    if (l.kind == Qd8Weights::kQC8) {
      acc += int64_t{a[j]} * static_cast<int8_t>(byte);
    } else {
      acc += 16 * (int64_t{a[j]} * nibble(byte & 15u) + int64_t{a[4 + j]} * nibble(byte >> 4u));
    }
  }
  return acc;
}

void run_portable(const Qd8Layer& l, const uint8_t* packed, const uint8_t* a, const Qd8Params* params, float lo,
                  float hi, float* out, size_t row_begin, size_t row_end, size_t panel_begin, size_t panel_end) {
  const size_t step = l.kind == Qd8Weights::kQC8 ? kChunkK8 : kChunkK4;
  const size_t padded = l.kind == Qd8Weights::kQB4 ? l.k : round_up(l.k, step);
  std::vector<uint8_t> row(padded + 8, 0);
  for (size_t r = row_begin; r < row_end; ++r) {
    std::memcpy(row.data(), a + r * l.k, l.k);
    const int32_t zp = params[r].zero_point + 128;
    const float inv = params[r].inv_scale;
    for (size_t p = panel_begin; p < panel_end; ++p) {
      const uint8_t* panel = packed + p * panel_bytes(l);
      for (size_t c = 0; c < kPanel && p * kPanel + c < l.n; ++c) {
        float v;
        if (l.kind == Qd8Weights::kQB4) {
          const float* ksum = reinterpret_cast<const float*>(panel);
          const float* bias = ksum + kPanel;
          v = ksum[c] * static_cast<float>(zp);
          for (size_t b = 0; b < l.k / l.block; ++b) {
            const uint8_t* chunk = panel + qd8_layout::qb4_chunks_offset(l, b);
            int64_t acc = 0;  // fits an int32 (compile checks the block size)
            for (size_t k0 = 0; k0 < l.block; k0 += kChunkK4, chunk += 64) {
              acc += chunk_dot(l, chunk, c, &row[b * l.block + k0]);
            }
            uint16_t scale;
            std::memcpy(&scale, panel + qd8_layout::qb4_scales_offset(l, b) + 2 * bf16_slot(c), sizeof(scale));
            v = std::fma(static_cast<float>(acc / 16), bf16_to_float(scale), v);  // acc is 16 times the sum
          }
          v = v * inv;
          v = v + bias[c];
        } else {
          const int32_t* wsum = reinterpret_cast<const int32_t*>(panel);
          const float* scale = reinterpret_cast<const float*>(panel + 64);
          const float* bias = scale + kPanel;
          const uint8_t* chunk = panel + 192;
          int64_t acc = 0;  // fits an int32 (compile checks k)
          for (size_t k0 = 0; k0 < padded; k0 += step, chunk += 64) acc += chunk_dot(l, chunk, c, &row[k0]);
          acc -= int64_t{zp} * wsum[c];
          if (l.kind == Qd8Weights::kQC4) acc /= 16;  // exact: every term is a multiple of 16
          v = static_cast<float>(acc) * inv;
          v = std::fma(v, scale[c], bias[c]);
        }
        out[r * l.n + p * kPanel + c] = std::min(std::max(v, lo), hi);
      }
    }
  }
}

#if defined(__x86_64__)

#define ETP_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))
#include "native_qd8_vnni.inc"

// ---- AVX2 + FMA: the same panels, each 64-byte chunk taken as two halves of 8 columns, 1 to 4
// rows per tile (the weights are unpacked once per tile). vpdpbusd is emulated exactly:
// vpmaddubsw (u8 x s8 pairs to int16), then vpmaddwd by ones. 4-bit weights are taken unsigned,
// u = w + 8 in [0, 15] (the packed nibble xor 8): a pair is at most 2 * 255 * 15 and a chunk's
// two pairs add to at most 15300, so nothing saturates; the true sum is sum a u - 8 sum a, with
// the sums of each row's activations per block (or over k) taken once per row tile. For 8-bit
// weights the activation's top bit is taken apart (pairs of at most 2 * 128 * 127 each).

#define ETP_AVX2 __attribute__((target("avx2,fma")))

ETP_AVX2 inline __m256i broadcast_a2(const uint8_t* row, size_t k) {
  int32_t word;
  std::memcpy(&word, row + k, 4);
  return _mm256_set1_epi32(word);
}

// acc[r][h] += sum a u over one 4-bit chunk (8 k from k), for each row r and half h.
template <int MR>
ETP_AVX2 inline void chunk_dot4_avx2(const uint8_t* chunk, const uint8_t* const* rows, size_t k, __m256i (*acc)[2]) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x88)), mask = _mm256_set1_epi8(15);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i low[2], high[2];
  for (int h = 0; h < 2; ++h) {
    const __m256i bytes = _mm256_xor_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(chunk) + h), flip);
    low[h] = _mm256_and_si256(bytes, mask);
    high[h] = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), mask);
  }
  for (int r = 0; r < MR; ++r) {
    const __m256i a0 = broadcast_a2(rows[r], k), a1 = broadcast_a2(rows[r], k + 4);
    for (int h = 0; h < 2; ++h) {
      const __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(a0, low[h]), _mm256_maddubs_epi16(a1, high[h]));
      acc[r][h] = _mm256_add_epi32(acc[r][h], _mm256_madd_epi16(pairs, ones));
    }
  }
}

// acc[r][h] += sum a w over one 8-bit chunk (4 k from k).
template <int MR>
ETP_AVX2 inline void chunk_dot8_avx2(const uint8_t* chunk, const uint8_t* const* rows, size_t k, __m256i (*acc)[2]) {
  const __m256i top = _mm256_set1_epi8(static_cast<char>(0x80)), ones = _mm256_set1_epi16(1);
  __m256i w[2];
  for (int h = 0; h < 2; ++h) w[h] = _mm256_load_si256(reinterpret_cast<const __m256i*>(chunk) + h);
  for (int r = 0; r < MR; ++r) {
    const __m256i a = broadcast_a2(rows[r], k);
    const __m256i a_low = _mm256_andnot_si256(top, a), a_high = _mm256_and_si256(top, a);
    for (int h = 0; h < 2; ++h) {
      const __m256i low = _mm256_madd_epi16(_mm256_maddubs_epi16(a_low, w[h]), ones);
      const __m256i high = _mm256_madd_epi16(_mm256_maddubs_epi16(a_high, w[h]), ones);
      acc[r][h] = _mm256_add_epi32(acc[r][h], _mm256_add_epi32(low, high));
    }
  }
}

// sums[g] = the sum of row[g * group, (g + 1) * group), for `groups` groups.
ETP_AVX2 void activation_sums(const uint8_t* row, size_t group, size_t groups, int32_t* sums) {
  for (size_t g = 0; g < groups; ++g) {
    const uint8_t* bytes = row + g * group;
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= group; i += 32) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes + i));
      acc = _mm256_add_epi64(acc, _mm256_sad_epu8(v, _mm256_setzero_si256()));
    }
    const __m128i half = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    int64_t sum = _mm_cvtsi128_si64(half) + _mm_extract_epi64(half, 1);
    for (; i < group; ++i) sum += bytes[i];
    sums[g] = static_cast<int32_t>(sum);  // at most 255 * qd8_max_k()
  }
}

ETP_AVX2 void store_avx2(__m256 v, float lo, float hi, float* out, size_t columns) {
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(lo)), _mm256_set1_ps(hi));
  if (columns >= 8) return _mm256_storeu_ps(out, v);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, v);
  std::memcpy(out, lanes, columns * sizeof(float));
}

// One panel of a qb4w layer for MR rows; sums[r * blocks + b] is row r's activation sum over block b.
template <int MR>
ETP_AVX2 void panel_qb4_avx2(const Qd8Layer& l, const uint8_t* panel, const uint8_t* const* rows, const int32_t* sums,
                             const Qd8Params* params, float lo, float hi, float* const* out, size_t columns) {
  const float* head = reinterpret_cast<const float*>(panel);  // ksum[16], bias[16]
  const size_t blocks = l.k / l.block;
  __m256 v[MR][2];
  for (int r = 0; r < MR; ++r) {
    const __m256 zp = _mm256_set1_ps(static_cast<float>(params[r].zero_point + 128));
    for (int h = 0; h < 2; ++h) v[r][h] = _mm256_mul_ps(_mm256_load_ps(head + 8 * h), zp);
  }
  const uint8_t* chunk = panel + 128;
  auto block_step = [&](size_t b, const uint8_t* scales) ETP_AVX2 {
    // s_b for columns 0-7 and 8-15 (bf16_slot's order; a bf16 is the top half of its fp32).
    const __m256i bits = _mm256_load_si256(reinterpret_cast<const __m256i*>(scales));
    const __m256 scale[2] = {_mm256_castsi256_ps(_mm256_unpacklo_epi16(_mm256_setzero_si256(), bits)),
                             _mm256_castsi256_ps(_mm256_unpackhi_epi16(_mm256_setzero_si256(), bits))};
    __m256i acc[MR][2];
    for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (size_t k0 = b * l.block; k0 < (b + 1) * l.block; k0 += kChunkK4, chunk += 64) {
      qd8_layout::prefetch_ahead(chunk);
      chunk_dot4_avx2<MR>(chunk, rows, k0, acc);
    }
    for (int r = 0; r < MR; ++r) {
      const __m256i offset = _mm256_set1_epi32(8 * sums[static_cast<size_t>(r) * blocks + b]);
      for (int h = 0; h < 2; ++h) {
        const __m256i sum = _mm256_sub_epi32(acc[r][h], offset);
        v[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), scale[h], v[r][h]);
      }
    }
  };
  for (size_t b = 0; b < blocks; b += 2) {  // a pair: both blocks' scales, then their chunks
    const uint8_t* scales = chunk;
    chunk += 64;
    block_step(b, scales);
    if (b + 1 < blocks) block_step(b + 1, scales + qd8_layout::kScaleBytes);
  }
  for (int r = 0; r < MR; ++r) {
    const __m256 inv = _mm256_set1_ps(params[r].inv_scale);
    for (int h = 0; h < 2 && static_cast<size_t>(h) * 8 < columns; ++h) {
      const __m256 scaled = _mm256_mul_ps(v[r][h], inv);
      store_avx2(_mm256_add_ps(scaled, _mm256_load_ps(head + kPanel + 8 * h)), lo, hi, out[r] + 8 * h,
                 columns - 8 * static_cast<size_t>(h));
    }
  }
}

// One panel of a qc4w or qc8w layer for MR rows; sums[r] is row r's activation sum over the
// padded k (4-bit only).
template <int MR, bool kFourBit>
ETP_AVX2 void panel_qc_avx2(const Qd8Layer& l, const uint8_t* panel, const uint8_t* const* rows, const int32_t* sums,
                            const Qd8Params* params, float lo, float hi, float* const* out, size_t columns) {
  __m256i acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  const size_t step = kFourBit ? kChunkK4 : kChunkK8;
  const size_t padded = round_up(l.k, step);
  const uint8_t* chunk = panel + 192;
  for (size_t k0 = 0; k0 < padded; k0 += step, chunk += 64) {
    qd8_layout::prefetch_ahead(chunk);
    if (kFourBit) {
      chunk_dot4_avx2<MR>(chunk, rows, k0, acc);
    } else {
      chunk_dot8_avx2<MR>(chunk, rows, k0, acc);
    }
  }
  const float* scale = reinterpret_cast<const float*>(panel + 64);
  const float* bias = scale + kPanel;
  for (int r = 0; r < MR; ++r) {
    const __m256i zp = _mm256_set1_epi32(params[r].zero_point + 128);
    const __m256 inv = _mm256_set1_ps(params[r].inv_scale);
    for (int h = 0; h < 2 && static_cast<size_t>(h) * 8 < columns; ++h) {
      __m256i wsum = _mm256_load_si256(reinterpret_cast<const __m256i*>(panel) + h);
      __m256i exact = acc[r][h];
      if (kFourBit) {
        wsum = _mm256_srai_epi32(wsum, 4);  // packed as 16 times the sum
        exact = _mm256_sub_epi32(exact, _mm256_set1_epi32(8 * sums[r]));
      }
      exact = _mm256_sub_epi32(exact, _mm256_mullo_epi32(zp, wsum));
      const __m256 scaled = _mm256_mul_ps(_mm256_cvtepi32_ps(exact), inv);
      store_avx2(_mm256_fmadd_ps(scaled, _mm256_load_ps(scale + 8 * h), _mm256_load_ps(bias + 8 * h)), lo, hi,
                 out[r] + 8 * h, columns - 8 * static_cast<size_t>(h));
    }
  }
}

template <int MR>
ETP_AVX2 void panel_run_avx2(const Qd8Layer& l, const uint8_t* panel, const uint8_t* const* rows, const int32_t* sums,
                             const Qd8Params* params, float lo, float hi, float* const* out, size_t columns) {
  switch (l.kind) {
    case Qd8Weights::kQB4: return panel_qb4_avx2<MR>(l, panel, rows, sums, params, lo, hi, out, columns);
    case Qd8Weights::kQC4: return panel_qc_avx2<MR, true>(l, panel, rows, sums, params, lo, hi, out, columns);
    default: return panel_qc_avx2<MR, false>(l, panel, rows, sums, params, lo, hi, out, columns);
  }
}

ETP_AVX2 void run_avx2(const Qd8Layer& l, const uint8_t* packed, const uint8_t* a, const Qd8Params* params, float lo,
                       float hi, float* out, size_t row_begin, size_t row_end, size_t panel_begin, size_t panel_end) {
  const size_t bytes = panel_bytes(l);
  // Activation sums per row of a tile: per block (qb4w) or over the padded k the kernel reads (qc4w).
  const size_t group = l.kind == Qd8Weights::kQB4 ? l.block : round_up(l.k, kChunkK4);
  const size_t groups = l.kind == Qd8Weights::kQB4 ? l.k / l.block : 1;
  constexpr size_t kOnStack = 512;
  int32_t stack_sums[kMaxRows * kOnStack];
  std::vector<int32_t> heap_sums(groups > kOnStack ? kMaxRows * groups : 0);
  int32_t* sums = groups > kOnStack ? heap_sums.data() : stack_sums;
  for (size_t r0 = row_begin; r0 < row_end; r0 += kMaxRows) {
    const int mr = static_cast<int>(std::min<size_t>(kMaxRows, row_end - r0));
    const uint8_t* rows[kMaxRows];
    for (int r = 0; r < mr; ++r) {
      rows[r] = a + (r0 + static_cast<size_t>(r)) * l.k;
      if (l.kind != Qd8Weights::kQC8) activation_sums(rows[r], group, groups, sums + static_cast<size_t>(r) * groups);
    }
    for (size_t p = panel_begin; p < panel_end; ++p) {
      float* outs[kMaxRows];
      for (int r = 0; r < mr; ++r) outs[r] = out + (r0 + static_cast<size_t>(r)) * l.n + p * kPanel;
      const size_t columns = std::min(kPanel, l.n - p * kPanel);
      const uint8_t* panel = packed + p * bytes;
      switch (mr) {
        case 4: panel_run_avx2<4>(l, panel, rows, sums, params + r0, lo, hi, outs, columns); break;
        case 3: panel_run_avx2<3>(l, panel, rows, sums, params + r0, lo, hi, outs, columns); break;
        case 2: panel_run_avx2<2>(l, panel, rows, sums, params + r0, lo, hi, outs, columns); break;
        default: panel_run_avx2<1>(l, panel, rows, sums, params + r0, lo, hi, outs, columns); break;
      }
    }
  }
}

#endif  // __x86_64__

}  // namespace

namespace {

// rmin = min(0, min x) and rmax = max(0, max x) of a row, from *mn = *mx = 0 (a NaN never wins a
// comparison, so it is skipped).
void row_range(const float* row, size_t k, float* mn, float* mx) {
  for (size_t i = 0; i < k; ++i) {
    *mn = std::min(*mn, row[i]);
    *mx = std::max(*mx, row[i]);
  }
}

// a[i] = q + 128 for row[i], i in [begin, end).
void quantize_values(const float* row, size_t begin, size_t end, float m, int32_t zero_point, uint8_t* a) {
  for (size_t i = begin; i < end; ++i) {
    // As the SIMD converters: the scaled value is capped at 32767 before rounding and the
    // sum saturates; NaN (which XNNPACK's conversion turns into INT32_MIN) gives -128 too.
    float v = std::min(row[i] * m, 32767.0f);
    v = v >= -32768.0f ? std::nearbyint(v) : -32768.0f;
    const int32_t value = (v == v ? static_cast<int32_t>(v) : 0) + zero_point;
    a[i] = static_cast<uint8_t>(std::min(127, std::max(-128, value)) + 128);
  }
}

#if defined(__x86_64__)
// The same two steps on AVX2, with the same comparisons in the same operand order (vminps and
// vmaxps return their second operand when either is NaN) and the same rounding (vcvtps2dq and
// nearbyint both follow the current rounding mode); -0 never replaces the +0 a lane starts from,
// so the lanes' order does not matter.
ETP_AVX2 void row_range_avx2(const float* row, size_t k, float* mn, float* mx) {
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= k; i += 8) {
    const __m256 x = _mm256_loadu_ps(row + i);
    lo = _mm256_min_ps(x, lo);
    hi = _mm256_max_ps(x, hi);
  }
  alignas(32) float lanes_lo[8], lanes_hi[8];
  _mm256_store_ps(lanes_lo, lo);
  _mm256_store_ps(lanes_hi, hi);
  row_range(lanes_lo, 8, mn, mx);
  row_range(lanes_hi, 8, mn, mx);
  row_range(row + i, k - i, mn, mx);
}

// 8 values to int32: min(32767, x m) keeps a NaN, max(., -32768) turns it into -32768; then
// rounded and offset by the zero point.
ETP_AVX2 inline __m256i scaled_values(const float* row, __m256 m, __m256i zero_point) {
  __m256 v = _mm256_min_ps(_mm256_set1_ps(32767.0f), _mm256_mul_ps(_mm256_loadu_ps(row), m));
  v = _mm256_max_ps(v, _mm256_set1_ps(-32768.0f));
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), zero_point);
}

ETP_AVX2 void quantize_values_avx2(const float* row, size_t k, float m, int32_t zero_point, uint8_t* a) {
  const __m256 vm = _mm256_set1_ps(m);
  const __m256i zp = _mm256_set1_epi32(zero_point), order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  size_t i = 0;
  for (; i + 32 <= k; i += 32) {
    // Saturating packs: int32 to int16 to int8 is the clamp to [-128, 127]; xor 0x80 adds 128.
    const __m256i ab = _mm256_packs_epi32(scaled_values(row + i, vm, zp), scaled_values(row + i + 8, vm, zp));
    const __m256i cd = _mm256_packs_epi32(scaled_values(row + i + 16, vm, zp), scaled_values(row + i + 24, vm, zp));
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(a + i),
                        _mm256_xor_si256(bytes, _mm256_set1_epi8(static_cast<char>(0x80))));
  }
  quantize_values(row, i, k, m, zero_point, a);
}
#endif

void quantize_rows(const float* x, size_t rows, size_t k, uint8_t* a, Qd8Params* params, bool simd) {
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * k;
    float mn = 0.0f, mx = 0.0f;
#if defined(__x86_64__)
    if (simd) {
      row_range_avx2(row, k, &mn, &mx);
    } else
#endif
      row_range(row, k, &mn, &mx);
    const float m = mn == mx ? 1.0f : 255.0f / (mx - mn);
    const float dmin = mn * m, dmax = mx * m;
    float zp = (-128.0f + dmin) + (127.0f + dmax) > 0.0f ? -128.0f - dmin : 127.0f - dmax;
    zp = std::nearbyint(std::min(std::max(zp, -128.0f), 127.0f));  // rounds to nearest even
    const int32_t zero_point = zp == zp ? static_cast<int32_t>(zp) : 0;
    params[r] = {zero_point, 1.0f / m};
#if defined(__x86_64__)
    if (simd) {
      quantize_values_avx2(row, k, m, zero_point, a + r * k);
      continue;
    }
#endif
    (void)simd;
    quantize_values(row, 0, k, m, zero_point, a + r * k);
  }
}

}  // namespace

void qd8_quantize(const float* x, size_t rows, size_t k, uint8_t* a, Qd8Params* params) {
  quantize_rows(x, rows, k, a, params, qd8_avx2_available());
}

void qd8_quantize_portable(const float* x, size_t rows, size_t k, uint8_t* a, Qd8Params* params) {
  quantize_rows(x, rows, k, a, params, false);
}

size_t qd8_packed_bytes(const Qd8Layer& layer) { return round_up(panels_of(layer) * panel_bytes(layer), 64); }

void qd8_pack(const Qd8Layer& l, const void* weights, const void* scales, const float* bias, uint8_t* packed) {
  const auto* w = static_cast<const uint8_t*>(weights);
  std::memset(packed, 0, qd8_packed_bytes(l));
  for (size_t p = 0; p < panels_of(l); ++p) {
    uint8_t* panel = packed + p * panel_bytes(l);
    const size_t columns = std::min(kPanel, l.n - p * kPanel);
    if (l.kind == Qd8Weights::kQB4) {
      const auto* bf16 = static_cast<const uint16_t*>(scales);
      const size_t blocks = l.k / l.block;
      float* ksum = reinterpret_cast<float*>(panel);
      float* panel_bias = ksum + kPanel;
      for (size_t c = 0; c < columns; ++c) {
        const size_t col = p * kPanel + c;
        float sum = 0.0f;
        for (size_t k0 = 0; k0 < l.k; k0 += kKsumChunk) {
          int32_t chunk = 0;
          for (size_t k = k0; k < std::min(l.k, k0 + kKsumChunk); ++k) chunk += weight_at(l, w, col, k);
          sum = sum - static_cast<float>(chunk) * bf16_to_float(bf16[col * blocks + k0 / l.block]);
        }
        ksum[c] = sum;
        panel_bias[c] = bias != nullptr ? bias[col] : 0.0f;
      }
      for (size_t b = 0; b < blocks; ++b) {
        uint8_t* scales_b = panel + qd8_layout::qb4_scales_offset(l, b);
        for (size_t c = 0; c < columns; ++c) {
          const uint16_t s_b = bf16[(p * kPanel + c) * blocks + b];
          std::memcpy(scales_b + 2 * bf16_slot(c), &s_b, sizeof(s_b));
        }
        pack_chunks(l, w, p, b * l.block, (b + 1) * l.block, panel + qd8_layout::qb4_chunks_offset(l, b));
      }
    } else {
      const auto* f32 = static_cast<const float*>(scales);
      int32_t* wsum = reinterpret_cast<int32_t*>(panel);
      float* scale = reinterpret_cast<float*>(panel + 64);
      float* panel_bias = scale + kPanel;
      const int32_t unit = l.kind == Qd8Weights::kQC4 ? 16 : 1;
      for (size_t c = 0; c < columns; ++c) {
        const size_t col = p * kPanel + c;
        int64_t sum = 0;
        for (size_t k = 0; k < l.k; ++k) sum += weight_at(l, w, col, k);
        wsum[c] = static_cast<int32_t>(sum * unit);  // fits: compile bounds k
        scale[c] = f32[col];
        panel_bias[c] = bias != nullptr ? bias[col] : 0.0f;
      }
      const size_t step = l.kind == Qd8Weights::kQC8 ? kChunkK8 : kChunkK4;
      pack_chunks(l, w, p, 0, round_up(l.k, step), panel + 192);
    }
  }
}

size_t qd8_max_k() {
  // The sums the kernels keep in int32 lanes: 255 * 8 * 16 per 4-bit product (16 w), 255 * 128
  // per 8-bit one; over a block for qb4w, over k for the per-channel types.
  return static_cast<size_t>(INT32_MAX) / (255 * 128);
}

bool qd8_avx2_available() {
#if defined(__x86_64__)
  static const bool available = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return available;
#else
  return false;
#endif
}

bool qd8_vnni_available() {
#if defined(__x86_64__)
  static const bool available =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
  return available;
#else
  return false;
#endif
}

void qd8_fully_connected(const Qd8Layer& layer, const uint8_t* packed, const uint8_t* a, const Qd8Params* params,
                         float lo, float hi, float* out, size_t row_begin, size_t row_end, size_t panel_begin,
                         size_t panel_end) {
#if defined(__x86_64__)
  if (qd8_vnni_available()) {
    return run_vnni(layer, packed, a, params, lo, hi, out, row_begin, row_end, panel_begin, panel_end);
  }
  if (qd8_avx2_available())
    return run_avx2(layer, packed, a, params, lo, hi, out, row_begin, row_end, panel_begin, panel_end);
#endif
  run_portable(layer, packed, a, params, lo, hi, out, row_begin, row_end, panel_begin, panel_end);
}

void qd8_fully_connected_portable(const Qd8Layer& layer, const uint8_t* packed, const uint8_t* a,
                                  const Qd8Params* params, float lo, float hi, float* out, size_t row_begin,
                                  size_t row_end, size_t panel_begin, size_t panel_end) {
  run_portable(layer, packed, a, params, lo, hi, out, row_begin, row_end, panel_begin, panel_end);
}

bool qd8_fully_connected_avx2(const Qd8Layer& layer, const uint8_t* packed, const uint8_t* a, const Qd8Params* params,
                              float lo, float hi, float* out, size_t row_begin, size_t row_end, size_t panel_begin,
                              size_t panel_end) {
#if defined(__x86_64__)
  if (!qd8_avx2_available()) return false;
  run_avx2(layer, packed, a, params, lo, hi, out, row_begin, row_end, panel_begin, panel_end);
  return true;
#else
  (void)layer, (void)packed, (void)a, (void)params, (void)lo, (void)hi, (void)out;
  (void)row_begin, (void)row_end, (void)panel_begin, (void)panel_end;
  return false;
#endif
}

}  // namespace etp_xnnpack::native
