// aten::upsample_bilinear2d.vec_out and transposed aten::convolution.out.
#include <gtest/gtest.h>

#include <limits>

#include <cmath>

#include "plugins/portable/kernel_harness.h"

namespace etp::test {
namespace {

TEST(UpsampleBilinearKernelTest, HalfPixelCentresMatchPyTorch) {
  KernelHarness h;
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1, 2, 2}, {0, 1, 2, 3});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 1, 4, 4});
  TestValue vx = TestValue::tensor(x), size = TestValue::none(), align = TestValue::boolean(false),
            scales = TestValue::double_list({2.0, 2.0}), vo = TestValue::tensor(out);
  ASSERT_EQ(h.run("aten::upsample_bilinear2d.vec_out", {&vx, &size, &align, &scales, &vo, &vo}), ETP_OK)
      << h.last_error();
  // torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
  EXPECT_EQ(out.logical<float>(),
            (std::vector<float>{0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3}));
}

TEST(UpsampleBilinearKernelTest, AlignedCornersAndChannelsLastOutput) {
  KernelHarness h;
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1, 2, 2}, {0, 1, 2, 3});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 1, 3, 3}, {0, 2, 3, 1});
  TestValue vx = TestValue::tensor(x), size = TestValue::int_list({3, 3}), align = TestValue::boolean(true),
            scales = TestValue::none(), vo = TestValue::tensor(out);
  ASSERT_EQ(h.run("aten::upsample_bilinear2d.vec_out", {&vx, &size, &align, &scales, &vo, &vo}), ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3}));
}

TEST(UpsampleNearestKernelTest, SizesAndScalesPickTheFloorSourceIndex) {
  KernelHarness h;
  auto x = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {1, 1, 2, 3}, {0, 1, 2, 3, 4, 5});
  TestTensor out(ETP_DTYPE_INT32, {1, 1, 4, 4});
  TestValue vx = TestValue::tensor(x), size = TestValue::int_list({4, 4}), none = TestValue::none(),
            vo = TestValue::tensor(out);
  ASSERT_EQ(h.run("aten::upsample_nearest2d.vec_out", {&vx, &size, &none, &vo, &vo}), ETP_OK) << h.last_error();
  // torch.nn.functional.interpolate(x, size=(4, 4), mode="nearest"): rows 0 0 1 1, columns 0 0 1 2
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{0, 0, 1, 2, 0, 0, 1, 2, 3, 3, 4, 5, 3, 3, 4, 5}));
  TestTensor twice(ETP_DTYPE_INT32, {1, 1, 4, 6});
  TestValue scales = TestValue::double_list({2.0, 2.0}), vt = TestValue::tensor(twice);
  ASSERT_EQ(h.run("aten::upsample_nearest2d.vec_out", {&vx, &none, &scales, &vt, &vt}), ETP_OK) << h.last_error();
  EXPECT_EQ(twice.logical<int32_t>()[5], 2);
  EXPECT_EQ(twice.logical<int32_t>()[23], 5);
  TestTensor wrong(ETP_DTYPE_FLOAT32, {1, 1, 4, 4});
  TestValue vw = TestValue::tensor(wrong);
  EXPECT_EQ(h.run("aten::upsample_nearest2d.vec_out", {&vx, &size, &none, &vw, &vw}), ETP_ERR_DTYPE);
}

TEST(UpsampleBilinearKernelTest, WrongRankAndMissingSizeAreErrors) {
  KernelHarness h;
  TestTensor x(ETP_DTYPE_FLOAT32, {2, 2}), out(ETP_DTYPE_FLOAT32, {4, 4});
  TestValue vx = TestValue::tensor(x), size = TestValue::int_list({4, 4}), align = TestValue::boolean(false),
            none = TestValue::none(), vo = TestValue::tensor(out);
  EXPECT_EQ(h.run("aten::upsample_bilinear2d.vec_out", {&vx, &size, &align, &none, &vo, &vo}), ETP_ERR_SHAPE);
  TestTensor x4(ETP_DTYPE_FLOAT32, {1, 1, 2, 2}), out4(ETP_DTYPE_FLOAT32, {1, 1, 4, 4});
  TestValue vx4 = TestValue::tensor(x4), vo4 = TestValue::tensor(out4);
  EXPECT_EQ(h.run("aten::upsample_bilinear2d.vec_out", {&vx4, &none, &align, &none, &vo4, &vo4}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("output_size or two scale_factors"), std::string::npos) << h.last_error();
}

// A scale factor whose output size does not fit int64 (or is infinite) is an error, never an
// out-of-range conversion (found by the method fuzz target).
TEST(UpsampleNearestKernelTest, AScaleBeyondInt64IsAnError) {
  KernelHarness h;
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1, 2, 2}, {0, 1, 2, 3});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 1, 4, 4});
  TestValue vx = TestValue::tensor(x), none = TestValue::none(), vo = TestValue::tensor(out);
  for (double scale : {1e116, std::numeric_limits<double>::infinity()}) {
    TestValue scales = TestValue::double_list({2.0, scale});
    EXPECT_EQ(h.run("aten::upsample_nearest2d.vec_out", {&vx, &none, &scales, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
    EXPECT_NE(h.last_error().find("makes an output size beyond int64"), std::string::npos) << h.last_error();
  }
}

TEST(TransposedConvolutionKernelTest, StrideTwoScattersEachInputOverTheKernel) {
  KernelHarness h;
  // One channel, 2x2 input, 2x2 kernel of ones, stride 2: each input value fills a 2x2 block.
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1, 2, 2}, {1, 2, 3, 4});
  auto w = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1, 2, 2}, {1, 1, 1, 1});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1}, {0.5f});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 1, 4, 4});
  TestValue vx = TestValue::tensor(x), vw = TestValue::tensor(w), vb = TestValue::tensor(b),
            stride = TestValue::int_list({2, 2}), pad = TestValue::int_list({0, 0}), dil = TestValue::int_list({1, 1}),
            transposed = TestValue::boolean(true), out_pad = TestValue::int_list({0, 0}),
            groups = TestValue::integer(1), vo = TestValue::tensor(out);
  ASSERT_EQ(
      h.run("aten::convolution.out", {&vx, &vw, &vb, &stride, &pad, &dil, &transposed, &out_pad, &groups, &vo, &vo}),
      ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<float>(),
            (std::vector<float>{1.5, 1.5, 2.5, 2.5, 1.5, 1.5, 2.5, 2.5, 3.5, 3.5, 4.5, 4.5, 3.5, 3.5, 4.5, 4.5}));
}

TEST(TransposedConvolutionKernelTest, WeightChannelsMustMatchTheInput) {
  KernelHarness h;
  TestTensor x(ETP_DTYPE_FLOAT32, {1, 2, 2, 2}), w(ETP_DTYPE_FLOAT32, {3, 1, 2, 2}),
      out(ETP_DTYPE_FLOAT32, {1, 1, 3, 3});
  TestValue vx = TestValue::tensor(x), vw = TestValue::tensor(w), none = TestValue::none(),
            one = TestValue::int_list({1, 1}), zero = TestValue::int_list({0, 0}),
            transposed = TestValue::boolean(true), groups = TestValue::integer(1), vo = TestValue::tensor(out);
  EXPECT_EQ(h.run("aten::convolution.out", {&vx, &vw, &none, &one, &zero, &one, &transposed, &zero, &groups, &vo, &vo}),
            ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("disagree"), std::string::npos) << h.last_error();
}

// grid_sampler_2d against torch.nn.functional.grid_sample's rules: an identity grid reproduces the
// input in every mode; points outside use the padding mode.
TEST(GridSamplerKernelTest, IdentityGridAndPaddingModes) {
  KernelHarness h;
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1, 2, 3}, {0, 1, 2, 3, 4, 5});
  // With align_corners, x = -1, 0, 1 and y = -1, 1 are the pixel centres.
  auto identity = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 3, 2}, {-1, -1, 0, -1, 1, -1, -1, 1, 0, 1, 1, 1});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 1, 2, 3});
  TestValue vx = TestValue::tensor(x), vg = TestValue::tensor(identity), yes = TestValue::boolean(true),
            zeros = TestValue::integer(0), vo = TestValue::tensor(out);
  for (int64_t mode : {0, 1, 2}) {
    TestValue vm = TestValue::integer(mode);
    ASSERT_EQ(h.run("aten::grid_sampler_2d.out", {&vx, &vg, &vm, &zeros, &yes, &vo, &vo}), ETP_OK) << h.last_error();
    const std::vector<float> got = out.logical<float>();
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], static_cast<float>(i), 1e-5) << "mode " << mode;
  }
  // One point halfway between pixels 0 and 1 of row 0, and one far outside on the right.
  auto points = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1, 2, 2}, {-0.5f, -1, 3, -1});
  TestTensor two(ETP_DTYPE_FLOAT32, {1, 1, 1, 2});
  TestValue vp = TestValue::tensor(points), vt = TestValue::tensor(two), bilinear = TestValue::integer(0);
  ASSERT_EQ(h.run("aten::grid_sampler_2d.out", {&vx, &vp, &bilinear, &zeros, &yes, &vt, &vt}), ETP_OK);
  EXPECT_EQ(two.logical<float>(), (std::vector<float>{0.5f, 0}));  // zeros outside
  TestValue border = TestValue::integer(1), reflection = TestValue::integer(2);
  ASSERT_EQ(h.run("aten::grid_sampler_2d.out", {&vx, &vp, &bilinear, &border, &yes, &vt, &vt}), ETP_OK);
  EXPECT_EQ(two.logical<float>(), (std::vector<float>{0.5f, 2}));  // clamped to the last column
  ASSERT_EQ(h.run("aten::grid_sampler_2d.out", {&vx, &vp, &bilinear, &reflection, &yes, &vt, &vt}), ETP_OK);
  // x = 3 is pixel 4 with align_corners; mirrored in [0, 2] it lands on pixel 0.
  EXPECT_EQ(two.logical<float>(), (std::vector<float>{0.5f, 0}));
  // Half-pixel convention: (x, y) = (-1, 1) is the bottom-left corner of the image, a quarter of
  // pixel (1, 0) = 3 and three quarters outside (zeros): 0.75.
  TestValue no = TestValue::boolean(false);
  auto edge = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1, 1, 2}, {-1, 1});
  TestTensor one(ETP_DTYPE_FLOAT32, {1, 1, 1, 1});
  TestValue ve = TestValue::tensor(edge), v1 = TestValue::tensor(one);
  ASSERT_EQ(h.run("aten::grid_sampler_2d.out", {&vx, &ve, &bilinear, &zeros, &no, &v1, &v1}), ETP_OK);
  EXPECT_NEAR(one.logical<float>()[0], 0.75f, 1e-6);
  auto nan = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1, 1, 2}, {NAN, 1e30f});
  TestValue vn = TestValue::tensor(nan), nearest = TestValue::integer(1);
  EXPECT_EQ(h.run("aten::grid_sampler_2d.out", {&vx, &vn, &nearest, &reflection, &no, &v1, &v1}), ETP_OK)
      << "NaN and huge points must not be cast to integers";
  TestValue bad = TestValue::integer(3);
  EXPECT_EQ(h.run("aten::grid_sampler_2d.out", {&vx, &vp, &bad, &zeros, &yes, &vt, &vt}), ETP_ERR_INVALID_ARGUMENT);
}

// _upsample_bilinear2d_aa: downscaling averages under a widened triangle filter; upscaling is plain
// bilinear (half-pixel centres).
TEST(UpsampleAntialiasKernelTest, DownscaleAveragesAndUpscaleIsBilinear) {
  KernelHarness h;
  auto row = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1, 1, 4}, {0, 1, 2, 3});
  TestTensor half(ETP_DTYPE_FLOAT32, {1, 1, 1, 2});
  TestValue vr = TestValue::tensor(row), size = TestValue::int_list({1, 2}), no = TestValue::boolean(false),
            none = TestValue::none(), vh = TestValue::tensor(half);
  ASSERT_EQ(h.run("aten::_upsample_bilinear2d_aa.out", {&vr, &size, &no, &none, &none, &vh, &vh}), ETP_OK)
      << h.last_error();
  // F.interpolate(torch.arange(4.).view(1, 1, 1, 4), size=(1, 2), mode="bilinear", antialias=True)
  // weights (3/7, 3/7, 1/7) and (1/7, 3/7, 3/7): 5/7 and 16/7.
  const std::vector<float> got = half.logical<float>();
  EXPECT_NEAR(got[0], 5.0 / 7, 1e-6);
  EXPECT_NEAR(got[1], 16.0 / 7, 1e-6);
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1, 2, 2}, {0, 1, 2, 3});
  TestTensor up(ETP_DTYPE_FLOAT32, {1, 1, 4, 4});
  TestValue vx = TestValue::tensor(x), four = TestValue::int_list({4, 4}), vu = TestValue::tensor(up);
  ASSERT_EQ(h.run("aten::_upsample_bilinear2d_aa.out", {&vx, &four, &no, &none, &none, &vu, &vu}), ETP_OK);
  EXPECT_EQ(up.logical<float>(),
            (std::vector<float>{0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3}));
  TestValue zero = TestValue::int_list({0, 2});
  EXPECT_EQ(h.run("aten::_upsample_bilinear2d_aa.out", {&vr, &zero, &no, &none, &none, &vh, &vh}), ETP_ERR_SHAPE);
}

// scales_h/scales_w are only required to be positive: a tiny one made the filter's range far
// beyond int64 before the cast (now clamped in double; the filter then averages the whole
// axis), and one with an infinite reciprocal is an error.
TEST(UpsampleAntialiasKernelTest, ATinyScaleAveragesAndOneWithNoFiniteReciprocalIsAnError) {
  KernelHarness h;
  auto x =
      TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1, 4, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 1, 1, 1});
  TestValue vx = TestValue::tensor(x), size = TestValue::int_list({1, 1}), no = TestValue::boolean(false),
            tiny = TestValue::real(1e-300), none = TestValue::none(), vo = TestValue::tensor(out);
  ASSERT_EQ(h.run("aten::_upsample_bilinear2d_aa.out", {&vx, &size, &no, &tiny, &none, &vo, &vo}), ETP_OK)
      << h.last_error();
  EXPECT_NEAR(out.logical<float>()[0], 7.5, 1e-5);  // symmetric weights over rows and columns
  TestValue denormal = TestValue::real(std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(h.run("aten::_upsample_bilinear2d_aa.out", {&vx, &size, &no, &none, &denormal, &vo, &vo}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("scales_w 4.94066e-324 has no finite reciprocal"), std::string::npos) << h.last_error();
}

// With N or C = 0 any output_size passes the resize (0 elements). The kernels looped over
// output_size outside the empty planes (2^60 iterations here), and the antialiased one sized
// its per-index weights by it; now they return at once.
TEST(UpsampleBilinearKernelTest, AnEmptyBatchWithAHugeOutputSizeReturnsAtOnce) {
  KernelHarness h;
  TestTensor x(ETP_DTYPE_FLOAT32, {0, 1, 1, 1}), out(ETP_DTYPE_FLOAT32, {0, 1, 1, 1});
  const int64_t huge = int64_t{1} << 30;
  TestValue vx = TestValue::tensor(x), size = TestValue::int_list({huge, huge}), no = TestValue::boolean(false),
            none = TestValue::none(), vo = TestValue::tensor(out);
  ASSERT_EQ(h.run("aten::upsample_bilinear2d.vec_out", {&vx, &size, &no, &none, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{0, 1, huge, huge}));
  ASSERT_EQ(h.run("aten::upsample_nearest2d.vec_out", {&vx, &size, &none, &vo, &vo}), ETP_OK) << h.last_error();
  ASSERT_EQ(h.run("aten::_upsample_bilinear2d_aa.out", {&vx, &size, &no, &none, &none, &vo, &vo}), ETP_OK)
      << h.last_error();
  TestTensor xi(ETP_DTYPE_INT32, {0, 1, 1, 1}), oi(ETP_DTYPE_INT32, {0, 1, 1, 1});
  TestValue vxi = TestValue::tensor(xi), voi = TestValue::tensor(oi);
  EXPECT_EQ(h.run("aten::upsample_bilinear2d.vec_out", {&vxi, &size, &no, &none, &voi, &voi}), ETP_ERR_DTYPE)
      << "the dtype is still checked";
}

}  // namespace
}  // namespace etp::test
