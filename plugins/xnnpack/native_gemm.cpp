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

bool gemm_available() {
  static const bool available = __builtin_cpu_supports("avx512f");
  return available;
}

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

using Kernel = void (*)(const float* const*, size_t, size_t, const float*, const float*, float, float, float*, size_t,
                        size_t);
constexpr Kernel kKernels[9] = {nullptr,   kernel<1>, kernel<2>, kernel<3>, kernel<4>,
                                kernel<5>, kernel<6>, kernel<7>, kernel<8>};

}  // namespace

void gemm_run(const float* in, size_t k, size_t nout, const float* packed, float lo, float hi, float* out,
              size_t row_begin, size_t row_end, size_t panel_begin, size_t panel_end) {
  const size_t panels = (nout + kGemmPanel - 1) / kGemmPanel;
  const float* bias = packed + panels * k * kGemmPanel;
  // Panel outer, rows inner: a panel (k x 32 floats) stays in cache across the row blocks.
  for (size_t panel = panel_begin; panel < panel_end; ++panel) {
    const size_t columns = std::min(kGemmPanel, nout - panel * kGemmPanel);
    for (size_t r = row_begin; r < row_end; r += 8) {
      const size_t mr = std::min<size_t>(8, row_end - r);
      const float* rows[8];
      for (size_t i = 0; i < mr; ++i) rows[i] = in + (r + i) * k;
      kKernels[mr](rows, 1, k, packed + panel * k * kGemmPanel, bias + panel * kGemmPanel, lo, hi,
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
void gemm_run(const float*, size_t, size_t, const float*, float, float, float*, size_t, size_t, size_t, size_t) {}
void conv_run(const float*, const ConvGeometry&, const float*, float, float, float*, size_t, size_t, size_t, size_t) {}

#endif

}  // namespace etp_xnnpack::native
