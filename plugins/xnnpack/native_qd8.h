// Plugin-native kernels for dynamically quantized linears (ExecuTorch's "8da4w" and relatives),
// which Debian's 2022 XNNPACK lacks: activations quantized to int8 per row at run time
// (xnn_datatype_qdint8), times weights that are 4-bit per block (qbint4, bf16 block scales) or
// 4-/8-bit per output channel (qcint4, qcint8), giving fp32.
//
// The arithmetic is XNNPACK's, step by step, in the order of its x86 AVX512-VNNI kernels
// (the ones ExecuTorch's XNNPACK runs on this machine class), so outputs are bit-identical to
// ExecuTorch's there (the rules are in native_qd8.cpp). Every path here (AVX512-VNNI, AVX2 for
// other x86 CPUs, a portable loop) computes the same integer sums and the same fp32 operations in
// the same order, so results do not depend on the CPU or the thread count.
#pragma once

#include <cstddef>
#include <cstdint>

namespace etp_xnnpack::native {

// Per-row parameters of a qdint8 value: q = clamp(round(x * m) + zero_point), and x is about
// (q - zero_point) * inv_scale, where inv_scale = 1 / m in fp32 (XNNPACK's
// xnn_qd8_quantization_params). The values are stored offset to u8, a = q + 128 (what the
// kernels multiply, as XNNPACK's VNNI ones do).
struct Qd8Params {
  int32_t zero_point;
  float inv_scale;
};

// Quantizes `rows` rows of `k` floats (row r at x + r * k) into a (q + 128, same layout) and
// params.
void qd8_quantize(const float* x, size_t rows, size_t k, uint8_t* a, Qd8Params* params);

// The same, always on the portable loop (for tests: both must give the same bytes).
void qd8_quantize_portable(const float* x, size_t rows, size_t k, uint8_t* a, Qd8Params* params);

enum class Qd8Weights { kQB4, kQC4, kQC8 };

struct Qd8Layer {
  Qd8Weights kind;
  size_t k = 0, n = 0;  // input channels, output channels
  size_t block = 0;     // k per scale for kQB4 (a multiple of 32 dividing k); 0 otherwise
};

// Output channels per packed panel.
constexpr size_t kQd8Panel = 16;

// The most k (for kQB4: the largest block) whose sums the kernels keep exactly in int32.
size_t qd8_max_k();

// Bytes of the packed form of a layer (a multiple of 64).
size_t qd8_packed_bytes(const Qd8Layer& layer);

// Packs the weights as the file stores them ([n][k] row-major; 4-bit: rows of ceil(k/2) bytes,
// element 2j in the low nibble, stored value + 8; 8-bit: int8), their scales (kQB4: bf16
// [n][k / block]; otherwise fp32 [n]) and `bias` (n floats, or null) into `packed` (64-byte
// aligned, qd8_packed_bytes bytes).
void qd8_pack(const Qd8Layer& layer, const void* weights, const void* scales, const float* bias, uint8_t* packed);

// out[r][c] = clamp(layer(q[r]) , lo, hi) for rows [row_begin, row_end) and the columns of
// panels [panel_begin, panel_end); rows are k bytes apart in `a` (qd8_quantize's) and n floats
// apart in out. `a` may be read up to 16 bytes past its last row.
void qd8_fully_connected(const Qd8Layer& layer, const uint8_t* packed, const uint8_t* a, const Qd8Params* params,
                         float lo, float hi, float* out, size_t row_begin, size_t row_end, size_t panel_begin,
                         size_t panel_end);

// The same, always on the portable loop (for tests: both paths must give the same bits).
void qd8_fully_connected_portable(const Qd8Layer& layer, const uint8_t* packed, const uint8_t* a,
                                  const Qd8Params* params, float lo, float hi, float* out, size_t row_begin,
                                  size_t row_end, size_t panel_begin, size_t panel_end);

// The same on the AVX2 + FMA kernel (what CPUs without AVX512-VNNI run); false, having done
// nothing, when this CPU lacks AVX2 or FMA.
bool qd8_fully_connected_avx2(const Qd8Layer& layer, const uint8_t* packed, const uint8_t* a, const Qd8Params* params,
                              float lo, float hi, float* out, size_t row_begin, size_t row_end, size_t panel_begin,
                              size_t panel_end);

// True when qd8_fully_connected runs its AVX512-VNNI kernel on this CPU (otherwise its AVX2 one,
// or without AVX2 a portable loop: the same results, slower).
bool qd8_vnni_available();

// True when this CPU has AVX2 and FMA: qd8_quantize's SIMD path, and the fully-connected kernel
// where there is no AVX512-VNNI.
bool qd8_avx2_available();

// Bit-exact conversions between bfloat16 and float (scales).
inline float bf16_to_float(uint16_t h) {
  const uint32_t bits = uint32_t{h} << 16;
  float f;
  __builtin_memcpy(&f, &bits, sizeof(f));
  return f;
}

}  // namespace etp_xnnpack::native
