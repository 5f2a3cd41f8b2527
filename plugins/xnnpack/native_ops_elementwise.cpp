// Element-wise kernels: unary math and activations, clamp, and broadcasting binary ops. The op is
// chosen once per call (template functors), so inner loops have no calls or branches on the op.
#include <cmath>
#include <cstring>

#include "native_ops.h"

namespace etp_xnnpack::native {
namespace {

template <typename F>
inline void map(const float* in, float* out, size_t n, F f) {
  for (size_t i = 0; i < n; ++i) out[i] = f(in[i]);
}

// Keeps NaN (both comparisons are false), unlike std::min/std::max chains in some orders.
inline float clamp_value(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

}  // namespace

void gelu(const float* in, float* out, size_t n) {
  constexpr float kInvSqrt2 = 0.7071067811865476f;
  map(in, out, n, [](float x) { return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2)); });
}
void tanh(const float* in, float* out, size_t n) {
  map(in, out, n, [](float x) { return std::tanh(x); });
}
void exp(const float* in, float* out, size_t n) {
  map(in, out, n, [](float x) { return std::exp(x); });
}
void log(const float* in, float* out, size_t n) {
  map(in, out, n, [](float x) { return std::log(x); });
}
void sin(const float* in, float* out, size_t n) {
  map(in, out, n, [](float x) { return std::sin(x); });
}
void cos(const float* in, float* out, size_t n) {
  map(in, out, n, [](float x) { return std::cos(x); });
}
void reciprocal_square_root(const float* in, float* out, size_t n) {
  map(in, out, n, [](float x) { return 1.0f / std::sqrt(x); });
}
void square_root(const float* in, float* out, size_t n) {
  map(in, out, n, [](float x) { return std::sqrt(x); });
}
void negate(const float* in, float* out, size_t n) {
  map(in, out, n, [](float x) { return -x; });
}
void abs(const float* in, float* out, size_t n) {
  map(in, out, n, [](float x) { return std::fabs(x); });
}
void square(const float* in, float* out, size_t n) {
  map(in, out, n, [](float x) { return x * x; });
}
void floor(const float* in, float* out, size_t n) {
  map(in, out, n, [](float x) { return std::floor(x); });
}
void ceiling(const float* in, float* out, size_t n) {
  map(in, out, n, [](float x) { return std::ceil(x); });
}
void sigmoid(const float* in, float* out, size_t n) {
  // exp of a non-positive argument only, so large |x| neither overflows nor loses the tail.
  map(in, out, n, [](float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
    const float e = std::exp(x);
    return e / (1.0f + e);
  });
}
void hardswish(const float* in, float* out, size_t n) {
  map(in, out, n, [](float x) { return x * (clamp_value(x + 3.0f, 0.0f, 6.0f) / 6.0f); });
}
void leaky_relu(const float* in, float* out, size_t n, float negative_slope) {
  map(in, out, n, [negative_slope](float x) { return x < 0.0f ? x * negative_slope : x; });
}
void elu(const float* in, float* out, size_t n, float alpha) {
  map(in, out, n, [alpha](float x) { return x < 0.0f ? alpha * std::expm1(x) : x; });
}
void clamp(const float* in, float* out, size_t n, float min, float max) {
  map(in, out, n, [min, max](float x) { return clamp_value(x, min, max); });
}

// ---- Broadcasting ----

bool broadcast_output_dims(size_t a_rank, const size_t* a_dims, size_t b_rank, const size_t* b_dims,
                           size_t* out_rank, size_t* out_dims) {
  if (a_rank > kMaxRank || b_rank > kMaxRank) return false;
  const size_t rank = a_rank > b_rank ? a_rank : b_rank;
  for (size_t i = 0; i < rank; ++i) {
    const size_t from_end = rank - i;  // 1-based
    const size_t ad = from_end <= a_rank ? a_dims[a_rank - from_end] : 1;
    const size_t bd = from_end <= b_rank ? b_dims[b_rank - from_end] : 1;
    if (ad != bd && ad != 1 && bd != 1) return false;
    out_dims[i] = ad == 1 ? bd : ad;
  }
  *out_rank = rank;
  return true;
}

}  // namespace etp_xnnpack::native
