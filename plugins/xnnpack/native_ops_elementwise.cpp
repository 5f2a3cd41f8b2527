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
void copy(const float* in, float* out, size_t n) {
  if (n != 0 && in != out) std::memmove(out, in, n * sizeof(float));
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

// ---- Binary ----

namespace {

struct Add {
  float operator()(float x, float y) const { return x + y; }
};
struct Subtract {
  float operator()(float x, float y) const { return x - y; }
};
struct Multiply {
  float operator()(float x, float y) const { return x * y; }
};
struct Divide {
  float operator()(float x, float y) const { return x / y; }
};
struct Maximum {
  float operator()(float x, float y) const { return std::isnan(x) ? x : (std::isnan(y) ? y : (x > y ? x : y)); }
};
struct Minimum {
  float operator()(float x, float y) const { return std::isnan(x) ? x : (std::isnan(y) ? y : (x < y ? x : y)); }
};
struct SquaredDifference {
  float operator()(float x, float y) const {
    const float d = x - y;
    return d * d;
  }
};

// Broadcast layout of one call: output dims and each input's element stride per output dim
// (0 where the input is broadcast along that dim).
struct BinaryPlan {
  size_t rank;
  size_t dims[kMaxRank];
  size_t a_strides[kMaxRank];
  size_t b_strides[kMaxRank];
};

void broadcast_strides(size_t rank, const size_t* dims, const BinaryPlan& plan, size_t* strides) {
  const size_t pad = plan.rank - rank;
  size_t stride = 1;
  for (size_t i = plan.rank; i-- > 0;) {
    if (i < pad) {
      strides[i] = 0;
      continue;
    }
    const size_t d = dims[i - pad];
    strides[i] = (d == 1 && plan.dims[i] != 1) ? 0 : stride;
    stride *= d;
  }
}

template <typename F>
inline void binary_row(F f, const float* a, size_t sa, const float* b, size_t sb, float* out, size_t n, float lo,
                       float hi) {
  for (size_t i = 0; i < n; ++i) out[i] = clamp_value(f(a[i * sa], b[i * sb]), lo, hi);
}

template <typename F>
void run_binary(F f, const float* a, const float* b, float* out, const BinaryPlan& plan, size_t a_n, size_t b_n,
                float lo, float hi) {
  size_t n = numel(plan.rank, plan.dims);
  if (n == 0) return;
  // Flat fast paths: equal shapes, or one side a single element.
  if (a_n == n && b_n == n) return binary_row(f, a, 1, b, 1, out, n, lo, hi);
  if (b_n == 1 && a_n == n) return binary_row(f, a, 1, b, 0, out, n, lo, hi);
  if (a_n == 1 && b_n == n) return binary_row(f, a, 0, b, 1, out, n, lo, hi);
  const size_t last = plan.rank - 1;  // rank >= 1 here: rank 0 means n == a_n == b_n == 1
  const size_t inner = plan.dims[last];
  const size_t rows = n / inner;
  size_t idx[kMaxRank] = {};
  size_t a_off = 0, b_off = 0;
  for (size_t r = 0; r < rows; ++r) {
    binary_row(f, a + a_off, plan.a_strides[last], b + b_off, plan.b_strides[last], out, inner, lo, hi);
    out += inner;
    for (size_t d = last; d-- > 0;) {
      if (++idx[d] < plan.dims[d]) {
        a_off += plan.a_strides[d];
        b_off += plan.b_strides[d];
        break;
      }
      a_off -= (plan.dims[d] - 1) * plan.a_strides[d];
      b_off -= (plan.dims[d] - 1) * plan.b_strides[d];
      idx[d] = 0;
    }
  }
}

}  // namespace

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

bool binary(BinaryOp op, const float* a, size_t a_rank, const size_t* a_dims, const float* b, size_t b_rank,
            const size_t* b_dims, float* out, float out_min, float out_max) {
  BinaryPlan plan;
  if (!broadcast_output_dims(a_rank, a_dims, b_rank, b_dims, &plan.rank, plan.dims)) return false;
  broadcast_strides(a_rank, a_dims, plan, plan.a_strides);
  broadcast_strides(b_rank, b_dims, plan, plan.b_strides);
  const size_t a_n = numel(a_rank, a_dims), b_n = numel(b_rank, b_dims);
  switch (op) {
    case BinaryOp::kAdd:
      run_binary(Add{}, a, b, out, plan, a_n, b_n, out_min, out_max);
      return true;
    case BinaryOp::kSubtract:
      run_binary(Subtract{}, a, b, out, plan, a_n, b_n, out_min, out_max);
      return true;
    case BinaryOp::kMultiply:
      run_binary(Multiply{}, a, b, out, plan, a_n, b_n, out_min, out_max);
      return true;
    case BinaryOp::kDivide:
      run_binary(Divide{}, a, b, out, plan, a_n, b_n, out_min, out_max);
      return true;
    case BinaryOp::kMaximum:
      run_binary(Maximum{}, a, b, out, plan, a_n, b_n, out_min, out_max);
      return true;
    case BinaryOp::kMinimum:
      run_binary(Minimum{}, a, b, out, plan, a_n, b_n, out_min, out_max);
      return true;
    case BinaryOp::kSquaredDifference:
      run_binary(SquaredDifference{}, a, b, out, plan, a_n, b_n, out_min, out_max);
      return true;
  }
  return false;
}

}  // namespace etp_xnnpack::native
