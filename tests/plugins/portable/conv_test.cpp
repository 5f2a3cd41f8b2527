#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numeric>

#include "plugins/portable/op_call.h"

namespace etp::test {
namespace {

using V = TestValue;

struct ConvArgs {
  V stride = V::int_list({1, 1}), padding = V::int_list({0, 0}), dilation = V::int_list({1, 1});
  V transposed = V::boolean(false), output_padding = V::int_list({0, 0}), groups = V::integer(1);
};

etp_status conv(KernelHarness& h, TestTensor& x, TestTensor& w, TestTensor* b, TestTensor& out, ConvArgs& a) {
  V vx = V::tensor(x), vw = V::tensor(w), vb = b ? V::tensor(*b) : V::none(), vo = V::tensor(out);
  return h.run("aten::convolution.out", {&vx, &vw, &vb, &a.stride, &a.padding, &a.dilation, &a.transposed,
                                         &a.output_padding, &a.groups, &vo, &vo});
}

TEST(ConvolutionKernelTest, TwoDimensionalWithPaddingAndBias) {
  KernelHarness h;
  TestTensor x = range({1, 1, 3, 3});
  auto w = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1, 2, 2}, {1, 1, 1, 1});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1}, {100});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 1, 4, 4});
  ConvArgs a;
  a.padding = V::int_list({1});
  a.stride = V::int_list({2});
  ASSERT_EQ(conv(h, x, w, &b, out, a), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{1, 1, 2, 2}));
  // windows at (-1,-1), (-1,1), (1,-1), (1,1): {0}, {1+2}, {3+6}, {4+5+7+8}
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{100, 103, 109, 124}));
}

TEST(ConvolutionKernelTest, ChannelsLastInputAndOutputGiveTheSameValues) {
  KernelHarness h;
  TestTensor x = range({1, 2, 2, 2}), xcl = range({1, 2, 2, 2}, {0, 2, 3, 1});
  auto w = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3, 2, 1, 1}, {1, 0, 0, 1, 1, -1});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 3, 2, 2}), outcl(ETP_DTYPE_FLOAT32, {1, 3, 2, 2}, {0, 2, 3, 1});
  ConvArgs a;
  ASSERT_EQ(conv(h, x, w, nullptr, out, a), ETP_OK) << h.last_error();
  ASSERT_EQ(conv(h, xcl, w, nullptr, outcl, a), ETP_OK) << h.last_error();
  const std::vector<float> want{0, 1, 2, 3, 4, 5, 6, 7, -4, -4, -4, -4};
  EXPECT_EQ(out.logical<float>(), want);
  EXPECT_EQ(outcl.logical<float>(), want);
}

TEST(ConvolutionKernelTest, OneDimensionalDilatedAndGrouped) {
  KernelHarness h;
  TestTensor x = range({1, 2, 5});
  auto w = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 1, 2}, {1, 1, 1, -1});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 3});
  ConvArgs a;
  a.stride = V::int_list({1});
  a.padding = V::int_list({0});
  a.dilation = V::int_list({2});
  a.output_padding = V::int_list({0});
  a.groups = V::integer(2);
  ASSERT_EQ(conv(h, x, w, nullptr, out, a), ETP_OK) << h.last_error();
  // channel 0: x[i] + x[i+2] for i = 0..2; channel 1: x[i] - x[i+2] = -2.
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{2, 4, 6, -2, -2, -2}));
}

TEST(ConvolutionKernelTest, RejectsTooSmallTransposedOutputBadGroupsTooLargeKernelAndIntDtype) {
  KernelHarness h;
  TestTensor x = range({1, 2, 2, 2}), w(ETP_DTYPE_FLOAT32, {2, 2, 3, 3}), out(ETP_DTYPE_FLOAT32, {1, 2, 2, 2});
  ConvArgs a;
  EXPECT_EQ(conv(h, x, w, nullptr, out, a), ETP_ERR_SHAPE);  // 3x3 kernel on a 2x2 input
  a.transposed = V::boolean(true);  // transposed, the output would be [1, 2, 4, 4]: too big for `out`
  EXPECT_EQ(conv(h, x, w, nullptr, out, a), ETP_ERR_SHAPE);
  ConvArgs g;
  g.groups = V::integer(2);
  TestTensor w1(ETP_DTYPE_FLOAT32, {2, 2, 1, 1});
  EXPECT_EQ(conv(h, x, w1, nullptr, out, g), ETP_ERR_SHAPE);
  TestTensor xi(ETP_DTYPE_INT32, {1, 2, 2, 2}), wi(ETP_DTYPE_INT32, {2, 2, 1, 1}), oi(ETP_DTYPE_INT32, {1, 2, 2, 2});
  ConvArgs d;
  EXPECT_EQ(conv(h, xi, wi, nullptr, oi, d), ETP_ERR_DTYPE);
  EXPECT_NE(h.last_error().find("aten::convolution.out"), std::string::npos);
}

// A program's stride, padding, dilation, output_padding and groups can be anything: each used
// to reach a signed overflow (span, 2 * padding, (in - 1) * stride, weight channels * groups)
// before any range check. Now each is a shape error naming the arguments.
TEST(ConvolutionKernelTest, HugeArgumentsAreShapeErrorsNotOverflows) {
  KernelHarness h;
  const int64_t big = int64_t{1} << 62;
  TestTensor x = range({1, 4, 3, 3}), w1(ETP_DTYPE_FLOAT32, {4, 4, 1, 1}), w3(ETP_DTYPE_FLOAT32, {4, 4, 3, 3});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 4, 3, 3});
  ConvArgs groups;
  groups.groups = V::integer(big);  // 4 * 2^62 weight input channels
  EXPECT_EQ(conv(h, x, w1, nullptr, out, groups), ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("groups=4611686018427387904 disagree"), std::string::npos) << h.last_error();
  groups.groups = V::integer(INT64_MIN);
  EXPECT_EQ(conv(h, x, w1, nullptr, out, groups), ETP_ERR_SHAPE);
  ConvArgs dilation;
  dilation.dilation = V::int_list({big, big});  // 2^62 * 2 + 1
  EXPECT_EQ(conv(h, x, w3, nullptr, out, dilation), ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("stride 1, padding 0, dilation 4611686018427387904 make the output size of "
                                "spatial dim 0 overflow int64 (input size 3, kernel size 3)"),
            std::string::npos)
      << h.last_error();
  ConvArgs padding;
  padding.padding = V::int_list({big, big});  // 2 * 2^62
  EXPECT_EQ(conv(h, x, w1, nullptr, out, padding), ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("padding 4611686018427387904"), std::string::npos) << h.last_error();
  ConvArgs stride;  // transposed: (3 - 1) * 2^62
  stride.transposed = V::boolean(true);
  stride.stride = V::int_list({big, 1});
  EXPECT_EQ(conv(h, x, w1, nullptr, out, stride), ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("and output_padding make the output size of spatial dim 0 overflow"), std::string::npos)
      << h.last_error();
  ConvArgs tpad;
  tpad.transposed = V::boolean(true);
  tpad.padding = V::int_list({0, big});
  EXPECT_EQ(conv(h, x, w1, nullptr, out, tpad), ETP_ERR_SHAPE);
  ConvArgs opad;  // 2 + 1 + INT64_MAX
  opad.transposed = V::boolean(true);
  opad.output_padding = V::int_list({INT64_MAX, 0});
  EXPECT_EQ(conv(h, x, w1, nullptr, out, opad), ETP_ERR_SHAPE);

  // The backward checks groups and the output size the same way.
  TestTensor bx(ETP_DTYPE_FLOAT32, {1, 0, 4, 4}), bw(ETP_DTYPE_FLOAT32, {0, 4, 1, 1}),
      bg(ETP_DTYPE_FLOAT32, {1, 0, 4, 4});
  TestTensor gx(ETP_DTYPE_FLOAT32, {1, 0, 4, 4}), gw(ETP_DTYPE_FLOAT32, {0, 4, 1, 1}), gb(ETP_DTYPE_FLOAT32, {0});
  V vg = V::tensor(bg), vx = V::tensor(bx), vw = V::tensor(bw), bias_sizes = V::int_list({0}), vgx = V::tensor(gx),
    vgw = V::tensor(gw), vgb = V::tensor(gb);
  static const bool all[3] = {true, true, true};
  V mask;
  mask.value.tag = ETP_VALUE_BOOL_LIST;
  mask.value.u.bool_list = {all, 3};
  ConvArgs a;
  a.groups = V::integer(big);  // 0 % 2^62 == 0 for both channel counts, then 4 * 2^62
  EXPECT_EQ(h.run("aten::convolution_backward.out",
                  {&vg, &vx, &vw, &bias_sizes, &a.stride, &a.padding, &a.dilation, &a.transposed, &a.output_padding,
                   &a.groups, &mask, &vgx, &vgw, &vgb, &vgx}),
            ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("groups=4611686018427387904 disagree"), std::string::npos) << h.last_error();
  TestTensor px = range({1, 1, 4, 4}), pw(ETP_DTYPE_FLOAT32, {1, 1, 1, 1}), pg(ETP_DTYPE_FLOAT32, {1, 1, 4, 4});
  V vpx = V::tensor(px), vpw = V::tensor(pw), vpg = V::tensor(pg);
  ConvArgs b;
  b.padding = V::int_list({big, 0});
  EXPECT_EQ(h.run("aten::convolution_backward.out",
                  {&vpg, &vpx, &vpw, &bias_sizes, &b.stride, &b.padding, &b.dilation, &b.transposed, &b.output_padding,
                   &b.groups, &mask, &vgx, &vgw, &vgb, &vgx}),
            ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("overflow int64"), std::string::npos) << h.last_error();
}

TEST(ConvolutionKernelTest, EmptyBatchGivesEmptyOutput) {
  KernelHarness h;
  TestTensor x(ETP_DTYPE_FLOAT32, {0, 1, 2, 2}), w(ETP_DTYPE_FLOAT32, {1, 1, 1, 1}), out(ETP_DTYPE_FLOAT32, {0, 1, 2, 2});
  ConvArgs a;
  ASSERT_EQ(conv(h, x, w, nullptr, out, a), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{0, 1, 2, 2}));
}

// convolution_backward against finite differences of the forward kernel: for L = sum(conv(x, w) * G),
// dL/dx, dL/dw and dL/db must be what the backward returns for grad_output G (float64, so the
// central differences are accurate to ~1e-8).
TEST(ConvolutionBackwardKernelTest, GradientsMatchFiniteDifferencesOfTheForward) {
  KernelHarness h;
  const std::vector<int64_t> xs = {1, 2, 5, 4}, ws = {4, 1, 3, 2};  // groups = 2
  auto fill = [](TestTensor& t, double scale) {
    const std::vector<int64_t> sizes = t.sizes();
    std::vector<double> v(
        static_cast<size_t>(std::accumulate(sizes.begin(), sizes.end(), int64_t{1}, std::multiplies<int64_t>())));
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(scale * static_cast<double>(i + 1));
    t.set_logical<double>(v);
  };
  TestTensor x(ETP_DTYPE_FLOAT64, xs), w(ETP_DTYPE_FLOAT64, ws), b(ETP_DTYPE_FLOAT64, {4});
  fill(x, 0.7);
  fill(w, 1.3);
  fill(b, 0.1);
  ConvArgs a;
  a.stride = V::int_list({2, 1});
  a.padding = V::int_list({1, 0});
  a.groups = V::integer(2);
  TestTensor out(ETP_DTYPE_FLOAT64, {1, 4, 3, 3});
  ASSERT_EQ(conv(h, x, w, &b, out, a), ETP_OK) << h.last_error();
  TestTensor g(ETP_DTYPE_FLOAT64, out.sizes());
  fill(g, 2.1);
  auto loss = [&]() {
    EXPECT_EQ(conv(h, x, w, &b, out, a), ETP_OK);
    const std::vector<double> o = out.logical<double>(), gv = g.logical<double>();
    double sum = 0;
    for (size_t i = 0; i < o.size(); ++i) sum += o[i] * gv[i];
    return sum;
  };
  TestTensor gx(ETP_DTYPE_FLOAT64, xs), gw(ETP_DTYPE_FLOAT64, ws), gb(ETP_DTYPE_FLOAT64, {4});
  V vg = V::tensor(g), vx = V::tensor(x), vw = V::tensor(w), bias_sizes = V::int_list({4}), vgx = V::tensor(gx),
    vgw = V::tensor(gw), vgb = V::tensor(gb);
  static const bool all[3] = {true, true, true};
  V mask;
  mask.value.tag = ETP_VALUE_BOOL_LIST;
  mask.value.u.bool_list = {all, 3};
  ASSERT_EQ(h.run("aten::convolution_backward.out", {&vg, &vx, &vw, &bias_sizes, &a.stride, &a.padding, &a.dilation,
                                                     &a.transposed, &a.output_padding, &a.groups, &mask, &vgx, &vgw,
                                                     &vgb, &vgx}),
            ETP_OK) << h.last_error();
  auto check = [&](TestTensor& param, TestTensor& analytic, const char* what) {
    std::vector<double> values = param.logical<double>();
    const std::vector<double> grads = analytic.logical<double>();
    for (size_t i = 0; i < values.size(); ++i) {
      const double keep = values[i], eps = 1e-5;
      values[i] = keep + eps;
      param.set_logical<double>(values);
      const double up = loss();
      values[i] = keep - eps;
      param.set_logical<double>(values);
      const double down = loss();
      values[i] = keep;
      param.set_logical<double>(values);
      EXPECT_NEAR(grads[i], (up - down) / (2 * eps), 1e-7) << what << " " << i;
    }
  };
  check(x, gx, "input");
  check(w, gw, "weight");
  check(b, gb, "bias");

  V transposed = V::boolean(true);
  EXPECT_EQ(h.run("aten::convolution_backward.out", {&vg, &vx, &vw, &bias_sizes, &a.stride, &a.padding, &a.dilation,
                                                     &transposed, &a.output_padding, &a.groups, &mask, &vgx, &vgw,
                                                     &vgb, &vgx}),
            ETP_ERR_NOT_SUPPORTED);
  TestTensor wrong(ETP_DTYPE_FLOAT64, {1, 4, 2, 3});
  V vwrong = V::tensor(wrong);
  EXPECT_EQ(h.run("aten::convolution_backward.out", {&vwrong, &vx, &vw, &bias_sizes, &a.stride, &a.padding,
                                                     &a.dilation, &a.transposed, &a.output_padding, &a.groups, &mask,
                                                     &vgx, &vgw, &vgb, &vgx}),
            ETP_ERR_SHAPE);
}

}  // namespace
}  // namespace etp::test
