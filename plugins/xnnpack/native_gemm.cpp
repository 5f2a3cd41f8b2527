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

#if defined(__x86_64__)

bool gemm_available() {
  static const bool available = __builtin_cpu_supports("avx512f");
  return available;
}

namespace {

// MR rows of `in` times one packed panel: 2*MR accumulators of 16 lanes.
template <int MR>
__attribute__((target("avx512f"))) void kernel(const float* in, size_t k, const float* panel, const float* bias,
                                               float lo, float hi, float* out, size_t nout, size_t columns) {
  __m512 acc[MR][2];
  const __m512 bias0 = _mm512_load_ps(bias), bias1 = _mm512_load_ps(bias + 16);
  for (int r = 0; r < MR; ++r) acc[r][0] = bias0, acc[r][1] = bias1;
  for (size_t p = 0; p < k; ++p) {
    const __m512 w0 = _mm512_load_ps(panel + p * kGemmPanel), w1 = _mm512_load_ps(panel + p * kGemmPanel + 16);
    for (int r = 0; r < MR; ++r) {
      const __m512 x = _mm512_set1_ps(in[r * k + p]);
      acc[r][0] = _mm512_fmadd_ps(x, w0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(x, w1, acc[r][1]);
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

using Kernel = void (*)(const float*, size_t, const float*, const float*, float, float, float*, size_t, size_t);
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
      kKernels[mr](in + r * k, k, packed + panel * k * kGemmPanel, bias + panel * kGemmPanel, lo, hi,
                   out + r * nout + panel * kGemmPanel, nout, columns);
    }
  }
}

#else

bool gemm_available() { return false; }
void gemm_run(const float*, size_t, size_t, const float*, float, float, float*, size_t, size_t, size_t, size_t) {}

#endif

}  // namespace etp_xnnpack::native
