// rand, randn and native_dropout: value ranges, rough statistics (bounds far outside the
// sampling noise of the sizes used), and the `seed` option that makes draws reproducible.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "plugins/portable/op_call.h"

namespace etp::test {
namespace {

using V = TestValue;

double mean_of(const std::vector<float>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

etp_status seed(KernelHarness& h, const char* value) {
  const etp_option option{"seed", value};
  return h.plugin()->init(h.plugin()->self, &option, 1);
}

TEST(RandomKernelTest, RandIsUniformInZeroOneAndTheSeedMakesItReproducible) {
  KernelHarness h;
  ASSERT_EQ(seed(h, "7"), ETP_OK);
  TestTensor out(ETP_DTYPE_FLOAT32, {100, 100});
  ASSERT_EQ(call(h, "aten::rand.out", {V::int_list({100, 100}), V::tensor(out)}), ETP_OK) << h.last_error();
  const std::vector<float> first = out.logical<float>();
  for (float x : first) ASSERT_TRUE(x >= 0 && x < 1) << x;
  EXPECT_NEAR(mean_of(first), 0.5, 0.02);  // the standard error is 0.003
  ASSERT_EQ(seed(h, "7"), ETP_OK);
  ASSERT_EQ(call(h, "aten::rand.out", {V::int_list({100, 100}), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), first);
  ASSERT_EQ(call(h, "aten::rand.out", {V::int_list({100, 100}), V::tensor(out)}), ETP_OK);
  EXPECT_NE(out.logical<float>(), first) << "the generator moves on";
  EXPECT_EQ(seed(h, "-1"), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(seed(h, "x"), ETP_ERR_INVALID_ARGUMENT);
  TestTensor ints(ETP_DTYPE_INT32, {2});
  EXPECT_EQ(call(h, "aten::rand.out", {V::int_list({2}), V::tensor(ints)}), ETP_ERR_DTYPE);
}

TEST(RandomKernelTest, RandnIsStandardNormal) {
  KernelHarness h;
  TestTensor out(ETP_DTYPE_FLOAT64, {10000});
  ASSERT_EQ(call(h, "aten::randn.out", {V::int_list({10000}), V::tensor(out)}), ETP_OK) << h.last_error();
  const std::vector<double> v = out.logical<double>();
  double mean = 0, squares = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  for (double x : v) squares += (x - mean) * (x - mean);
  EXPECT_NEAR(mean, 0, 0.05);  // standard error 0.01
  EXPECT_NEAR(std::sqrt(squares / static_cast<double>(v.size())), 1, 0.05);
}

TEST(RandomKernelTest, DropoutKeepsAboutOneMinusPAndScalesTheKept) {
  KernelHarness h;
  TestTensor ones(ETP_DTYPE_FLOAT32, {10000});
  ones.set_logical<float>(std::vector<float>(10000, 1.0f));
  TestTensor out(ETP_DTYPE_FLOAT32, {10000}), mask(ETP_DTYPE_BOOL, {10000});
  V vi = V::tensor(ones), p = V::real(0.25), train = V::none(), vo = V::tensor(out), vm = V::tensor(mask);
  ASSERT_EQ(h.run("aten::native_dropout.out", {&vi, &p, &train, &vo, &vm, &vo}), ETP_OK) << h.last_error();
  const std::vector<float> got = out.logical<float>();
  const std::vector<uint8_t> kept = mask.logical<uint8_t>();
  size_t count = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    count += kept[i];
    ASSERT_FLOAT_EQ(got[i], kept[i] ? 1 / 0.75f : 0) << i;
  }
  EXPECT_NEAR(static_cast<double>(count) / 10000.0, 0.75, 0.03);  // standard error 0.004
  V eval = V::boolean(false);
  ASSERT_EQ(h.run("aten::native_dropout.out", {&vi, &p, &eval, &vo, &vm, &vo}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), ones.logical<float>());
  EXPECT_EQ(mask.logical<uint8_t>(), std::vector<uint8_t>(10000, 1));
  V all = V::real(1);
  ASSERT_EQ(h.run("aten::native_dropout.out", {&vi, &all, &train, &vo, &vm, &vo}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), std::vector<float>(10000, 0.0f));
  V bad = V::real(1.5);
  EXPECT_EQ(h.run("aten::native_dropout.out", {&vi, &bad, &train, &vo, &vm, &vo}), ETP_ERR_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace etp::test
