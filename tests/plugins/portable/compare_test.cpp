#include <gtest/gtest.h>

#include <cmath>

#include "plugins/portable/kernel_harness.h"
#include "plugins/portable/op_call.h"

namespace etp::test {
namespace {

TEST(CompareKernelTest, TensorComparisonsBroadcastIntoBool) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 2}, {1, 2, 3, NAN});
  auto b = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2}, {2, 2});
  TestTensor out(ETP_DTYPE_BOOL, {2, 2});
  struct Case {
    const char* op;
    std::vector<uint8_t> expected;
  } cases[] = {
      {"aten::eq.Tensor_out", {0, 1, 0, 0}}, {"aten::ne.Tensor_out", {1, 0, 1, 1}},
      {"aten::gt.Tensor_out", {0, 0, 1, 0}}, {"aten::lt.Tensor_out", {1, 0, 0, 0}},
      {"aten::ge.Tensor_out", {0, 1, 1, 0}}, {"aten::le.Tensor_out", {1, 1, 0, 0}},
  };
  for (const Case& k : cases) {
    ASSERT_EQ(call(h, k.op, {V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_OK) << k.op << h.last_error();
    EXPECT_EQ(out.logical<uint8_t>(), k.expected) << k.op;
  }
}

TEST(CompareKernelTest, ScalarComparisonsPromoteIntTensorsForFloatScalars) {
  KernelHarness h;
  auto a = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {3}, {1, 2, 3});
  TestTensor out(ETP_DTYPE_BOOL, {3}), fout(ETP_DTYPE_FLOAT32, {3});
  ASSERT_EQ(call(h, "aten::gt.Scalar_out", {V::tensor(a), V::real(1.5), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<uint8_t>(), (std::vector<uint8_t>{0, 1, 1}));
  ASSERT_EQ(call(h, "aten::eq.Scalar_out", {V::tensor(a), V::real(2.0), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<uint8_t>(), (std::vector<uint8_t>{0, 1, 0}));
  ASSERT_EQ(call(h, "aten::le.Scalar_out", {V::tensor(a), V::integer(2), V::tensor(fout)}), ETP_OK)
      << "any output dtype receives 0/1";
  EXPECT_EQ(fout.logical<float>(), (std::vector<float>{1, 1, 0}));
  for (const char* op : {"aten::ne.Scalar_out", "aten::lt.Scalar_out", "aten::ge.Scalar_out"}) {
    ASSERT_EQ(call(h, op, {V::tensor(a), V::integer(2), V::tensor(out)}), ETP_OK) << op;
  }
  EXPECT_EQ(out.logical<uint8_t>(), (std::vector<uint8_t>{0, 1, 1}));  // ge
}

TEST(CompareKernelTest, ChannelsLastOperandsAndOutput) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {1, 2, 3, 4}, {0, 2, 3, 1});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {4, 2, 3, 1});
  TestTensor out(ETP_DTYPE_BOOL, {1, 2, 1, 2}, {0, 2, 3, 1});
  ASSERT_EQ(call(h, "aten::lt.Tensor_out", {V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<uint8_t>(), (std::vector<uint8_t>{1, 0, 0, 0}));
}

TEST(CompareKernelTest, ShapeMismatchAndBadDtypeAreReported) {
  KernelHarness h;
  TestTensor a(ETP_DTYPE_FLOAT32, {2}), b(ETP_DTYPE_FLOAT32, {3}), out(ETP_DTYPE_BOOL, {3});
  EXPECT_EQ(call(h, "aten::eq.Tensor_out", {V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_ERR_SHAPE);
  EXPECT_TRUE(names(h, "aten::eq.Tensor_out"));
  TestTensor q(ETP_DTYPE_UINT16, {2});
  EXPECT_EQ(call(h, "aten::eq.Tensor_out", {V::tensor(a), V::tensor(q), V::tensor(out)}), ETP_ERR_DTYPE);
  EXPECT_TRUE(names(h, "uint16")) << h.last_error();
}

TEST(CompareKernelTest, WhereSelectsWithThreeWayBroadcastAndPromotion) {
  KernelHarness h;
  auto cond = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {2, 1}, {1, 0});
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {3}, {1, 2, 3});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1}, {0.5f});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 3});
  ASSERT_EQ(call(h, "aten::where.self_out", {V::tensor(cond), V::tensor(a), V::tensor(b), V::tensor(out)}), ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1, 2, 3, 0.5f, 0.5f, 0.5f}));
  TestTensor iout(ETP_DTYPE_INT32, {2, 3});
  EXPECT_EQ(call(h, "aten::where.self_out", {V::tensor(cond), V::tensor(a), V::tensor(b), V::tensor(iout)}),
            ETP_ERR_DTYPE);
  auto fcond = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1}, {1});
  EXPECT_EQ(call(h, "aten::where.self_out", {V::tensor(fcond), V::tensor(a), V::tensor(b), V::tensor(out)}),
            ETP_ERR_DTYPE);
  EXPECT_TRUE(names(h, "aten::where.self_out") && names(h, "condition")) << h.last_error();
}

TEST(CompareKernelTest, EmptyOperandsGiveEmptyOutput) {
  KernelHarness h;
  TestTensor a(ETP_DTYPE_FLOAT32, {0}), out(ETP_DTYPE_BOOL, {0});
  ASSERT_EQ(call(h, "aten::ge.Scalar_out", {V::tensor(a), V::integer(0), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{0}));
}

}  // namespace
}  // namespace etp::test
