#include <gtest/gtest.h>

#include <numeric>

#include "kernel_util.h"
#include "plugins/portable/op_call.h"

namespace etp::test {
namespace {

using V = TestValue;

std::vector<float> iota(size_t n, float start = 0) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

TEST(PermuteCopyKernelTest, PermutesWithNegativeDims) {
  KernelHarness h;
  TestTensor a = range({2, 3});
  TestTensor out(ETP_DTYPE_FLOAT32, {3, 2});
  V va = V::tensor(a), dims = V::int_list({-1, 0}), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::permute_copy.out", {&va, &dims, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(PermuteCopyKernelTest, ChannelsLastInputToNhwcShapedOutput) {
  KernelHarness h;
  TestTensor a = range({1, 2, 1, 3}, {0, 2, 3, 1});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 1, 3, 2});
  V va = V::tensor(a), dims = V::int_list({0, 2, 3, 1}), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::permute_copy.out", {&va, &dims, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(PermuteCopyKernelTest, RepeatedDimFails) {
  KernelHarness h;
  TestTensor a = range({2, 3}), out(ETP_DTYPE_FLOAT32, {3, 2});
  V va = V::tensor(a), dims = V::int_list({1, -1}), vo = V::tensor(out);
  EXPECT_EQ(h.run("aten::permute_copy.out", {&va, &dims, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("aten::permute_copy.out"), std::string::npos);
}

TEST(ViewCopyKernelTest, InfersMinusOneAndReadsChannelsLastInLogicalOrder) {
  KernelHarness h;
  TestTensor a = range({1, 2, 2, 2}, {0, 2, 3, 1});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 4});
  V va = V::tensor(a), size = V::int_list({-1, 4}), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::view_copy.out", {&va, &size, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(out.logical<float>(), iota(8));
}

TEST(ViewCopyKernelTest, WrongNumelFailsWithShapeError) {
  KernelHarness h;
  TestTensor a = range({2, 3}), out(ETP_DTYPE_FLOAT32, {2, 3});
  V va = V::tensor(a), size = V::int_list({4, 2}), vo = V::tensor(out);
  EXPECT_EQ(h.run("aten::view_copy.out", {&va, &size, &vo, &vo}), ETP_ERR_SHAPE);
}

TEST(ViewCopyKernelTest, CopiesInt64) {
  KernelHarness h;
  auto a = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {2, 2}, {1, -2, 3, 1LL << 40});
  TestTensor out(ETP_DTYPE_INT64, {4});
  V va = V::tensor(a), size = V::int_list({4}), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::view_copy.out", {&va, &size, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{1, -2, 3, 1LL << 40}));
}

TEST(UnsqueezeSqueezeKernelTest, RoundTrip) {
  KernelHarness h;
  TestTensor a = range({2, 3});
  TestTensor mid(ETP_DTYPE_FLOAT32, {2, 3, 1}), back(ETP_DTYPE_FLOAT32, {2, 3}), back2(ETP_DTYPE_FLOAT32, {2, 3});
  V va = V::tensor(a), dim = V::integer(-1), vm = V::tensor(mid), vb = V::tensor(back), vb2 = V::tensor(back2);
  ASSERT_EQ(h.run("aten::unsqueeze_copy.out", {&va, &dim, &vm, &vm}), ETP_OK) << h.last_error();
  EXPECT_EQ(mid.sizes(), (std::vector<int64_t>{2, 3, 1}));
  V dims = V::int_list({0, 2});  // dim 0 has size 2 and stays
  ASSERT_EQ(h.run("aten::squeeze_copy.dims_out", {&vm, &dims, &vb, &vb}), ETP_OK) << h.last_error();
  EXPECT_EQ(back.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(back.logical<float>(), iota(6));
  V d2 = V::integer(2);
  ASSERT_EQ(h.run("aten::squeeze_copy.dim_out", {&vm, &d2, &vb2, &vb2}), ETP_OK) << h.last_error();
  EXPECT_EQ(back2.logical<float>(), iota(6));
  V bad = V::integer(4);
  EXPECT_EQ(h.run("aten::unsqueeze_copy.out", {&va, &bad, &vm, &vm}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("dim 4"), std::string::npos) << h.last_error();
}

TEST(TransposeKernelTest, TransposesAndTCopiesVectorsAsIs) {
  KernelHarness h;
  TestTensor a = range({2, 3}), out(ETP_DTYPE_FLOAT32, {3, 2}), out2(ETP_DTYPE_FLOAT32, {3, 2});
  V va = V::tensor(a), d0 = V::integer(0), d1 = V::integer(-1), vo = V::tensor(out), vo2 = V::tensor(out2);
  ASSERT_EQ(h.run("aten::transpose_copy.int_out", {&va, &d0, &d1, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  ASSERT_EQ(h.run("aten::t_copy.out", {&va, &vo2, &vo2}), ETP_OK) << h.last_error();
  EXPECT_EQ(out2.logical<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  TestTensor v = range({3}), vout(ETP_DTYPE_FLOAT32, {3}), r3(ETP_DTYPE_FLOAT32, {1, 1, 1});
  V vv = V::tensor(v), vvo = V::tensor(vout), vr3 = V::tensor(r3);
  ASSERT_EQ(h.run("aten::t_copy.out", {&vv, &vvo, &vvo}), ETP_OK) << h.last_error();
  EXPECT_EQ(vout.logical<float>(), iota(3));
  EXPECT_EQ(h.run("aten::t_copy.out", {&vr3, &vr3, &vr3}), ETP_ERR_SHAPE);
}

TEST(ExpandCopyKernelTest, BroadcastsSizeOneAndNewLeadingDims) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2, 1}, {7, 9});
  TestTensor out(ETP_DTYPE_INT32, {2, 2, 3});
  V va = V::tensor(a), size = V::int_list({2, -1, 3}), imp = V::boolean(false), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::expand_copy.out", {&va, &size, &imp, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{7, 7, 7, 9, 9, 9, 7, 7, 7, 9, 9, 9}));
  V bad = V::int_list({3, 3});
  EXPECT_EQ(h.run("aten::expand_copy.out", {&va, &bad, &imp, &vo, &vo}), ETP_ERR_SHAPE);
}

TEST(SliceCopyKernelTest, ClampsStartAndEndAndSteps) {
  KernelHarness h;
  TestTensor a = range({2, 5});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 5});
  V va = V::tensor(a), dim = V::integer(-1), start = V::integer(-4), end = V::integer(100), step = V::integer(2),
    vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::slice_copy.Tensor_out", {&va, &dim, &start, &end, &step, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1, 3, 6, 8}));
  V none = V::none(), zero = V::integer(0), one = V::integer(1);
  ASSERT_EQ(h.run("aten::slice_copy.Tensor_out", {&va, &zero, &none, &none, &one, &vo, &vo}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), iota(10));
  V big = V::integer(7);  // start past the end gives an empty slice
  ASSERT_EQ(h.run("aten::slice_copy.Tensor_out", {&va, &dim, &big, &none, &one, &vo, &vo}), ETP_OK);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(h.run("aten::slice_copy.Tensor_out", {&va, &dim, &none, &none, &zero, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
}

// The strided walker's dim merging (kernel_util.h coalesce_dims): size-1 dims go, dims contiguous
// in every stride set merge (broadcast zeros too), others stay, and a stride whose span would
// overflow int64 merges with nothing.
TEST(StridedWalkTest, CoalesceDimsMergesOnlyWhatEveryLayoutStepsOverContiguously) {
  {  // [1, 1, 16, 32, 1] out of an interleaved [.., 32, 2] source: one run of 512
    int64_t sizes[ETP_MAX_RANK] = {1, 1, 16, 32, 1};
    int64_t st[2][ETP_MAX_RANK] = {{512, 512, 32, 1, 1}, {1024, 1024, 64, 2, 0}};
    ASSERT_EQ(etp_portable::coalesce_dims<2>(5, sizes, st), 1);
    EXPECT_EQ(sizes[0], 512);
    EXPECT_EQ(st[0][0], 1);
    EXPECT_EQ(st[1][0], 2);
  }
  {  // the last dim halved in the source: rows of 32 stay apart; a broadcast side merges
    int64_t sizes[ETP_MAX_RANK] = {16, 32};
    int64_t st[2][ETP_MAX_RANK] = {{32, 1}, {64, 1}};
    ASSERT_EQ(etp_portable::coalesce_dims<2>(2, sizes, st), 2);
    int64_t broadcast_sizes[ETP_MAX_RANK] = {4, 5, 6};
    int64_t broadcast[1][ETP_MAX_RANK] = {{0, 0, 0}};
    ASSERT_EQ(etp_portable::coalesce_dims<1>(3, broadcast_sizes, broadcast), 1);
    EXPECT_EQ(broadcast_sizes[0], 120);
  }
  {  // one element left: rank 0
    int64_t sizes[ETP_MAX_RANK] = {1, 1};
    int64_t st[1][ETP_MAX_RANK] = {{7, 3}};
    EXPECT_EQ(etp_portable::coalesce_dims<1>(2, sizes, st), 0);
  }
  {  // stride * size past int64: not merged (and no signed overflow for UBSan to report)
    const int64_t huge = int64_t{1} << 62;
    int64_t sizes[ETP_MAX_RANK] = {2, 4};
    int64_t st[1][ETP_MAX_RANK] = {{0, huge}};
    EXPECT_EQ(etp_portable::coalesce_dims<1>(2, sizes, st), 2);
  }
}

// RoPE's interleaved pairs: x[..., 0:1] and x[..., 1:2] of a [1, 1, 16, 32, 2] tensor (stride 2
// under size-1 dims, which the walker folds into one run), then cat of the halves along the pair
// dim restores x; and row copies both above and below the 64 bytes where memmove takes over.
TEST(SliceCopyKernelTest, InterleavedPairsAndRowsOfEverySizeMatchTheDefinition) {
  KernelHarness h;
  TestTensor x = range({1, 1, 16, 32, 2});
  const std::vector<float> xs = x.logical<float>();
  TestTensor even(ETP_DTYPE_FLOAT32, {1, 1, 16, 32, 1}), odd(ETP_DTYPE_FLOAT32, {1, 1, 16, 32, 1});
  V vx = V::tensor(x), last = V::integer(-1), one = V::integer(1), two = V::integer(2), zero = V::integer(0);
  V ve = V::tensor(even), vo = V::tensor(odd);
  ASSERT_EQ(h.run("aten::slice_copy.Tensor_out", {&vx, &last, &zero, &one, &one, &ve, &ve}), ETP_OK) << h.last_error();
  ASSERT_EQ(h.run("aten::slice_copy.Tensor_out", {&vx, &last, &one, &two, &one, &vo, &vo}), ETP_OK) << h.last_error();
  std::vector<float> evens(512), odds(512);
  for (size_t i = 0; i < 512; ++i) evens[i] = xs[2 * i], odds[i] = xs[2 * i + 1];
  EXPECT_EQ(even.logical<float>(), evens);
  EXPECT_EQ(odd.logical<float>(), odds);
  TestTensor back(ETP_DTYPE_FLOAT32, {1, 1, 16, 32, 2});
  V list = V::tensor_list({&even, &odd}), vb = V::tensor(back);
  ASSERT_EQ(h.run("aten::cat.out", {&list, &last, &vb, &vb}), ETP_OK) << h.last_error();
  EXPECT_EQ(back.logical<float>(), xs);
  // Halves of rows of 8 (32 bytes, element by element) and 64 floats (128 bytes, memmove).
  for (int64_t row : {8, 64}) {
    TestTensor a = range({3, row});
    TestTensor out(ETP_DTYPE_FLOAT32, {3, row / 2});
    V va = V::tensor(a), start = V::integer(row / 2), end = V::integer(row), vout = V::tensor(out);
    ASSERT_EQ(h.run("aten::slice_copy.Tensor_out", {&va, &last, &start, &end, &one, &vout, &vout}), ETP_OK);
    std::vector<float> want;
    for (int64_t r = 0; r < 3; ++r) {
      for (int64_t k = row / 2; k < row; ++k) want.push_back(static_cast<float>(r * row + k));
    }
    EXPECT_EQ(out.logical<float>(), want) << "rows of " << row;
  }
}

TEST(SelectCopyKernelTest, SelectsWithNegativeIndexAndRejectsOutOfRange) {
  KernelHarness h;
  TestTensor a = range({2, 3}, {1, 0});  // column-major storage
  TestTensor out(ETP_DTYPE_FLOAT32, {2});
  V va = V::tensor(a), dim = V::integer(1), idx = V::integer(-1), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::select_copy.int_out", {&va, &dim, &idx, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{2, 5}));
  V bad = V::integer(3);
  EXPECT_EQ(h.run("aten::select_copy.int_out", {&va, &dim, &bad, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("index 3"), std::string::npos) << h.last_error();
}

TEST(CatKernelTest, ConcatenatesSkippingLegacyEmptyAndConverting) {
  KernelHarness h;
  TestTensor a = range({2, 1});
  auto b = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2, 2}, {10, 11, 12, 13});
  TestTensor empty(ETP_DTYPE_FLOAT32, {0});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 3});
  V list = V::tensor_list({&a, &empty, &b}), dim = V::integer(-1), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::cat.out", {&list, &dim, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 10, 11, 1, 12, 13}));
}

TEST(CatKernelTest, MismatchedShapesFail) {
  KernelHarness h;
  TestTensor a = range({2, 1}), b = range({3, 1}), out(ETP_DTYPE_FLOAT32, {5, 1});
  V list = V::tensor_list({&a, &b}), dim = V::integer(1), vo = V::tensor(out);
  EXPECT_EQ(h.run("aten::cat.out", {&list, &dim, &vo, &vo}), ETP_ERR_SHAPE);
  V dim0 = V::integer(0);
  EXPECT_EQ(h.run("aten::cat.out", {&list, &dim0, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 1, 0, 1, 2}));
}

TEST(CatKernelTest, WritesIntoAChannelsLastOutput) {
  KernelHarness h;
  TestTensor a = range({1, 1, 1, 2}), b = range({1, 1, 1, 2});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {0, 2, 3, 1});
  V list = V::tensor_list({&a, &b}), dim = V::integer(1), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::cat.out", {&list, &dim, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 1, 0, 1}));
}

TEST(StackKernelTest, StacksAtTheLastPosition) {
  KernelHarness h;
  TestTensor a = range({2}), b = range({2}, {});
  b.set_logical(std::vector<float>{5, 6});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 2});
  V list = V::tensor_list({&a, &b}), dim = V::integer(-1), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::stack.out", {&list, &dim, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 5, 1, 6}));
  V bad = V::integer(2);
  EXPECT_EQ(h.run("aten::stack.out", {&list, &bad, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
}

// Inputs of other dtypes convert to out's where torch.can_cast allows it (ExecuTorch's check).
TEST(StackKernelTest, ConvertsInputsToTheOutputDtype) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2}, {1, -2});
  TestTensor b = range({2});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 2});
  V list = V::tensor_list({&a, &b}), dim = V::integer(0), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::stack.out", {&list, &dim, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1, -2, 0, 1}));
  TestTensor int_out(ETP_DTYPE_INT32, {2, 2});
  V vi = V::tensor(int_out);
  EXPECT_EQ(h.run("aten::stack.out", {&list, &dim, &vi, &vi}), ETP_ERR_DTYPE);
  EXPECT_TRUE(names(h, "tensor 1 has dtype float32, which cannot be cast to out's int32")) << h.last_error();
  TestTensor cat_out(ETP_DTYPE_INT32, {4});
  V vc = V::tensor(cat_out);
  EXPECT_EQ(h.run("aten::cat.out", {&list, &dim, &vc, &vc}), ETP_ERR_DTYPE) << "cat: float32 into int32";
}

TEST(SplitKernelTest, SplitWithSizesFillsEveryOutput) {
  KernelHarness h;
  TestTensor a = range({2, 3});
  TestTensor o1(ETP_DTYPE_FLOAT32, {2, 1}), o2(ETP_DTYPE_FLOAT32, {2, 2});
  V va = V::tensor(a), sizes = V::int_list({1, 2}), dim = V::integer(1), outs = V::tensor_list({&o1, &o2});
  ASSERT_EQ(h.run("aten::split_with_sizes_copy.out", {&va, &sizes, &dim, &outs, &outs}), ETP_OK) << h.last_error();
  EXPECT_EQ(o1.logical<float>(), (std::vector<float>{0, 3}));
  EXPECT_EQ(o2.logical<float>(), (std::vector<float>{1, 2, 4, 5}));
  V bad = V::int_list({1, 1});
  EXPECT_EQ(h.run("aten::split_with_sizes_copy.out", {&va, &bad, &dim, &outs, &outs}), ETP_ERR_INVALID_ARGUMENT);
}

TEST(SplitKernelTest, SplitCopyMakesAShorterLastChunk) {
  KernelHarness h;
  TestTensor a = range({5});
  TestTensor o1(ETP_DTYPE_FLOAT32, {2}), o2(ETP_DTYPE_FLOAT32, {2}), o3(ETP_DTYPE_FLOAT32, {2});
  V va = V::tensor(a), size = V::integer(2), dim = V::integer(0), outs = V::tensor_list({&o1, &o2, &o3});
  ASSERT_EQ(h.run("aten::split_copy.Tensor_out", {&va, &size, &dim, &outs, &outs}), ETP_OK) << h.last_error();
  EXPECT_EQ(o3.sizes(), (std::vector<int64_t>{1}));
  EXPECT_EQ(o2.logical<float>(), (std::vector<float>{2, 3}));
  EXPECT_EQ(o3.logical<float>(), (std::vector<float>{4}));
}

TEST(ConstantPadKernelTest, PadsLastDimsAndCropsWithNegativePads) {
  KernelHarness h;
  TestTensor a = range({2, 2});
  TestTensor out(ETP_DTYPE_FLOAT32, {3, 3});
  V va = V::tensor(a), pad = V::int_list({1, -1, 0, 1}), value = V::real(9), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::constant_pad_nd.out", {&va, &pad, &value, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{9, 0, 9, 2, 9, 9}));
  V odd = V::int_list({1});
  EXPECT_EQ(h.run("aten::constant_pad_nd.out", {&va, &odd, &value, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
}

TEST(RepeatKernelTest, TilesWithANewLeadingDim) {
  KernelHarness h;
  auto a = TestTensor::of<uint8_t>(ETP_DTYPE_UINT8, {2}, {1, 2});
  TestTensor out(ETP_DTYPE_UINT8, {2, 4});
  V va = V::tensor(a), reps = V::int_list({2, 2}), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::repeat.out", {&va, &reps, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<uint8_t>(), (std::vector<uint8_t>{1, 2, 1, 2, 1, 2, 1, 2}));
  V few = V::int_list({});
  EXPECT_EQ(h.run("aten::repeat.out", {&va, &few, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
  V huge = V::int_list({1, int64_t{1} << 62});  // 2 * 2^62 elements: an error, not an overflow
  EXPECT_EQ(h.run("aten::repeat.out", {&va, &huge, &vo, &vo}), ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("repeat count 4611686018427387904 makes dim 1 overflow"), std::string::npos)
      << h.last_error();
}

TEST(FlipKernelTest, FlipsSeveralDims) {
  KernelHarness h;
  TestTensor a = range({2, 3}), out(ETP_DTYPE_FLOAT32, {2, 3});
  V va = V::tensor(a), dims = V::int_list({0, -1}), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::flip.out", {&va, &dims, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{5, 4, 3, 2, 1, 0}));
}

TEST(PixelShuffleKernelTest, ShufflesAndUnshufflesBack) {
  KernelHarness h;
  TestTensor a = range({1, 4, 1, 2});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 1, 2, 4}), back(ETP_DTYPE_FLOAT32, {1, 4, 1, 2}, {0, 2, 3, 1});
  V va = V::tensor(a), r = V::integer(2), vo = V::tensor(out), vb = V::tensor(back);
  ASSERT_EQ(h.run("aten::pixel_shuffle.out", {&va, &r, &vo, &vo}), ETP_OK) << h.last_error();
  // out[0,0,i,2w+j] = in[0, 2i+j, 0, w]
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
  ASSERT_EQ(h.run("aten::pixel_unshuffle.out", {&vo, &r, &vb, &vb}), ETP_OK) << h.last_error();
  EXPECT_EQ(back.logical<float>(), iota(8));
}

// Found by fuzz/method_fuzz: a factor of 2^49 squared overflowed int64. Any factor is an error
// naming it, never an overflow.
TEST(PixelShuffleKernelTest, AHugeFactorIsAnErrorNotAnOverflow) {
  KernelHarness h;
  TestTensor a = range({1, 4, 1, 2}), out(ETP_DTYPE_FLOAT32, {1, 1, 2, 4});
  V va = V::tensor(a), vo = V::tensor(out);
  V huge = V::integer(int64_t{1} << 49);
  EXPECT_EQ(h.run("aten::pixel_shuffle.out", {&va, &huge, &vo, &vo}), ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("not divisible by the square of 562949953421312"), std::string::npos) << h.last_error();
  TestTensor wide = range({1, 1, 4, 4}), packed(ETP_DTYPE_FLOAT32, {1, 16, 1, 1});
  V vw = V::tensor(wide), vp = V::tensor(packed), four = V::integer(4);
  ASSERT_EQ(h.run("aten::pixel_unshuffle.out", {&vw, &four, &vp, &vp}), ETP_OK) << h.last_error();
  TestTensor tall = range({1, int64_t{1} << 62, 0, 0}), none(ETP_DTYPE_FLOAT32, {1, 1, 0, 0});
  V vt = V::tensor(tall), vn = V::tensor(none);
  EXPECT_EQ(h.run("aten::pixel_unshuffle.out", {&vt, &four, &vn, &vn}), ETP_ERR_SHAPE);  // (2^62 * 16) channels
  EXPECT_NE(h.last_error().find("factor 4 makes the output's sizes overflow"), std::string::npos) << h.last_error();
}

// A program's step, split sizes, start/length, view sizes and pads can be anything: each sum or
// product of them with a size is checked (or computed without the overflow), so a hostile value
// is an error naming it, or the result PyTorch's rules give, never a signed overflow.
TEST(ShapeKernelTest, HugeStepsAndSizesOfSliceSplitNarrowAndViewAreExact) {
  KernelHarness h;
  TestTensor a = range({4, 4}), row(ETP_DTYPE_FLOAT32, {1, 4});
  V none = V::none(), zero = V::integer(0);
  for (int64_t step : {INT64_MAX, int64_t{1} << 62}) {  // (end - start + step - 1) and stride * step
    ASSERT_EQ(
        call(h, "aten::slice_copy.Tensor_out", {V::tensor(a), zero, none, none, V::integer(step), V::tensor(row)}),
        ETP_OK)
        << h.last_error();
    EXPECT_EQ(row.logical<float>(), (std::vector<float>{0, 1, 2, 3}));
  }
  auto src = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 4}, {7, 8, 9, 10});
  TestTensor scattered(ETP_DTYPE_FLOAT32, {4, 4});
  ASSERT_EQ(call(h, "aten::slice_scatter.out",
                 {V::tensor(a), V::tensor(src), zero, none, none, V::integer(INT64_MAX), V::tensor(scattered)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(scattered.logical<float>()[3], 10);
  EXPECT_EQ(scattered.logical<float>()[4], 4);

  TestTensor b = range({2, 3}), o1(ETP_DTYPE_FLOAT32, {2, 3}), o2(ETP_DTYPE_FLOAT32, {2, 1});
  V vb = V::tensor(b), one = V::integer(1), sizes = V::int_list({INT64_MAX, 1}), outs = V::tensor_list({&o1, &o2});
  EXPECT_EQ(h.run("aten::split_with_sizes_copy.out", {&vb, &sizes, &one, &outs, &outs}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("split size 9223372036854775807 at 0 passes the end of dim 1 of size 3"),
            std::string::npos)
      << h.last_error();
  V whole = V::integer(INT64_MAX), single = V::tensor_list({&o1});  // one chunk: (3 - 1) / INT64_MAX + 1
  ASSERT_EQ(h.run("aten::split_copy.Tensor_out", {&vb, &whole, &one, &single, &single}), ETP_OK) << h.last_error();
  EXPECT_EQ(o1.logical<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5}));

  TestTensor narrow(ETP_DTYPE_FLOAT32, {2, 3});
  EXPECT_EQ(call(h, "aten::narrow_copy.out", {vb, one, one, V::integer(INT64_MAX), V::tensor(narrow)}),
            ETP_ERR_INVALID_ARGUMENT);  // 1 + INT64_MAX
  EXPECT_NE(h.last_error().find("start 1 and length 9223372036854775807 do not fit a dim of size 3"), std::string::npos)
      << h.last_error();

  TestTensor view(ETP_DTYPE_FLOAT32, {6});
  const int64_t two32 = int64_t{1} << 32;
  EXPECT_EQ(call(h, "aten::view_copy.out", {vb, V::int_list({two32, two32, -1}), V::tensor(view)}), ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("size 4294967296 at dim 1 makes the sizes' product overflow int64"), std::string::npos)
      << h.last_error();
  EXPECT_EQ(call(h, "aten::view_copy.out", {vb, V::int_list({two32, two32}), V::tensor(view)}), ETP_ERR_SHAPE);
}

TEST(ConstantPadKernelTest, HugePadsAreAnErrorOrCropEverything) {
  KernelHarness h;
  TestTensor a = range({2}), out(ETP_DTYPE_FLOAT32, {2});
  V va = V::tensor(a), value = V::real(9), vo = V::tensor(out);
  V over = V::int_list({INT64_MAX, 1});
  EXPECT_EQ(h.run("aten::constant_pad_nd.out", {&va, &over, &value, &vo, &vo}), ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("padding (9223372036854775807, 1) makes dim 0 overflow int64"), std::string::npos)
      << h.last_error();
  V extremes = V::int_list({INT64_MIN, INT64_MAX});  // 2 + INT64_MIN + INT64_MAX = 1: all of self cropped
  ASSERT_EQ(h.run("aten::constant_pad_nd.out", {&va, &extremes, &value, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{9}));
  TestTensor b = range({2, 3}), out2(ETP_DTYPE_FLOAT32, {2, 3});
  V vb = V::tensor(b), vo2 = V::tensor(out2);
  const int64_t big = int64_t{1} << 62;
  for (int64_t lo : {big, -big}) {  // dim 0 keeps size 2, shifted past itself either way
    V pad = V::int_list({0, 0, lo, -lo});
    ASSERT_EQ(h.run("aten::constant_pad_nd.out", {&vb, &pad, &value, &vo2, &vo2}), ETP_OK) << h.last_error();
    EXPECT_EQ(out2.logical<float>(), std::vector<float>(6, 9));
  }
  TestTensor c = range({1, 3}), out3(ETP_DTYPE_FLOAT32, {1, 3});
  EXPECT_EQ(call(h, "aten::replication_pad1d.out", {V::tensor(c), V::int_list({INT64_MAX, 1}), V::tensor(out3)}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("padding (9223372036854775807, 1) makes dim 1 of size 3 overflow int64"),
            std::string::npos)
      << h.last_error();
}

TEST(ShapeKernelTest, DtypeMismatchNamesOperatorAndDtype) {
  KernelHarness h;
  TestTensor a = range({2}), out(ETP_DTYPE_INT64, {2});
  V va = V::tensor(a), vo = V::tensor(out);
  EXPECT_EQ(h.run("aten::alias_copy.out", {&va, &vo, &vo}), ETP_ERR_DTYPE);
  EXPECT_NE(h.last_error().find("aten::alias_copy.out"), std::string::npos);
  EXPECT_NE(h.last_error().find("int64"), std::string::npos);
}

TEST(ShapeKernelTest, StaticOutputOfTheWrongShapeFails) {
  KernelHarness h;
  TestTensor a = range({2, 3});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 3}, {}, -1, ETP_DYNAMISM_STATIC);
  V va = V::tensor(a), dims = V::int_list({1, 0}), vo = V::tensor(out);
  EXPECT_EQ(h.run("aten::permute_copy.out", {&va, &dims, &vo, &vo}), ETP_ERR_SHAPE);
}

// narrow, diagonal, as_strided, unfold, unbind, the scatters and roll (ExecuTorch's portable list).
TEST(MoreViewKernelTest, NarrowDiagonalAsStridedUnfold) {
  KernelHarness h;
  TestTensor a = range({3, 4});  // {{0..3}, {4..7}, {8..11}}
  TestTensor out(ETP_DTYPE_FLOAT32, {3, 2});
  ASSERT_EQ(
      call(h, "aten::narrow_copy.out", {V::tensor(a), V::integer(1), V::integer(-3), V::integer(2), V::tensor(out)}),
      ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1, 2, 5, 6, 9, 10}));
  EXPECT_EQ(
      call(h, "aten::narrow_copy.out", {V::tensor(a), V::integer(1), V::integer(3), V::integer(2), V::tensor(out)}),
      ETP_ERR_INVALID_ARGUMENT);

  TestTensor diag(ETP_DTYPE_FLOAT32, {3});
  ASSERT_EQ(
      call(h, "aten::diagonal_copy.out", {V::tensor(a), V::integer(1), V::integer(0), V::integer(1), V::tensor(diag)}),
      ETP_OK)
      << h.last_error();
  EXPECT_EQ(diag.logical<float>(), (std::vector<float>{1, 6, 11}));
  ASSERT_EQ(
      call(h, "aten::diagonal_copy.out", {V::tensor(a), V::integer(-1), V::integer(0), V::integer(1), V::tensor(diag)}),
      ETP_OK);
  EXPECT_EQ(diag.logical<float>(), (std::vector<float>{4, 9}));
  ASSERT_EQ(
      call(h, "aten::diagonal_copy.out", {V::tensor(a), V::integer(9), V::integer(0), V::integer(1), V::tensor(diag)}),
      ETP_OK);
  EXPECT_TRUE(diag.logical<float>().empty());

  TestTensor strided(ETP_DTYPE_FLOAT32, {2, 2});
  ASSERT_EQ(call(h, "aten::as_strided_copy.out",
                 {V::tensor(a), V::int_list({2, 2}), V::int_list({4, 2}), V::integer(1), V::tensor(strided)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(strided.logical<float>(), (std::vector<float>{1, 3, 5, 7}));
  EXPECT_EQ(call(h, "aten::as_strided_copy.out",
                 {V::tensor(a), V::int_list({2, 2}), V::int_list({8, 4}), V::none(), V::tensor(strided)}),
            ETP_ERR_INVALID_ARGUMENT)
      << "element 12 lies past the 12-element storage";

  TestTensor windows(ETP_DTYPE_FLOAT32, {3, 2, 2});
  ASSERT_EQ(
      call(h, "aten::unfold_copy.out", {V::tensor(a), V::integer(1), V::integer(2), V::integer(2), V::tensor(windows)}),
      ETP_OK)
      << h.last_error();
  EXPECT_EQ(windows.logical<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  TestTensor overlapping(ETP_DTYPE_FLOAT32, {3, 3, 2});
  ASSERT_EQ(call(h, "aten::unfold_copy.out",
                 {V::tensor(a), V::integer(1), V::integer(2), V::integer(1), V::tensor(overlapping)}),
            ETP_OK);
  EXPECT_EQ(overlapping.sizes(), (std::vector<int64_t>{3, 3, 2}));
  EXPECT_EQ(overlapping.logical<float>()[2], 1);  // window 1 of row 0 starts at 1
  TestTensor one(ETP_DTYPE_FLOAT32, {1, 4, 2});   // a step past the dim: one window, no stride * step
  ASSERT_EQ(call(h, "aten::unfold_copy.out",
                 {V::tensor(a), V::integer(0), V::integer(2), V::integer(INT64_MAX), V::tensor(one)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(one.logical<float>(), (std::vector<float>{0, 4, 1, 5, 2, 6, 3, 7}));
}

// A view whose furthest element is past INT64_MAX used to wrap negative and pass the bounds
// check, then read far outside self.
TEST(MoreViewKernelTest, AsStridedViewsBeyondInt64AreOutOfBounds) {
  KernelHarness h;
  TestTensor a(ETP_DTYPE_UINT8, {4}), out(ETP_DTYPE_UINT8, {2}), square(ETP_DTYPE_UINT8, {2, 2});
  EXPECT_EQ(call(h, "aten::as_strided_copy.out",
                 {V::tensor(a), V::int_list({2}), V::int_list({1}), V::integer(INT64_MAX), V::tensor(out)}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("(storage_offset 9223372036854775807) reaches past element 9223372036854775807"),
            std::string::npos)
      << h.last_error();
  const int64_t big = int64_t{1} << 62;  // 2^62 + 2^62 = 2^63
  EXPECT_EQ(call(h, "aten::as_strided_copy.out",
                 {V::tensor(a), V::int_list({2, 2}), V::int_list({big, big}), V::none(), V::tensor(square)}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(call(h, "aten::as_strided_copy.out",
                 {V::tensor(a), V::int_list({3}), V::int_list({INT64_MAX}), V::none(), V::tensor(out)}),
            ETP_ERR_INVALID_ARGUMENT)
      << "2 * INT64_MAX";
  TestTensor none(ETP_DTYPE_UINT8, {0, 2});  // an empty view reads nothing, whatever its strides
  ASSERT_EQ(call(h, "aten::as_strided_copy.out",
                 {V::tensor(a), V::int_list({0, 2}), V::int_list({big, big}), V::none(), V::tensor(none)}),
            ETP_OK)
      << h.last_error();
}

TEST(MoreViewKernelTest, UnbindScattersAndRoll) {
  KernelHarness h;
  TestTensor a = range({2, 3});  // {{0, 1, 2}, {3, 4, 5}}
  TestTensor c0(ETP_DTYPE_FLOAT32, {2}), c1(ETP_DTYPE_FLOAT32, {2}), c2(ETP_DTYPE_FLOAT32, {2});
  V va = V::tensor(a), dim = V::integer(1), outs = V::tensor_list({&c0, &c1, &c2});
  ASSERT_EQ(h.run("aten::unbind_copy.int_out", {&va, &dim, &outs}), ETP_OK) << h.last_error();
  EXPECT_EQ(c1.logical<float>(), (std::vector<float>{1, 4}));
  V two = V::tensor_list({&c0, &c1});
  EXPECT_EQ(h.run("aten::unbind_copy.int_out", {&va, &dim, &two}), ETP_ERR_INVALID_ARGUMENT);

  auto row = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3}, {-1, -2, -3});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 3});
  ASSERT_EQ(call(h, "aten::select_scatter.out",
                 {V::tensor(a), V::tensor(row), V::integer(0), V::integer(-1), V::tensor(out)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 1, 2, -1, -2, -3}));
  auto col = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 2}, {7, 8, 9, 10});
  ASSERT_EQ(
      call(h, "aten::slice_scatter.out",
           {V::tensor(a), V::tensor(col), V::integer(1), V::integer(0), V::none(), V::integer(2), V::tensor(out)}),
      ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{7, 1, 8, 9, 4, 10}));
  EXPECT_EQ(
      call(h, "aten::slice_scatter.out",
           {V::tensor(a), V::tensor(row), V::integer(1), V::integer(0), V::none(), V::integer(2), V::tensor(out)}),
      ETP_ERR_SHAPE);

  ASSERT_EQ(call(h, "aten::roll.out", {V::tensor(a), V::int_list({1, -1}), V::int_list({1, 0}), V::tensor(out)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{5, 3, 4, 2, 0, 1}));
  ASSERT_EQ(call(h, "aten::roll.out", {V::tensor(a), V::int_list({2}), V::int_list({}), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{4, 5, 0, 1, 2, 3}));  // flattened
  ASSERT_EQ(call(h, "aten::roll.out", {V::tensor(a), V::int_list({7}), V::int_list({1}), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{2, 0, 1, 5, 3, 4}));  // 7 mod 3 = 1
  EXPECT_EQ(call(h, "aten::roll.out", {V::tensor(a), V::int_list({1}), V::int_list({0, 1}), V::tensor(out)}),
            ETP_ERR_INVALID_ARGUMENT);
  TestTensor cl = range({1, 2, 1, 2}, {0, 2, 3, 1}), cl_out(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}, {0, 2, 3, 1});
  EXPECT_EQ(call(h, "aten::roll.out", {V::tensor(cl), V::int_list({1}), V::int_list({}), V::tensor(cl_out)}),
            ETP_ERR_NOT_SUPPORTED)
      << "rolling the flattened tensor is supported for row-major storage only";
  TestTensor scalar = range({});
  TestTensor sliced(ETP_DTYPE_FLOAT32, {1});
  EXPECT_EQ(call(h, "aten::slice_copy.Tensor_out",
                 {V::tensor(scalar), V::integer(0), V::none(), V::none(), V::integer(1), V::tensor(sliced)}),
            ETP_ERR_SHAPE);
}

TEST(ModePadKernelTest, ReflectionMirrorsWithoutTheEdgeAndReplicationRepeatsIt) {
  KernelHarness h;
  TestTensor a = range({1, 4});  // {0, 1, 2, 3}
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 7});
  ASSERT_EQ(call(h, "aten::reflection_pad1d.out", {V::tensor(a), V::int_list({2, 1}), V::tensor(out)}), ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{2, 1, 0, 1, 2, 3, 2}));  // torch.nn.ReflectionPad1d((2, 1))
  ASSERT_EQ(call(h, "aten::replication_pad1d.out", {V::tensor(a), V::int_list({2, 1}), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 0, 0, 1, 2, 3, 3}));
  EXPECT_EQ(call(h, "aten::reflection_pad1d.out", {V::tensor(a), V::int_list({4, 0}), V::tensor(out)}),
            ETP_ERR_INVALID_ARGUMENT)
      << "a reflection pad must be smaller than the dim";
  EXPECT_TRUE(names(h, "aten::reflection_pad1d.out"));

  TestTensor b = range({1, 2, 2});  // {{0, 1}, {2, 3}}
  TestTensor out2(ETP_DTYPE_FLOAT32, {1, 4, 3});
  ASSERT_EQ(call(h, "aten::reflection_pad2d.out", {V::tensor(b), V::int_list({1, 0, 1, 1}), V::tensor(out2)}), ETP_OK)
      << h.last_error();
  EXPECT_EQ(out2.logical<float>(), (std::vector<float>{3, 2, 3, 1, 0, 1, 3, 2, 3, 1, 0, 1}));
  ASSERT_EQ(call(h, "aten::replication_pad2d.out", {V::tensor(b), V::int_list({1, 0, 1, 1}), V::tensor(out2)}), ETP_OK);
  EXPECT_EQ(out2.logical<float>(), (std::vector<float>{0, 0, 1, 0, 0, 1, 2, 2, 3, 2, 2, 3}));

  TestTensor cube = range({1, 2, 2, 2});
  TestTensor out3(ETP_DTYPE_FLOAT32, {1, 4, 3, 2});
  ASSERT_EQ(call(h, "aten::replication_pad3d.out", {V::tensor(cube), V::int_list({0, 0, 1, 0, 1, 1}), V::tensor(out3)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(out3.sizes(), (std::vector<int64_t>{1, 4, 3, 2}));
  EXPECT_EQ(out3.logical<float>()[0], 0);
  EXPECT_EQ(out3.logical<float>()[23], 7);
  ASSERT_EQ(call(h, "aten::reflection_pad3d.out", {V::tensor(cube), V::int_list({1, 1, 1, 1, 1, 1}), V::tensor(out3)}),
            ETP_ERR_SHAPE)
      << "a 4x4x4 result does not fit the 24-element output";
  EXPECT_EQ(call(h, "aten::replication_pad2d.out", {V::tensor(a), V::int_list({1, 1}), V::tensor(out)}),
            ETP_ERR_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace etp::test
