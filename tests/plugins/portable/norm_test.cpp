#include <gtest/gtest.h>

#include <cmath>

#include "plugins/portable/kernel_harness.h"

namespace etp::test {
namespace {

using V = TestValue;

void expect_near(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

TEST(BatchNormKernelTest, NormalizesPerChannelOnChannelsLastInput) {
  KernelHarness h;
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {1, 2, 3, 4}, {0, 2, 3, 1});
  auto w = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {2, 1});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {0, 10});
  auto mean = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {1, 3});
  auto var = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {4, 0});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {0, 2, 3, 1}), m(ETP_DTYPE_FLOAT32, {0}), r(ETP_DTYPE_FLOAT32, {0});
  V vx = V::tensor(x), vw = V::tensor(w), vb = V::tensor(b), vm = V::tensor(mean), vv = V::tensor(var),
    mom = V::real(0.1), eps = V::real(0.0), vo = V::tensor(out), vo1 = V::tensor(m), vo2 = V::tensor(r),
    ret = V::tensor_list({&out, &m, &r});
  ASSERT_EQ(h.run("aten::_native_batch_norm_legit_no_training.out",
                  {&vx, &vw, &vb, &vm, &vv, &mom, &eps, &vo, &vo1, &vo2, &ret}),
            ETP_OK)
      << h.last_error();
  // channel 0: (x - 1) / 2 * 2; channel 1: var 0, eps 0 -> inf * 0 = nan for x == mean.
  const auto got = out.logical<float>();
  EXPECT_FLOAT_EQ(got[0], 0);
  EXPECT_FLOAT_EQ(got[1], 1);
  EXPECT_TRUE(std::isnan(got[2]));
  EXPECT_TRUE(std::isinf(got[3]));
  EXPECT_EQ(m.sizes(), (std::vector<int64_t>{0}));
}

TEST(BatchNormKernelTest, WithoutAffineAndWithWrongStatsShape) {
  KernelHarness h;
  auto x = TestTensor::of<double>(ETP_DTYPE_FLOAT64, {2, 1}, {3, 5});
  auto mean = TestTensor::of<double>(ETP_DTYPE_FLOAT64, {1}, {1});
  auto var = TestTensor::of<double>(ETP_DTYPE_FLOAT64, {1}, {3});
  TestTensor out(ETP_DTYPE_FLOAT64, {2, 1}), m(ETP_DTYPE_FLOAT64, {0}), r(ETP_DTYPE_FLOAT64, {0});
  V vx = V::tensor(x), none = V::none(), vm = V::tensor(mean), vv = V::tensor(var), mom = V::real(0.1),
    eps = V::real(1.0), vo = V::tensor(out), vo1 = V::tensor(m), vo2 = V::tensor(r), ret = V::tensor_list({&out, &m, &r});
  ASSERT_EQ(h.run("aten::_native_batch_norm_legit_no_training.out",
                  {&vx, &none, &none, &vm, &vv, &mom, &eps, &vo, &vo1, &vo2, &ret}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<double>(), (std::vector<double>{1, 2}));
  TestTensor bad(ETP_DTYPE_FLOAT64, {2});
  V vbad = V::tensor(bad);
  EXPECT_EQ(h.run("aten::_native_batch_norm_legit_no_training.out",
                  {&vx, &none, &none, &vbad, &vv, &mom, &eps, &vo, &vo1, &vo2, &ret}),
            ETP_ERR_SHAPE);
}

// Training mode: the batch's statistics, saved, and the running ones moved by the momentum.
TEST(BatchNormKernelTest, TrainingUsesBatchStatisticsAndUpdatesRunningOnes) {
  KernelHarness h;
  // N=2, C=2, L=2: channel 0 holds {1, 3, 5, 7}, channel 1 holds {2, 2, 2, 2}.
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 2, 2}, {1, 3, 2, 2, 5, 7, 2, 2});
  auto rmean = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {0, 0});
  auto rvar = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {1, 1});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 2, 2}), mean(ETP_DTYPE_FLOAT32, {2}), invstd(ETP_DTYPE_FLOAT32, {2});
  V vx = V::tensor(x), none = V::none(), vm = V::tensor(rmean), vv = V::tensor(rvar), yes = V::boolean(true),
    momentum = V::real(0.1), eps = V::real(0), vo = V::tensor(out), vmean = V::tensor(mean), vinv = V::tensor(invstd);
  ASSERT_EQ(h.run("aten::_native_batch_norm_legit.out",
                  {&vx, &none, &none, &vm, &vv, &yes, &momentum, &eps, &vo, &vmean, &vinv, &vo}),
            ETP_OK) << h.last_error();
  // Channel 0: mean 4, biased variance 5 (unbiased 20/3); channel 1: mean 2, variance 0.
  expect_near(mean.logical<float>(), {4, 2});
  EXPECT_NEAR(invstd.logical<float>()[0], 1 / std::sqrt(5.0f), 1e-6);
  const float s = 1 / std::sqrt(5.0f);
  const std::vector<float> got = out.logical<float>();
  EXPECT_NEAR(got[0], -3 * s, 1e-5);
  EXPECT_NEAR(got[5], 3 * s, 1e-5);
  expect_near(rmean.logical<float>(), {0.4f, 0.2f});
  expect_near(rvar.logical<float>(), {0.9f + 0.1f * 20 / 3, 0.9f});
  // Inference (training=False) reads the running statistics instead, as ExecuTorch.
  V no = V::boolean(false);
  ASSERT_EQ(h.run("aten::_native_batch_norm_legit.out",
                  {&vx, &none, &none, &vm, &vv, &no, &momentum, &eps, &vo, &vmean, &vinv, &vo}),
            ETP_OK) << h.last_error();
  EXPECT_NEAR(out.logical<float>()[0], (1 - 0.4f) / std::sqrt(0.9f + 0.1f * 20 / 3), 1e-5);
  // Without running statistics: always the batch's.
  TestTensor out2(ETP_DTYPE_FLOAT32, {2, 2, 2});
  V vo2 = V::tensor(out2);
  ASSERT_EQ(h.run("aten::_native_batch_norm_legit.no_stats_out",
                  {&vx, &none, &none, &yes, &momentum, &eps, &vo2, &vmean, &vinv, &vo2}),
            ETP_OK) << h.last_error();
  EXPECT_NEAR(out2.logical<float>()[0], -3 * s, 1e-5);
  auto flat = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {1, 2, 3, 4});
  V vflat = V::tensor(flat);
  EXPECT_EQ(h.run("aten::_native_batch_norm_legit.no_stats_out",
                  {&vflat, &none, &none, &yes, &momentum, &eps, &vo2, &vmean, &vinv, &vo2}),
            ETP_ERR_SHAPE);
}

TEST(LayerNormKernelTest, NormalizesTrailingDimsAndReportsStats) {
  KernelHarness h;
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 2}, {1, 3, 2, 2});
  auto w = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {1, 2});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {0, 1});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 2}), mean(ETP_DTYPE_FLOAT32, {2, 1}), rstd(ETP_DTYPE_FLOAT32, {2, 1});
  V vx = V::tensor(x), shape = V::int_list({2}), vw = V::tensor(w), vb = V::tensor(b), eps = V::real(0.0),
    vo = V::tensor(out), vm = V::tensor(mean), vr = V::tensor(rstd), ret = V::tensor_list({&out, &mean, &rstd});
  ASSERT_EQ(h.run("aten::native_layer_norm.out", {&vx, &shape, &vw, &vb, &eps, &vo, &vm, &vr, &ret}), ETP_OK)
      << h.last_error();
  // row 0: mean 2, var 1 -> [-1, 1] * w + b = [-1, 3]; row 1: var 0 -> rstd inf, 0 * inf = nan.
  const auto got = out.logical<float>();
  EXPECT_FLOAT_EQ(got[0], -1);
  EXPECT_FLOAT_EQ(got[1], 3);
  EXPECT_TRUE(std::isnan(got[2]));
  expect_near(mean.logical<float>(), {2, 2});
  EXPECT_FLOAT_EQ(rstd.logical<float>()[0], 1);
}

TEST(LayerNormKernelTest, ChannelsLastOutputAndShapeMismatch) {
  KernelHarness h;
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {0, 2, 4, 6});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {0, 2, 3, 1}), mean(ETP_DTYPE_FLOAT32, {1, 2, 1, 1}),
      rstd(ETP_DTYPE_FLOAT32, {1, 2, 1, 1});
  V vx = V::tensor(x), shape = V::int_list({2}), none = V::none(), eps = V::real(1e-5), vo = V::tensor(out),
    vm = V::tensor(mean), vr = V::tensor(rstd), ret = V::tensor_list({&out, &mean, &rstd});
  ASSERT_EQ(h.run("aten::native_layer_norm.out", {&vx, &shape, &none, &none, &eps, &vo, &vm, &vr, &ret}), ETP_OK)
      << h.last_error();
  expect_near(out.logical<float>(), {-1, 1, -1, 1}, 1e-4f);
  expect_near(mean.logical<float>(), {1, 5});
  V bad = V::int_list({3});
  EXPECT_EQ(h.run("aten::native_layer_norm.out", {&vx, &bad, &none, &none, &eps, &vo, &vm, &vr, &ret}),
            ETP_ERR_SHAPE);
  TestTensor xi(ETP_DTYPE_INT32, {1, 2, 1, 2}), oi(ETP_DTYPE_INT32, {1, 2, 1, 2}), mi(ETP_DTYPE_INT32, {1, 2, 1, 1}),
      ri(ETP_DTYPE_INT32, {1, 2, 1, 1});
  V vxi = V::tensor(xi), voi = V::tensor(oi), vmi = V::tensor(mi), vri = V::tensor(ri);
  EXPECT_EQ(h.run("aten::native_layer_norm.out", {&vxi, &shape, &none, &none, &eps, &voi, &vmi, &vri, &ret}),
            ETP_ERR_DTYPE);
  EXPECT_NE(h.last_error().find("int32"), std::string::npos) << h.last_error();
}

TEST(GroupNormKernelTest, NormalizesEachGroup) {
  KernelHarness h;
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 4, 1}, {1, 3, 10, 10});
  auto w = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {1, 1, 1, 1});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {0, 0, 5, 5});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 4, 1}), mean(ETP_DTYPE_FLOAT32, {1, 2}), rstd(ETP_DTYPE_FLOAT32, {1, 2});
  V vx = V::tensor(x), vw = V::tensor(w), vb = V::tensor(b), N = V::integer(1), C = V::integer(4),
    HxW = V::integer(1), G = V::integer(2), eps = V::real(0.0), vo = V::tensor(out), vm = V::tensor(mean),
    vr = V::tensor(rstd), ret = V::tensor_list({&out, &mean, &rstd});
  ASSERT_EQ(h.run("aten::native_group_norm.out", {&vx, &vw, &vb, &N, &C, &HxW, &G, &eps, &vo, &vm, &vr, &ret}),
            ETP_OK)
      << h.last_error();
  const auto got = out.logical<float>();
  EXPECT_FLOAT_EQ(got[0], -1);
  EXPECT_FLOAT_EQ(got[1], 1);
  expect_near(mean.logical<float>(), {2, 10});
  V G3 = V::integer(3);
  EXPECT_EQ(h.run("aten::native_group_norm.out", {&vx, &vw, &vb, &N, &C, &HxW, &G3, &eps, &vo, &vm, &vr, &ret}),
            ETP_ERR_INVALID_ARGUMENT);
  V HxW2 = V::integer(2);  // the input's spatial size is 1
  EXPECT_EQ(h.run("aten::native_group_norm.out", {&vx, &vw, &vb, &N, &C, &HxW2, &G, &eps, &vo, &vm, &vr, &ret}),
            ETP_ERR_SHAPE);
}

// An empty batch with channels (N = 0, C = 4) used to divide by N * C: now an empty result.
TEST(GroupNormKernelTest, EmptyBatchGivesEmptyOutput) {
  KernelHarness h;
  TestTensor x(ETP_DTYPE_FLOAT32, {0, 4, 1}), out(ETP_DTYPE_FLOAT32, {0, 4, 1}), mean(ETP_DTYPE_FLOAT32, {0, 2}),
      rstd(ETP_DTYPE_FLOAT32, {0, 2});
  V vx = V::tensor(x), none = V::none(), N = V::integer(0), C = V::integer(4), HxW = V::integer(1),
    G = V::integer(2), eps = V::real(1e-5), vo = V::tensor(out), vm = V::tensor(mean), vr = V::tensor(rstd),
    ret = V::tensor_list({&out, &mean, &rstd});
  EXPECT_EQ(h.run("aten::native_group_norm.out", {&vx, &none, &none, &N, &C, &HxW, &G, &eps, &vo, &vm, &vr, &ret}),
            ETP_OK)
      << h.last_error();
}

}  // namespace
}  // namespace etp::test
