#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>

#include "float16.h"
#include "plugins/portable/op_call.h"

namespace etp::test {
namespace {

using V = TestValue;

TEST(AvgPoolKernelTest, CountIncludePadAndDivisorOverride) {
  KernelHarness h;
  TestTensor x = range({1, 3, 3});  // rank 3: [C, H, W]
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 2});
  V vx = V::tensor(x), k = V::int_list({2}), s = V::int_list({2}), p = V::int_list({1}), ceil = V::boolean(false),
    inc = V::boolean(true), div = V::none(), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::avg_pool2d.out", {&vx, &k, &s, &p, &ceil, &inc, &div, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 0.75f, 2.25f, 6}));
  V exc = V::boolean(false);
  ASSERT_EQ(h.run("aten::avg_pool2d.out", {&vx, &k, &s, &p, &ceil, &exc, &div, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 1.5f, 4.5f, 6}));
  V one = V::integer(1);
  ASSERT_EQ(h.run("aten::avg_pool2d.out", {&vx, &k, &s, &p, &ceil, &inc, &one, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 3, 9, 24}));
}

TEST(AvgPoolKernelTest, CeilModeAddsAPartialWindowAndEmptyStrideDefaultsToKernel) {
  KernelHarness h;
  TestTensor x = range({1, 1, 1, 5});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 1, 1, 3});
  V vx = V::tensor(x), k = V::int_list({1, 2}), s = V::int_list({}), p = V::int_list({0}), ceil = V::boolean(true),
    inc = V::boolean(true), div = V::none(), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::avg_pool2d.out", {&vx, &k, &s, &p, &ceil, &inc, &div, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0.5f, 2.5f, 4}));
  V bigpad = V::int_list({0, 2});
  EXPECT_EQ(h.run("aten::avg_pool2d.out", {&vx, &k, &s, &bigpad, &ceil, &inc, &div, &vo, &vo}),
            ETP_ERR_INVALID_ARGUMENT);
}

TEST(MaxPoolKernelTest, ReturnsMaximaAndPlaneIndicesOnChannelsLastInput) {
  KernelHarness h;
  TestTensor x = range({1, 2, 2, 3}, {0, 2, 3, 1});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {0, 2, 3, 1}), idx(ETP_DTYPE_INT64, {1, 2, 1, 2});
  V vx = V::tensor(x), k = V::int_list({2, 2}), s = V::int_list({1, 1}), p = V::int_list({0}), d = V::int_list({1}),
    ceil = V::boolean(false), vo = V::tensor(out), vi = V::tensor(idx), ret = V::tensor_list({&out, &idx});
  ASSERT_EQ(h.run("aten::max_pool2d_with_indices.out", {&vx, &k, &s, &p, &d, &ceil, &vo, &vi, &ret}), ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{4, 5, 10, 11}));
  EXPECT_EQ(idx.logical<int64_t>(), (std::vector<int64_t>{4, 5, 4, 5}));
}

TEST(MaxPoolKernelTest, PaddingDilationAndNanPropagation) {
  KernelHarness h;
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1, 4}, {1, std::numeric_limits<float>::quiet_NaN(), 3, 2});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 1, 2}), idx(ETP_DTYPE_INT64, {1, 1, 2});
  V vx = V::tensor(x), k = V::int_list({1, 2}), s = V::int_list({1, 2}), p = V::int_list({0, 1}),
    d = V::int_list({1, 2}), ceil = V::boolean(false), vo = V::tensor(out), vi = V::tensor(idx),
    ret = V::tensor_list({&out, &idx});
  // windows over padded w: ow=0 covers {-1, 1}, ow=1 covers {1, 3}.
  ASSERT_EQ(h.run("aten::max_pool2d_with_indices.out", {&vx, &k, &s, &p, &d, &ceil, &vo, &vi, &ret}), ETP_OK)
      << h.last_error();
  const auto got = out.logical<float>();
  EXPECT_TRUE(std::isnan(got[0]));
  EXPECT_TRUE(std::isnan(got[1]));
  EXPECT_EQ(idx.logical<int64_t>(), (std::vector<int64_t>{1, 1}));
  TestTensor idx32(ETP_DTYPE_INT32, {1, 1, 2});
  V vi32 = V::tensor(idx32);
  EXPECT_EQ(h.run("aten::max_pool2d_with_indices.out", {&vx, &k, &s, &p, &d, &ceil, &vo, &vi32, &ret}), ETP_ERR_DTYPE);
}

// float16: a window of negative values must not come out as 0 (the maximum starts at -infinity).
TEST(MaxPoolKernelTest, Float16WindowsOfNegativeValues) {
  KernelHarness h;
  using etp_portable::float_to_half_bits;
  auto x = TestTensor::of<uint16_t>(ETP_DTYPE_FLOAT16, {1, 1, 1, 4},
                                    {float_to_half_bits(-3), float_to_half_bits(-2), float_to_half_bits(-5),
                                     float_to_half_bits(-4.5f)});
  TestTensor out(ETP_DTYPE_FLOAT16, {1, 1, 1, 2}), idx(ETP_DTYPE_INT64, {1, 1, 1, 2});
  V vx = V::tensor(x), k = V::int_list({1, 2}), s = V::int_list({1, 2}), p = V::int_list({0}), d = V::int_list({1}),
    ceil = V::boolean(false), vo = V::tensor(out), vi = V::tensor(idx), ret = V::tensor_list({&out, &idx});
  ASSERT_EQ(h.run("aten::max_pool2d_with_indices.out", {&vx, &k, &s, &p, &d, &ceil, &vo, &vi, &ret}), ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<uint16_t>(), (std::vector<uint16_t>{float_to_half_bits(-2), float_to_half_bits(-4.5f)}));
  EXPECT_EQ(idx.logical<int64_t>(), (std::vector<int64_t>{1, 3}));
}

TEST(AdaptiveAvgPoolKernelTest, UsesOverlappingBins) {
  KernelHarness h;
  TestTensor x = range({1, 1, 1, 5});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 1, 1, 3});
  V vx = V::tensor(x), size = V::int_list({1, 3}), vo = V::tensor(out);
  // bins over 5 into 3: [0,2), [1,4), [3,5)
  ASSERT_EQ(h.run("aten::_adaptive_avg_pool2d.out", {&vx, &size, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0.5f, 2, 3.5f}));
  TestTensor g(ETP_DTYPE_FLOAT32, {1, 1, 1, 1});
  V one = V::int_list({1, 1}), vg = V::tensor(g);
  ASSERT_EQ(h.run("aten::adaptive_avg_pool2d.out", {&vx, &one, &vg, &vg}), ETP_OK) << h.last_error();
  EXPECT_EQ(g.logical<float>(), (std::vector<float>{2}));
  TestTensor r2(ETP_DTYPE_FLOAT32, {5, 1});
  V vr2 = V::tensor(r2);
  EXPECT_EQ(h.run("aten::adaptive_avg_pool2d.out", {&vr2, &one, &vg, &vg}), ETP_ERR_SHAPE);
}

// The gradient of max pooling goes to the position each window's index names; overlapping
// windows that pick the same element accumulate.
TEST(MaxPoolBackwardKernelTest, RoutesGradientsToTheIndexedPositions) {
  KernelHarness h;
  TestTensor self(ETP_DTYPE_FLOAT32, {1, 1, 3, 3});
  auto grad = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1, 2, 2}, {1, 2, 3, 4});
  auto indices = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1, 1, 2, 2}, {4, 4, 6, 8});  // centre twice
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 1, 3, 3});
  TestValue vg = TestValue::tensor(grad), vs = TestValue::tensor(self), k = TestValue::int_list({2, 2}),
            st = TestValue::int_list({1, 1}), p = TestValue::int_list({0, 0}), d = TestValue::int_list({1, 1}),
            ceil = TestValue::boolean(false), vi = TestValue::tensor(indices), vo = TestValue::tensor(out);
  ASSERT_EQ(
      h.run("aten::max_pool2d_with_indices_backward.grad_input", {&vg, &vs, &k, &st, &p, &d, &ceil, &vi, &vo, &vo}),
      ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 0, 0, 0, 3, 0, 3, 0, 4}));
  auto bad = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1, 1, 2, 2}, {0, 0, 0, 9});
  TestValue vb = TestValue::tensor(bad);
  EXPECT_EQ(
      h.run("aten::max_pool2d_with_indices_backward.grad_input", {&vg, &vs, &k, &st, &p, &d, &ceil, &vb, &vo, &vo}),
      ETP_ERR_INVALID_ARGUMENT);
  TestValue big = TestValue::int_list({3, 3});
  EXPECT_EQ(
      h.run("aten::max_pool2d_with_indices_backward.grad_input", {&vg, &vs, &big, &st, &p, &d, &ceil, &vi, &vo, &vo}),
      ETP_ERR_SHAPE)
      << "a 3x3 kernel pools 3x3 into 1x1, not 2x2";
}

}  // namespace
}  // namespace etp::test
