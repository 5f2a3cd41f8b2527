// The quantized plugin's per-token, choose_qparams, add, embedding and mixed-matmul kernels: values
// worked out by hand from ExecuTorch's formulas (the bit-exact comparison with its runtime is in the
// q_* fixtures), float16 outputs, and the errors where ExecuTorch would abort or read out of bounds.
#include <gtest/gtest.h>

#include <cmath>

#include "float16.h"
#include "plugins/portable/op_call.h"

namespace etp::test {
namespace {

constexpr const char* kPerToken = "quantized_decomposed::choose_qparams_per_token_asymmetric.out";

TEST(QuantizedOpsTest, ChooseQparamsFollowsExecuTorchsFormula) {
  KernelHarness h(ETP_QUANTIZED_PLUGIN_PATH);
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {-1, 3});
  TestTensor scale(ETP_DTYPE_FLOAT64, {1}), zp(ETP_DTYPE_INT64, {1});
  ASSERT_EQ(call(h, "quantized_decomposed::choose_qparams.Tensor_out",
                 {V::tensor(x), V::integer(-128), V::integer(127), V::real(1e-7), V::integer(ETP_DTYPE_INT8),
                  V::tensor(scale), V::tensor(zp)}),
            ETP_OK)
      << h.last_error();
  // scale = 4 / 255; both ends give -64.25 and the max end wins the tie; rounded to -64.
  EXPECT_EQ(scale.logical<double>()[0], 4.0 / 255);
  EXPECT_EQ(zp.logical<int64_t>()[0], -64);

  // Per token: rows [0, 0] (scale 0 becomes 0.1, the max end gives 127), [1e-6, 2e-6] (the scale
  // floor 6.1e-5 widens the range from 0) and [-2, -1] (max 0: the zero point is qmax).
  auto rows = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3, 2}, {0, 0, 1e-6f, 2e-6f, -2, -1});
  TestTensor scales(ETP_DTYPE_FLOAT64, {3, 1}), zps(ETP_DTYPE_INT64, {3, 1});
  ASSERT_EQ(call(h, kPerToken, {V::tensor(rows), V::integer(ETP_DTYPE_INT8), V::tensor(scales), V::tensor(zps)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(scales.logical<double>(), (std::vector<double>{0.1, static_cast<double>(6.1e-5f), 2.0 / 255}));
  EXPECT_EQ(zps.logical<int64_t>(), (std::vector<int64_t>{127, -128, 127}));
}

TEST(QuantizedOpsTest, ChooseQparamsRefusesWhatExecuTorchAbortsOn) {
  KernelHarness h(ETP_QUANTIZED_PLUGIN_PATH);
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3}, {1, NAN, 2});
  TestTensor scale(ETP_DTYPE_FLOAT64, {1}), zp(ETP_DTYPE_INT64, {1});
  const auto run = [&](TestTensor& in, int64_t qmin, int64_t qmax, TestTensor& s, TestTensor& z) {
    return call(h, "quantized_decomposed::choose_qparams.Tensor_out",
                {V::tensor(in), V::integer(qmin), V::integer(qmax), V::real(0), V::integer(ETP_DTYPE_INT8), V::tensor(s),
                 V::tensor(z)});
  };
  // NaN is skipped by min/max unless it comes first; an infinity always shows.
  auto inf = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {1, INFINITY});
  EXPECT_EQ(run(inf, -128, 127, scale, zp), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(h, "choose_qparams.Tensor_out") && names(h, "non-finite")) << h.last_error();
  auto nan_first = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {NAN, 1});
  EXPECT_EQ(run(nan_first, -128, 127, scale, zp), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(run(x, 5, 5, scale, zp), ETP_ERR_INVALID_ARGUMENT) << "quant_min must be below quant_max";
  TestTensor float_scale(ETP_DTYPE_FLOAT32, {1});
  EXPECT_EQ(run(x, -128, 127, float_scale, zp), ETP_ERR_DTYPE);
  TestTensor two(ETP_DTYPE_FLOAT64, {2});
  EXPECT_EQ(run(x, -128, 127, two, zp), ETP_ERR_SHAPE);
  TestTensor empty(ETP_DTYPE_FLOAT32, {0});
  EXPECT_EQ(run(empty, -128, 127, scale, zp), ETP_ERR_SHAPE);
  auto scalar = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {}, {1});
  TestTensor s0(ETP_DTYPE_FLOAT64, {1}), z0(ETP_DTYPE_INT64, {1});
  EXPECT_EQ(call(h, kPerToken, {V::tensor(scalar), V::integer(ETP_DTYPE_INT8), V::tensor(s0), V::tensor(z0)}),
            ETP_ERR_SHAPE);
}

TEST(QuantizedOpsTest, PerTokenQuantizesEachRowWithItsOwnParameters) {
  KernelHarness h(ETP_QUANTIZED_PLUGIN_PATH);
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 1, 2}, {1, 2, 1, 2});
  auto scales = TestTensor::of<double>(ETP_DTYPE_FLOAT64, {2, 1, 1}, {0.5, 0.25});
  auto zps = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {2, 1, 1}, {0, -10});
  TestTensor q(ETP_DTYPE_INT8, {2, 1, 2});
  ASSERT_EQ(call(h, "quantized_decomposed::quantize_per_token.out",
                 {V::tensor(x), V::tensor(scales), V::tensor(zps), V::integer(-128), V::integer(127),
                  V::integer(ETP_DTYPE_INT8), V::tensor(q)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(q.logical<int8_t>(), (std::vector<int8_t>{2, 4, -6, -2}));
  TestTensor back(ETP_DTYPE_FLOAT32, {2, 1, 2});
  ASSERT_EQ(call(h, "quantized_decomposed::dequantize_per_token.out",
                 {V::tensor(q), V::tensor(scales), V::tensor(zps), V::integer(-128), V::integer(127),
                  V::integer(ETP_DTYPE_INT8), V::integer(ETP_DTYPE_FLOAT32), V::tensor(back)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(back.logical<float>(), (std::vector<float>{1, 2, 1, 2}));
  auto three = TestTensor::of<double>(ETP_DTYPE_FLOAT64, {3}, {1, 1, 1});
  EXPECT_EQ(call(h, "quantized_decomposed::quantize_per_token.out",
                 {V::tensor(x), V::tensor(three), V::tensor(zps), V::integer(-128), V::integer(127),
                  V::integer(ETP_DTYPE_INT8), V::tensor(q)}),
            ETP_ERR_SHAPE);
  EXPECT_TRUE(names(h, "one value per tokens (2)")) << h.last_error();
}

TEST(QuantizedOpsTest, AddDequantizesAddsAndRequantizes) {
  KernelHarness h(ETP_QUANTIZED_PLUGIN_PATH);
  auto a = TestTensor::of<uint8_t>(ETP_DTYPE_UINT8, {3}, {10, 20, 255});
  auto b = TestTensor::of<uint8_t>(ETP_DTYPE_UINT8, {3}, {128, 0, 255});
  TestTensor out(ETP_DTYPE_UINT8, {3});
  const auto run = [&](int64_t out_qmax, TestTensor& bb, TestTensor& o) {
    return call(h, "quantized_decomposed::add.out",
                {V::tensor(a), V::real(0.5), V::integer(10), V::integer(0), V::integer(255), V::tensor(bb), V::real(0.25),
                 V::integer(128), V::integer(0), V::integer(255), V::real(1.0), V::integer(5), V::integer(0),
                 V::integer(out_qmax), V::tensor(o)});
  };
  ASSERT_EQ(run(255, b, out), ETP_OK) << h.last_error();
  // a: 0, 5, 122.5; b: 0, -32, 31.75; sums 0, -27, 154.25 -> + 5: 5, -22 (clamped 0), 159.
  EXPECT_EQ(out.logical<uint8_t>(), (std::vector<uint8_t>{5, 0, 159}));
  EXPECT_EQ(run(256, b, out), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(h, "of out must lie within [0, 255]")) << h.last_error();
  auto wide = TestTensor::of<uint8_t>(ETP_DTYPE_UINT8, {4}, {1, 2, 3, 4});
  EXPECT_EQ(run(255, wide, out), ETP_ERR_SHAPE);
  TestTensor int8_out(ETP_DTYPE_INT8, {3});
  EXPECT_EQ(run(255, b, int8_out), ETP_ERR_DTYPE);
}

// Parameters at the ends of their types: no signed overflow or out-of-range conversion (the
// sanitizer build checks), clamped results, and ranges a dtype cannot hold refused.
TEST(QuantizedOpsTest, ExtremeParametersNeverOverflow) {
  KernelHarness h(ETP_QUANTIZED_PLUGIN_PATH);
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {1e10f, -1e10f});
  TestTensor q(ETP_DTYPE_UINT8, {2});
  ASSERT_EQ(call(h, "quantized_decomposed::quantize_per_tensor.out",
                 {V::tensor(x), V::real(1.0), V::integer(INT64_MAX), V::integer(0), V::integer(255),
                  V::integer(ETP_DTYPE_UINT8), V::tensor(q)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(q.logical<uint8_t>(), (std::vector<uint8_t>{255, 0}));
  TestTensor back(ETP_DTYPE_FLOAT32, {2});
  ASSERT_EQ(call(h, "quantized_decomposed::dequantize_per_tensor.out",
                 {V::tensor(q), V::real(1.0), V::integer(INT32_MIN), V::integer(0), V::integer(255),
                  V::integer(ETP_DTYPE_UINT8), V::none(), V::tensor(back)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(back.logical<float>()[1], 2147483648.0f);
  auto wide = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1}, {-1e6f});
  TestTensor scale(ETP_DTYPE_FLOAT64, {1}), zp(ETP_DTYPE_INT64, {1});
  ASSERT_EQ(call(h, "quantized_decomposed::choose_qparams.Tensor_out",
                 {V::tensor(wide), V::integer(INT32_MIN), V::integer(INT32_MAX), V::real(0), V::integer(ETP_DTYPE_INT32),
                  V::tensor(scale), V::tensor(zp)}),
            ETP_OK)
      << h.last_error();
  ASSERT_EQ(call(h, "quantized_decomposed::choose_qparams.Tensor_out",
                 {V::tensor(wide), V::integer(0), V::integer(INT32_MAX), V::real(0), V::integer(ETP_DTYPE_INT32),
                  V::tensor(scale), V::tensor(zp)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(zp.logical<int64_t>()[0], INT32_MAX) << "float rounding to 2^31 is clamped to quant_max";
  auto a = TestTensor::of<int8_t>(ETP_DTYPE_INT8, {1}, {1});
  TestTensor out(ETP_DTYPE_INT8, {1});
  EXPECT_EQ(call(h, "quantized_decomposed::add.out",
                 {V::tensor(a), V::real(1.0), V::integer(0), V::integer(0), V::integer(127), V::tensor(a), V::real(1.0),
                  V::integer(0), V::integer(0), V::integer(127), V::real(1.0), V::integer(0), V::integer(0),
                  V::integer(255), V::tensor(out)}),
            ETP_ERR_INVALID_ARGUMENT)
      << "an int8 output cannot hold quant_max 255";
  EXPECT_TRUE(names(h, "does not fit int8")) << h.last_error();
}

// Table of two rows of four 4-bit values: row 0 = -8, 7, 0, 1 (bytes 0x0F, 0x89), row 1 = 1, 2,
// -1, -2 (0x9A, 0x76); row scales 0.5 and 2.
TEST(QuantizedOpsTest, EmbeddingsUnpackSubByteValuesAndDequantizePerGroup) {
  KernelHarness h(ETP_QUANTIZED_PLUGIN_PATH);
  auto w4 = TestTensor::of<uint8_t>(ETP_DTYPE_UINT8, {2, 2}, {0x0F, 0x89, 0x9A, 0x76});
  auto s4 = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {0.5f, 2});
  auto idx = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {2}, {1, 0});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 4});
  ASSERT_EQ(call(h, "quantized_decomposed::embedding_4bit.out",
                 {V::tensor(w4), V::tensor(s4), V::none(), V::integer(-8), V::integer(7), V::tensor(idx), V::tensor(out)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{2, 4, -2, -4, -4, 3.5f, 0, 0.5f}));

  // 2-bit: one byte 0xE4 holds -2, -1, 0, 1 (lowest bits first); groups of 2 with their own
  // scales and float zero points, output float16 through .dtype_out with int32 indices.
  auto w2 = TestTensor::of<uint8_t>(ETP_DTYPE_UINT8, {1, 1}, {0xE4});
  auto s2 = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2}, {1, 0.5f});
  auto z2 = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2}, {1, -1});
  auto idx32 = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {1}, {0});
  TestTensor half_out(ETP_DTYPE_FLOAT16, {1, 4});
  // Zero points must have the scales' and the output's dtype (ExecuTorch reads them as both).
  EXPECT_EQ(call(h, "quantized_decomposed::embedding_2bit.dtype_out",
                 {V::tensor(w2), V::tensor(s2), V::tensor(z2), V::integer(-2), V::integer(1), V::tensor(idx32),
                  V::integer(ETP_DTYPE_FLOAT16), V::tensor(half_out)}),
            ETP_ERR_DTYPE);
  ASSERT_EQ(call(h, "quantized_decomposed::embedding_2bit.dtype_out",
                 {V::tensor(w2), V::tensor(s2), V::none(), V::integer(-2), V::integer(1), V::tensor(idx32),
                  V::integer(ETP_DTYPE_FLOAT16), V::tensor(half_out)}),
            ETP_OK)
      << h.last_error();
  std::vector<float> values;
  for (uint16_t bits : half_out.logical<uint16_t>()) values.push_back(etp_portable::half_bits_to_float(bits));
  EXPECT_EQ(values, (std::vector<float>{-2, -1, 0, 0.5f}));
  TestTensor f32_out(ETP_DTYPE_FLOAT32, {1, 4});
  ASSERT_EQ(call(h, "quantized_decomposed::embedding_2bit.out",
                 {V::tensor(w2), V::tensor(s2), V::tensor(z2), V::integer(-2), V::integer(1), V::tensor(idx32),
                  V::tensor(f32_out)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(f32_out.logical<float>(), (std::vector<float>{-3, -2, 0.5f, 1}));

  // Bytes: int8 table, per-row scale and zero point.
  auto wb = TestTensor::of<int8_t>(ETP_DTYPE_INT8, {2, 2}, {-3, 5, 100, -128});
  auto sb = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {0.25f, 1});
  auto zb = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {1, -2});
  TestTensor bytes_out(ETP_DTYPE_FLOAT32, {2, 2});
  ASSERT_EQ(call(h, "quantized_decomposed::embedding_byte.out",
                 {V::tensor(wb), V::tensor(sb), V::tensor(zb), V::integer(-128), V::integer(127), V::tensor(idx),
                  V::tensor(bytes_out)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(bytes_out.logical<float>(), (std::vector<float>{102, -126, -1, 1}));
}

TEST(QuantizedOpsTest, EmbeddingsRefuseBadIndicesAndParameters) {
  KernelHarness h(ETP_QUANTIZED_PLUGIN_PATH);
  auto w4 = TestTensor::of<uint8_t>(ETP_DTYPE_UINT8, {2, 2}, {0x0F, 0x89, 0x9A, 0x76});
  auto s4 = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {0.5f, 2});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 4});
  const auto run = [&](const char* op, TestTensor& w, TestTensor& s, TestTensor& idx, TestTensor& o) {
    return call(h, op, {V::tensor(w), V::tensor(s), V::none(), V::integer(-8), V::integer(7), V::tensor(idx), V::tensor(o)});
  };
  auto far = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1}, {2});
  EXPECT_EQ(run("quantized_decomposed::embedding_4bit.out", w4, s4, far, out), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(h, "embedding_4bit.out") && names(h, "index 2 is out of range for a table of 2 rows")) << h.last_error();
  auto negative = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1}, {-1});
  EXPECT_EQ(run("quantized_decomposed::embedding_4bit.out", w4, s4, negative, out), ETP_ERR_INVALID_ARGUMENT);
  auto idx = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1}, {0});
  TestTensor half_out(ETP_DTYPE_FLOAT16, {1, 4});
  EXPECT_EQ(run("quantized_decomposed::embedding_4bit.out", w4, s4, idx, half_out), ETP_ERR_DTYPE)
      << "the .out form reads float32 scales as the float16 output's type";
  EXPECT_TRUE(names(h, "reads both as one type")) << h.last_error();
  auto s3 = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 3}, {1, 1, 1, 1, 1, 1});
  EXPECT_EQ(run("quantized_decomposed::embedding_4bit.out", w4, s3, idx, out), ETP_ERR_SHAPE) << "3 groups of 4";
  auto idx32 = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {1}, {0});
  TestTensor byte_out(ETP_DTYPE_FLOAT32, {1, 2});
  EXPECT_EQ(run("quantized_decomposed::embedding_byte.out", w4, s4, idx32, byte_out), ETP_ERR_DTYPE)
      << "embedding_byte takes int64 indices only";
  auto signed_table = TestTensor::of<int8_t>(ETP_DTYPE_INT8, {2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(run("quantized_decomposed::embedding_4bit.out", signed_table, s4, idx, out), ETP_ERR_DTYPE);
}

TEST(QuantizedOpsTest, MixedMatmulsScaleInt8WeightsInExecuTorchsOrder) {
  KernelHarness h(ETP_QUANTIZED_PLUGIN_PATH);
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 3}, {1, 2, 3});
  // mixed_linear: weight [2, 3] with scales [2, 2]: groups of ceil(3 / 2) = 2 columns, the last short.
  auto wl = TestTensor::of<int8_t>(ETP_DTYPE_INT8, {2, 3}, {1, 1, 1, -1, 2, 4});
  auto sl = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 2}, {1, 10, 0.5f, 2});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2});
  ASSERT_EQ(call(h, "quantized_decomposed::mixed_linear.out",
                 {V::tensor(x), V::tensor(wl), V::tensor(sl), V::none(), V::none(), V::tensor(out)}),
            ETP_OK)
      << h.last_error();
  // row 0: (1 + 2) * 1 + 3 * 10 = 33; row 1: (-1 + 4) * 0.5 + 12 * 2 = 25.5
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{33, 25.5f}));
  TestTensor out64(ETP_DTYPE_FLOAT64, {1, 2});
  ASSERT_EQ(call(h, "quantized_decomposed::mixed_linear.out",
                 {V::tensor(x), V::tensor(wl), V::tensor(sl), V::none(), V::none(), V::tensor(out64)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(out64.logical<double>(), (std::vector<double>{33, 25.5}));
  // mixed_mm: weight [3, 2], one scale per row of the weight.
  auto wm = TestTensor::of<int8_t>(ETP_DTYPE_INT8, {3, 2}, {1, -1, 2, 0, 3, 1});
  auto sm = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3}, {1, 0.5f, 2});
  TestTensor mm(ETP_DTYPE_FLOAT32, {1, 2});
  ASSERT_EQ(call(h, "quantized_decomposed::mixed_mm.out",
                 {V::tensor(x), V::tensor(wm), V::tensor(sm), V::none(), V::tensor(mm)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(mm.logical<float>(), (std::vector<float>{1 + 2 + 18, -1 + 0 + 6}));
  auto zps = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3}, {0, 0, 0});
  EXPECT_EQ(call(h, "quantized_decomposed::mixed_mm.out",
                 {V::tensor(x), V::tensor(wm), V::tensor(sm), V::tensor(zps), V::tensor(mm)}),
            ETP_ERR_NOT_SUPPORTED);
  EXPECT_EQ(call(h, "quantized_decomposed::mixed_mm.out",
                 {V::tensor(x), V::tensor(wl), V::tensor(sm), V::none(), V::tensor(mm)}),
            ETP_ERR_SHAPE)
      << "weight [2, 3] for an input of 3 columns";
  EXPECT_EQ(call(h, "quantized_decomposed::mixed_linear.out",
                 {V::tensor(x), V::tensor(wl), V::tensor(sl), V::none(), V::integer(ETP_DTYPE_FLOAT64), V::tensor(out64)}),
            ETP_ERR_DTYPE)
      << "dtype, when given, must be float32 or float16";
}

// float16 activations: each product and sum rounds to half, as c10::Half does.
TEST(QuantizedOpsTest, MixedMmInFloat16RoundsEachStep) {
  KernelHarness h(ETP_QUANTIZED_PLUGIN_PATH);
  const auto half = [](float v) { return etp_portable::float_to_half_bits(v); };
  // 2048 + 1 + 1: in half 2048 + 1 rounds back to 2048 (spacing 2) each time.
  auto x = TestTensor::of<uint16_t>(ETP_DTYPE_FLOAT16, {1, 3}, {half(2048), half(1), half(1)});
  auto w = TestTensor::of<int8_t>(ETP_DTYPE_INT8, {3, 1}, {1, 1, 1});
  auto s = TestTensor::of<uint16_t>(ETP_DTYPE_FLOAT16, {3}, {half(1), half(1), half(1)});
  TestTensor out(ETP_DTYPE_FLOAT16, {1, 1});
  ASSERT_EQ(call(h, "quantized_decomposed::mixed_mm.out", {V::tensor(x), V::tensor(w), V::tensor(s), V::none(), V::tensor(out)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(etp_portable::half_bits_to_float(out.logical<uint16_t>()[0]), 2048.0f);
}

}  // namespace
}  // namespace etp::test
