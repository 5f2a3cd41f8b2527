#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "plugins/portable/kernel_harness.h"
#include "plugins/portable/op_call.h"

namespace etp::test {
namespace {

TestValue str(const char* s) {
  TestValue v;
  v.value.tag = ETP_VALUE_STRING;
  v.value.u.string = {s, std::strlen(s)};
  return v;
}

TEST(ActivationKernelTest, ReluKeepsIntsAndNan) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {-1, 0, 2, NAN});
  TestTensor out(ETP_DTYPE_FLOAT32, {4});
  ASSERT_EQ(call(h, "aten::relu.out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {0, 0, 2, NAN});
  auto i = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2}, {-5, 5});
  TestTensor iout(ETP_DTYPE_INT32, {2});
  ASSERT_EQ(call(h, "aten::relu.out", {V::tensor(i), V::tensor(iout)}), ETP_OK);
  EXPECT_EQ(iout.logical<int32_t>(), (std::vector<int32_t>{0, 5}));
}

TEST(ActivationKernelTest, GeluExactAndTanhApproximation) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3}, {-1, 0, 2});
  TestTensor out(ETP_DTYPE_FLOAT32, {3});
  ASSERT_EQ(call(h, "aten::gelu.out", {V::tensor(a), str("none"), V::tensor(out)}), ETP_OK) << h.last_error();
  expect_near(out.logical<float>(), {-0.15865525, 0, 1.95449974});
  ASSERT_EQ(call(h, "aten::gelu.out", {V::tensor(a), str("tanh"), V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {-0.15880801, 0, 1.95459769});
  EXPECT_EQ(call(h, "aten::gelu.out", {V::tensor(a), str("erf"), V::tensor(out)}), ETP_ERR_INVALID_ARGUMENT);
  auto i = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {1}, {1});
  TestTensor iout(ETP_DTYPE_INT32, {1});
  EXPECT_EQ(call(h, "aten::gelu.out", {V::tensor(i), str("none"), V::tensor(iout)}), ETP_ERR_DTYPE);
  EXPECT_TRUE(names(h, "aten::gelu.out") && names(h, "int32")) << h.last_error();
}

TEST(ActivationKernelTest, PiecewiseActivations) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {-4, -1, 0.5f, 4});
  TestTensor out(ETP_DTYPE_FLOAT32, {4});
  ASSERT_EQ(call(h, "aten::hardtanh.out", {V::tensor(a), V::real(-2), V::integer(1), V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {-2, -1, 0.5, 1});
  ASSERT_EQ(call(h, "aten::leaky_relu.out", {V::tensor(a), V::real(0.1), V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {-0.4, -0.1, 0.5, 4});
  ASSERT_EQ(call(h, "aten::elu.out", {V::tensor(a), V::real(2), V::integer(1), V::integer(1), V::tensor(out)}),
            ETP_OK);
  expect_near(out.logical<float>(), {2 * std::expm1(-4.0), 2 * std::expm1(-1.0), 0.5, 4});
  ASSERT_EQ(call(h, "aten::hardsigmoid.out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {0, 2.0 / 6, 3.5 / 6, 1});
  ASSERT_EQ(call(h, "aten::hardswish.out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {0, -2.0 / 6, 0.5 * 3.5 / 6, 4});
  ASSERT_EQ(call(h, "aten::softplus.out", {V::tensor(a), V::integer(1), V::integer(3), V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {std::log1p(std::exp(-4.0)), std::log1p(std::exp(-1.0)),
                                     std::log1p(std::exp(0.5)), 4});
}

TEST(ActivationKernelTest, ClampWithOptionalScalarBounds) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {4}, {-10, 0, 5, 10});
  TestTensor out(ETP_DTYPE_INT32, {4});
  ASSERT_EQ(call(h, "aten::clamp.out", {V::tensor(a), V::none(), V::integer(6), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{-10, 0, 5, 6}));
  ASSERT_EQ(call(h, "aten::clamp.out", {V::tensor(a), V::integer(-1), V::integer(6), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{-1, 0, 5, 6}));
  EXPECT_EQ(call(h, "aten::clamp.out", {V::tensor(a), V::none(), V::none(), V::tensor(out)}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(call(h, "aten::clamp.out", {V::tensor(a), V::real(0.5), V::none(), V::tensor(out)}), ETP_ERR_DTYPE)
      << "float bound promotes to float, which an int output cannot hold";
  TestTensor fout(ETP_DTYPE_FLOAT32, {4});
  ASSERT_EQ(call(h, "aten::clamp.out", {V::tensor(a), V::real(0.5), V::none(), V::tensor(fout)}), ETP_OK);
  EXPECT_EQ(fout.logical<float>(), (std::vector<float>{0.5f, 0.5f, 5, 10}));
  auto u = TestTensor::of<uint8_t>(ETP_DTYPE_UINT8, {1}, {1});
  TestTensor uout(ETP_DTYPE_UINT8, {1});
  EXPECT_EQ(call(h, "aten::clamp.out", {V::tensor(u), V::integer(300), V::none(), V::tensor(uout)}),
            ETP_ERR_INVALID_ARGUMENT);
}

TEST(ActivationKernelTest, ClampTensorBroadcastsBounds) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 2}, {-5, 5, -5, 5});
  auto lo = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 1}, {-1, -2});
  auto hi = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2}, {1, 3});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 2});
  ASSERT_EQ(call(h, "aten::clamp.Tensor_out", {V::tensor(a), V::tensor(lo), V::tensor(hi), V::tensor(out)}), ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{-1, 3, -2, 3}));
  ASSERT_EQ(call(h, "aten::clamp.Tensor_out", {V::tensor(a), V::none(), V::tensor(hi), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{-5, 3, -5, 3}));
  auto bad = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3}, {0, 0, 0});
  EXPECT_EQ(call(h, "aten::clamp.Tensor_out", {V::tensor(a), V::tensor(bad), V::none(), V::tensor(out)}),
            ETP_ERR_SHAPE);
}

TEST(ActivationKernelTest, SoftmaxAlongANegativeDimOfAChannelsLastTensor) {
  KernelHarness h;
  // Logical [1, 2, 1, 2] = {{{0, 1}}, {{2, 3}}}; softmax over dim -3 (the channels).
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {0, 1, 2, 3}, {0, 2, 3, 1});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {0, 2, 3, 1});
  ASSERT_EQ(call(h, "aten::_softmax.out", {V::tensor(a), V::integer(-3), V::boolean(false), V::tensor(out)}), ETP_OK)
      << h.last_error();
  const double lo = 1 / (1 + std::exp(2.0)), hi = 1 - lo;
  expect_near(out.logical<float>(), {lo, lo, hi, hi});
  ASSERT_EQ(call(h, "aten::_log_softmax.out", {V::tensor(a), V::integer(3), V::boolean(false), V::tensor(out)}),
            ETP_OK);
  const double l0 = -std::log1p(std::exp(1.0)), l1 = 1 + l0;
  expect_near(out.logical<float>(), {l0, l1, l0, l1});
  EXPECT_EQ(call(h, "aten::_softmax.out", {V::tensor(a), V::integer(4), V::boolean(false), V::tensor(out)}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(h, "aten::_softmax.out")) << h.last_error();
}

TEST(ActivationKernelTest, SoftmaxIsStableForLargeInputs) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {1000, 1000});
  TestTensor out(ETP_DTYPE_FLOAT32, {2});
  ASSERT_EQ(call(h, "aten::_softmax.out", {V::tensor(a), V::integer(0), V::boolean(false), V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {0.5, 0.5});
}

TEST(ActivationKernelTest, GluHalvesTheDimAndRejectsOddSizes) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 2}, {1, 0, 2, 100});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 2});
  ASSERT_EQ(call(h, "aten::glu.out", {V::tensor(a), V::integer(-1), V::tensor(out)}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 1}));
  expect_near(out.logical<float>(), {0.5, 2});
  auto odd = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3}, {1, 2, 3});
  EXPECT_EQ(call(h, "aten::glu.out", {V::tensor(odd), V::integer(0), V::tensor(out)}), ETP_ERR_SHAPE);
}

TEST(ActivationKernelTest, EmptyInputsGiveEmptyOutputs) {
  KernelHarness h;
  TestTensor a(ETP_DTYPE_FLOAT32, {0, 3}), out(ETP_DTYPE_FLOAT32, {0, 3});
  ASSERT_EQ(call(h, "aten::_softmax.out", {V::tensor(a), V::integer(1), V::boolean(false), V::tensor(out)}), ETP_OK);
  ASSERT_EQ(call(h, "aten::hardswish.out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{0, 3}));
}

}  // namespace
}  // namespace etp::test
