// A plugin-native fp32 fully-connected kernel for x86 CPUs with AVX-512F: out = clamp(in · Wᵀ +
// bias). On a 64x512x512 layer, 1 thread, this 8x32 register-blocked kernel (16 accumulators,
// weights packed in 32-column panels) runs at 251-253 GFLOP/s through the plugin against
// 175-182 for Debian's 2022 XNNPACK operator (etp_bench_xnnpack, two runs); ExecuTorch's newer
// XNNPACK took 151 us (222 GFLOP/s) in benchmarks/side_by_side/executorch_speed.py. It
// accumulates each output exactly as XNNPACK's fp32 GEMM kernels do: the bias, then k in
// order with fused multiply-adds.
//
// With AVX2 + FMA the same panels run 5x16 tiles (1 or 2 rows over the whole panel), the same
// bits. In cache it is 0.9-1.0x the time of Debian XNNPACK's operator; its gain is order: panel
// outer, so a prefill reads each weight from memory once where XNNPACK's operator reads them once
// per row tile (the 142M Llama's 11-token fp32 prefill, 1 thread: 105-143 ms against 180-216).
//
// The same kernel runs 2-D convolutions (groups 1) as an implicit GEMM: each output pixel is a
// row whose k = kh*kw*cin inputs are read in place, kernel position by kernel position, from
// the NHWC input (a zero row for padding), so no im2col buffer is built.
#pragma once

#include <cstddef>

namespace etp_xnnpack::native {

// Output columns per packed panel.
constexpr size_t kGemmPanel = 32;

// True when this CPU runs gemm_run: AVX-512F, or AVX2 with FMA (8x32 and 6x16 register tiles).
bool gemm_available();

// True when this CPU runs conv_run: AVX-512F only. conv_worth_it was measured there; on AVX2
// the plugin keeps XNNPACK's convolution until the same has been measured.
bool conv_available();

// Floats of the packed form of a [nout, k] layer: ceil(nout / 32) panels of k x 32 weights,
// then the bias padded to whole panels.
size_t gemm_packed_floats(size_t k, size_t nout);

// Packs `weights` ([nout][k] row-major, or [k][nout] when `transposed`) and `bias` (nout values,
// or null for none) into `packed` (64-byte aligned, gemm_packed_floats floats; padding is 0).
void gemm_pack(const float* weights, bool transposed, const float* bias, size_t k, size_t nout, float* packed);

// out[r][c] = clamp(sum_p in[r][p] * W[c][p] + bias[c], lo, hi) for rows [row_begin, row_end)
// and the columns of panels [panel_begin, panel_end); rows are `k` floats apart in `in` and
// `nout` apart in `out`. Only call when gemm_available().
void gemm_run(const float* in, size_t k, size_t nout, const float* packed, float lo, float hi, float* out,
              size_t row_begin, size_t row_end, size_t panel_begin, size_t panel_end);

// A convolution's geometry: NHWC input [batch, in_h, in_w, cin], weights [cout, kh, kw, cin]
// (XNNPACK's layout), output [batch, out_h, out_w, cout].
struct ConvGeometry {
  size_t batch, in_h, in_w, cin, out_h, out_w, cout;
  size_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
};

// The most kernel positions (kh * kw) conv_run takes; larger kernels run XNNPACK's operator.
constexpr size_t kConvMaxTaps = 64;

// True when conv_run is expected to beat XNNPACK's operator: measured on this project's
// fixtures, small layers (cnn's 3 -> 8 channels) run 1.8x slower on 32-column panels that are
// mostly padding, and per-position loops of a few input channels.
bool conv_worth_it(size_t taps, size_t cin, size_t cout);

// Floats of a convolution's packed form: gemm_packed_floats(kh*kw*cin, cout), then one row of
// cin zeros that padding reads.
size_t conv_packed_floats(size_t taps, size_t cin, size_t cout);

// Packs [cout][kh][kw][cin] weights and `bias` (cout values or null) into `packed` (64-byte
// aligned, conv_packed_floats floats).
void conv_pack(const float* weights, const float* bias, size_t taps, size_t cin, size_t cout, float* packed);

// out = clamp(conv(in) + bias, lo, hi) for output pixels [pixel_begin, pixel_end) (pixels
// numbered over batch, out_h, out_w) and the columns of panels [panel_begin, panel_end). Only
// call when gemm_available() and kernel_h * kernel_w <= kConvMaxTaps.
void conv_run(const float* in, const ConvGeometry& g, const float* packed, float lo, float hi, float* out,
              size_t pixel_begin, size_t pixel_end, size_t panel_begin, size_t panel_end);

}  // namespace etp_xnnpack::native
