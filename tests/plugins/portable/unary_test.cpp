#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "plugins/portable/kernel_harness.h"
#include "plugins/portable/op_call.h"

namespace etp::test {
namespace {

TEST(UnaryKernelTest, MathFunctionsOfIntegersGiveFloatOutputs) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {3}, {0, 1, 4});
  TestTensor out(ETP_DTYPE_FLOAT32, {3});
  ASSERT_EQ(call(h, "aten::exp.out", {V::tensor(a), V::tensor(out)}), ETP_OK) << h.last_error();
  expect_near(out.logical<float>(), {1, std::exp(1.0), std::exp(4.0)}, 1e-4);
  ASSERT_EQ(call(h, "aten::sqrt.out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {0, 1, 2});
  ASSERT_EQ(call(h, "aten::rsqrt.out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {INFINITY, 1, 0.5});
  ASSERT_EQ(call(h, "aten::reciprocal.out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {INFINITY, 1, 0.25});
}

TEST(UnaryKernelTest, MathFunctionsMatchHandComputedValues) {
  KernelHarness h;
  auto a = TestTensor::of<double>(ETP_DTYPE_FLOAT64, {4}, {-1, 0, 0.5, 1000});
  TestTensor out(ETP_DTYPE_FLOAT64, {4});
  struct Case {
    const char* op;
    std::vector<double> expected;
  } cases[] = {
      {"aten::sigmoid.out", {1 / (1 + std::exp(1.0)), 0.5, 1 / (1 + std::exp(-0.5)), 1}},
      {"aten::tanh.out", {std::tanh(-1.0), 0, std::tanh(0.5), 1}},
      {"aten::sin.out", {std::sin(-1.0), 0, std::sin(0.5), std::sin(1000.0)}},
      {"aten::cos.out", {std::cos(-1.0), 1, std::cos(0.5), std::cos(1000.0)}},
      {"aten::erf.out", {std::erf(-1.0), 0, std::erf(0.5), 1}},
      {"aten::log1p.out", {-INFINITY, 0, std::log1p(0.5), std::log1p(1000.0)}},
      {"aten::expm1.out", {std::expm1(-1.0), 0, std::expm1(0.5), INFINITY}},
      {"aten::log.out", {NAN, -INFINITY, std::log(0.5), std::log(1000.0)}},
  };
  for (const Case& k : cases) {
    ASSERT_EQ(call(h, k.op, {V::tensor(a), V::tensor(out)}), ETP_OK) << k.op << ": " << h.last_error();
    std::vector<double> got = out.logical<double>();
    for (size_t i = 0; i < got.size(); ++i) {
      if (std::isinf(k.expected[i]))
        EXPECT_EQ(got[i], k.expected[i]) << k.op << " at " << i;
      else
        expect_near(std::vector<double>{got[i]}, {k.expected[i]}, 1e-12);
    }
  }
}

// Trigonometric, hyperbolic and base-2/10 logarithms, inside and outside their domains
// (NaN outside, as in PyTorch), from float32 and from integers.
TEST(UnaryKernelTest, TrigonometricHyperbolicAndLogFunctions) {
  KernelHarness h;
  const std::vector<double> xs = {-2, -0.5, 0, 0.5, 1, 8};
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {6}, {-2, -0.5f, 0, 0.5f, 1, 8});
  TestTensor out(ETP_DTYPE_FLOAT32, {6});
  struct Case {
    const char* op;
    double (*f)(double);
  } cases[] = {{"aten::tan.out", [](double x) { return std::tan(x); }},
               {"aten::asin.out", [](double x) { return std::asin(x); }},
               {"aten::acos.out", [](double x) { return std::acos(x); }},
               {"aten::atan.out", [](double x) { return std::atan(x); }},
               {"aten::sinh.out", [](double x) { return std::sinh(x); }},
               {"aten::cosh.out", [](double x) { return std::cosh(x); }},
               {"aten::asinh.out", [](double x) { return std::asinh(x); }},
               {"aten::acosh.out", [](double x) { return std::acosh(x); }},
               {"aten::atanh.out", [](double x) { return std::atanh(x); }},
               {"aten::log2.out", [](double x) { return std::log2(x); }},
               {"aten::log10.out", [](double x) { return std::log10(x); }}};
  for (const Case& k : cases) {
    ASSERT_EQ(call(h, k.op, {V::tensor(a), V::tensor(out)}), ETP_OK) << k.op << ": " << h.last_error();
    const std::vector<float> got = out.logical<float>();
    for (size_t i = 0; i < xs.size(); ++i) {
      const double want = k.f(xs[i]);
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(got[i])) << k.op << "(" << xs[i] << ")";
      } else if (std::isinf(want)) {
        EXPECT_EQ(got[i], static_cast<float>(want)) << k.op << "(" << xs[i] << ")";
      } else {
        EXPECT_NEAR(got[i], want, 1e-6 + 1e-6 * std::fabs(want)) << k.op << "(" << xs[i] << ")";
      }
    }
  }
  auto ints = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {3}, {1, 8, 100});
  TestTensor logs(ETP_DTYPE_FLOAT32, {3});
  ASSERT_EQ(call(h, "aten::log2.out", {V::tensor(ints), V::tensor(logs)}), ETP_OK);
  expect_near(logs.logical<float>(), {0, 3, std::log2(100.0)});
  ASSERT_EQ(call(h, "aten::log10.out", {V::tensor(ints), V::tensor(logs)}), ETP_OK);
  expect_near(logs.logical<float>(), {0, std::log10(8.0), 2});
  TestTensor bad(ETP_DTYPE_INT32, {3});
  EXPECT_EQ(call(h, "aten::atan.out", {V::tensor(ints), V::tensor(bad)}), ETP_ERR_DTYPE);
  EXPECT_TRUE(names(h, "aten::atan.out"));
}

TEST(UnaryKernelTest, LogitClampsToEpsWhenGiven) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {0.5f, 0.25f, 0, 1});
  TestTensor out(ETP_DTYPE_FLOAT32, {4});
  ASSERT_EQ(call(h, "aten::logit.out", {V::tensor(a), V::none(), V::tensor(out)}), ETP_OK) << h.last_error();
  const std::vector<float> plain = out.logical<float>();
  EXPECT_EQ(plain[0], 0);
  EXPECT_NEAR(plain[1], std::log(1.0 / 3), 1e-6);
  EXPECT_EQ(plain[2], -INFINITY);
  EXPECT_EQ(plain[3], INFINITY);
  ASSERT_EQ(call(h, "aten::logit.out", {V::tensor(a), V::real(0.1), V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {0, std::log(1.0 / 3), std::log(0.1 / 0.9), std::log(0.9 / 0.1)}, 1e-5);
  TestTensor iout(ETP_DTYPE_INT32, {4});
  EXPECT_EQ(call(h, "aten::logit.out", {V::tensor(a), V::none(), V::tensor(iout)}), ETP_ERR_DTYPE);
  EXPECT_EQ(call(h, "aten::logit.out", {V::tensor(a), V::integer(1), V::tensor(out)}), ETP_ERR_INVALID_ARGUMENT)
      << "eps is a float or None";
}

TEST(UnaryKernelTest, IsinfAndIsnanClassifyFloatsAndNeverIntegers) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {INFINITY, -INFINITY, NAN, 1});
  TestTensor out(ETP_DTYPE_BOOL, {4});
  ASSERT_EQ(call(h, "aten::isinf.out", {V::tensor(a), V::tensor(out)}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<uint8_t>(), (std::vector<uint8_t>{1, 1, 0, 0}));
  ASSERT_EQ(call(h, "aten::isnan.out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<uint8_t>(), (std::vector<uint8_t>{0, 0, 1, 0}));
  auto ints = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {4}, {0, 1, -1, 2147483647});
  ASSERT_EQ(call(h, "aten::isinf.out", {V::tensor(ints), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<uint8_t>(), (std::vector<uint8_t>{0, 0, 0, 0}));
  TestTensor f(ETP_DTYPE_FLOAT32, {4});
  EXPECT_EQ(call(h, "aten::isinf.out", {V::tensor(a), V::tensor(f)}), ETP_ERR_DTYPE);
}

TEST(UnaryKernelTest, MathFunctionIntoAnIntegerOutputIsADtypeError) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {1}, {1});
  TestTensor out(ETP_DTYPE_INT32, {1});
  EXPECT_EQ(call(h, "aten::exp.out", {V::tensor(a), V::tensor(out)}), ETP_ERR_DTYPE);
  EXPECT_TRUE(names(h, "aten::exp.out") && names(h, "int32")) << h.last_error();
}

TEST(UnaryKernelTest, RoundingFunctionsRoundHalfToEvenAndKeepIntegers) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {5}, {-2.5f, -1.5f, 0.5f, 1.5f, 2.7f});
  TestTensor out(ETP_DTYPE_FLOAT32, {5});
  ASSERT_EQ(call(h, "aten::round.out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{-2, -2, 0, 2, 3}));
  ASSERT_EQ(call(h, "aten::floor.out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{-3, -2, 0, 1, 2}));
  ASSERT_EQ(call(h, "aten::ceil.out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{-2, -1, 1, 2, 3}));
  ASSERT_EQ(call(h, "aten::trunc.out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{-2, -1, 0, 1, 2}));
  auto i = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {2}, {-3, 7});
  TestTensor iout(ETP_DTYPE_INT64, {2}), fout(ETP_DTYPE_FLOAT32, {2});
  ASSERT_EQ(call(h, "aten::floor.out", {V::tensor(i), V::tensor(iout)}), ETP_OK);
  EXPECT_EQ(iout.logical<int64_t>(), (std::vector<int64_t>{-3, 7}));
  EXPECT_EQ(call(h, "aten::floor.out", {V::tensor(i), V::tensor(fout)}), ETP_ERR_DTYPE) << "dtype must be kept";
}

TEST(UnaryKernelTest, NegAbsSignOnIntsAndFloats) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {3}, {-4, 0, 9});
  TestTensor out(ETP_DTYPE_INT32, {3});
  ASSERT_EQ(call(h, "aten::neg.out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{4, 0, -9}));
  ASSERT_EQ(call(h, "aten::abs.out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{4, 0, 9}));
  ASSERT_EQ(call(h, "aten::sign.out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{-1, 0, 1}));
  auto f = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3}, {-0.5f, 0, NAN});
  TestTensor fout(ETP_DTYPE_FLOAT32, {3});
  ASSERT_EQ(call(h, "aten::sign.out", {V::tensor(f), V::tensor(fout)}), ETP_OK);
  expect_near(fout.logical<float>(), {-1, 0, NAN});
  auto b = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {1}, {1});
  TestTensor bout(ETP_DTYPE_BOOL, {1});
  EXPECT_EQ(call(h, "aten::neg.out", {V::tensor(b), V::tensor(bout)}), ETP_ERR_DTYPE);
  EXPECT_TRUE(names(h, "aten::neg.out") && names(h, "bool")) << h.last_error();
}

TEST(UnaryKernelTest, LogicalNotBitwiseNotAndIsnan) {
  KernelHarness h;
  auto f = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3}, {0, NAN, 2});
  TestTensor bout(ETP_DTYPE_BOOL, {3}), fout(ETP_DTYPE_FLOAT32, {3});
  ASSERT_EQ(call(h, "aten::isnan.out", {V::tensor(f), V::tensor(bout)}), ETP_OK);
  EXPECT_EQ(bout.logical<uint8_t>(), (std::vector<uint8_t>{0, 1, 0}));
  EXPECT_EQ(call(h, "aten::isnan.out", {V::tensor(f), V::tensor(fout)}), ETP_ERR_DTYPE);
  ASSERT_EQ(call(h, "aten::logical_not.out", {V::tensor(f), V::tensor(fout)}), ETP_OK);
  EXPECT_EQ(fout.logical<float>(), (std::vector<float>{1, 0, 0}));
  auto i = TestTensor::of<int8_t>(ETP_DTYPE_INT8, {2}, {0, 5});
  TestTensor iout(ETP_DTYPE_INT8, {2});
  ASSERT_EQ(call(h, "aten::bitwise_not.out", {V::tensor(i), V::tensor(iout)}), ETP_OK);
  EXPECT_EQ(iout.logical<int8_t>(), (std::vector<int8_t>{-1, -6}));
  auto b = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {2}, {0, 1});
  TestTensor b2(ETP_DTYPE_BOOL, {2});
  ASSERT_EQ(call(h, "aten::bitwise_not.out", {V::tensor(b), V::tensor(b2)}), ETP_OK);
  EXPECT_EQ(b2.logical<uint8_t>(), (std::vector<uint8_t>{1, 0}));
  EXPECT_EQ(call(h, "aten::bitwise_not.out", {V::tensor(f), V::tensor(fout)}), ETP_ERR_DTYPE);
}

// A bool tensor's bytes may be other than 0 and 1 (planned memory of a bad program, found by the
// method fuzz target): read as bytes, any nonzero byte is true, never undefined behaviour.
TEST(UnaryKernelTest, BoolBytesOtherThanZeroAndOneReadAsTrue) {
  KernelHarness h;
  auto b = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {3}, {0, 255, 2});
  TestTensor out(ETP_DTYPE_BOOL, {3});
  ASSERT_EQ(call(h, "aten::bitwise_not.out", {V::tensor(b), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<uint8_t>(), (std::vector<uint8_t>{1, 0, 0}));
  auto t = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {3}, {1, 1, 1});
  TestTensor both(ETP_DTYPE_BOOL, {3});
  ASSERT_EQ(call(h, "aten::bitwise_and.Tensor_out", {V::tensor(b), V::tensor(t), V::tensor(both)}), ETP_OK);
  EXPECT_EQ(both.logical<uint8_t>(), (std::vector<uint8_t>{0, 1, 1}));
  auto row = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {1, 3}, {7, 0, 1});
  TestTensor wide(ETP_DTYPE_BOOL, {2, 3});
  auto col = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {2, 1}, {1, 9});
  ASSERT_EQ(call(h, "aten::bitwise_and.Tensor_out", {V::tensor(row), V::tensor(col), V::tensor(wide)}), ETP_OK);
  EXPECT_EQ(wide.logical<uint8_t>(), (std::vector<uint8_t>{1, 0, 1, 1, 0, 1}));
}

TEST(UnaryKernelTest, ChannelsLastInToContiguousOutAndEmptyTensors) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {-1, 2, -3, 4}, {0, 2, 3, 1});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 1, 2});
  ASSERT_EQ(call(h, "aten::abs.out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1, 2, 3, 4}));
  TestTensor cl(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {0, 2, 3, 1});
  auto contiguous = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {-1, 2, -3, 4});
  ASSERT_EQ(call(h, "aten::neg.out", {V::tensor(contiguous), V::tensor(cl)}), ETP_OK);
  EXPECT_EQ(cl.logical<float>(), (std::vector<float>{1, -2, 3, -4}));
  TestTensor empty(ETP_DTYPE_FLOAT32, {0, 4}), eout(ETP_DTYPE_FLOAT32, {0, 4});
  ASSERT_EQ(call(h, "aten::exp.out", {V::tensor(empty), V::tensor(eout)}), ETP_OK);
  EXPECT_EQ(eout.sizes(), (std::vector<int64_t>{0, 4}));
}

TEST(UnaryKernelTest, OutputWithTooSmallCapacityFailsWithShapeError) {
  KernelHarness h;
  TestTensor a(ETP_DTYPE_FLOAT32, {4}), out(ETP_DTYPE_FLOAT32, {2});
  EXPECT_EQ(call(h, "aten::exp.out", {V::tensor(a), V::tensor(out)}), ETP_ERR_SHAPE);
}

}  // namespace
}  // namespace etp::test
