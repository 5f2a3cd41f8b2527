#include <gtest/gtest.h>

#include "plugins/portable/kernel_harness.h"

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

}  // namespace
}  // namespace etp::test
