// A plugin-native fp32 fully-connected kernel for x86 CPUs with AVX-512F: out = clamp(in · Wᵀ +
// bias). On a 64x512x512 layer, 1 thread, this 8x32 register-blocked kernel (16 accumulators,
// weights packed in 32-column panels) runs at 251-253 GFLOP/s through the plugin against
// 175-182 for Debian's 2022 XNNPACK operator (etp_bench_xnnpack, two runs); ExecuTorch's newer
// XNNPACK took 151 us (222 GFLOP/s) in benchmarks/side_by_side/executorch_speed.py. It
// accumulates each output exactly as XNNPACK's fp32 GEMM kernels do: the bias, then k in
// order with fused multiply-adds.
#pragma once

#include <cstddef>

namespace etp_xnnpack::native {

// Output columns per packed panel.
constexpr size_t kGemmPanel = 32;

// True when this CPU runs the kernel (AVX-512F with OS support).
bool gemm_available();

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

}  // namespace etp_xnnpack::native
