#include "native_gemm.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace etp_xnnpack::native {

size_t gemm_packed_floats(size_t k, size_t nout) {
  const size_t panels = (nout + kGemmPanel - 1) / kGemmPanel;
  return panels * kGemmPanel * (k + 1);
}

void gemm_pack(const float* weights, bool transposed, const float* bias, size_t k, size_t nout, float* packed) {
  const size_t panels = (nout + kGemmPanel - 1) / kGemmPanel;
  std::memset(packed, 0, gemm_packed_floats(k, nout) * sizeof(float));
  for (size_t panel = 0; panel < panels; ++panel) {
    float* dst = packed + panel * k * kGemmPanel;
    for (size_t c = panel * kGemmPanel; c < std::min(nout, (panel + 1) * kGemmPanel); ++c) {
      const size_t j = c - panel * kGemmPanel;
      for (size_t p = 0; p < k; ++p) dst[p * kGemmPanel + j] = transposed ? weights[p * nout + c] : weights[c * k + p];
    }
  }
  if (bias != nullptr) std::memcpy(packed + panels * k * kGemmPanel, bias, nout * sizeof(float));
}

bool conv_worth_it(size_t taps, size_t cin, size_t cout) {
  const size_t last_panel = cout % kGemmPanel;  // columns used in a partial last panel
  return taps <= kConvMaxTaps && cin >= 16 && cout >= kGemmPanel && (last_panel == 0 || last_panel >= kGemmPanel / 2);
}

size_t conv_packed_floats(size_t taps, size_t cin, size_t cout) { return gemm_packed_floats(taps * cin, cout) + cin; }

void conv_pack(const float* weights, const float* bias, size_t taps, size_t cin, size_t cout, float* packed) {
  // [cout][kh][kw][cin] is a [cout][k] GEMM matrix whose k runs over kernel positions, then cin.
  gemm_pack(weights, false, bias, taps * cin, cout, packed);
  std::memset(packed + gemm_packed_floats(taps * cin, cout), 0, cin * sizeof(float));
}

#if defined(__x86_64__)

namespace {

// Bytes ahead of the weights being read that the AVX2 kernels ask for (1 KiB: the 142M Llama's
// 11-token fp32 prefill, 1 thread, 141 -> 126-132 ms with an earlier 3-row tile; 2 and 4 KiB did
// less).
constexpr uintptr_t kPrefetchAhead = 1024;

bool has_avx512() {
  static const bool available = __builtin_cpu_supports("avx512f");
  return available;
}
bool has_avx2() {
  static const bool available = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return available;
}

}  // namespace

bool gemm_available() { return has_avx512() || has_avx2(); }
bool conv_available() { return has_avx512(); }

namespace {

// MR output rows times one packed panel: 2*MR accumulators of 16 lanes. For each of `taps`
// kernel positions t, row r reads `k` floats at rows[t * MR + r] (a GEMM has one position).
template <int MR>
__attribute__((target("avx512f"))) void kernel(const float* const* rows, size_t taps, size_t k, const float* panel,
                                               const float* bias, float lo, float hi, float* out, size_t nout,
                                               size_t columns) {
  __m512 acc[MR][2];
  const __m512 bias0 = _mm512_load_ps(bias), bias1 = _mm512_load_ps(bias + 16);
  for (int r = 0; r < MR; ++r) acc[r][0] = bias0, acc[r][1] = bias1;
  for (size_t t = 0; t < taps; ++t, rows += MR, panel += k * kGemmPanel) {
    const float* a[MR];
    for (int r = 0; r < MR; ++r) a[r] = rows[r];
    for (size_t p = 0; p < k; ++p) {
      const __m512 w0 = _mm512_load_ps(panel + p * kGemmPanel), w1 = _mm512_load_ps(panel + p * kGemmPanel + 16);
      for (int r = 0; r < MR; ++r) {
        const __m512 x = _mm512_set1_ps(a[r][p]);
        acc[r][0] = _mm512_fmadd_ps(x, w0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(x, w1, acc[r][1]);
      }
    }
  }
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  // Masks for a last panel narrower than 32 columns.
  const __mmask16 m0 = columns >= 16 ? 0xffff : static_cast<__mmask16>((1u << columns) - 1);
  const __mmask16 m1 = columns >= 32 ? 0xffff : columns <= 16 ? 0 : static_cast<__mmask16>((1u << (columns - 16)) - 1);
  // maskz_ forms: GCC 12's plain _mm512_max_ps trips -Wuninitialized on its own header.
  for (int r = 0; r < MR; ++r) {
    for (int h = 0; h < 2; ++h) {
      const __m512 v = _mm512_maskz_min_ps(0xffff, _mm512_maskz_max_ps(0xffff, acc[r][h], vlo), vhi);
      _mm512_mask_storeu_ps(out + r * nout + 16 * h, h == 0 ? m0 : m1, v);
    }
  }
}

// The same arithmetic on AVX2 + FMA: MR rows times NC groups of 8 columns (a whole 32-column
// panel at NC = 4, a half at NC = 2), MR x NC accumulators, the k step's NC weights in registers
// and one broadcast. Each output is accumulated in the same order with the same fused
// multiply-adds as the AVX-512 kernel, so both give the same bits. `columns` counts from `panel`'s
// first column (it may exceed 8 * NC). The loops over rows and groups are unrolled by pragma:
// where GCC 12 leaves one for later, it keeps the accumulators in memory as well and stores them
// all at every k (0.6x the speed).
template <int MR, int NC>
__attribute__((target("avx2,fma"))) void tile_avx2(const float* const* rows, size_t k, const float* panel,
                                                   const float* bias, float lo, float hi, float* out, size_t nout,
                                                   size_t columns) {
  __m256 acc[MR][NC];
#pragma GCC unroll 4
  for (int h = 0; h < NC; ++h) {
    const __m256 b = _mm256_load_ps(bias + 8 * h);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) acc[r][h] = b;
  }
  const float* a[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) a[r] = rows[r];
  for (size_t p = 0; p < k; ++p) {
    const float* w = panel + p * kGemmPanel;
    // A prefill or decode reads each panel from memory once: keep the next lines coming.
#pragma GCC unroll 2
    for (int line = 0; line < NC / 2; ++line) {
      __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(w) + kPrefetchAhead + 64 * line));
    }
    __m256 wv[NC];
#pragma GCC unroll 4
    for (int h = 0; h < NC; ++h) wv[h] = _mm256_load_ps(w + 8 * h);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256 x = _mm256_broadcast_ss(a[r] + p);
#pragma GCC unroll 4
      for (int h = 0; h < NC; ++h) acc[r][h] = _mm256_fmadd_ps(x, wv[h], acc[r][h]);
    }
  }
  // Masked stores for a last panel narrower than the tile; max then min, as the AVX-512 kernel
  // (a NaN output becomes lo, then stays lo).
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const int32_t width = static_cast<int32_t>(std::min(columns, size_t{8} * NC));
#pragma GCC unroll 4
  for (int h = 0; h < NC; ++h) {
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(width - 8 * h), lane);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      _mm256_maskstore_ps(out + r * nout + 8 * h, mask, _mm256_min_ps(_mm256_max_ps(acc[r][h], vlo), vhi));
    }
  }
}

// The Kernel signature over a whole panel (taps is always 1: convolutions stay on AVX-512).
// 3 to 5 rows take the panel as two halves (NC = 2: 5 rows use 13 of the 16 registers; 6 spilled
// one accumulator and were slower). 1 or 2 rows (decode) take it whole in one pass: the halves'
// two passes read every other line of a panel that decode takes from memory, and took 1.3x the
// time on the 142M Llama.
template <int MR>
void kernel_avx2(const float* const* rows, size_t /*taps*/, size_t k, const float* panel, const float* bias, float lo,
                 float hi, float* out, size_t nout, size_t columns) {
  if constexpr (MR <= 2) {
    tile_avx2<MR, 4>(rows, k, panel, bias, lo, hi, out, nout, columns);
  } else {
    constexpr size_t kHalf = kGemmPanel / 2;
    tile_avx2<MR, 2>(rows, k, panel, bias, lo, hi, out, nout, columns);
    if (columns > kHalf) {
      tile_avx2<MR, 2>(rows, k, panel + kHalf, bias + kHalf, lo, hi, out + kHalf, nout, columns - kHalf);
    }
  }
}

using Kernel = void (*)(const float* const*, size_t, size_t, const float*, const float*, float, float, float*, size_t,
                        size_t);
constexpr Kernel kKernels[9] = {nullptr,   kernel<1>, kernel<2>, kernel<3>, kernel<4>,
                                kernel<5>, kernel<6>, kernel<7>, kernel<8>};
constexpr Kernel kKernelsAvx2[6] = {nullptr,        kernel_avx2<1>, kernel_avx2<2>,
                                    kernel_avx2<3>, kernel_avx2<4>, kernel_avx2<5>};

// The kernels of this CPU and the most rows one call takes.
struct Kernels {
  const Kernel* by_rows;
  size_t max_rows;
};
Kernels kernels() { return has_avx512() ? Kernels{kKernels, 8} : Kernels{kKernelsAvx2, 5}; }

}  // namespace

void gemm_run(const float* in, size_t k, size_t nout, const float* packed, float lo, float hi, float* out,
              size_t row_begin, size_t row_end, size_t panel_begin, size_t panel_end) {
  const size_t panels = (nout + kGemmPanel - 1) / kGemmPanel;
  const float* bias = packed + panels * k * kGemmPanel;
  // Panel outer, rows inner: a panel (k x 32 floats) stays in cache across the row blocks, and
  // the weights are read from memory once however many rows there are (prefill).
  const Kernels kn = kernels();
  for (size_t panel = panel_begin; panel < panel_end; ++panel) {
    const size_t columns = std::min(kGemmPanel, nout - panel * kGemmPanel);
    for (size_t r = row_begin; r < row_end; r += kn.max_rows) {
      const size_t mr = std::min(kn.max_rows, row_end - r);
      const float* rows[8];
      for (size_t i = 0; i < mr; ++i) rows[i] = in + (r + i) * k;
      kn.by_rows[mr](rows, 1, k, packed + panel * k * kGemmPanel, bias + panel * kGemmPanel, lo, hi,
                     out + r * nout + panel * kGemmPanel, nout, columns);
    }
  }
}

void conv_run(const float* in, const ConvGeometry& g, const float* packed, float lo, float hi, float* out,
              size_t pixel_begin, size_t pixel_end, size_t panel_begin, size_t panel_end) {
  const size_t taps = g.kernel_h * g.kernel_w, k = taps * g.cin, nout = g.cout;
  const size_t panels = (nout + kGemmPanel - 1) / kGemmPanel, plane = g.out_h * g.out_w;
  const float* bias = packed + panels * k * kGemmPanel;
  const float* zeros = bias + panels * kGemmPanel;
  const float* rows[kConvMaxTaps * 8];
  // Pixel blocks outer: each block's read addresses are found once for all its panels.
  for (size_t q = pixel_begin; q < pixel_end; q += 8) {
    const size_t mr = std::min<size_t>(8, pixel_end - q);
    // Where each of the mr pixels reads its cin inputs at each kernel position: rows[t * mr + i].
    // The pixel's coordinates are stepped, not divided out, for each of them.
    size_t n = q / plane, oy = q % plane / g.out_w, ox = q % g.out_w;
    for (size_t i = 0; i < mr; ++i, ++ox) {
      if (ox == g.out_w) ox = 0, ++oy;
      if (oy == g.out_h) oy = 0, ++n;
      const float* image = in + n * g.in_h * g.in_w * g.cin;
      for (size_t ky = 0; ky < g.kernel_h; ++ky) {
        // Unsigned arithmetic: a row above the image wraps to a huge value, caught by the test.
        const size_t iy = oy * g.stride_h + ky * g.dilation_h - g.pad_top;
        for (size_t kx = 0; kx < g.kernel_w; ++kx) {
          const size_t ix = ox * g.stride_w + kx * g.dilation_w - g.pad_left;
          rows[(ky * g.kernel_w + kx) * mr + i] =
              iy < g.in_h && ix < g.in_w ? image + (iy * g.in_w + ix) * g.cin : zeros;
        }
      }
    }
    for (size_t panel = panel_begin; panel < panel_end; ++panel) {
      const size_t columns = std::min(kGemmPanel, nout - panel * kGemmPanel);
      kKernels[mr](rows, taps, g.cin, packed + panel * k * kGemmPanel, bias + panel * kGemmPanel, lo, hi,
                   out + q * nout + panel * kGemmPanel, nout, columns);
    }
  }
}

#else

bool gemm_available() { return false; }
bool conv_available() { return false; }
void gemm_run(const float*, size_t, size_t, const float*, float, float, float*, size_t, size_t, size_t, size_t) {}
void conv_run(const float*, const ConvGeometry&, const float*, float, float, float*, size_t, size_t, size_t, size_t) {}

#endif

}  // namespace etp_xnnpack::native
