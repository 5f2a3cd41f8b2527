// Plugin-native fp32 kernels for the XNNPACK backend plugin: the operations Debian 12's XNNPACK
// snapshot (2022-02) lacks (transpose, concatenate, slice, batch matrix multiply, SDPA, GELU,
// tanh, exp, log, sin, cos, rsqrt), plus fallbacks for element-wise ops it has.
//
// Conventions for every function:
// - Tensors are dense, row-major, in the physical (XNNPACK-visible) dim order the caller passes.
// - `dims` arrays are borrowed for the call; rank is at most kMaxRank. A dim of 0 is allowed and
//   makes the call a no-op on that tensor.
// - Inputs and outputs must not overlap, except that the element-wise unary functions and clamp
//   may run in place (out == in).
// - Functions returning bool check their shape arguments first and write nothing when they return
//   false. They never allocate, never throw and are safe to call from several threads at once on
//   distinct outputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

namespace etp_xnnpack::native {

// XNNPACK's XNN_MAX_TENSOR_DIMS.
constexpr size_t kMaxRank = 6;

// Product of `rank` dims (1 for rank 0).
size_t numel(size_t rank, const size_t* dims);

// ---- Data movement (native_ops.cpp) ----

// The data-movement functions take elements of `elem_size` bytes (1, 2 or 4: every datatype
// the plugin accepts); the float overloads are for fp32.

// XNNStaticTranspose: output dim i is input dim perm[i] (out_dims[i] = in_dims[perm[i]]).
// False unless perm is a permutation of 0..rank-1 and rank <= kMaxRank.
bool transpose(const void* in, void* out, size_t rank, const size_t* in_dims, const size_t* perm, size_t elem_size);
inline bool transpose(const float* in, float* out, size_t rank, const size_t* in_dims, const size_t* perm) {
  return transpose(in, out, rank, in_dims, perm, sizeof(float));
}

// XNNConcatenate2..5 take at most this many inputs.
constexpr size_t kMaxConcatInputs = 5;

// XNNConcatenate2..5: joins `num_inputs` (1..kMaxConcatInputs) tensors of equal rank (>= 1) along `axis`; all
// other dims must match. input_dims[i] points to the `rank` dims of inputs[i].
bool concatenate(const void* const* inputs, size_t num_inputs, size_t rank, const size_t* const* input_dims,
                 size_t axis, void* out, size_t elem_size);
inline bool concatenate(const float* const* inputs, size_t num_inputs, size_t rank, const size_t* const* input_dims,
                        size_t axis, float* out) {
  const void* untyped[kMaxConcatInputs] = {};
  for (size_t i = 0; i < num_inputs && i < kMaxConcatInputs; ++i) untyped[i] = inputs[i];
  return concatenate(untyped, num_inputs, rank, input_dims, axis, out, sizeof(float));
}

// XNNStaticSlice: out has dims `sizes`; element idx of out is in[offsets + idx]. Sizes are taken
// literally (XNNPACK's "size 0 means the whole dim" must be resolved by the caller).
// False unless offsets[i] + sizes[i] <= in_dims[i] for every dim.
bool slice(const void* in, void* out, size_t rank, const size_t* in_dims, const size_t* offsets, const size_t* sizes,
           size_t elem_size);
inline bool slice(const float* in, float* out, size_t rank, const size_t* in_dims, const size_t* offsets,
                  const size_t* sizes) {
  return slice(in, out, rank, in_dims, offsets, sizes, sizeof(float));
}

// IEEE binary16 bits of `f`, rounded to nearest even; overflow gives infinity, NaN stays NaN
// (fp16 weights and padding values of fp16 graphs).
uint16_t to_half(float f);
// The value of IEEE binary16 bits `h` (exact).
float from_half(uint16_t h);
// The same over arrays: F16C instructions where the CPU has them (same results; a NaN keeps
// its payload), else the scalar functions above.
void half_to_float(const uint16_t* in, float* out, size_t n);
void float_to_half(const float* in, uint16_t* out, size_t n);

// ---- Matrix ops (native_ops_math.cpp) ----

// XNNBatchMatrixMultiply flag value: B is stored [..., N, K] (XNN_FLAG_TRANSPOSE_B = 0x1).
constexpr unsigned kFlagTransposeB = 0x1;

// Output shape of batch_matmul: batch dims broadcast numpy-style (right-aligned, each pair equal
// or one of them 1), then [M, N]. Ranks must be 2..kMaxRank and K must agree.
bool batch_matmul_output_dims(size_t a_rank, const size_t* a_dims, size_t b_rank, const size_t* b_dims,
                              bool transpose_b, size_t* out_rank, size_t* out_dims);

// XNNBatchMatrixMultiply: a is [..., M, K]; b is [..., K, N], or [..., N, K] when transpose_b;
// out is [broadcast(...), M, N]. Accumulates in float.
bool batch_matmul(const float* a, size_t a_rank, const size_t* a_dims, const float* b, size_t b_rank,
                  const size_t* b_dims, bool transpose_b, float* out);

// XNNScaledDotProductAttention (no logits cap), as XNNPACK defines it:
//   query [*, H, T, C]; key [*, H, U, C] and value [*, H, U, D] (multi-head), or key [*, U, C] and
//   value [*, U, D] (multi-query: rank one less than query, shared by all heads);
//   scale [C] multiplies the query channel-wise before the dot product (ExecuTorch fills it with
//   the scalar scale); mask [T, U] is added to the logits (nullptr: no mask);
//   out [*, H, T, D] = softmax_U(((query * scale) . key^T) + mask) . value.
// `*` is zero or more batch dims that must be equal in query, key and value (no broadcasting).
// q_dims has q_rank (3..kMaxRank) entries; k_dims and v_dims have kv_rank entries, where kv_rank is
// q_rank (multi-head) or q_rank - 1 (multi-query). A row whose logits are all -inf gives NaN.
bool scaled_dot_product_attention(const float* query, size_t q_rank, const size_t* q_dims, const float* key,
                                  const float* value, size_t kv_rank, const size_t* k_dims, const size_t* v_dims,
                                  const float* scale, const float* mask, float* out);

// ---- Element-wise unary (native_ops_elementwise.cpp); n elements, in place allowed ----

void gelu(const float* in, float* out, size_t n);  // x/2 * (1 + erf(x / sqrt(2))), the exact form
void tanh(const float* in, float* out, size_t n);
void exp(const float* in, float* out, size_t n);
void log(const float* in, float* out, size_t n);
void sin(const float* in, float* out, size_t n);
void cos(const float* in, float* out, size_t n);
void reciprocal_square_root(const float* in, float* out, size_t n);  // 1 / sqrt(x)
void square_root(const float* in, float* out, size_t n);
void negate(const float* in, float* out, size_t n);
void abs(const float* in, float* out, size_t n);
void square(const float* in, float* out, size_t n);
void floor(const float* in, float* out, size_t n);
void ceiling(const float* in, float* out, size_t n);
void sigmoid(const float* in, float* out, size_t n);                           // 1 / (1 + exp(-x)), overflow-free
void hardswish(const float* in, float* out, size_t n);                         // x * min(max(x + 3, 0), 6) / 6
void leaky_relu(const float* in, float* out, size_t n, float negative_slope);  // x < 0 ? x * slope : x
void elu(const float* in, float* out, size_t n, float alpha);                  // x < 0 ? alpha * expm1(x) : x
// min(max(x, min), max); NaN stays NaN.
void clamp(const float* in, float* out, size_t n, float min, float max);

// ---- Broadcasting (native_ops_elementwise.cpp) ----

// Broadcast shape of a and b: right-aligned, each dim pair equal or one of them 1; ranks may
// differ (the shorter is padded with leading 1s). False on mismatch or rank > kMaxRank.
bool broadcast_output_dims(size_t a_rank, const size_t* a_dims, size_t b_rank, const size_t* b_dims, size_t* out_rank,
                           size_t* out_dims);

}  // namespace etp_xnnpack::native
