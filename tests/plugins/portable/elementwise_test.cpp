#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "float16.h"
#include "plugins/portable/kernel_harness.h"
#include "plugins/portable/op_call.h"

namespace etp::test {
namespace {

TEST(AddKernelTest, BroadcastsAndScalesByAlpha) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 3}, {1, 2, 3, 4, 5, 6});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3}, {10, 20, 30});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 3});
  TestValue va = TestValue::tensor(a), vb = TestValue::tensor(b), alpha = TestValue::integer(2),
            vo = TestValue::tensor(out);
  ASSERT_EQ(h.run("aten::add.out", {&va, &vb, &alpha, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{21, 42, 63, 24, 45, 66}));
}

TEST(AddKernelTest, WritesChannelsLastOutputsInTheirDimOrder) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {1, 2, 3, 4}, {0, 2, 3, 1});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {1, 1, 1, 1});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {0, 2, 3, 1});
  TestValue va = TestValue::tensor(a), vb = TestValue::tensor(b), alpha = TestValue::integer(1),
            vo = TestValue::tensor(out);
  ASSERT_EQ(h.run("aten::add.out", {&va, &vb, &alpha, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{2, 3, 4, 5}));
}

TEST(AddKernelTest, ShapesThatDoNotBroadcastFailWithTheOperatorName) {
  KernelHarness h;
  TestTensor a(ETP_DTYPE_FLOAT32, {2, 3}), b(ETP_DTYPE_FLOAT32, {4}), out(ETP_DTYPE_FLOAT32, {2, 3});
  TestValue va = TestValue::tensor(a), vb = TestValue::tensor(b), alpha = TestValue::integer(1),
            vo = TestValue::tensor(out);
  EXPECT_EQ(h.run("aten::add.out", {&va, &vb, &alpha, &vo, &vo}), ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("aten::add.out"), std::string::npos) << h.last_error();
}

TEST(AddKernelTest, EmptyTensorsGiveEmptyOutput) {
  KernelHarness h;
  TestTensor a(ETP_DTYPE_FLOAT32, {0, 3}), b(ETP_DTYPE_FLOAT32, {3}), out(ETP_DTYPE_FLOAT32, {0, 3});
  TestValue va = TestValue::tensor(a), vb = TestValue::tensor(b), alpha = TestValue::integer(1),
            vo = TestValue::tensor(out);
  ASSERT_EQ(h.run("aten::add.out", {&va, &vb, &alpha, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{0, 3}));
}

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

TEST(BinaryKernelTest, ScalarVariantsPromoteIntTensorsWithFloatScalarsToFloat) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {3}, {1, 2, 3});
  TestTensor out(ETP_DTYPE_FLOAT32, {3});
  ASSERT_EQ(call(h, "aten::add.Scalar_out", {V::tensor(a), V::real(0.5), V::integer(2), V::tensor(out)}), ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{2, 3, 4}));  // 1 + 2 * 0.5
  ASSERT_EQ(call(h, "aten::sub.Scalar_out", {V::tensor(a), V::real(0.5), V::integer(1), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0.5f, 1.5f, 2.5f}));
  ASSERT_EQ(call(h, "aten::rsub.Scalar_out", {V::tensor(a), V::integer(10), V::integer(2), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{8, 6, 4}));  // 10 - 2 * a
  ASSERT_EQ(call(h, "aten::mul.Scalar_out", {V::tensor(a), V::real(1.5), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1.5f, 3, 4.5f}));
}

TEST(BinaryKernelTest, IntResultIntoIntOutputButFloatResultIntoIntOutputIsADtypeError) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2}, {7, -7});
  TestTensor out(ETP_DTYPE_INT32, {2});
  ASSERT_EQ(call(h, "aten::mul.Scalar_out", {V::tensor(a), V::integer(3), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{21, -21}));
  EXPECT_EQ(call(h, "aten::mul.Scalar_out", {V::tensor(a), V::real(0.5), V::tensor(out)}), ETP_ERR_DTYPE);
  EXPECT_TRUE(names(h, "aten::mul.Scalar_out")) << h.last_error();
  EXPECT_EQ(call(h, "aten::add.out", {V::tensor(a), V::tensor(a), V::real(0.5), V::tensor(out)}), ETP_ERR_DTYPE)
      << "a float alpha with int tensors";
}

TEST(BinaryKernelTest, MixedIntegerTypesPromoteLikePyTorch) {
  KernelHarness h;
  auto a = TestTensor::of<uint8_t>(ETP_DTYPE_UINT8, {2}, {200, 1});
  auto b = TestTensor::of<int8_t>(ETP_DTYPE_INT8, {2}, {100, -2});
  TestTensor out(ETP_DTYPE_INT16, {2}), narrow(ETP_DTYPE_INT8, {2});
  ASSERT_EQ(call(h, "aten::add.out", {V::tensor(a), V::tensor(b), V::integer(1), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int16_t>(), (std::vector<int16_t>{300, -1}));  // uint8 + int8 -> int16
  EXPECT_EQ(call(h, "aten::add.out", {V::tensor(a), V::tensor(b), V::integer(1), V::tensor(narrow)}), ETP_OK)
      << "int16 may be cast to int8 (same category)";
}

TEST(BinaryKernelTest, SubtractingBoolsIsADtypeError) {
  KernelHarness h;
  auto a = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {1}, {1});
  TestTensor out(ETP_DTYPE_BOOL, {1});
  EXPECT_EQ(call(h, "aten::sub.out", {V::tensor(a), V::tensor(a), V::integer(1), V::tensor(out)}), ETP_ERR_DTYPE);
  EXPECT_TRUE(names(h, "aten::sub.out"));
}

TEST(BinaryKernelTest, DivisionOfIntegersIsTrueDivisionInFloat) {
  KernelHarness h;
  auto a = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {3}, {7, -7, 1});
  auto b = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {3}, {2, 2, 0});
  TestTensor out(ETP_DTYPE_FLOAT32, {3}), int_out(ETP_DTYPE_INT64, {3});
  ASSERT_EQ(call(h, "aten::div.out", {V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{3.5f, -3.5f, std::numeric_limits<float>::infinity()}));
  EXPECT_EQ(call(h, "aten::div.out", {V::tensor(a), V::tensor(b), V::tensor(int_out)}), ETP_ERR_DTYPE);
  ASSERT_EQ(call(h, "aten::div.Scalar_out", {V::tensor(a), V::integer(4), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1.75f, -1.75f, 0.25f}));
}

TEST(BinaryKernelTest, DivRoundingModesTruncAndFloorOnIntsAndFloats) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {4}, {7, -7, 7, -7});
  auto b = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {4}, {2, 2, -2, -2});
  TestTensor out(ETP_DTYPE_INT32, {4});
  V trunc, floor;
  trunc.value.tag = floor.value.tag = ETP_VALUE_STRING;
  trunc.value.u.string = {"trunc", 5};
  floor.value.u.string = {"floor", 5};
  ASSERT_EQ(call(h, "aten::div.out_mode", {V::tensor(a), V::tensor(b), trunc, V::tensor(out)}), ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{3, -3, -3, 3}));
  ASSERT_EQ(call(h, "aten::div.out_mode", {V::tensor(a), V::tensor(b), floor, V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{3, -4, -4, 3}));
  ASSERT_EQ(call(h, "aten::floor_divide.out", {V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{3, -4, -4, 3}));

  auto fa = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {-7.5f, 7.5f});
  auto fb = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1}, {2});
  TestTensor fout(ETP_DTYPE_FLOAT32, {2});
  ASSERT_EQ(call(h, "aten::div.out_mode", {V::tensor(fa), V::tensor(fb), floor, V::tensor(fout)}), ETP_OK);
  EXPECT_EQ(fout.logical<float>(), (std::vector<float>{-4, 3}));
  ASSERT_EQ(call(h, "aten::div.out_mode", {V::tensor(fa), V::tensor(fb), V::none(), V::tensor(fout)}), ETP_OK);
  EXPECT_EQ(fout.logical<float>(), (std::vector<float>{-3.75f, 3.75f}));
}

TEST(BinaryKernelTest, IntegerDivisionByZeroIsAnError) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2}, {1, 2});
  auto zero = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {1}, {0});
  TestTensor out(ETP_DTYPE_INT32, {2});
  EXPECT_EQ(call(h, "aten::floor_divide.out", {V::tensor(a), V::tensor(zero), V::tensor(out)}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(h, "aten::floor_divide.out"));
  EXPECT_EQ(call(h, "aten::remainder.Scalar_out", {V::tensor(a), V::integer(0), V::tensor(out)}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(call(h, "aten::fmod.Tensor_out", {V::tensor(a), V::tensor(zero), V::tensor(out)}),
            ETP_ERR_INVALID_ARGUMENT);
}

TEST(BinaryKernelTest, RemainderFollowsTheDivisorSignAndFmodTheDividend) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {5, -5, 5, -5});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {3, 3, -3, -3});
  TestTensor out(ETP_DTYPE_FLOAT32, {4});
  ASSERT_EQ(call(h, "aten::remainder.Tensor_out", {V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{2, 1, -1, -2}));
  ASSERT_EQ(call(h, "aten::fmod.Tensor_out", {V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{2, -2, 2, -2}));
  auto ia = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {2}, {-5, 5});
  TestTensor iout(ETP_DTYPE_INT64, {2});
  ASSERT_EQ(call(h, "aten::remainder.Scalar_out", {V::tensor(ia), V::integer(3), V::tensor(iout)}), ETP_OK);
  EXPECT_EQ(iout.logical<int64_t>(), (std::vector<int64_t>{1, 2}));
}

TEST(BinaryKernelTest, PowIsExactForIntsAndRejectsNegativeIntegerExponents) {
  KernelHarness h;
  auto a = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {3}, {3, -2, 10});
  TestTensor out(ETP_DTYPE_INT64, {3});
  ASSERT_EQ(call(h, "aten::pow.Tensor_Scalar_out", {V::tensor(a), V::integer(3), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{27, -8, 1000}));
  EXPECT_EQ(call(h, "aten::pow.Tensor_Scalar_out", {V::tensor(a), V::integer(-1), V::tensor(out)}),
            ETP_ERR_INVALID_ARGUMENT);
  auto f = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 1}, {4, 9});
  auto e = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {0.5f, 2});
  TestTensor fout(ETP_DTYPE_FLOAT32, {2, 2});
  ASSERT_EQ(call(h, "aten::pow.Tensor_Tensor_out", {V::tensor(f), V::tensor(e), V::tensor(fout)}), ETP_OK);
  EXPECT_EQ(fout.logical<float>(), (std::vector<float>{2, 16, 3, 81}));
}

TEST(BinaryKernelTest, MaximumAndMinimumPropagateNanAndBroadcast) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 2}, {1, kNan, 5, -1});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {2, 0});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 2});
  ASSERT_EQ(call(h, "aten::maximum.out", {V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {2, NAN, 5, 0});
  ASSERT_EQ(call(h, "aten::minimum.out", {V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {1, NAN, 2, -1});
}

TEST(BinaryKernelTest, BitwiseOpsTakeIntsAndBoolsButNotFloats) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2}, {12, 5});
  auto b = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2}, {10, 3});
  TestTensor out(ETP_DTYPE_INT32, {2});
  ASSERT_EQ(call(h, "aten::bitwise_and.Tensor_out", {V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{8, 1}));
  ASSERT_EQ(call(h, "aten::bitwise_or.Tensor_out", {V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{14, 7}));
  auto f = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {1, 2});
  TestTensor fout(ETP_DTYPE_FLOAT32, {2});
  EXPECT_EQ(call(h, "aten::bitwise_and.Tensor_out", {V::tensor(f), V::tensor(f), V::tensor(fout)}), ETP_ERR_DTYPE);
  EXPECT_TRUE(names(h, "aten::bitwise_and.Tensor_out") && names(h, "float32")) << h.last_error();
}

// Shifts follow PyTorch where C++ is undefined: counts out of range, negative values, int8 widths.
TEST(BinaryKernelTest, BitwiseShiftsGivePyTorchsAnswersAtTheEdges) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {6}, {3, -3, 1, -8, 5, 1});
  auto n = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {6}, {2, 2, 31, 1, -1, 32});
  TestTensor out(ETP_DTYPE_INT32, {6});
  ASSERT_EQ(call(h, "aten::bitwise_left_shift.Tensor_out", {V::tensor(a), V::tensor(n), V::tensor(out)}), ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{12, -12, INT32_MIN, -16, 0, 0}));
  ASSERT_EQ(call(h, "aten::bitwise_right_shift.Tensor_out", {V::tensor(a), V::tensor(n), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{0, -1, 0, -4, 0, 0}));
  auto bytes = TestTensor::of<int8_t>(ETP_DTYPE_INT8, {3}, {1, -128, 64});
  TestTensor bout(ETP_DTYPE_INT8, {3});
  ASSERT_EQ(call(h, "aten::bitwise_left_shift.Tensor_Scalar_out", {V::tensor(bytes), V::integer(1), V::tensor(bout)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(bout.logical<int8_t>(), (std::vector<int8_t>{2, 0, -128}));
  ASSERT_EQ(call(h, "aten::bitwise_right_shift.Tensor_Scalar_out", {V::tensor(bytes), V::integer(9), V::tensor(bout)}),
            ETP_OK);
  EXPECT_EQ(bout.logical<int8_t>(), (std::vector<int8_t>{0, -1, 0}));
  auto f = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1}, {1});
  TestTensor fout(ETP_DTYPE_FLOAT32, {1});
  EXPECT_EQ(call(h, "aten::bitwise_left_shift.Tensor_out", {V::tensor(f), V::tensor(f), V::tensor(fout)}),
            ETP_ERR_DTYPE);
}

TEST(BinaryKernelTest, LogicalOpsReadTruthValuesOfAnyDtype) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {0, 0.5f, 0, -2});
  auto b = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {4}, {0, 0, 3, 1});
  TestTensor out(ETP_DTYPE_BOOL, {4});
  ASSERT_EQ(call(h, "aten::logical_and.out", {V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<uint8_t>(), (std::vector<uint8_t>{0, 0, 0, 1}));
  ASSERT_EQ(call(h, "aten::logical_or.out", {V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<uint8_t>(), (std::vector<uint8_t>{0, 1, 1, 1}));
}

// The scalar variants and xor forms ExecuTorch's portable library lists.
TEST(BinaryKernelTest, ScalarAndXorVariants) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {3}, {12, 5, -7});
  TestTensor out(ETP_DTYPE_INT32, {3});
  ASSERT_EQ(call(h, "aten::bitwise_and.Scalar_out", {V::tensor(a), V::integer(6), V::tensor(out)}), ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{4, 4, 0}));
  ASSERT_EQ(call(h, "aten::bitwise_or.Scalar_out", {V::tensor(a), V::integer(6), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{14, 7, -1}));
  ASSERT_EQ(call(h, "aten::bitwise_xor.Scalar_out", {V::tensor(a), V::integer(6), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{10, 3, -1}));
  auto b = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {3}, {10, 3, 7});
  ASSERT_EQ(call(h, "aten::bitwise_xor.Tensor_out", {V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{6, 6, -2}));
  EXPECT_EQ(call(h, "aten::bitwise_xor.Scalar_out", {V::tensor(a), V::real(1.5), V::tensor(out)}), ETP_ERR_DTYPE)
      << "a float scalar makes the result float, which has no bitwise ops";

  auto f = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {5, -5, 5.5f, -5.5f});
  TestTensor fout(ETP_DTYPE_FLOAT32, {4});
  ASSERT_EQ(call(h, "aten::fmod.Scalar_out", {V::tensor(f), V::integer(3), V::tensor(fout)}), ETP_OK);
  expect_near(fout.logical<float>(), {2, -2, 2.5, -2.5});
  ASSERT_EQ(call(h, "aten::div.Scalar_mode_out", {V::tensor(f), V::integer(2), V::none(), V::tensor(fout)}), ETP_OK);
  expect_near(fout.logical<float>(), {2.5, -2.5, 2.75, -2.75});
  V floor;
  floor.value.tag = ETP_VALUE_STRING;
  floor.value.u.string = {"floor", 5};
  ASSERT_EQ(call(h, "aten::div.Scalar_mode_out", {V::tensor(f), V::integer(2), floor, V::tensor(fout)}), ETP_OK);
  expect_near(fout.logical<float>(), {2, -3, 2, -3});

  auto y = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {1, 1, -1, 0});
  auto x = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {4}, {1, -1, -1, 0});
  ASSERT_EQ(call(h, "aten::atan2.out", {V::tensor(y), V::tensor(x), V::tensor(fout)}), ETP_OK);
  expect_near(fout.logical<float>(), {std::atan2(1.0, 1.0), std::atan2(1.0, -1.0), std::atan2(-1.0, -1.0), 0});
  TestTensor iout(ETP_DTYPE_INT32, {4});
  EXPECT_EQ(call(h, "aten::atan2.out", {V::tensor(x), V::tensor(x), V::tensor(iout)}), ETP_ERR_DTYPE);

  auto e = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {4}, {0, 1, 3, 10});
  TestTensor eout(ETP_DTYPE_INT64, {4});
  ASSERT_EQ(call(h, "aten::pow.Scalar_out", {V::integer(2), V::tensor(e), V::tensor(eout)}), ETP_OK) << h.last_error();
  EXPECT_EQ(eout.logical<int64_t>(), (std::vector<int64_t>{1, 2, 8, 1024}));
  ASSERT_EQ(call(h, "aten::pow.Scalar_out", {V::real(0.5), V::tensor(e), V::tensor(fout)}), ETP_OK);
  expect_near(fout.logical<float>(), {1, 0.5, 0.125, std::pow(0.5, 10)});

  auto p = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {0, 0.5f, 0, -2});
  auto q = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {4}, {0, 0, 3, 1});
  TestTensor bout(ETP_DTYPE_BOOL, {4});
  ASSERT_EQ(call(h, "aten::logical_xor.out", {V::tensor(p), V::tensor(q), V::tensor(bout)}), ETP_OK);
  EXPECT_EQ(bout.logical<uint8_t>(), (std::vector<uint8_t>{0, 1, 1, 0}));
}

// The flat path for operands in out's layout or of one element: channels-last throughout,
// a 0-dim operand, narrow integers (computed in int64), and a resize of a dynamic output.
TEST(BinaryKernelTest, FlatPathCasesMatchTheGeneralOnes) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {1, 2, 3, 4}, {0, 2, 3, 1});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {10, 20, 30, 40}, {0, 2, 3, 1});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {0, 2, 3, 1});
  ASSERT_EQ(call(h, "aten::mul.out", {V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{10, 40, 90, 160}));
  auto scalar = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {}, {-1});
  ASSERT_EQ(call(h, "aten::mul.out", {V::tensor(scalar), V::tensor(b), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{-10, -20, -30, -40}));
  ASSERT_EQ(call(h, "aten::sub.out", {V::tensor(a), V::tensor(scalar), V::integer(2), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{3, 4, 5, 6}));
  auto i8 = TestTensor::of<int8_t>(ETP_DTYPE_INT8, {3}, {100, -100, 7});
  TestTensor o8(ETP_DTYPE_INT8, {3});
  ASSERT_EQ(call(h, "aten::add.out", {V::tensor(i8), V::tensor(i8), V::integer(1), V::tensor(o8)}), ETP_OK);
  EXPECT_EQ(o8.logical<int8_t>(), (std::vector<int8_t>{-56, 56, 14}));  // wraps like PyTorch
  TestTensor grown(ETP_DTYPE_FLOAT32, {4}, {}, /*capacity_elements=*/8);
  auto long_a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {6}, {1, 2, 3, 4, 5, 6});
  ASSERT_EQ(call(h, "aten::add.out", {V::tensor(long_a), V::tensor(long_a), V::integer(1), V::tensor(grown)}), ETP_OK)
      << h.last_error();
  EXPECT_EQ(grown.sizes(), (std::vector<int64_t>{6}));
  EXPECT_EQ(grown.logical<float>(), (std::vector<float>{2, 4, 6, 8, 10, 12}));
  TestTensor small(ETP_DTYPE_FLOAT32, {4}, {}, /*capacity_elements=*/4);
  EXPECT_EQ(call(h, "aten::add.out", {V::tensor(long_a), V::tensor(long_a), V::integer(1), V::tensor(small)}),
            ETP_ERR_SHAPE);
}

TEST(BinaryKernelTest, ChannelsLastInputAndOutputWithBroadcastAndConversion) {
  KernelHarness h;
  // [1, 2, 2, 2] channels-last times a per-channel [2, 1, 1] int tensor, into channels-last.
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}, {0, 2, 3, 1});
  auto b = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2, 1, 1}, {10, -1});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 2, 2}, {0, 2, 3, 1});
  ASSERT_EQ(call(h, "aten::mul.out", {V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{10, 20, 30, 40, -5, -6, -7, -8}));
}

TEST(BinaryKernelTest, UnsupportedDtypeIsNamedInTheError) {
  KernelHarness h;
  TestTensor a(ETP_DTYPE_UINT16, {2}), out(ETP_DTYPE_UINT16, {2});
  EXPECT_EQ(call(h, "aten::mul.out", {V::tensor(a), V::tensor(a), V::tensor(out)}), ETP_ERR_DTYPE);
  EXPECT_TRUE(names(h, "aten::mul.out") && names(h, "uint16")) << h.last_error();
}

// float16 and bfloat16 compute in float and round once on store (ExecuTorch's compute type);
// mixing the two promotes to float32, as torch.promote_types does.
TEST(BinaryKernelTest, HalfAndBFloat16ComputeInFloatAndRoundOnce) {
  KernelHarness h;
  using etp_portable::float_to_half_bits;
  using etp_portable::half_bits_to_float;
  // 2048 + 1 + 1 in float is 2050, a half; adding 1 twice in half would stay at 2048.
  auto a = TestTensor::of<uint16_t>(ETP_DTYPE_FLOAT16, {2}, {float_to_half_bits(2048), float_to_half_bits(0.1f)});
  auto b = TestTensor::of<uint16_t>(ETP_DTYPE_FLOAT16, {2}, {float_to_half_bits(1), float_to_half_bits(0.2f)});
  TestTensor out(ETP_DTYPE_FLOAT16, {2});
  V alpha = V::integer(2);
  ASSERT_EQ(call(h, "aten::add.out", {V::tensor(a), V::tensor(b), alpha, V::tensor(out)}), ETP_OK) << h.last_error();
  const float tenth = half_bits_to_float(float_to_half_bits(0.1f)),
              fifth = half_bits_to_float(float_to_half_bits(0.2f));
  EXPECT_EQ(out.logical<uint16_t>(),
            (std::vector<uint16_t>{float_to_half_bits(2050), float_to_half_bits(tenth + 2 * fifth)}));
  auto bf = TestTensor::of<uint16_t>(
      ETP_DTYPE_BFLOAT16, {2}, {etp_portable::float_to_bfloat16_bits(0.5f), etp_portable::float_to_bfloat16_bits(-3)});
  TestTensor mixed(ETP_DTYPE_FLOAT32, {2});
  ASSERT_EQ(call(h, "aten::mul.out", {V::tensor(a), V::tensor(bf), V::tensor(mixed)}), ETP_OK) << h.last_error();
  EXPECT_EQ(mixed.logical<float>(), (std::vector<float>{1024, -3 * tenth}));
  TestTensor half_out(ETP_DTYPE_FLOAT16, {2});  // float32 may be stored into float16 (torch.can_cast)
  ASSERT_EQ(call(h, "aten::mul.out", {V::tensor(a), V::tensor(bf), V::tensor(half_out)}), ETP_OK) << h.last_error();
  EXPECT_EQ(half_out.logical<uint16_t>(),
            (std::vector<uint16_t>{float_to_half_bits(1024), float_to_half_bits(-3 * tenth)}));
  TestTensor int_out(ETP_DTYPE_INT32, {2});
  EXPECT_EQ(call(h, "aten::mul.out", {V::tensor(a), V::tensor(b), V::tensor(int_out)}), ETP_ERR_DTYPE)
      << "a float16 result cannot be cast to int32";
}

}  // namespace
}  // namespace etp::test
