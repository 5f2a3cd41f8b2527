// The quantized plugin's quantize/dequantize kernels: values (the bit-exact comparison with the
// ExecuTorch runtime is in the q_* and qconv_*_portable fixtures), clamping, NaN, and the errors
// that name the operator.
#include <gtest/gtest.h>

#include <cmath>

#include "plugins/portable/op_call.h"

namespace etp::test {
namespace {

using V = TestValue;

TEST(QuantizeKernelTest, PerTensorRoundsHalfToEvenClampsAndRoundTrips) {
  KernelHarness h(ETP_QUANTIZED_PLUGIN_PATH);
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {6}, {0.25f, 0.75f, -0.25f, 100, -100, NAN});
  TestTensor q(ETP_DTYPE_INT8, {6});
  // scale 0.5: 0.5 -> 0 (half to even) + zp 1 = 1, 1.5 -> 2 + 1 = 3, -0.5 -> -0 + 1 = 1; clamped; NaN -> quant_min.
  ASSERT_EQ(call(h, "quantized_decomposed::quantize_per_tensor.out",
                 {V::tensor(x), V::real(0.5), V::integer(1), V::integer(-10), V::integer(10),
                  V::integer(ETP_DTYPE_INT8), V::tensor(q)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(q.logical<int8_t>(), (std::vector<int8_t>{1, 3, 1, 10, -10, -10}));
  TestTensor back(ETP_DTYPE_FLOAT32, {6});
  ASSERT_EQ(call(h, "quantized_decomposed::dequantize_per_tensor.out",
                 {V::tensor(q), V::real(0.5), V::integer(1), V::integer(-10), V::integer(10),
                  V::integer(ETP_DTYPE_INT8), V::none(), V::tensor(back)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(back.logical<float>(), (std::vector<float>{0, 1, 0, 4.5, -5.5, -5.5}));
}

// The .Tensor_out variants take scale and zero point as one-element tensors and agree with .out.
TEST(QuantizeKernelTest, TensorParameterVariantsMatchTheScalarOnes) {
  KernelHarness h(ETP_QUANTIZED_PLUGIN_PATH);
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {0.3f, -1.7f, 2.5f, 9});
  auto scale = TestTensor::of<double>(ETP_DTYPE_FLOAT64, {1}, {0.2});
  auto zp = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1}, {-3});
  TestTensor q(ETP_DTYPE_INT8, {4}), expected(ETP_DTYPE_INT8, {4});
  ASSERT_EQ(call(h, "quantized_decomposed::quantize_per_tensor.Tensor_out",
                 {V::tensor(x), V::tensor(scale), V::tensor(zp), V::integer(-20), V::integer(20),
                  V::integer(ETP_DTYPE_INT8), V::tensor(q)}),
            ETP_OK) << h.last_error();
  ASSERT_EQ(call(h, "quantized_decomposed::quantize_per_tensor.out",
                 {V::tensor(x), V::real(0.2), V::integer(-3), V::integer(-20), V::integer(20),
                  V::integer(ETP_DTYPE_INT8), V::tensor(expected)}),
            ETP_OK);
  EXPECT_EQ(q.logical<int8_t>(), expected.logical<int8_t>());
  // x * 5: 1.5 -> 2, -8.5 -> -8, 12.5 -> 12 (half to even), 45; + zero point -3; 42 clamped to 20.
  EXPECT_EQ(q.logical<int8_t>(), (std::vector<int8_t>{-1, -11, 9, 20}));
  TestTensor back(ETP_DTYPE_FLOAT32, {4});
  ASSERT_EQ(call(h, "quantized_decomposed::dequantize_per_tensor.Tensor_out",
                 {V::tensor(q), V::tensor(scale), V::tensor(zp), V::integer(-20), V::integer(20),
                  V::integer(ETP_DTYPE_INT8), V::none(), V::tensor(back)}),
            ETP_OK) << h.last_error();
  EXPECT_EQ(back.logical<float>(), (std::vector<float>{2 * 0.2f, -8 * 0.2f, 12 * 0.2f, 23 * 0.2f}));
  auto two = TestTensor::of<double>(ETP_DTYPE_FLOAT64, {2}, {0.2, 0.3});
  EXPECT_EQ(call(h, "quantized_decomposed::quantize_per_tensor.Tensor_out",
                 {V::tensor(x), V::tensor(two), V::tensor(zp), V::integer(-20), V::integer(20),
                  V::integer(ETP_DTYPE_INT8), V::tensor(q)}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(h, "must hold one element")) << h.last_error();
  EXPECT_EQ(call(h, "quantized_decomposed::quantize_per_tensor.Tensor_out",
                 {V::tensor(x), V::tensor(zp), V::tensor(scale), V::integer(-20), V::integer(20),
                  V::integer(ETP_DTYPE_INT8), V::tensor(q)}),
            ETP_ERR_INVALID_ARGUMENT) << "scale and zero point swapped: wrong dtypes";
  TestTensor wrong_out(ETP_DTYPE_FLOAT32, {4});
  EXPECT_EQ(call(h, "quantized_decomposed::dequantize_per_tensor.out",
                 {V::tensor(q), V::real(0.2), V::integer(-3), V::integer(-20), V::integer(20),
                  V::integer(ETP_DTYPE_INT8), V::integer(ETP_DTYPE_FLOAT64), V::tensor(wrong_out)}),
            ETP_ERR_DTYPE) << "out_dtype float64 but a float32 output";
}

TEST(QuantizeKernelTest, PerChannelUsesEachChannelsScaleAndZeroPoint) {
  KernelHarness h(ETP_QUANTIZED_PLUGIN_PATH);
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 2}, {1, 1, 1, 1});
  auto scales = TestTensor::of<double>(ETP_DTYPE_FLOAT64, {2}, {0.5, 0.25});
  auto zps = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {2}, {0, 10});
  TestTensor q(ETP_DTYPE_UINT8, {2, 2});
  ASSERT_EQ(call(h, "quantized_decomposed::quantize_per_channel.out",
                 {V::tensor(x), V::tensor(scales), V::tensor(zps), V::integer(1), V::integer(0), V::integer(255),
                  V::integer(ETP_DTYPE_UINT8), V::tensor(q)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(q.logical<uint8_t>(), (std::vector<uint8_t>{2, 14, 2, 14}));
  TestTensor back(ETP_DTYPE_FLOAT32, {2, 2});
  ASSERT_EQ(call(h, "quantized_decomposed::dequantize_per_channel.out",
                 {V::tensor(q), V::tensor(scales), V::none(), V::integer(1), V::integer(0), V::integer(255),
                  V::integer(ETP_DTYPE_UINT8), V::none(), V::tensor(back)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(back.logical<float>(), (std::vector<float>{1, 3.5, 1, 3.5}));  // no zero points: 0
}

TEST(QuantizeKernelTest, BadArgumentsNameTheOperatorAndTheProblem) {
  KernelHarness h(ETP_QUANTIZED_PLUGIN_PATH);
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {1, 2});
  TestTensor q(ETP_DTYPE_INT8, {2});
  EXPECT_EQ(call(h, "quantized_decomposed::quantize_per_tensor.out",
                 {V::tensor(x), V::real(0.5), V::integer(0), V::integer(-200), V::integer(10),
                  V::integer(ETP_DTYPE_INT8), V::tensor(q)}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(h, "quantize_per_tensor.out") && names(h, "does not fit int8")) << h.last_error();
  EXPECT_EQ(call(h, "quantized_decomposed::quantize_per_tensor.out",
                 {V::tensor(x), V::real(0.5), V::integer(0), V::integer(0), V::integer(255),
                  V::integer(ETP_DTYPE_UINT8), V::tensor(q)}),
            ETP_ERR_DTYPE)
      << "out is int8 but the dtype argument says uint8";
  auto scales = TestTensor::of<double>(ETP_DTYPE_FLOAT64, {3}, {1, 1, 1});
  auto zps = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {3}, {0, 0, 0});
  EXPECT_EQ(call(h, "quantized_decomposed::quantize_per_channel.out",
                 {V::tensor(x), V::tensor(scales), V::tensor(zps), V::integer(0), V::integer(-128), V::integer(127),
                  V::integer(ETP_DTYPE_INT8), V::tensor(q)}),
            ETP_ERR_SHAPE)
      << "three scales for a dim of two";
  auto ints = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2}, {1, 2});
  EXPECT_EQ(call(h, "quantized_decomposed::quantize_per_tensor.out",
                 {V::tensor(ints), V::real(0.5), V::integer(0), V::integer(-128), V::integer(127),
                  V::integer(ETP_DTYPE_INT8), V::tensor(q)}),
            ETP_ERR_DTYPE);
}

}  // namespace
}  // namespace etp::test
