#include <gtest/gtest.h>

#include <cmath>

#include "plugins/portable/kernel_harness.h"
#include "plugins/portable/op_call.h"

namespace etp::test {
namespace {

// [2, 3] = {{1, 2, 3}, {4, 5, 6}}
TestTensor matrix() { return TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 3}, {1, 2, 3, 4, 5, 6}); }

TEST(ReductionKernelTest, SumOverNegativeDimWithAndWithoutKeepdim) {
  KernelHarness h;
  auto a = matrix();
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 1});
  ASSERT_EQ(call(h, "aten::sum.IntList_out", {V::tensor(a), V::int_list({-1}), V::boolean(true), V::none(),
                                               V::tensor(out)}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{6, 15}));
  ASSERT_EQ(call(h, "aten::sum.IntList_out", {V::tensor(a), V::int_list({0}), V::boolean(false), V::none(),
                                               V::tensor(out)}), ETP_ERR_SHAPE)
      << "a static 2x1 capacity cannot hold 3 elements";
  TestTensor out3(ETP_DTYPE_FLOAT32, {3});
  ASSERT_EQ(call(h, "aten::sum.IntList_out", {V::tensor(a), V::int_list({0}), V::boolean(false), V::none(),
                                               V::tensor(out3)}), ETP_OK);
  EXPECT_EQ(out3.logical<float>(), (std::vector<float>{5, 7, 9}));
}

TEST(ReductionKernelTest, SumOverNoneOrEmptyListReducesEverything) {
  KernelHarness h;
  auto a = matrix();
  TestTensor out(ETP_DTYPE_FLOAT32, {});
  ASSERT_EQ(call(h, "aten::sum.IntList_out", {V::tensor(a), V::none(), V::boolean(false), V::none(), V::tensor(out)}),
            ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{21}));
  ASSERT_EQ(call(h, "aten::sum.IntList_out", {V::tensor(a), V::int_list({}), V::boolean(false), V::none(),
                                               V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{21}));
}

TEST(ReductionKernelTest, SumOfBoolsCountsAndDtypeArgumentMustMatchOut) {
  KernelHarness h;
  auto b = TestTensor::of<uint8_t>(ETP_DTYPE_BOOL, {4}, {1, 0, 1, 1});
  TestTensor out(ETP_DTYPE_INT64, {});
  ASSERT_EQ(call(h, "aten::sum.IntList_out", {V::tensor(b), V::none(), V::boolean(false), V::none(), V::tensor(out)}),
            ETP_OK);
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{3}));
  EXPECT_EQ(call(h, "aten::sum.IntList_out", {V::tensor(b), V::none(), V::boolean(false),
                                               V::integer(ETP_DTYPE_FLOAT32), V::tensor(out)}), ETP_ERR_DTYPE);
  auto f = matrix();
  EXPECT_EQ(call(h, "aten::sum.IntList_out", {V::tensor(f), V::none(), V::boolean(false), V::none(), V::tensor(out)}),
            ETP_ERR_DTYPE) << "float input into int output without dtype";
  EXPECT_TRUE(names(h, "aten::sum.IntList_out"));
}

TEST(ReductionKernelTest, BadAndRepeatedDimsAreInvalidArguments) {
  KernelHarness h;
  auto a = matrix();
  TestTensor out(ETP_DTYPE_FLOAT32, {3});
  EXPECT_EQ(call(h, "aten::sum.IntList_out", {V::tensor(a), V::int_list({2}), V::boolean(false), V::none(),
                                               V::tensor(out)}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(h, "aten::sum.IntList_out") && names(h, "dim 2")) << h.last_error();
  EXPECT_EQ(call(h, "aten::mean.out", {V::tensor(a), V::int_list({0, -2}), V::boolean(false), V::none(),
                                        V::tensor(out)}), ETP_ERR_INVALID_ARGUMENT);
}

TEST(ReductionKernelTest, MeanOverAChannelsLastInputIntoAChannelsLastOutput) {
  KernelHarness h;
  // Logical [1, 2, 2, 2], mean over H and W with keepdim; channels-last in and out.
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 2, 2}, {1, 2, 3, 4, 10, 20, 30, 40}, {0, 2, 3, 1});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 1, 1}, {0, 2, 3, 1});
  ASSERT_EQ(call(h, "aten::mean.out", {V::tensor(a), V::int_list({2, 3}), V::boolean(true), V::none(),
                                        V::tensor(out)}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{2.5f, 25}));
  auto i = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2}, {1, 2});
  TestTensor iout(ETP_DTYPE_INT32, {});
  EXPECT_EQ(call(h, "aten::mean.out", {V::tensor(i), V::none(), V::boolean(false), V::none(), V::tensor(iout)}),
            ETP_ERR_DTYPE);
}

TEST(ReductionKernelTest, AmaxAminPropagateNanAndRejectEmptyReductions) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 2}, {1, NAN, 3, -4});
  TestTensor out(ETP_DTYPE_FLOAT32, {2});
  ASSERT_EQ(call(h, "aten::amax.out", {V::tensor(a), V::int_list({1}), V::boolean(false), V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {NAN, 3});
  ASSERT_EQ(call(h, "aten::amin.out", {V::tensor(a), V::int_list({0}), V::boolean(false), V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {1, NAN});
  TestTensor empty(ETP_DTYPE_FLOAT32, {0, 2}), eout(ETP_DTYPE_FLOAT32, {2});
  EXPECT_EQ(call(h, "aten::amax.out", {V::tensor(empty), V::int_list({0}), V::boolean(false), V::tensor(eout)}),
            ETP_ERR_SHAPE);
  ASSERT_EQ(call(h, "aten::amax.out", {V::tensor(empty), V::int_list({1}), V::boolean(false), V::tensor(eout)}),
            ETP_OK) << "reducing a nonempty dim of an empty tensor is fine";
  EXPECT_EQ(eout.sizes(), (std::vector<int64_t>{0}));
}

TEST(ReductionKernelTest, ArgmaxTakesTheFirstOfTiesAndFlattensWithoutDim) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2, 3}, {5, 9, 9, 7, 1, 7});
  TestTensor out(ETP_DTYPE_INT64, {2});
  ASSERT_EQ(call(h, "aten::argmax.out", {V::tensor(a), V::integer(1), V::boolean(false), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{1, 0}));
  ASSERT_EQ(call(h, "aten::argmin.out", {V::tensor(a), V::integer(-1), V::boolean(false), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{0, 1}));
  TestTensor flat(ETP_DTYPE_INT64, {});
  ASSERT_EQ(call(h, "aten::argmax.out", {V::tensor(a), V::none(), V::boolean(false), V::tensor(flat)}), ETP_OK);
  EXPECT_EQ(flat.logical<int64_t>(), (std::vector<int64_t>{1}));
  TestTensor wrong(ETP_DTYPE_INT32, {});
  EXPECT_EQ(call(h, "aten::argmax.out", {V::tensor(a), V::none(), V::boolean(false), V::tensor(wrong)}),
            ETP_ERR_DTYPE);
}

TEST(ReductionKernelTest, MaxDimWritesValuesAndIndices) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 3}, {1, 8, 3, 4, -5, 6});
  TestTensor values(ETP_DTYPE_FLOAT32, {1, 3}), indices(ETP_DTYPE_INT64, {1, 3});
  TestValue ret = V::tensor_list({&values, &indices});
  std::vector<TestValue> args = {V::tensor(a), V::integer(0), V::boolean(true), V::tensor(values), V::tensor(indices),
                                 ret};
  ASSERT_EQ(h.run("aten::max.dim_max", {&args[0], &args[1], &args[2], &args[3], &args[4], &args[5]}), ETP_OK)
      << h.last_error();
  EXPECT_EQ(values.logical<float>(), (std::vector<float>{4, 8, 6}));
  EXPECT_EQ(indices.logical<int64_t>(), (std::vector<int64_t>{1, 0, 1}));
  ASSERT_EQ(h.run("aten::min.dim_min", {&args[0], &args[1], &args[2], &args[3], &args[4], &args[5]}), ETP_OK);
  EXPECT_EQ(values.logical<float>(), (std::vector<float>{1, -5, 3}));
  EXPECT_EQ(indices.logical<int64_t>(), (std::vector<int64_t>{0, 1, 0}));
}

TEST(ReductionKernelTest, VarUsesTheCorrection) {
  KernelHarness h;
  auto a = matrix();
  TestTensor out(ETP_DTYPE_FLOAT32, {2});
  ASSERT_EQ(call(h, "aten::var.correction_out", {V::tensor(a), V::int_list({1}), V::none(), V::boolean(false),
                                                  V::tensor(out)}), ETP_OK) << h.last_error();
  expect_near(out.logical<float>(), {1, 1});
  ASSERT_EQ(call(h, "aten::var.correction_out", {V::tensor(a), V::int_list({1}), V::integer(0), V::boolean(false),
                                                  V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {2.0 / 3, 2.0 / 3});
  TestTensor all(ETP_DTYPE_FLOAT32, {});
  ASSERT_EQ(call(h, "aten::var.correction_out", {V::tensor(a), V::none(), V::none(), V::boolean(false),
                                                  V::tensor(all)}), ETP_OK);
  expect_near(all.logical<float>(), {3.5});
}

TEST(ReductionKernelTest, VarOutVarMeanAndTheWholeTensorReductions) {
  KernelHarness h;
  auto a = matrix();  // {{1, 2, 3}, {4, 5, 6}}
  TestTensor out(ETP_DTYPE_FLOAT32, {2});
  ASSERT_EQ(call(h, "aten::var.out", {V::tensor(a), V::int_list({1}), V::boolean(false), V::boolean(false),
                                      V::tensor(out)}), ETP_OK) << h.last_error();
  expect_near(out.logical<float>(), {2.0 / 3, 2.0 / 3});  // biased
  ASSERT_EQ(call(h, "aten::var.out", {V::tensor(a), V::int_list({1}), V::boolean(true), V::boolean(false),
                                      V::tensor(out)}), ETP_OK);
  expect_near(out.logical<float>(), {1, 1});

  TestTensor var(ETP_DTYPE_FLOAT32, {1, 3}), mean(ETP_DTYPE_FLOAT32, {1, 3});
  ASSERT_EQ(call(h, "aten::var_mean.correction_out", {V::tensor(a), V::int_list({0}), V::none(), V::boolean(true),
                                                      V::tensor(var), V::tensor(mean)}), ETP_OK) << h.last_error();
  expect_near(var.logical<float>(), {4.5, 4.5, 4.5});
  expect_near(mean.logical<float>(), {2.5, 3.5, 4.5});
  TestTensor ivar(ETP_DTYPE_INT32, {1, 3});
  EXPECT_EQ(call(h, "aten::var_mean.correction_out", {V::tensor(a), V::int_list({0}), V::none(), V::boolean(true),
                                                      V::tensor(var), V::tensor(ivar)}), ETP_ERR_DTYPE);

  auto f = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {4}, {3, -1, 7, 2});
  TestTensor one(ETP_DTYPE_FLOAT32, {});
  ASSERT_EQ(call(h, "aten::max.unary_out", {V::tensor(f), V::tensor(one)}), ETP_OK) << h.last_error();
  expect_near(one.logical<float>(), {7});
  ASSERT_EQ(call(h, "aten::min.unary_out", {V::tensor(f), V::tensor(one)}), ETP_OK);
  expect_near(one.logical<float>(), {-1});
  auto nan = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3}, {1, NAN, 3});
  ASSERT_EQ(call(h, "aten::max.unary_out", {V::tensor(nan), V::tensor(one)}), ETP_OK);
  EXPECT_TRUE(std::isnan(one.logical<float>()[0]));
  TestTensor empty(ETP_DTYPE_FLOAT32, {0});
  EXPECT_EQ(call(h, "aten::max.unary_out", {V::tensor(empty), V::tensor(one)}), ETP_ERR_SHAPE);
  ASSERT_EQ(call(h, "aten::mean.dtype_out", {V::tensor(f), V::none(), V::tensor(one)}), ETP_OK) << h.last_error();
  expect_near(one.logical<float>(), {2.75});
  auto ints = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2}, {1, 2});
  TestTensor dmean(ETP_DTYPE_FLOAT64, {});
  ASSERT_EQ(call(h, "aten::mean.dtype_out", {V::tensor(ints), V::integer(ETP_DTYPE_FLOAT64), V::tensor(dmean)}),
            ETP_OK);
  EXPECT_EQ(dmean.logical<double>(), (std::vector<double>{1.5}));
}

TEST(ReductionKernelTest, ProdOfIntsAndOfAnEmptyTensor) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2, 2}, {2, 3, 4, -1});
  TestTensor out(ETP_DTYPE_INT64, {});
  ASSERT_EQ(call(h, "aten::prod.out", {V::tensor(a), V::integer(ETP_DTYPE_INT64), V::tensor(out)}), ETP_OK)
      << h.last_error();
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{-24}));
  TestTensor rows(ETP_DTYPE_INT64, {2});
  ASSERT_EQ(call(h, "aten::prod.int_out", {V::tensor(a), V::integer(-1), V::boolean(false), V::none(),
                                            V::tensor(rows)}), ETP_OK);
  EXPECT_EQ(rows.logical<int64_t>(), (std::vector<int64_t>{6, -4}));
  TestTensor empty(ETP_DTYPE_FLOAT32, {0}), fout(ETP_DTYPE_FLOAT32, {});
  ASSERT_EQ(call(h, "aten::prod.out", {V::tensor(empty), V::none(), V::tensor(fout)}), ETP_OK);
  EXPECT_EQ(fout.logical<float>(), (std::vector<float>{1}));
}

TEST(ReductionKernelTest, CumsumAlongANegativeDimWithDtype) {
  KernelHarness h;
  auto a = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2, 3}, {1, 2, 3, 4, 5, 6});
  TestTensor out(ETP_DTYPE_INT64, {2, 3});
  ASSERT_EQ(call(h, "aten::cumsum.out", {V::tensor(a), V::integer(-1), V::integer(ETP_DTYPE_INT64), V::tensor(out)}),
            ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{1, 3, 6, 4, 9, 15}));
  ASSERT_EQ(call(h, "aten::cumsum.out", {V::tensor(a), V::integer(0), V::none(), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{1, 2, 3, 5, 7, 9}));
  EXPECT_EQ(call(h, "aten::cumsum.out", {V::tensor(a), V::integer(2), V::none(), V::tensor(out)}),
            ETP_ERR_INVALID_ARGUMENT);
}

TEST(ReductionKernelTest, AnyAndAllOfEmptyAndMixedTensors) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3}, {0, 2, 0});
  TestTensor empty(ETP_DTYPE_INT32, {0});
  TestTensor out(ETP_DTYPE_BOOL, {});
  ASSERT_EQ(call(h, "aten::any.all_out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<uint8_t>(), (std::vector<uint8_t>{1}));
  ASSERT_EQ(call(h, "aten::all.all_out", {V::tensor(a), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<uint8_t>(), (std::vector<uint8_t>{0}));
  ASSERT_EQ(call(h, "aten::all.all_out", {V::tensor(empty), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<uint8_t>(), (std::vector<uint8_t>{1}));
  ASSERT_EQ(call(h, "aten::any.all_out", {V::tensor(empty), V::tensor(out)}), ETP_OK);
  EXPECT_EQ(out.logical<uint8_t>(), (std::vector<uint8_t>{0}));
  TestTensor fout(ETP_DTYPE_FLOAT32, {});
  EXPECT_EQ(call(h, "aten::any.all_out", {V::tensor(a), V::tensor(fout)}), ETP_ERR_DTYPE);
}

// any.out / any.dims_out: what attention decompositions call (any(x, -1, keepdim=True)).
TEST(ReductionKernelTest, AnyOverADimOrADimList) {
  KernelHarness h;
  // [2, 3] = {{0, 0, 0}, {0, -1.5, 0}}
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 3}, {0, 0, 0, 0, -1.5f, 0});
  TestTensor rows(ETP_DTYPE_BOOL, {2, 1});
  ASSERT_EQ(call(h, "aten::any.out", {V::tensor(a), V::integer(-1), V::boolean(true), V::tensor(rows)}), ETP_OK)
      << h.last_error();
  EXPECT_EQ(rows.sizes(), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(rows.logical<uint8_t>(), (std::vector<uint8_t>{0, 1}));
  TestTensor cols(ETP_DTYPE_UINT8, {3});
  ASSERT_EQ(call(h, "aten::any.out", {V::tensor(a), V::integer(0), V::boolean(false), V::tensor(cols)}), ETP_OK);
  EXPECT_EQ(cols.logical<uint8_t>(), (std::vector<uint8_t>{0, 1, 0}));
  EXPECT_EQ(call(h, "aten::any.out", {V::tensor(a), V::integer(2), V::boolean(false), V::tensor(cols)}),
            ETP_ERR_INVALID_ARGUMENT);
  TestTensor fout(ETP_DTYPE_FLOAT32, {3});
  EXPECT_EQ(call(h, "aten::any.out", {V::tensor(a), V::integer(0), V::boolean(false), V::tensor(fout)}),
            ETP_ERR_DTYPE);
  EXPECT_TRUE(names(h, "aten::any.out"));

  TestTensor all(ETP_DTYPE_BOOL, {});
  ASSERT_EQ(call(h, "aten::any.dims_out", {V::tensor(a), V::none(), V::boolean(false), V::tensor(all)}), ETP_OK);
  EXPECT_EQ(all.logical<uint8_t>(), (std::vector<uint8_t>{1}));  // None: every dim
  TestTensor both(ETP_DTYPE_BOOL, {1, 1});
  ASSERT_EQ(call(h, "aten::any.dims_out", {V::tensor(a), V::int_list({0, 1}), V::boolean(true), V::tensor(both)}),
            ETP_OK);
  EXPECT_EQ(both.logical<uint8_t>(), (std::vector<uint8_t>{1}));
  TestTensor same(ETP_DTYPE_BOOL, {2, 3});  // an empty list reduces nothing: elementwise truth
  ASSERT_EQ(call(h, "aten::any.dims_out", {V::tensor(a), V::int_list({}), V::boolean(false), V::tensor(same)}),
            ETP_OK);
  EXPECT_EQ(same.logical<uint8_t>(), (std::vector<uint8_t>{0, 0, 0, 0, 1, 0}));
  TestTensor empty(ETP_DTYPE_INT32, {2, 0});
  TestTensor none(ETP_DTYPE_BOOL, {2});
  ASSERT_EQ(call(h, "aten::any.out", {V::tensor(empty), V::integer(1), V::boolean(false), V::tensor(none)}), ETP_OK);
  EXPECT_EQ(none.logical<uint8_t>(), (std::vector<uint8_t>{0, 0}));  // empty groups are false
  EXPECT_EQ(call(h, "aten::any.dims_out", {V::tensor(a), V::int_list({0, 0}), V::boolean(false), V::tensor(none)}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(names(h, "aten::any.dims_out"));
}

}  // namespace
}  // namespace etp::test
