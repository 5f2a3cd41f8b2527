#include <gtest/gtest.h>

#include "plugins/portable/kernel_harness.h"
#include "plugins/portable/op_call.h"

namespace etp::test {
namespace {

TEST(CreationKernelTest, FullZerosOnesResizeToTheGivenSize) {
  KernelHarness h;
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 3}, {}, /*capacity_elements=*/8);
  ASSERT_EQ(call(h, "aten::full.out", {V::int_list({2, 2}), V::real(1.5), V::tensor(out)}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1.5f, 1.5f, 1.5f, 1.5f}));
  ASSERT_EQ(call(h, "aten::zeros.out", {V::int_list({3}), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 0, 0}));
  ASSERT_EQ(call(h, "aten::ones.out", {V::int_list({0, 5}), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{0, 5}));
  EXPECT_EQ(call(h, "aten::ones.out", {V::int_list({3, 3}), V::tensor(out)}), ETP_ERR_SHAPE) << "beyond capacity";
  EXPECT_EQ(call(h, "aten::ones.out", {V::int_list({-1}), V::tensor(out)}), ETP_ERR_INVALID_ARGUMENT);
}

TEST(CreationKernelTest, FillValueMustFitTheOutputDtype) {
  KernelHarness h;
  TestTensor out(ETP_DTYPE_INT8, {2});
  ASSERT_EQ(call(h, "aten::full.out", {V::int_list({2}), V::integer(-7), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int8_t>(), (std::vector<int8_t>{-7, -7}));
  EXPECT_EQ(call(h, "aten::full.out", {V::int_list({2}), V::real(0.5), V::tensor(out)}), ETP_ERR_DTYPE);
  EXPECT_TRUE(names(h, "aten::full.out") && names(h, "int8")) << h.last_error();
  EXPECT_EQ(call(h, "aten::full.out", {V::int_list({2}), V::integer(200), V::tensor(out)}), ETP_ERR_INVALID_ARGUMENT);
  TestTensor b(ETP_DTYPE_BOOL, {2});
  ASSERT_EQ(call(h, "aten::full.out", {V::int_list({2}), V::boolean(true), V::tensor(b)}), ETP_OK);
  EXPECT_EQ(b.logical<uint8_t>(), (std::vector<uint8_t>{1, 1}));
}

TEST(CreationKernelTest, LikeVariantsCopyTheShapeIntoAChannelsLastOutput) {
  KernelHarness h;
  TestTensor self(ETP_DTYPE_INT32, {1, 2, 1, 2});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {0, 2, 3, 1});
  ASSERT_EQ(call(h, "aten::full_like.out", {V::tensor(self), V::real(2.5), V::none(), V::tensor(out)}), ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{2.5f, 2.5f, 2.5f, 2.5f}));
  ASSERT_EQ(call(h, "aten::zeros_like.out", {V::tensor(self), V::none(), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 0, 0, 0}));
  ASSERT_EQ(call(h, "aten::ones_like.out", {V::tensor(self), V::integer(1), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1, 1, 1, 1}));
  ASSERT_EQ(call(h, "aten::fill.Scalar_out", {V::tensor(self), V::integer(-3), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{-3, -3, -3, -3}));
  TestTensor small(ETP_DTYPE_FLOAT32, {2});
  EXPECT_EQ(call(h, "aten::zeros_like.out", {V::tensor(self), V::none(), V::tensor(small)}), ETP_ERR_SHAPE);
}

TEST(CreationKernelTest, ScalarTensorIsZeroDim) {
  KernelHarness h;
  TestTensor out(ETP_DTYPE_FLOAT64, {});
  ASSERT_EQ(call(h, "aten::scalar_tensor.out", {V::real(-0.25), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{}));
  EXPECT_EQ(out.logical<double>(), (std::vector<double>{-0.25}));
}

TEST(CreationKernelTest, ArangeLengthsAndSteps) {
  KernelHarness h;
  TestTensor out(ETP_DTYPE_INT64, {8}, {}, /*capacity_elements=*/8);
  ASSERT_EQ(call(h, "aten::arange.out", {V::integer(4), V::tensor(out)}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3}));
  ASSERT_EQ(call(h, "aten::arange.start_out", {V::integer(5), V::integer(-2), V::integer(-3), V::tensor(out)}),
            ETP_OK);
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{5, 2, -1}));
  TestTensor f(ETP_DTYPE_FLOAT32, {8}, {}, 8);
  ASSERT_EQ(call(h, "aten::arange.start_out", {V::real(0), V::real(1), V::real(0.25), V::tensor(f)}), ETP_OK);
  EXPECT_EQ(f.logical<float>(), (std::vector<float>{0, 0.25f, 0.5f, 0.75f}));
  ASSERT_EQ(call(h, "aten::arange.out", {V::integer(0), V::tensor(f)}), ETP_OK);
  EXPECT_EQ(f.sizes(), (std::vector<int64_t>{0}));
  EXPECT_EQ(call(h, "aten::arange.start_out", {V::integer(0), V::integer(5), V::integer(-1), V::tensor(f)}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(call(h, "aten::arange.start_out", {V::integer(0), V::integer(5), V::integer(0), V::tensor(f)}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(h, "aten::arange.start_out"));
  EXPECT_EQ(call(h, "aten::arange.out", {V::integer(20), V::tensor(f)}), ETP_ERR_SHAPE) << "beyond capacity";
}

}  // namespace
}  // namespace etp::test
