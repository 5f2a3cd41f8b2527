// The portable plugin's vectorizable float math (plugins/portable/vec_math.h) against double
// libm over a sweep of float bit patterns, with the special values named; and aten::sigmoid.out
// of the built plugin (where the loop is vectorized) against the scalar function, bit for bit.
// Compiled with -ffp-contract=off like the plugin, so both round the same products.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "plugins/portable/kernel_harness.h"
#include "plugins/portable/op_call.h"
#include "vec_math.h"

namespace etp_portable {
namespace {

using etp::test::KernelHarness;
using etp::test::TestTensor;
using etp::test::V;

// |got - want| in units of the float ulp at want (the spacing of floats around it; the least
// subnormal's spacing below FLT_MIN).
double ulps(float got, double want) {
  const float w = static_cast<float>(want);
  const float spacing = std::nextafter(std::fabs(w), INFINITY) - std::fabs(w);
  return std::fabs(static_cast<double>(got) - want) / spacing;
}

// Every 509th float bit pattern (8.4 million values, every exponent), finite ones only.
template <typename F>
void sweep(F&& f, uint64_t step = 509) {
  for (uint64_t b = 0; b <= 0xffffffffu; b += step) {
    const float x = bits_float(static_cast<uint32_t>(b));
    if (std::isfinite(x)) f(x);
  }
}

TEST(PortableVecMathTest, ExpOfNonPositiveIsWithinOnePointThreeUlp) {
  double worst = 0;
  float worst_at = 0;
  sweep([&](float x) {
    if (x > 0) return;
    const double e = ulps(exp_nonpositive(x), std::exp(static_cast<double>(x)));
    if (e > worst) worst = e, worst_at = x;
  });
  EXPECT_LE(worst, 1.3) << "at x = " << worst_at;
}

TEST(PortableVecMathTest, ExpSpecialValues) {
  EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-INFINITY), 0.0f);
  EXPECT_EQ(exp_nonpositive(-104.0f), 0.0f);
  EXPECT_EQ(exp_nonpositive(-1e30f), 0.0f);
  EXPECT_TRUE(std::isnan(exp_nonpositive(std::numeric_limits<float>::quiet_NaN())));
  // Subnormal results round once, to the nearest subnormal, as libm's expf.
  for (float x : {-87.5f, -90.0f, -95.25f, -100.0f, -103.0f, -103.9f}) {
    EXPECT_EQ(exp_nonpositive(x), std::exp(x)) << x;
  }
}

TEST(PortableVecMathTest, SigmoidIsWithinTwoAndAHalfUlp) {
  double worst = 0;
  float worst_at = 0;
  sweep([&](float x) {
    const double want = 1.0 / (1.0 + std::exp(-static_cast<double>(x)));
    const double e = ulps(sigmoid_float(x), want);
    if (e > worst) worst = e, worst_at = x;
  });
  // One ulp from exp, half an ulp each from the sum and the quotient.
  EXPECT_LE(worst, 2.5) << "at x = " << worst_at;
}

TEST(PortableVecMathTest, SigmoidSpecialValues) {
  EXPECT_EQ(sigmoid_float(0.0f), 0.5f);
  EXPECT_EQ(sigmoid_float(-0.0f), 0.5f);
  EXPECT_EQ(sigmoid_float(INFINITY), 1.0f);
  EXPECT_EQ(sigmoid_float(-INFINITY), 0.0f);
  EXPECT_EQ(sigmoid_float(200.0f), 1.0f);
  EXPECT_EQ(sigmoid_float(-200.0f), 0.0f);
  EXPECT_EQ(sigmoid_float(-100.0f), std::exp(-100.0f));  // the tail, not 0
  EXPECT_TRUE(std::isnan(sigmoid_float(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(sigmoid_float(-std::numeric_limits<float>::quiet_NaN())));
}

TEST(PortableVecMathTest, SigmoidKernelGivesTheScalarFunctionsBits) {
  std::vector<float> xs = {0.0f, -0.0f, INFINITY, -INFINITY, std::numeric_limits<float>::quiet_NaN(), -100.0f};
  sweep([&](float x) { xs.push_back(x); }, 65521);
  const int64_t n = static_cast<int64_t>(xs.size());
  KernelHarness h;
  TestTensor in(ETP_DTYPE_FLOAT32, {n}), out(ETP_DTYPE_FLOAT32, {n});
  in.set_logical(xs);
  ASSERT_EQ(etp::test::call(h, "aten::sigmoid.out", {V::tensor(in), V::tensor(out)}), ETP_OK) << h.last_error();
  const std::vector<float> got = out.logical<float>();
  for (size_t i = 0; i < xs.size(); ++i) {
    const float want = sigmoid_float(xs[i]);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got[i])) << "x = " << xs[i];
    } else {
      EXPECT_EQ(float_bits(got[i]), float_bits(want)) << "x = " << xs[i] << ": " << got[i] << " vs " << want;
    }
  }
}

}  // namespace
}  // namespace etp_portable
