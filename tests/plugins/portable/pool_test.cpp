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

// A program's kernel, stride, padding and dilation can be anything. Each step of the output size
// is checked (an overflow used to pass the padding check: 2 * 2^62 wrapped negative), and the
// window loops neither overflow nor step through the padding one dilation at a time.
TEST(MaxPoolKernelTest, HugeArgumentsAreErrorsOrExactNotOverflowsOrHangs) {
  KernelHarness h;
  const int64_t big = int64_t{1} << 62;
  TestTensor x = range({1, 1, 3, 16});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 1, 3, 16}), idx(ETP_DTYPE_INT64, {1, 1, 3, 16});
  V vx = V::tensor(x), vo = V::tensor(out), vi = V::tensor(idx), ret = V::tensor_list({&out, &idx});
  V ceil = V::boolean(false), ones = V::int_list({1, 1});
  auto pool = [&](V& k, V& s, V& p, V& d, V& c) {
    return h.run("aten::max_pool2d_with_indices.out", {&vx, &k, &s, &p, &d, &c, &vo, &vi, &ret});
  };
  V k1 = V::int_list({1, 1}), pad_big = V::int_list({big, big});
  EXPECT_EQ(pool(k1, ones, pad_big, ones, ceil), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("padding 4611686018427387904 exceeds half of the kernel extent 1"), std::string::npos)
      << h.last_error();
  V k_wide = V::int_list({(int64_t{1} << 32) + 1, 1}), d_wide = V::int_list({int64_t{1} << 32, 1});
  EXPECT_EQ(pool(k_wide, ones, ones, d_wide, ceil), ETP_ERR_INVALID_ARGUMENT);  // span 2^64 + 1
  EXPECT_NE(h.last_error().find("kernel size 4294967297 with dilation 4294967296 overflows int64"), std::string::npos)
      << h.last_error();
  V k_max = V::int_list({INT64_MAX, 1}), pad_half = V::int_list({big - 1, 0}), zero = V::int_list({0, 0});
  EXPECT_EQ(pool(k_max, ones, pad_half, ones, ceil), ETP_ERR_INVALID_ARGUMENT);  // 3 + 2 * (2^62 - 1)
  EXPECT_NE(h.last_error().find("padding 4611686018427387903 on an input of size 3 overflows int64"), std::string::npos)
      << h.last_error();

  // A dilation of 2^61 puts every tap of a [2, 1] kernel padded by 2^60 outside the 3 rows:
  // the windows are empty (index -1) instead of an index h0 * W = 2^60 * 16.
  V k21 = V::int_list({2, 1}), pad_dil = V::int_list({int64_t{1} << 60, 0}), dil = V::int_list({int64_t{1} << 61, 1});
  ASSERT_EQ(pool(k21, ones, pad_dil, dil, ceil), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{1, 1, 3, 16}));
  EXPECT_EQ(idx.logical<int64_t>(), std::vector<int64_t>(48, -1));
  EXPECT_EQ(out.logical<float>()[0], -std::numeric_limits<float>::infinity());

  // A kernel of 2^40 padded by 2^39 on one row: its first tap is found in one step, not 2^39.
  TestTensor one = range({1, 1, 1, 1}), o1(ETP_DTYPE_FLOAT32, {1, 1, 1, 1}), i1(ETP_DTYPE_INT64, {1, 1, 1, 1});
  V v1 = V::tensor(one), vo1 = V::tensor(o1), vi1 = V::tensor(i1), ret1 = V::tensor_list({&o1, &i1});
  V k_long = V::int_list({int64_t{1} << 40, 1}), pad_long = V::int_list({int64_t{1} << 39, 0}), none = V::int_list({});
  ASSERT_EQ(
      h.run("aten::max_pool2d_with_indices.out", {&v1, &k_long, &none, &pad_long, &ones, &ceil, &vo1, &vi1, &ret1}),
      ETP_OK)
      << h.last_error();
  EXPECT_EQ(i1.logical<int64_t>(), (std::vector<int64_t>{0}));

  // ceil_mode with a stride of INT64_MAX: one window, as PyTorch's formula gives without the
  // overflow of adding stride - 1.
  V smax = V::int_list({INT64_MAX, INT64_MAX}), on = V::boolean(true);
  ASSERT_EQ(pool(k1, smax, zero, ones, on), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(idx.logical<int64_t>(), (std::vector<int64_t>{0}));

  // The backward computes the pooled shape with the same checks (it had none).
  TestTensor g(ETP_DTYPE_FLOAT32, {1, 1, 3, 16}), gi(ETP_DTYPE_FLOAT32, {1, 1, 3, 16});
  TestTensor bidx(ETP_DTYPE_INT64, {1, 1, 3, 16});
  V vg = V::tensor(g), vbi = V::tensor(bidx), vgi = V::tensor(gi);
  EXPECT_EQ(h.run("aten::max_pool2d_with_indices_backward.grad_input",
                  {&vg, &vx, &k1, &ones, &pad_big, &ones, &ceil, &vbi, &vgi, &vgi}),
            ETP_ERR_INVALID_ARGUMENT);
  V k3 = V::int_list({3, 3}), d_big = V::int_list({big, big});
  EXPECT_EQ(h.run("aten::max_pool2d_with_indices_backward.grad_input",
                  {&vg, &vx, &k3, &ones, &zero, &d_big, &ceil, &vbi, &vgi, &vgi}),
            ETP_ERR_INVALID_ARGUMENT);  // 2^62 * 2 + 1
}

// count_include_pad divides by the padded window, which for a kernel of 2^32 x 2^32 is 2^64
// elements: computed in double, not as an overflowing int64 product.
TEST(AvgPoolKernelTest, AHugePaddedWindowDividesByItsExactSize) {
  KernelHarness h;
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1, 1, 1}, {1});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 1, 1, 1});
  const int64_t k = int64_t{1} << 32;
  V vx = V::tensor(x), kernel = V::int_list({k, k}), s = V::int_list({}), p = V::int_list({k / 2, k / 2}),
    ceil = V::boolean(false), inc = V::boolean(true), div = V::none(), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::avg_pool2d.out", {&vx, &kernel, &s, &p, &ceil, &inc, &div, &vo, &vo}), ETP_OK)
      << h.last_error();
  EXPECT_FLOAT_EQ(out.logical<float>()[0], std::ldexp(1.0f, -64));
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
