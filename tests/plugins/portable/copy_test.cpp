#include <gtest/gtest.h>

#include <array>

#include "plugins/portable/kernel_harness.h"

namespace etp::test {
namespace {

using V = TestValue;

TEST(CloneKernelTest, CopiesIntoAChannelsLastOutput) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 2, 2}, {0, 2, 3, 1});
  V va = V::tensor(a), fmt = V::none(), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::clone.out", {&va, &fmt, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  // Channels-last storage: the channel is innermost.
  const float* raw = static_cast<const float*>(out.view().data);
  EXPECT_EQ((std::vector<float>(raw, raw + 8)), (std::vector<float>{1, 5, 2, 6, 3, 7, 4, 8}));
}

TEST(CloneKernelTest, DtypeMismatchFailsWithTheOperatorName) {
  KernelHarness h;
  TestTensor a(ETP_DTYPE_FLOAT32, {2}), out(ETP_DTYPE_INT32, {2});
  V va = V::tensor(a), fmt = V::none(), vo = V::tensor(out);
  EXPECT_EQ(h.run("aten::clone.out", {&va, &fmt, &vo, &vo}), ETP_ERR_DTYPE);
  EXPECT_NE(h.last_error().find("aten::clone.out"), std::string::npos) << h.last_error();
  EXPECT_NE(h.last_error().find("int32"), std::string::npos) << h.last_error();
}

TEST(CloneKernelTest, ChannelsLastMemoryFormatIsNotSupported) {
  KernelHarness h;
  TestTensor a(ETP_DTYPE_FLOAT32, {2}), out(ETP_DTYPE_FLOAT32, {2});
  V va = V::tensor(a), fmt = V::integer(2), vo = V::tensor(out);
  EXPECT_EQ(h.run("aten::clone.out", {&va, &fmt, &vo, &vo}), ETP_ERR_NOT_SUPPORTED);
}

// complex64 [2] in a transposed-free layout: each element becomes a row (real, imaginary).
TEST(ViewAsRealKernelTest, SplitsEachComplexIntoRealAndImaginary) {
  KernelHarness h;
  TestTensor z(ETP_DTYPE_COMPLEX64, {2, 1});
  z.set_logical<std::array<float, 2>>({{1.5f, -2}, {0, 3}});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 1, 2});
  V vz = V::tensor(z), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::view_as_real_copy.out", {&vz, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1.5f, -2, 0, 3}));
  TestTensor wrong(ETP_DTYPE_FLOAT64, {2, 1, 2});
  V vw = V::tensor(wrong);
  EXPECT_EQ(h.run("aten::view_as_real_copy.out", {&vz, &vw, &vw}), ETP_ERR_DTYPE) << "complex64 splits into float32";
  auto real = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {1, 2});
  V vr = V::tensor(real);
  EXPECT_EQ(h.run("aten::view_as_real_copy.out", {&vr, &vo, &vo}), ETP_ERR_DTYPE);
  EXPECT_NE(h.last_error().find("expected complex32, complex64 or complex128"), std::string::npos) << h.last_error();
  TestTensor pairs_outer(ETP_DTYPE_FLOAT32, {2, 1, 2}, {2, 0, 1});  // the (re, im) dim outermost
  V vp = V::tensor(pairs_outer);
  EXPECT_EQ(h.run("aten::view_as_real_copy.out", {&vz, &vp, &vp}), ETP_ERR_SHAPE);
}

TEST(CloneKernelTest, CopiesHalfPrecisionBytesUnchanged) {
  KernelHarness h;
  auto a = TestTensor::of<uint16_t>(ETP_DTYPE_FLOAT16, {3}, {0x3c00, 0x4000, 0xbc00});
  TestTensor out(ETP_DTYPE_FLOAT16, {3});
  V va = V::tensor(a), fmt = V::none(), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::clone.out", {&va, &fmt, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<uint16_t>(), (std::vector<uint16_t>{0x3c00, 0x4000, 0xbc00}));
}

TEST(ToCopyKernelTest, ConvertsFloatToInt64AndBool) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {1.9f, -2.5f, 0.0f, 7.0f});
  TestTensor out(ETP_DTYPE_INT64, {4}), bout(ETP_DTYPE_BOOL, {4});
  V va = V::tensor(a), nb = V::boolean(false), fmt = V::none(), vo = V::tensor(out), vb = V::tensor(bout);
  ASSERT_EQ(h.run("aten::_to_copy.out", {&va, &nb, &fmt, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{1, -2, 0, 7}));
  ASSERT_EQ(h.run("aten::_to_copy.out", {&va, &nb, &fmt, &vb, &vb}), ETP_OK) << h.last_error();
  EXPECT_EQ(bout.logical<uint8_t>(), (std::vector<uint8_t>{1, 1, 0, 1}));  // logical<bool> cannot build (vector<bool>)
}

TEST(ToCopyKernelTest, NonBlockingIsRejected) {
  KernelHarness h;
  TestTensor a(ETP_DTYPE_FLOAT32, {2}), out(ETP_DTYPE_FLOAT32, {2});
  V va = V::tensor(a), nb = V::boolean(true), fmt = V::none(), vo = V::tensor(out);
  EXPECT_EQ(h.run("aten::_to_copy.out", {&va, &nb, &fmt, &vo, &vo}), ETP_ERR_NOT_SUPPORTED);
}

TEST(ToDimOrderCopyKernelTest, ConvertsLayoutAndDtype) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {1, 2, 1, 2}, {1, 2, 3, 4});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {0, 2, 3, 1});
  V va = V::tensor(a), nb = V::boolean(false), order = V::int_list({0, 2, 3, 1}), vo = V::tensor(out);
  ASSERT_EQ(h.run("dim_order_ops::_to_dim_order_copy.out", {&va, &nb, &order, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1, 2, 3, 4}));
  const float* raw = static_cast<const float*>(out.view().data);
  EXPECT_EQ((std::vector<float>(raw, raw + 4)), (std::vector<float>{1, 3, 2, 4}));
}

TEST(ToDimOrderCopyKernelTest, DimOrderThatDisagreesWithTheOutputFails) {
  KernelHarness h;
  TestTensor a(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}), out(ETP_DTYPE_FLOAT32, {1, 2, 1, 2});
  V va = V::tensor(a), nb = V::boolean(false), order = V::int_list({0, 2, 3, 1}), vo = V::tensor(out);
  EXPECT_EQ(h.run("dim_order_ops::_to_dim_order_copy.out", {&va, &nb, &order, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
}

TEST(CloneDimOrderKernelTest, ChannelsLastInputToContiguousOutput) {
  KernelHarness h;
  auto a = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1, 2, 2, 1}, {1, 2, 3, 4}, {0, 2, 3, 1});
  TestTensor out(ETP_DTYPE_INT64, {1, 2, 2, 1});
  V va = V::tensor(a), nb = V::boolean(false), order = V::none(), vo = V::tensor(out);
  ASSERT_EQ(h.run("dim_order_ops::_clone_dim_order.out", {&va, &nb, &order, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{1, 2, 3, 4}));
  TestTensor bad(ETP_DTYPE_INT32, {1, 2, 2, 1});
  V vb = V::tensor(bad);
  EXPECT_EQ(h.run("dim_order_ops::_clone_dim_order.out", {&va, &nb, &order, &vb, &vb}), ETP_ERR_DTYPE);
}

TEST(CopyInPlaceKernelTest, BroadcastsAndConvertsSrcIntoSelf) {
  KernelHarness h;
  TestTensor self(ETP_DTYPE_FLOAT32, {2, 3});
  auto src = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {3}, {1, 2, 3});
  V vs = V::tensor(self), vsrc = V::tensor(src), nb = V::boolean(false), ret = V::tensor(self);
  ASSERT_EQ(h.run("aten::copy_", {&vs, &vsrc, &nb, &ret}), ETP_OK) << h.last_error();
  EXPECT_EQ(self.logical<float>(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
}

TEST(CopyInPlaceKernelTest, SrcThatDoesNotBroadcastFails) {
  KernelHarness h;
  TestTensor self(ETP_DTYPE_FLOAT32, {2, 3}), src(ETP_DTYPE_FLOAT32, {2});
  V vs = V::tensor(self), vsrc = V::tensor(src), nb = V::boolean(false), ret = V::tensor(self);
  EXPECT_EQ(h.run("aten::copy_", {&vs, &vsrc, &nb, &ret}), ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("aten::copy_"), std::string::npos) << h.last_error();
}

TEST(CopyInPlaceKernelTest, EmptySelfIsANoOp) {
  KernelHarness h;
  TestTensor self(ETP_DTYPE_FLOAT32, {0, 3}), src(ETP_DTYPE_FLOAT32, {3});
  V vs = V::tensor(self), vsrc = V::tensor(src), nb = V::boolean(false), ret = V::tensor(self);
  EXPECT_EQ(h.run("aten::copy_", {&vs, &vsrc, &nb, &ret}), ETP_OK) << h.last_error();
}

// copy.out, detach_copy, lift_fresh_copy, fill.Tensor and empty: ExecuTorch's portable list.
TEST(CopyOutKernelTest, CopyOutBroadcastsSrcToSelfsShapeAndConverts) {
  KernelHarness h;
  TestTensor self(ETP_DTYPE_FLOAT32, {2, 3});
  auto src = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {3}, {1, 2, 3});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 3});
  V vs = V::tensor(self), vsrc = V::tensor(src), nb = V::boolean(false), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::copy.out", {&vs, &vsrc, &nb, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
  auto wide = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {4}, {1, 2, 3, 4});
  V vw = V::tensor(wide);
  EXPECT_EQ(h.run("aten::copy.out", {&vs, &vw, &nb, &vo, &vo}), ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("aten::copy.out"), std::string::npos) << h.last_error();
}

TEST(CopyOutKernelTest, DetachAndLiftFreshCopyAreCopiesOfOneDtype) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2, 2}, {1, -2, 3, -4});
  for (const char* op : {"aten::detach_copy.out", "aten::lift_fresh_copy.out"}) {
    TestTensor out(ETP_DTYPE_INT32, {2, 2});
    V va = V::tensor(a), vo = V::tensor(out);
    ASSERT_EQ(h.run(op, {&va, &vo, &vo}), ETP_OK) << op << ": " << h.last_error();
    EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{1, -2, 3, -4})) << op;
    TestTensor wrong(ETP_DTYPE_INT64, {2, 2});
    V vw = V::tensor(wrong);
    EXPECT_EQ(h.run(op, {&va, &vw, &vw}), ETP_ERR_DTYPE) << op;
  }
}

TEST(CopyOutKernelTest, ConjPhysicalOfARealTensorIsACopy) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3}, {1, -2, 3});
  TestTensor out(ETP_DTYPE_FLOAT32, {3});
  V va = V::tensor(a), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::_conj_physical.out", {&va, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1, -2, 3}));
}

TEST(CopyOutKernelTest, FillTensorTakesAZeroDimValueExactly) {
  KernelHarness h;
  TestTensor self(ETP_DTYPE_INT64, {3});
  auto value = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {}, {9007199254740993LL});  // 2^53 + 1: not a double
  TestTensor out(ETP_DTYPE_INT64, {3});
  V vs = V::tensor(self), vv = V::tensor(value), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::fill.Tensor_out", {&vs, &vv, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>(3, 9007199254740993LL)));
  auto vector = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1}, {1});
  V vvec = V::tensor(vector);
  EXPECT_EQ(h.run("aten::fill.Tensor_out", {&vs, &vvec, &vo, &vo}), ETP_ERR_SHAPE);
}

TEST(CopyOutKernelTest, EmptyResizesTheOutput) {
  KernelHarness h;
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 3});  // dynamic bound: 6 elements
  V size = V::int_list({3, 2}), fmt = V::none(), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::empty.out", {&size, &fmt, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{3, 2}));
  V negative = V::int_list({-1});
  EXPECT_EQ(h.run("aten::empty.out", {&negative, &fmt, &vo, &vo}), ETP_ERR_SHAPE);
}

TEST(CopyOutKernelTest, EmptyDimOrderAndDeviceCopies) {
  KernelHarness h;
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 3});
  V size = V::int_list({3, 2}), order = V::int_list({0, 1}), wrong = V::int_list({1, 0}), vo = V::tensor(out);
  ASSERT_EQ(h.run("dim_order_ops::_empty_dim_order.out", {&size, &order, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(h.run("dim_order_ops::_empty_dim_order.out", {&size, &wrong, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
  auto self = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {1.5f, -2});
  TestTensor copy(ETP_DTYPE_FLOAT32, {2});
  for (const char* op : {"et_copy::_h2d_copy.out", "et_copy::_d2h_copy.out"}) {
    V vs = V::tensor(self), vc = V::tensor(copy);
    ASSERT_EQ(h.run(op, {&vs, &vc, &vc}), ETP_OK) << op << ": " << h.last_error();
    EXPECT_EQ(copy.logical<float>(), (std::vector<float>{1.5f, -2})) << op;
  }
}

TEST(CopyOutKernelTest, EmptyPermutedResizesTheOutputAndChecksTheLayout) {
  KernelHarness h;
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 3});
  V size = V::int_list({3, 2}), layout = V::int_list({1, 0}), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::empty_permuted.out", {&size, &layout, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{3, 2}));
  V repeated = V::int_list({0, 0}), short_layout = V::int_list({0});
  EXPECT_EQ(h.run("aten::empty_permuted.out", {&size, &repeated, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("not a permutation"), std::string::npos) << h.last_error();
  EXPECT_EQ(h.run("aten::empty_permuted.out", {&size, &short_layout, &vo, &vo}), ETP_ERR_SHAPE);
}

}  // namespace
}  // namespace etp::test
