#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "plugins/portable/op_call.h"

namespace etp::test {
namespace {

using V = TestValue;

TestTensor longs(std::vector<int64_t> sizes, std::initializer_list<int64_t> values) {
  return TestTensor::of<int64_t>(ETP_DTYPE_INT64, std::move(sizes), values);
}

TEST(IndexSelectKernelTest, SelectsRowsOfAChannelsLastTensor) {
  KernelHarness h;
  TestTensor a = range({1, 3, 1, 2}, {0, 2, 3, 1});
  auto idx = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {3}, {2, 0, 2});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 3, 1, 2});
  V va = V::tensor(a), dim = V::integer(-3), vi = V::tensor(idx), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::index_select.out", {&va, &dim, &vi, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{4, 5, 0, 1, 4, 5}));
}

TEST(IndexSelectKernelTest, OutOfRangeAndNegativeIndicesFail) {
  KernelHarness h;
  TestTensor a = range({3});
  auto idx = longs({2}, {0, 3});
  TestTensor out(ETP_DTYPE_FLOAT32, {2});
  out.set_logical(std::vector<float>{-1, -1});
  V va = V::tensor(a), dim = V::integer(0), vi = V::tensor(idx), vo = V::tensor(out);
  EXPECT_EQ(h.run("aten::index_select.out", {&va, &dim, &vi, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("index 3"), std::string::npos) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{-1, -1}));  // nothing written
  auto neg = longs({1}, {-1});
  V vn = V::tensor(neg);
  EXPECT_EQ(h.run("aten::index_select.out", {&va, &dim, &vn, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
  TestTensor fidx(ETP_DTYPE_FLOAT32, {1});
  V vf = V::tensor(fidx);
  EXPECT_EQ(h.run("aten::index_select.out", {&va, &dim, &vf, &vo, &vo}), ETP_ERR_DTYPE);
}

TEST(GatherKernelTest, GathersAlongTheLastDim) {
  KernelHarness h;
  TestTensor a = range({2, 3});
  auto idx = longs({2, 2}, {2, 0, 1, 1});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 2});
  V va = V::tensor(a), dim = V::integer(-1), vi = V::tensor(idx), sg = V::boolean(false), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::gather.out", {&va, &dim, &vi, &sg, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{2, 0, 4, 4}));
  auto bad = longs({1, 1}, {3});
  V vb = V::tensor(bad);
  EXPECT_EQ(h.run("aten::gather.out", {&va, &dim, &vb, &sg, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("index 3"), std::string::npos) << h.last_error();
}

TEST(ScatterKernelTest, ScattersSrcAndValue) {
  KernelHarness h;
  TestTensor self(ETP_DTYPE_FLOAT32, {2, 3});
  auto idx = longs({1, 3}, {1, 0, 1});
  auto src = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 3}, {7, 8, 9, 10, 11, 12});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 3});
  V vs = V::tensor(self), dim = V::integer(0), vi = V::tensor(idx), vsrc = V::tensor(src), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::scatter.src_out", {&vs, &dim, &vi, &vsrc, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 8, 0, 7, 0, 9}));
  V val = V::real(-1);
  ASSERT_EQ(h.run("aten::scatter.value_out", {&vs, &dim, &vi, &val, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, -1, 0, -1, 0, -1}));
  auto bad = longs({1, 1}, {2});
  V vb = V::tensor(bad);
  EXPECT_EQ(h.run("aten::scatter.value_out", {&vs, &dim, &vb, &val, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
}

TEST(ScatterKernelTest, ScatterAddAccumulatesDuplicateIndicesAndWrapsIntegers) {
  KernelHarness h;
  auto self = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {1, 1, 1, 1});
  auto idx = longs({5}, {0, 2, 0, 3, 0});
  auto src = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {5}, {1, 2, 3, 4, 5});
  TestTensor out(ETP_DTYPE_FLOAT32, {4});
  V vs = V::tensor(self), dim = V::integer(0), vi = V::tensor(idx), vsrc = V::tensor(src), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::scatter_add.out", {&vs, &dim, &vi, &vsrc, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{10, 1, 3, 5}));
  auto big = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {1}, {2147483647});
  auto one = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {1}, {1});
  auto zero = longs({1}, {0});
  TestTensor iout(ETP_DTYPE_INT32, {1});
  V vb = V::tensor(big), vone = V::tensor(one), vz = V::tensor(zero), vio = V::tensor(iout);
  ASSERT_EQ(h.run("aten::scatter_add.out", {&vb, &dim, &vz, &vone, &vio, &vio}), ETP_OK);
  EXPECT_EQ(iout.logical<int32_t>(), (std::vector<int32_t>{-2147483647 - 1}));  // wraps, as PyTorch
  auto far = longs({1}, {4});
  V vf = V::tensor(far);
  EXPECT_EQ(h.run("aten::scatter_add.out", {&vs, &dim, &vf, &vsrc, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
}

// A src with an extra dim of size 0 holds no element; each index element used to read one of
// them anyway. A nonempty index needs src's rank, as PyTorch.
TEST(ScatterKernelTest, ASrcOfAnotherRankIsAShapeError) {
  KernelHarness h;
  TestTensor self(ETP_DTYPE_FLOAT32, {2}), empty(ETP_DTYPE_FLOAT32, {2, 0}), out(ETP_DTYPE_FLOAT32, {2});
  auto idx = longs({2}, {0, 1});
  V vs = V::tensor(self), dim = V::integer(0), vi = V::tensor(idx), vsrc = V::tensor(empty), vo = V::tensor(out);
  EXPECT_EQ(h.run("aten::scatter.src_out", {&vs, &dim, &vi, &vsrc, &vo, &vo}), ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("index has rank 1 but src has rank 2"), std::string::npos) << h.last_error();
  EXPECT_EQ(h.run("aten::scatter_add.out", {&vs, &dim, &vi, &vsrc, &vo, &vo}), ETP_ERR_SHAPE);
  auto one = longs({}, {1});  // a 0-dim index reads one src element; an empty 1-D src has none
  TestTensor none(ETP_DTYPE_FLOAT32, {0});
  V vone = V::tensor(one), vn = V::tensor(none);
  EXPECT_EQ(h.run("aten::scatter.src_out", {&vs, &dim, &vone, &vn, &vo, &vo}), ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("index size 1 exceeds src size 0 at dim 0"), std::string::npos) << h.last_error();
  auto two = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {5, 6});  // same rank still scatters
  V vtwo = V::tensor(two);
  ASSERT_EQ(h.run("aten::scatter.src_out", {&vs, &dim, &vone, &vtwo, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 5}));
}

// repeats that sum past INT64_MAX used to wrap to 1, sizing out to one element before writing
// about 2^63 of them.
TEST(DataDependentKernelTest, RepeatInterleaveRepeatsWhoseSumOverflowsAreAnError) {
  KernelHarness h;
  auto repeats = longs({3}, {INT64_MAX, INT64_MAX, 3});
  TestTensor out(ETP_DTYPE_INT64, {1});
  V vr = V::tensor(repeats), size = V::none(), vo = V::tensor(out);
  EXPECT_EQ(h.run("aten::repeat_interleave.Tensor_out", {&vr, &size, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("repeats[1] = 9223372036854775807 makes the repeats' sum overflow"), std::string::npos)
      << h.last_error();
}

TEST(DataDependentKernelTest, MaskedSelectNonzeroAndRepeatInterleave) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 3}, {0, 1, 0, 2, 0, 3});
  auto mask = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {3}, {1, 1, 0});  // broadcast over rows
  TestTensor picked(ETP_DTYPE_FLOAT32, {6});
  V va = V::tensor(a), vm = V::tensor(mask), vp = V::tensor(picked);
  ASSERT_EQ(h.run("aten::masked_select.out", {&va, &vm, &vp, &vp}), ETP_OK) << h.last_error();
  EXPECT_EQ(picked.logical<float>(), (std::vector<float>{0, 1, 2, 0}));

  TestTensor where(ETP_DTYPE_INT64, {6, 2});
  V vw = V::tensor(where);
  ASSERT_EQ(h.run("aten::nonzero.out", {&va, &vw, &vw}), ETP_OK) << h.last_error();
  EXPECT_EQ(where.sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(where.logical<int64_t>(), (std::vector<int64_t>{0, 1, 1, 0, 1, 2}));
  auto scalar = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {}, {5});
  TestTensor none(ETP_DTYPE_INT64, {1, 0});
  V vsc = V::tensor(scalar), vn = V::tensor(none);
  ASSERT_EQ(h.run("aten::nonzero.out", {&vsc, &vn, &vn}), ETP_OK) << h.last_error();
  EXPECT_EQ(none.sizes(), (std::vector<int64_t>{1, 0}));  // one match, no index columns

  auto repeats = longs({3}, {2, 0, 3});
  TestTensor flat(ETP_DTYPE_INT64, {5});
  V vr = V::tensor(repeats), size = V::none(), vf = V::tensor(flat);
  ASSERT_EQ(h.run("aten::repeat_interleave.Tensor_out", {&vr, &size, &vf, &vf}), ETP_OK) << h.last_error();
  EXPECT_EQ(flat.logical<int64_t>(), (std::vector<int64_t>{0, 0, 2, 2, 2}));
  V wrong = V::integer(4);
  EXPECT_EQ(h.run("aten::repeat_interleave.Tensor_out", {&vr, &wrong, &vf, &vf}), ETP_ERR_INVALID_ARGUMENT);
}

TEST(DataDependentKernelTest, MaskedScatterTakesSourceElementsInOrder) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 3}, {0, 1, 2, 3, 4, 5});
  auto mask = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {2, 1}, {0, 1});  // broadcast: all of row 1
  auto source = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 2}, {10, 11, 12, 13});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 3});
  V va = V::tensor(a), vm = V::tensor(mask), vs = V::tensor(source), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::masked_scatter.out", {&va, &vm, &vs, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 1, 2, 10, 11, 12}));
  auto small = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {1, 2});
  V vsmall = V::tensor(small);
  EXPECT_EQ(h.run("aten::masked_scatter.out", {&va, &vm, &vsmall, &vo, &vo}), ETP_ERR_SHAPE)
      << "three selected positions, two source elements";
}

TEST(DataDependentKernelTest, TopkSortsLargestOrSmallestWithNanLargest) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 4}, {3, 1, 4, 1, 5, NAN, 2, 6});
  TestTensor values(ETP_DTYPE_FLOAT32, {2, 2}), indices(ETP_DTYPE_INT64, {2, 2});
  V va = V::tensor(a), k = V::integer(2), dim = V::integer(-1), yes = V::boolean(true), no = V::boolean(false),
    vv = V::tensor(values), vi = V::tensor(indices);
  ASSERT_EQ(h.run("aten::topk.values", {&va, &k, &dim, &yes, &yes, &vv, &vi, &vi}), ETP_OK) << h.last_error();
  const std::vector<float> top = values.logical<float>();
  EXPECT_EQ(top[0], 4);
  EXPECT_EQ(top[1], 3);
  EXPECT_TRUE(std::isnan(top[2]));  // NaN ranks as the largest
  EXPECT_EQ(top[3], 6);
  EXPECT_EQ(indices.logical<int64_t>(), (std::vector<int64_t>{2, 0, 1, 3}));
  ASSERT_EQ(h.run("aten::topk.values", {&va, &k, &dim, &no, &yes, &vv, &vi, &vi}), ETP_OK);
  EXPECT_EQ(values.logical<float>(), (std::vector<float>{1, 1, 2, 5}));
  EXPECT_EQ(indices.logical<int64_t>(), (std::vector<int64_t>{1, 3, 2, 0}));  // ties: lower index first
  V big = V::integer(5);
  EXPECT_EQ(h.run("aten::topk.values", {&va, &big, &dim, &yes, &yes, &vv, &vi, &vi}), ETP_ERR_INVALID_ARGUMENT);
}

TEST(EmbeddingKernelTest, LooksUpRowsForA2dIndexTensor) {
  KernelHarness h;
  TestTensor w = range({3, 2});
  auto idx = longs({2, 2}, {2, 0, 1, 2});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 2, 2});
  V vw = V::tensor(w), vi = V::tensor(idx), pad = V::integer(-1), f = V::boolean(false), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::embedding.out", {&vw, &vi, &pad, &f, &f, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{4, 5, 0, 1, 2, 3, 4, 5}));
}

TEST(EmbeddingKernelTest, OutOfRangeTokenFailsWithoutReading) {
  KernelHarness h;
  TestTensor w = range({3, 2});
  auto idx = longs({2}, {1, 1000000});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 2});
  V vw = V::tensor(w), vi = V::tensor(idx), pad = V::integer(-1), f = V::boolean(false), vo = V::tensor(out);
  EXPECT_EQ(h.run("aten::embedding.out", {&vw, &vi, &pad, &f, &f, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("index 1000000"), std::string::npos) << h.last_error();
}

TEST(MaskedFillKernelTest, BroadcastsTheMask) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2, 2}, {1, 2, 3, 4});
  auto mask = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {2}, {0, 1});
  TestTensor out(ETP_DTYPE_INT32, {2, 2});
  V va = V::tensor(a), vm = V::tensor(mask), val = V::integer(-7), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::masked_fill.Scalar_out", {&va, &vm, &val, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<int32_t>(), (std::vector<int32_t>{1, -7, 3, -7}));
  TestTensor notbool(ETP_DTYPE_UINT8, {2});
  V vnb = V::tensor(notbool);
  EXPECT_EQ(h.run("aten::masked_fill.Scalar_out", {&va, &vnb, &val, &vo, &vo}), ETP_ERR_DTYPE);
}

TEST(TrilKernelTest, KeepsTheLowerTriangleWithADiagonalOffset) {
  KernelHarness h;
  TestTensor a = range({3, 3}, {1, 0});
  TestTensor out(ETP_DTYPE_FLOAT32, {3, 3});
  V va = V::tensor(a), diag = V::integer(-1), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::tril.out", {&va, &diag, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 0, 0, 3, 0, 0, 6, 7, 0}));
}

TEST(IndexTensorKernelTest, AdjacentIndicesReplaceTheirDims) {
  KernelHarness h;
  TestTensor a = range({2, 3, 2});
  auto idx = longs({2}, {2, -3});  // negative counts from the end
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 2, 2});
  V va = V::tensor(a), list = V::tensor_list({nullptr, &idx}, /*optional=*/true), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::index.Tensor_out", {&va, &list, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{4, 5, 0, 1, 10, 11, 6, 7}));
}

TEST(IndexTensorKernelTest, NonAdjacentIndicesGoFirstAndBroadcast) {
  KernelHarness h;
  TestTensor a = range({2, 3, 2});
  auto i0 = longs({2, 1}, {0, 1});
  auto i2 = longs({1}, {1});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 1, 3});
  V va = V::tensor(a), list = V::tensor_list({&i0, nullptr, &i2}, true), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::index.Tensor_out", {&va, &list, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 1, 3}));
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1, 3, 5, 7, 9, 11}));
}

TEST(IndexTensorKernelTest, BoolMaskSelectsTrueElements) {
  KernelHarness h;
  TestTensor a = range({2, 2});
  auto mask = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {2, 2}, {1, 0, 0, 1});
  TestTensor out(ETP_DTYPE_FLOAT32, {4}, {}, 4);
  V va = V::tensor(a), list = V::tensor_list({&mask}, true), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::index.Tensor_out", {&va, &list, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2}));
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 3}));
}

TEST(IndexTensorKernelTest, OutOfRangeIndexAndTooManyIndicesFail) {
  KernelHarness h;
  TestTensor a = range({2, 3});
  auto bad = longs({1}, {-4});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 1});
  V va = V::tensor(a), list = V::tensor_list({nullptr, &bad}, true), vo = V::tensor(out);
  EXPECT_EQ(h.run("aten::index.Tensor_out", {&va, &list, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("index -4"), std::string::npos) << h.last_error();
  auto ok = longs({1}, {0});
  V three = V::tensor_list({&ok, &ok, &ok}, true);
  EXPECT_EQ(h.run("aten::index.Tensor_out", {&va, &three, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
}

TEST(IndexPutKernelTest, WritesAndAccumulatesWithRepeatedIndices) {
  KernelHarness h;
  TestTensor self = range({4});
  auto idx = longs({3}, {1, 3, 1});
  auto vals = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3}, {10, 20, 30});
  TestTensor out(ETP_DTYPE_FLOAT32, {4});
  V vs = V::tensor(self), list = V::tensor_list({&idx}, true), vv = V::tensor(vals), acc = V::boolean(true),
    vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::index_put.out", {&vs, &list, &vv, &acc, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 41, 2, 23}));
  EXPECT_EQ(self.logical<float>(), (std::vector<float>{0, 1, 2, 3}));  // self untouched
}

// accumulate=True adds in the tensor's dtype: int64 and int32 wrap, as PyTorch (and as
// scatter_add), instead of a signed overflow.
TEST(IndexPutKernelTest, AccumulateWrapsIntegers) {
  KernelHarness h;
  auto self = longs({2}, {INT64_MAX, 5});
  auto idx = longs({1}, {0});
  auto vals = longs({1}, {1});
  TestTensor out(ETP_DTYPE_INT64, {2});
  V vs = V::tensor(self), list = V::tensor_list({&idx}, true), vv = V::tensor(vals), acc = V::boolean(true),
    vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::index_put.out", {&vs, &list, &vv, &acc, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{INT64_MIN, 5}));
  auto self32 = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {1}, {INT32_MAX});
  auto vals32 = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {1}, {1});
  TestTensor out32(ETP_DTYPE_INT32, {1});
  V vs32 = V::tensor(self32), vv32 = V::tensor(vals32), vo32 = V::tensor(out32);
  ASSERT_EQ(h.run("aten::index_put.out", {&vs32, &list, &vv32, &acc, &vo32, &vo32}), ETP_OK) << h.last_error();
  EXPECT_EQ(out32.logical<int32_t>(), (std::vector<int32_t>{INT32_MIN}));
}

TEST(IndexPutKernelTest, KvCacheStyleUpdateBroadcastsValuesOverKeptDims) {
  KernelHarness h;
  TestTensor cache(ETP_DTYPE_FLOAT32, {1, 4, 2});  // [batch, seq, dim]
  auto pos = longs({2}, {2, 3});
  auto vals = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 2}, {1, 2, 3, 4});
  V vc = V::tensor(cache), list = V::tensor_list({nullptr, &pos}, true), vv = V::tensor(vals), acc = V::boolean(false),
    ret = V::tensor(cache);
  ASSERT_EQ(h.run("aten::index_put_", {&vc, &list, &vv, &acc, &ret}), ETP_OK) << h.last_error();
  EXPECT_EQ(cache.logical<float>(), (std::vector<float>{0, 0, 0, 0, 1, 2, 3, 4}));
}

TEST(IndexPutKernelTest, OutOfRangeLeavesOutputUntouched) {
  KernelHarness h;
  TestTensor self = range({3});
  auto idx = longs({1}, {5});
  auto vals = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1}, {9});
  TestTensor out(ETP_DTYPE_FLOAT32, {3});
  V vs = V::tensor(self), list = V::tensor_list({&idx}, true), vv = V::tensor(vals), acc = V::boolean(false),
    vo = V::tensor(out);
  EXPECT_EQ(h.run("aten::index_put.out", {&vs, &list, &vv, &acc, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("index 5"), std::string::npos) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{0, 0, 0}));
  TestTensor ivals(ETP_DTYPE_INT32, {1});
  V vi = V::tensor(ivals);
  auto good = longs({1}, {0});
  V glist = V::tensor_list({&good}, true);
  EXPECT_EQ(h.run("aten::index_put.out", {&vs, &glist, &vi, &acc, &vo, &vo}), ETP_ERR_DTYPE);
}

// A bool tensor's bytes may be other than 0 and 1 (planned memory of a bad program, a caller's
// input): the masking, copying and scanning kernels read them as bytes, any nonzero byte true,
// never as `bool` (undefined behaviour, which the sanitizer pass of this test would report).
TEST(DataDependentKernelTest, BoolBytesOtherThanZeroAndOneReadAsTrue) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3}, {10, 20, 30});
  auto mask = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {3}, {0, 2, 255});
  TestTensor picked(ETP_DTYPE_FLOAT32, {3});
  V va = V::tensor(a), vm = V::tensor(mask), vp = V::tensor(picked);
  ASSERT_EQ(h.run("aten::masked_select.out", {&va, &vm, &vp, &vp}), ETP_OK) << h.last_error();
  EXPECT_EQ(picked.logical<float>(), (std::vector<float>{20, 30}));

  auto flags = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {4}, {7, 0, 0, 128});
  TestTensor filled(ETP_DTYPE_BOOL, {4});
  auto fill_mask = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {4}, {0, 0, 3, 0});
  V vfl = V::tensor(flags), vfm = V::tensor(fill_mask), yes = V::boolean(true), vfd = V::tensor(filled);
  ASSERT_EQ(h.run("aten::masked_fill.Scalar_out", {&vfl, &vfm, &yes, &vfd, &vfd}), ETP_OK) << h.last_error();
  EXPECT_EQ(filled.logical<uint8_t>(), (std::vector<uint8_t>{1, 0, 1, 1}));

  TestTensor where(ETP_DTYPE_INT64, {4, 1});
  V vw = V::tensor(where);
  ASSERT_EQ(h.run("aten::nonzero.out", {&vfl, &vw, &vw}), ETP_OK) << h.last_error();
  EXPECT_EQ(where.logical<int64_t>(), (std::vector<int64_t>{0, 3}));

  auto square = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {2, 2}, {5, 6, 7, 0});
  TestTensor lower(ETP_DTYPE_BOOL, {2, 2});
  V vsq = V::tensor(square), diag = V::integer(0), vlo = V::tensor(lower);
  ASSERT_EQ(h.run("aten::tril.out", {&vsq, &diag, &vlo, &vlo}), ETP_OK) << h.last_error();
  EXPECT_EQ(lower.logical<uint8_t>(), (std::vector<uint8_t>{1, 0, 1, 0}));

  TestTensor as_float(ETP_DTYPE_FLOAT32, {4});
  V nb = V::boolean(false), fmt = V::none(), vf = V::tensor(as_float);
  ASSERT_EQ(h.run("aten::_to_copy.out", {&vfl, &nb, &fmt, &vf, &vf}), ETP_OK) << h.last_error();
  EXPECT_EQ(as_float.logical<float>(), (std::vector<float>{1, 0, 0, 1}));
}

}  // namespace
}  // namespace etp::test
