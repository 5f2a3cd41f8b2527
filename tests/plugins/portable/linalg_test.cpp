#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "plugins/portable/kernel_harness.h"

namespace etp::test {
namespace {

using V = TestValue;

TEST(MmKernelTest, MultipliesHandComputedMatrices) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 3}, {1, 2, 3, 4, 5, 6});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3, 2}, {7, 8, 9, 10, 11, 12});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 2});
  V va = V::tensor(a), vb = V::tensor(b), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::mm.out", {&va, &vb, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{58, 64, 139, 154}));
}

TEST(MmKernelTest, ReadsTransposedStorageAndWritesColumnMajorOutput) {
  KernelHarness h;
  // a stored column-major (dim order [1, 0]) holds the same logical matrix.
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 3}, {1, 2, 3, 4, 5, 6}, {1, 0});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3, 2}, {7, 8, 9, 10, 11, 12});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 2}, {1, 0});
  V va = V::tensor(a), vb = V::tensor(b), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::mm.out", {&va, &vb, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{58, 64, 139, 154}));
}

TEST(MmKernelTest, IntegerMatricesAndEmptyInnerDim) {
  KernelHarness h;
  auto a = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1, 2}, {3, -4});
  auto b = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {2, 1}, {5, 6});
  TestTensor out(ETP_DTYPE_INT64, {1, 1});
  V va = V::tensor(a), vb = V::tensor(b), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::mm.out", {&va, &vb, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{-9}));
  TestTensor e1(ETP_DTYPE_FLOAT32, {2, 0}), e2(ETP_DTYPE_FLOAT32, {0, 3}), eo(ETP_DTYPE_FLOAT32, {2, 3});
  eo.set_logical(std::vector<float>(6, 5.0f));
  V ve1 = V::tensor(e1), ve2 = V::tensor(e2), veo = V::tensor(eo);
  ASSERT_EQ(h.run("aten::mm.out", {&ve1, &ve2, &veo, &veo}), ETP_OK) << h.last_error();
  EXPECT_EQ(eo.logical<float>(), std::vector<float>(6, 0.0f));
}

// Integer products and sums wrap in the dtype, as PyTorch, on both matmul paths (the tiled one
// for contiguous rows of more than one column, one dot product per element otherwise), and in
// addmm's alpha/beta scaling and linear's bias.
TEST(MmKernelTest, IntegerOverflowWrapsAsPyTorch) {
  KernelHarness h;
  const int64_t big = int64_t{1} << 62;
  auto a = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1, 1}, {big});
  auto b = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1, 1}, {2});
  TestTensor out(ETP_DTYPE_INT64, {1, 1});
  V va = V::tensor(a), vb = V::tensor(b), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::mm.out", {&va, &vb, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{INT64_MIN}));  // 2^63
  auto b2 = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1, 2}, {2, 4});
  TestTensor out2(ETP_DTYPE_INT64, {1, 2});
  V vb2 = V::tensor(b2), vo2 = V::tensor(out2);
  ASSERT_EQ(h.run("aten::mm.out", {&va, &vb2, &vo2, &vo2}), ETP_OK) << h.last_error();
  EXPECT_EQ(out2.logical<int64_t>(), (std::vector<int64_t>{INT64_MIN, 0}));  // 2^63, 2^64
  auto a32 = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {1, 2}, {1 << 30, 1 << 30});
  auto b32 = TestTensor::of<int32_t>(ETP_DTYPE_INT32, {2, 1}, {2, 2});
  TestTensor out32(ETP_DTYPE_INT32, {1, 1});
  V va32 = V::tensor(a32), vb32 = V::tensor(b32), vo32 = V::tensor(out32);
  ASSERT_EQ(h.run("aten::mm.out", {&va32, &vb32, &vo32, &vo32}), ETP_OK) << h.last_error();
  EXPECT_EQ(out32.logical<int32_t>(), (std::vector<int32_t>{0}));  // 2^31 + 2^31

  auto self = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1}, {INT64_MAX});
  auto one = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1, 1}, {1});
  V vs = V::tensor(self), v1 = V::tensor(one), unit = V::integer(1), two = V::integer(2);
  ASSERT_EQ(h.run("aten::addmm.out", {&vs, &v1, &v1, &unit, &unit, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{INT64_MIN}));  // INT64_MAX + 1
  ASSERT_EQ(h.run("aten::addmm.out", {&vs, &va, &vb, &two, &two, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{-2}));  // 2 * INT64_MAX + 2 * 2^63

  auto bias = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1}, {1});
  V vbias = V::tensor(bias);
  ASSERT_EQ(h.run("aten::linear.out", {&va, &vb, &vbias, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<int64_t>(), (std::vector<int64_t>{INT64_MIN + 1}));
}

TEST(MmKernelTest, ShapeAndDtypeErrors) {
  KernelHarness h;
  TestTensor a(ETP_DTYPE_FLOAT32, {2, 3}), b(ETP_DTYPE_FLOAT32, {2, 3}), out(ETP_DTYPE_FLOAT32, {2, 3});
  V va = V::tensor(a), vb = V::tensor(b), vo = V::tensor(out);
  EXPECT_EQ(h.run("aten::mm.out", {&va, &vb, &vo, &vo}), ETP_ERR_SHAPE);
  EXPECT_NE(h.last_error().find("aten::mm.out"), std::string::npos);
  TestTensor bi(ETP_DTYPE_INT32, {3, 2});
  V vbi = V::tensor(bi);
  EXPECT_EQ(h.run("aten::mm.out", {&va, &vbi, &vo, &vo}), ETP_ERR_DTYPE);
  EXPECT_NE(h.last_error().find("int32"), std::string::npos) << h.last_error();
  TestTensor ba(ETP_DTYPE_BOOL, {1, 1}), bo(ETP_DTYPE_BOOL, {1, 1});
  V vba = V::tensor(ba), vbo = V::tensor(bo);
  EXPECT_EQ(h.run("aten::mm.out", {&vba, &vba, &vbo, &vbo}), ETP_ERR_DTYPE);
}

// The register-tiled path (rows of w and out contiguous) and the one-dot-product-per-element path
// (any other layout) sum over k in the same order: the same bits, for full tiles and the ragged
// edges, batched, and through addmm's scaling. And both equal a plain loop written here.
TEST(MmKernelTest, TiledAndStridedPathsGiveTheSameBits) {
  KernelHarness h;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  auto random = [&](size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
  };
  for (const auto& [B, n, k, m] : std::vector<std::array<int64_t, 4>>{{1, 13, 37, 21}, {3, 4, 8, 8}, {2, 9, 1, 17}}) {
    const bool batched = B > 1;
    auto shape = [&, b = B](int64_t r, int64_t c) {  // (C++17 lambdas cannot capture a binding)
      return batched ? std::vector<int64_t>{b, r, c} : std::vector<int64_t>{r, c};
    };
    const std::vector<uint8_t> rows_last = batched ? std::vector<uint8_t>{0, 2, 1} : std::vector<uint8_t>{1, 0};
    const std::vector<float> av = random(static_cast<size_t>(B * n * k)), wv = random(static_cast<size_t>(B * k * m));
    TestTensor a(ETP_DTYPE_FLOAT32, shape(n, k)), w(ETP_DTYPE_FLOAT32, shape(k, m)),
        w_strided(ETP_DTYPE_FLOAT32, shape(k, m), rows_last);
    a.set_logical(av);
    w.set_logical(wv);
    w_strided.set_logical(wv);
    TestTensor tiled(ETP_DTYPE_FLOAT32, shape(n, m)), strided(ETP_DTYPE_FLOAT32, shape(n, m));
    const char* op = batched ? "aten::bmm.out" : "aten::mm.out";
    V va = V::tensor(a), vw = V::tensor(w), vws = V::tensor(w_strided), vt = V::tensor(tiled), vs = V::tensor(strided);
    ASSERT_EQ(h.run(op, {&va, &vw, &vt, &vt}), ETP_OK) << h.last_error();
    ASSERT_EQ(h.run(op, {&va, &vws, &vs, &vs}), ETP_OK) << h.last_error();
    std::vector<float> plain(static_cast<size_t>(B * n * m));
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < m; ++j) {
          float acc = 0;
          for (int64_t p = 0; p < k; ++p) {
            const float prod =
                av[static_cast<size_t>((b * n + i) * k + p)] * wv[static_cast<size_t>((b * k + p) * m + j)];
            acc += prod;  // a product, then a sum: the kernels never fuse them
          }
          plain[static_cast<size_t>((b * n + i) * m + j)] = acc;
        }
      }
    }
    EXPECT_EQ(tiled.logical<float>(), strided.logical<float>()) << B << "x" << n << "x" << k << "x" << m;
    EXPECT_EQ(tiled.logical<float>(), plain) << B << "x" << n << "x" << k << "x" << m;
    if (batched) continue;
    // addmm: out = beta * self + alpha * (a @ w), self broadcast over rows.
    const std::vector<float> bias = random(static_cast<size_t>(m));
    TestTensor self(ETP_DTYPE_FLOAT32, {m});
    self.set_logical(bias);
    V vself = V::tensor(self), beta = V::real(0.5), alpha = V::real(-2);
    ASSERT_EQ(h.run("aten::addmm.out", {&vself, &va, &vw, &beta, &alpha, &vt, &vt}), ETP_OK) << h.last_error();
    ASSERT_EQ(h.run("aten::addmm.out", {&vself, &va, &vws, &beta, &alpha, &vs, &vs}), ETP_OK) << h.last_error();
    EXPECT_EQ(tiled.logical<float>(), strided.logical<float>()) << "addmm " << n << "x" << k << "x" << m;
  }
}

TEST(BmmKernelTest, MultipliesEachBatch) {
  KernelHarness h;
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 1, 2}, {1, 2, 3, 4});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 2, 1}, {5, 6, 7, 8});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 1, 1});
  V va = V::tensor(a), vb = V::tensor(b), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::bmm.out", {&va, &vb, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{17, 53}));
  TestTensor c(ETP_DTYPE_FLOAT32, {3, 2, 1});
  V vc = V::tensor(c);
  EXPECT_EQ(h.run("aten::bmm.out", {&va, &vc, &vo, &vo}), ETP_ERR_SHAPE);
}

TEST(AddmmKernelTest, BroadcastsSelfAndScales) {
  KernelHarness h;
  auto bias = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {1, 2});
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 2}, {1, 0, 0, 1});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 2}, {1, 2, 3, 4});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 2});
  V vs = V::tensor(bias), va = V::tensor(a), vb = V::tensor(b), beta = V::real(0.5), alpha = V::integer(2),
    vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::addmm.out", {&vs, &va, &vb, &beta, &alpha, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{2.5f, 5, 6.5f, 9}));
}

TEST(AddmmKernelTest, BetaZeroIgnoresNanInSelf) {
  KernelHarness h;
  auto self = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1}, {std::numeric_limits<float>::quiet_NaN()});
  auto a = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 1}, {3});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 1});
  V vs = V::tensor(self), va = V::tensor(a), beta = V::integer(0), alpha = V::integer(1), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::addmm.out", {&vs, &va, &va, &beta, &alpha, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{9}));
  TestTensor bad(ETP_DTYPE_FLOAT32, {3});
  V vbad = V::tensor(bad);
  EXPECT_EQ(h.run("aten::addmm.out", {&vbad, &va, &va, &beta, &alpha, &vo, &vo}), ETP_ERR_SHAPE);
}

TEST(BaddbmmKernelTest, AddsBatchedProducts) {
  KernelHarness h;
  auto self = TestTensor::of<double>(ETP_DTYPE_FLOAT64, {1, 1, 1}, {10});
  auto a = TestTensor::of<double>(ETP_DTYPE_FLOAT64, {2, 1, 1}, {2, 3});
  TestTensor out(ETP_DTYPE_FLOAT64, {2, 1, 1});
  V vs = V::tensor(self), va = V::tensor(a), beta = V::integer(1), alpha = V::integer(-1), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::baddbmm.out", {&vs, &va, &va, &beta, &alpha, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<double>(), (std::vector<double>{6, 1}));
}

TEST(LinearKernelTest, AppliesWeightAndBiasOverLeadingDims) {
  KernelHarness h;
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 1, 2}, {1, 2, 3, 4});
  auto w = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3, 2}, {1, 0, 0, 1, 1, 1});
  auto b = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3}, {10, 20, 30});
  TestTensor out(ETP_DTYPE_FLOAT32, {2, 1, 3});
  V vx = V::tensor(x), vw = V::tensor(w), vb = V::tensor(b), vo = V::tensor(out), none = V::none();
  ASSERT_EQ(h.run("aten::linear.out", {&vx, &vw, &vb, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{11, 22, 33, 13, 24, 37}));
  ASSERT_EQ(h.run("aten::linear.out", {&vx, &vw, &none, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1, 2, 3, 3, 4, 7}));
}

TEST(LinearKernelTest, OneDimensionalInputAndMismatchedFeatures) {
  KernelHarness h;
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2}, {1, 2});
  auto w = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2}, {3, 4});
  TestTensor out(ETP_DTYPE_FLOAT32, {1});
  V vx = V::tensor(x), vw = V::tensor(w), none = V::none(), vo = V::tensor(out);
  ASSERT_EQ(h.run("aten::linear.out", {&vx, &vw, &none, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{11}));
  TestTensor w3(ETP_DTYPE_FLOAT32, {1, 3});
  V vw3 = V::tensor(w3);
  EXPECT_EQ(h.run("aten::linear.out", {&vx, &vw3, &none, &vo, &vo}), ETP_ERR_SHAPE);
}

// _pdist_forward and _cdist_forward: p-norm distances between rows.
TEST(DistanceKernelTest, PdistAndCdistForSeveralNorms) {
  KernelHarness h;
  // Rows (0, 0), (3, 4), (6, 8).
  auto x = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {3, 2}, {0, 0, 3, 4, 6, 8});
  TestTensor out(ETP_DTYPE_FLOAT32, {3});
  TestValue vx = TestValue::tensor(x), two = TestValue::real(2), vo = TestValue::tensor(out);
  ASSERT_EQ(h.run("aten::_pdist_forward.out", {&vx, &two, &vo, &vo}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{5, 10, 5}));  // (0,1), (0,2), (1,2)
  TestValue one = TestValue::real(1), inf = TestValue::real(INFINITY), zero = TestValue::real(0);
  ASSERT_EQ(h.run("aten::_pdist_forward.out", {&vx, &one, &vo, &vo}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{7, 14, 7}));
  ASSERT_EQ(h.run("aten::_pdist_forward.out", {&vx, &inf, &vo, &vo}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{4, 8, 4}));
  ASSERT_EQ(h.run("aten::_pdist_forward.out", {&vx, &zero, &vo, &vo}), ETP_OK);
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{2, 2, 2}));
  TestValue three = TestValue::real(3);
  ASSERT_EQ(h.run("aten::_pdist_forward.out", {&vx, &three, &vo, &vo}), ETP_OK);
  EXPECT_NEAR(out.logical<float>()[0], std::cbrt(27.0 + 64.0), 1e-5);
  TestValue negative = TestValue::real(-1);
  EXPECT_EQ(h.run("aten::_pdist_forward.out", {&vx, &negative, &vo, &vo}), ETP_ERR_INVALID_ARGUMENT);

  // cdist: a batch of one x1 [1, 2, 2] against x2 [3, 2] broadcast over the batch.
  auto x1 = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {1, 2, 2}, {0, 0, 1, 1});
  TestTensor cout(ETP_DTYPE_FLOAT32, {1, 2, 3});
  TestValue v1 = TestValue::tensor(x1), mode = TestValue::none(), vc = TestValue::tensor(cout);
  ASSERT_EQ(h.run("aten::_cdist_forward.out", {&v1, &vx, &two, &mode, &vc, &vc}), ETP_OK) << h.last_error();
  const std::vector<float> got = cout.logical<float>();
  const std::vector<float> want = {0, 5, 10, std::sqrt(2.0f), std::sqrt(13.0f), std::sqrt(74.0f)};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << i;
  auto wrong = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 3}, {0, 0, 0, 0, 0, 0});
  TestValue vw = TestValue::tensor(wrong);
  EXPECT_EQ(h.run("aten::_cdist_forward.out", {&v1, &vw, &two, &mode, &vc, &vc}), ETP_ERR_SHAPE);
}

}  // namespace
}  // namespace etp::test
