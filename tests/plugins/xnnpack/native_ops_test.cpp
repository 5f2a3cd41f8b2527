// Hand-computed cases and edge cases (size-1 and 0-sized dims, broadcasting, ranks 0/1/6, bad
// arguments) for the XNNPACK plugin's native fp32 kernels.
#include "native_ops.h"
#include "native_gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <numeric>
#include <vector>

namespace etp_xnnpack::native {
namespace {

using Dims = std::vector<size_t>;
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kSentinel = -12345.0f;

std::vector<float> iota(size_t n, float start = 0) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

void expect_near_all(const std::vector<float>& actual, const std::vector<float>& expected, float tol = 1e-6f) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(actual[i])) << "at " << i;
    } else {
      EXPECT_NEAR(actual[i], expected[i], tol) << "at " << i;
    }
  }
}

// ---- transpose ----

TEST(NativeTransposeTest, OutputDimIIsInputDimPermI) {
  // in [2,3] -> perm {1,0} -> out [3,2]
  std::vector<float> in = iota(6), out(6, kSentinel);
  const Dims dims{2, 3}, perm{1, 0};
  ASSERT_TRUE(transpose(in.data(), out.data(), 2, dims.data(), perm.data()));
  EXPECT_EQ(out, (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(NativeTransposeTest, NchwToNhwcUsesPermDirection) {
  // in [1,2,1,3] (N,C,H,W) with perm {0,2,3,1} gives [1,1,3,2]: out[0,0,w,c] = in[0,c,0,w].
  std::vector<float> in = iota(6), out(6, kSentinel);
  const Dims dims{1, 2, 1, 3}, perm{0, 2, 3, 1};
  ASSERT_TRUE(transpose(in.data(), out.data(), 4, dims.data(), perm.data()));
  EXPECT_EQ(out, (std::vector<float>{0, 3, 1, 4, 2, 5}));
  // A 3-cycle is not its own inverse, which pins the direction: in [2,3,4], perm {2,0,1} -> [4,2,3].
  std::vector<float> in3 = iota(24), out3(24);
  const Dims d3{2, 3, 4}, p3{2, 0, 1};
  ASSERT_TRUE(transpose(in3.data(), out3.data(), 3, d3.data(), p3.data()));
  for (size_t i = 0; i < 4; ++i)
    for (size_t j = 0; j < 2; ++j)
      for (size_t k = 0; k < 3; ++k) EXPECT_EQ(out3[(i * 2 + j) * 3 + k], in3[(j * 3 + k) * 4 + i]);
}

TEST(NativeTransposeTest, Rank1Rank6AndEmpty) {
  std::vector<float> in = iota(4), out(4);
  const Dims d1{4}, p1{0};
  ASSERT_TRUE(transpose(in.data(), out.data(), 1, d1.data(), p1.data()));
  EXPECT_EQ(out, in);
  // Rank 6, reversing the dims: out[f,e,d,c,b,a] = in[a,b,c,d,e,f].
  const Dims d6{2, 1, 3, 1, 2, 2}, p6{5, 4, 3, 2, 1, 0};
  std::vector<float> in6 = iota(24), out6(24);
  ASSERT_TRUE(transpose(in6.data(), out6.data(), 6, d6.data(), p6.data()));
  for (size_t a = 0; a < 2; ++a)
    for (size_t c = 0; c < 3; ++c)
      for (size_t e = 0; e < 2; ++e)
        for (size_t f = 0; f < 2; ++f)
          EXPECT_EQ(out6[((f * 2 + e) * 3 + c) * 2 + a], in6[((a * 3 + c) * 2 + e) * 2 + f]);
  const Dims d0{2, 0, 3}, p0{2, 1, 0};
  float untouched = kSentinel;
  EXPECT_TRUE(transpose(nullptr, &untouched, 3, d0.data(), p0.data()));
  EXPECT_EQ(untouched, kSentinel);
}

TEST(NativeTransposeTest, RejectsInvalidPermutations) {
  std::vector<float> in = iota(6), out(6, kSentinel);
  const Dims dims{2, 3}, repeated{1, 1}, out_of_range{0, 2};
  EXPECT_FALSE(transpose(in.data(), out.data(), 2, dims.data(), repeated.data()));
  EXPECT_FALSE(transpose(in.data(), out.data(), 2, dims.data(), out_of_range.data()));
  const Dims d7{1, 1, 1, 1, 1, 1, 1}, p7{0, 1, 2, 3, 4, 5, 6};
  EXPECT_FALSE(transpose(in.data(), out.data(), 7, d7.data(), p7.data()));
  EXPECT_EQ(out, std::vector<float>(6, kSentinel));
}

// ---- concatenate ----

TEST(NativeConcatenateTest, JoinsAlongInnerAndOuterAxes) {
  std::vector<float> a = iota(4), b = iota(2, 10), out(6, kSentinel);  // a [2,2], b [2,1]
  const Dims da{2, 2}, db{2, 1};
  const float* inputs[] = {a.data(), b.data()};
  const size_t* dims[] = {da.data(), db.data()};
  ASSERT_TRUE(concatenate(inputs, 2, 2, dims, /*axis=*/1, out.data()));
  EXPECT_EQ(out, (std::vector<float>{0, 1, 10, 2, 3, 11}));
  // axis 0 with three inputs of [1,2], [2,2], [1,2]
  std::vector<float> c = {20, 21}, out0(8);
  const Dims r1{1, 2}, r2{2, 2};
  const float* in3[] = {c.data(), a.data(), c.data()};
  const size_t* dims3[] = {r1.data(), r2.data(), r1.data()};
  ASSERT_TRUE(concatenate(in3, 3, 2, dims3, /*axis=*/0, out0.data()));
  EXPECT_EQ(out0, (std::vector<float>{20, 21, 0, 1, 2, 3, 20, 21}));
}

TEST(NativeConcatenateTest, FiveInputsEmptyInputAndRank1) {
  std::vector<float> x = {1}, y = {2, 3}, out(6, kSentinel);
  const Dims one{1}, two{2}, zero{0};
  const float* inputs[] = {x.data(), nullptr, y.data(), x.data(), y.data()};
  const size_t* dims[] = {one.data(), zero.data(), two.data(), one.data(), two.data()};
  ASSERT_TRUE(concatenate(inputs, 5, 1, dims, 0, out.data()));
  EXPECT_EQ(out, (std::vector<float>{1, 2, 3, 1, 2, 3}));
}

TEST(NativeConcatenateTest, RejectsMismatchedShapesAndBadArguments) {
  std::vector<float> a(9, 1.0f), out(15, kSentinel);
  const Dims d23{2, 3}, d33{3, 3};
  const float* inputs[] = {a.data(), a.data(), a.data(), a.data(), a.data(), a.data()};
  const size_t* dims[] = {d23.data(), d33.data()};
  EXPECT_FALSE(concatenate(inputs, 2, 2, dims, /*axis=*/1, out.data()));  // dim 0 differs
  EXPECT_EQ(out, std::vector<float>(15, kSentinel));
  EXPECT_TRUE(concatenate(inputs, 2, 2, dims, /*axis=*/0, out.data()));  // [2,3] + [3,3] -> [5,3]
  EXPECT_EQ(out, std::vector<float>(15, 1.0f));
  EXPECT_FALSE(concatenate(inputs, 2, 2, dims, /*axis=*/2, out.data()));
  const size_t* six[] = {d23.data(), d23.data(), d23.data(), d23.data(), d23.data(), d23.data()};
  EXPECT_FALSE(concatenate(inputs, 6, 2, six, 0, out.data()));
  EXPECT_FALSE(concatenate(inputs, 0, 2, six, 0, out.data()));
}

// ---- slice ----

TEST(NativeSliceTest, OffsetsAndSizesPerDim) {
  // in [3,4] = 0..11; rows 1..2, cols 1..3
  std::vector<float> in = iota(12), out(6, kSentinel);
  const Dims dims{3, 4}, offsets{1, 1}, sizes{2, 3};
  ASSERT_TRUE(slice(in.data(), out.data(), 2, dims.data(), offsets.data(), sizes.data()));
  EXPECT_EQ(out, (std::vector<float>{5, 6, 7, 9, 10, 11}));
}

TEST(NativeSliceTest, Rank6WholeTensorEmptyAndOutOfBounds) {
  const Dims d6{2, 2, 1, 2, 1, 3}, o6{1, 0, 0, 1, 0, 2}, s6{1, 2, 1, 1, 1, 1};
  std::vector<float> in = iota(24), out(2, kSentinel);
  ASSERT_TRUE(slice(in.data(), out.data(), 6, d6.data(), o6.data(), s6.data()));
  // Strides {12,6,6,3,3,1}: 12 + 3 + 2 = 17 and 17 + 6 = 23.
  EXPECT_EQ(out, (std::vector<float>{17, 23}));
  const Dims d1{5}, o1{0}, s1{5};
  std::vector<float> in1 = iota(5), out1(5);
  ASSERT_TRUE(slice(in1.data(), out1.data(), 1, d1.data(), o1.data(), s1.data()));
  EXPECT_EQ(out1, in1);
  const Dims o_end{5}, s_zero{0};
  float untouched = kSentinel;
  EXPECT_TRUE(slice(in1.data(), &untouched, 1, d1.data(), o_end.data(), s_zero.data()));
  EXPECT_EQ(untouched, kSentinel);
  const Dims o3{3}, s3{3}, o_far{6};
  EXPECT_FALSE(slice(in1.data(), out1.data(), 1, d1.data(), o3.data(), s3.data()));
  EXPECT_FALSE(slice(in1.data(), out1.data(), 1, d1.data(), o_far.data(), s_zero.data()));
  // offset + size would wrap around size_t: still rejected.
  const Dims huge{std::numeric_limits<size_t>::max()};
  EXPECT_FALSE(slice(in1.data(), out1.data(), 1, d1.data(), o3.data(), huge.data()));
}

TEST(NativeTransposeTest, BlockedPathMatchesTheDefinitionOnRaggedSizes) {
  // [batch, rows, cols] -> [batch, cols, rows] takes the blocked 2-D path: sizes around the 4x4
  // register blocks and the tiles (32x32 below 256 rows, 64x4 or 64x8 from 256 rows on).
  for (const Dims& d : {Dims{1, 4, 4}, Dims{2, 7, 37}, Dims{1, 33, 65}, Dims{3, 5, 3}, Dims{1, 64, 36},
                        Dims{1, 300, 37}, Dims{1, 300, 130}, Dims{2, 257, 6}}) {
    const size_t n = d[0] * d[1] * d[2];
    std::vector<float> in = iota(n), out(n, kSentinel);
    const Dims perm{0, 2, 1};
    ASSERT_TRUE(transpose(in.data(), out.data(), 3, d.data(), perm.data()));
    for (size_t b = 0; b < d[0]; ++b) {
      for (size_t r = 0; r < d[1]; ++r) {
        for (size_t c = 0; c < d[2]; ++c) {
          ASSERT_EQ(out[(b * d[2] + c) * d[1] + r], in[(b * d[1] + r) * d[2] + c]) << d[1] << "x" << d[2];
        }
      }
    }
  }
}

// ---- data movement on 1- and 2-byte elements (int8 / fp16 graphs) ----

TEST(NativeDataMovementTest, ByteTransposeMatchesTheDefinitionOnRaggedSizes) {
  // Bytes take 8x8 register blocks: sizes around the blocks and the tiles (32 and 8 wide).
  for (const Dims& d : {Dims{1, 8, 8}, Dims{2, 7, 37}, Dims{1, 33, 65}, Dims{3, 16, 64}, Dims{1, 64, 9},
                        Dims{1, 300, 37}, Dims{1, 257, 130}, Dims{2, 9, 1000}}) {
    const size_t n = d[0] * d[1] * d[2];
    std::vector<uint8_t> in(n), out(n, 0xee);
    for (size_t k = 0; k < n; ++k) in[k] = static_cast<uint8_t>(k * 7 + k / 256);
    const Dims perm{0, 2, 1};
    ASSERT_TRUE(transpose(in.data(), out.data(), 3, d.data(), perm.data(), 1));
    for (size_t b = 0; b < d[0]; ++b) {
      for (size_t r = 0; r < d[1]; ++r) {
        for (size_t c = 0; c < d[2]; ++c) {
          ASSERT_EQ(out[(b * d[2] + c) * d[1] + r], in[(b * d[1] + r) * d[2] + c]) << d[1] << "x" << d[2];
        }
      }
    }
  }
}

TEST(NativeDataMovementTest, ByteAndHalfElementsMoveLikeFloats) {
  // NCHW [1,2,2,3] -> NHWC on int8: the same permutation the float kernel applies.
  const Dims dims{1, 2, 2, 3}, perm{0, 2, 3, 1};
  std::vector<int8_t> in8(12), out8(12, 0);
  std::iota(in8.begin(), in8.end(), int8_t{-6});
  std::vector<float> inf(in8.begin(), in8.end()), outf(12);
  ASSERT_TRUE(transpose(in8.data(), out8.data(), 4, dims.data(), perm.data(), 1));
  ASSERT_TRUE(transpose(inf.data(), outf.data(), 4, dims.data(), perm.data()));
  EXPECT_EQ(std::vector<float>(out8.begin(), out8.end()), outf);
  // A non-2-D permutation on uint16 (fp16 bits).
  const Dims perm2{2, 0, 3, 1};
  std::vector<uint16_t> in16(12), out16(12, 0);
  std::iota(in16.begin(), in16.end(), uint16_t{100});
  ASSERT_TRUE(transpose(in16.data(), out16.data(), 4, dims.data(), perm2.data(), 2));
  ASSERT_TRUE(transpose(inf.data(), outf.data(), 4, dims.data(), perm2.data()));
  for (size_t i = 0; i < 12; ++i) EXPECT_EQ(out16[i] - 100, static_cast<int>(outf[i]) + 6) << i;
  // Concatenate and slice count bytes by element size.
  const int8_t a[2] = {1, 2}, b[4] = {3, 4, 5, 6};
  const void* inputs[2] = {a, b};
  const size_t da[2] = {2, 1}, db[2] = {2, 2};
  const size_t* cat_dims[2] = {da, db};
  int8_t joined[6] = {};
  ASSERT_TRUE(concatenate(inputs, 2, 2, cat_dims, /*axis=*/1, joined, 1));
  EXPECT_EQ(std::vector<int8_t>(joined, joined + 6), (std::vector<int8_t>{1, 3, 4, 2, 5, 6}));
  const Dims jd{2, 3}, off{1, 1}, sz{1, 2};
  int8_t part[2] = {};
  ASSERT_TRUE(slice(joined, part, 2, jd.data(), off.data(), sz.data(), 1));
  EXPECT_EQ(std::vector<int8_t>(part, part + 2), (std::vector<int8_t>{5, 6}));
  EXPECT_FALSE(transpose(in8.data(), out8.data(), 4, dims.data(), perm.data(), 3));  // no 3-byte type
}

// ---- fp16 conversion ----

TEST(NativeHalfTest, RoundsToNearestEvenAndSaturatesToInfinity) {
  EXPECT_EQ(to_half(0.0f), 0x0000);
  EXPECT_EQ(to_half(-0.0f), 0x8000);
  EXPECT_EQ(to_half(1.0f), 0x3c00);
  EXPECT_EQ(to_half(-2.0f), 0xc000);
  EXPECT_EQ(to_half(0.5f), 0x3800);
  EXPECT_EQ(to_half(65504.0f), 0x7bff);  // largest finite
  EXPECT_EQ(to_half(65520.0f), 0x7c00);  // halfway to 2^16 rounds to inf
  EXPECT_EQ(to_half(65519.0f), 0x7bff);
  EXPECT_EQ(to_half(kInf), 0x7c00);
  EXPECT_EQ(to_half(-kInf), 0xfc00);
  EXPECT_EQ(to_half(std::nanf("")) & 0x7c00, 0x7c00);
  EXPECT_NE(to_half(std::nanf("")) & 0x03ff, 0);
  EXPECT_EQ(to_half(1.0f + 1.0f / 2048), 0x3c00);        // tie, even mantissa stays
  EXPECT_EQ(to_half(1.0f + 3.0f / 2048), 0x3c02);        // tie, odd mantissa rounds up
  EXPECT_EQ(to_half(std::ldexp(1.0f, -14)), 0x0400);     // smallest normal
  EXPECT_EQ(to_half(std::ldexp(1.0f, -24)), 0x0001);     // smallest subnormal
  EXPECT_EQ(to_half(std::ldexp(1.0f, -25)), 0x0000);     // tie to even (0)
  EXPECT_EQ(to_half(std::ldexp(3.0f, -26)), 0x0001);     // 0.75 ulp rounds up
  EXPECT_EQ(to_half(std::ldexp(1023.0f, -24)), 0x03ff);  // largest subnormal
  EXPECT_EQ(to_half(0.1f), 0x2e66);
}

TEST(NativeHalfTest, EveryHalfWidensExactlyAndNarrowsBack) {
  EXPECT_EQ(from_half(0x3c00), 1.0f);
  EXPECT_EQ(from_half(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(from_half(0x7bff), 65504.0f);
  EXPECT_EQ(from_half(0xfc00), -kInf);
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const float f = from_half(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_EQ(h & 0x7c00u, 0x7c00u);
      continue;
    }
    ASSERT_EQ(to_half(f), h) << std::hex << h;
  }
}

// ---- batch matmul ----

TEST(NativeBatchMatmulTest, MultipliesEachBatch) {
  // a [2,1,2], b [2,2,1]
  std::vector<float> a = {1, 2, 3, 4}, b = {5, 6, 7, 8}, out(2, kSentinel);
  const Dims da{2, 1, 2}, db{2, 2, 1};
  ASSERT_TRUE(batch_matmul(a.data(), 3, da.data(), b.data(), 3, db.data(), false, out.data()));
  EXPECT_EQ(out, (std::vector<float>{17, 53}));
}

TEST(NativeBatchMatmulTest, TransposeBReadsBAsNByK) {
  // a [1,2,3], b^T stored [1,2,3] (N=2, K=3)
  std::vector<float> a = {1, 2, 3, 4, 5, 6}, bt = {1, 0, 1, 0, 1, 0}, out(4);
  const Dims da{1, 2, 3}, db{1, 2, 3};
  ASSERT_TRUE(batch_matmul(a.data(), 3, da.data(), bt.data(), 3, db.data(), true, out.data()));
  EXPECT_EQ(out, (std::vector<float>{4, 2, 10, 5}));
  EXPECT_EQ(kFlagTransposeB, 1u);
}

TEST(NativeBatchMatmulTest, BroadcastsBatchDimsAndRanks) {
  // a [2,1,1,2] x b [3,2,1] -> out [2,3,1,1]
  std::vector<float> a = {1, 2, 3, 4}, b = {1, 1, 1, 0, 0, 1}, out(6, kSentinel);
  const Dims da{2, 1, 1, 2}, db{3, 2, 1};
  size_t rank = 0;
  size_t dims[kMaxRank];
  ASSERT_TRUE(batch_matmul_output_dims(4, da.data(), 3, db.data(), false, &rank, dims));
  EXPECT_EQ(Dims(dims, dims + rank), (Dims{2, 3, 1, 1}));
  ASSERT_TRUE(batch_matmul(a.data(), 4, da.data(), b.data(), 3, db.data(), false, out.data()));
  EXPECT_EQ(out, (std::vector<float>{3, 1, 2, 7, 3, 4}));
  // Plain 2-D matrices.
  const Dims m{2, 2};
  std::vector<float> out2(4);
  ASSERT_TRUE(batch_matmul(a.data(), 2, m.data(), a.data(), 2, m.data(), false, out2.data()));
  EXPECT_EQ(out2, (std::vector<float>{7, 10, 15, 22}));
}

TEST(NativeBatchMatmulTest, EmptyInnerDimGivesZerosAndMismatchFails) {
  const Dims da{1, 2, 0}, db{1, 0, 3};
  std::vector<float> out(6, kSentinel);
  ASSERT_TRUE(batch_matmul(nullptr, 3, da.data(), nullptr, 3, db.data(), false, out.data()));
  EXPECT_EQ(out, std::vector<float>(6, 0.0f));
  const Dims e1{0, 2, 2}, e2{0, 2, 2};
  float untouched = kSentinel;
  EXPECT_TRUE(batch_matmul(nullptr, 3, e1.data(), nullptr, 3, e2.data(), false, &untouched));
  EXPECT_EQ(untouched, kSentinel);
  const Dims a{2, 2, 3}, b{3, 3, 2}, bk{2, 2, 2}, v{3};
  std::vector<float> big(64);
  EXPECT_FALSE(batch_matmul(big.data(), 3, a.data(), big.data(), 3, b.data(), false, big.data()));   // batch 2 vs 3
  EXPECT_FALSE(batch_matmul(big.data(), 3, a.data(), big.data(), 3, bk.data(), false, big.data()));  // K 3 vs 2
  EXPECT_FALSE(batch_matmul(big.data(), 1, v.data(), big.data(), 3, b.data(), false, big.data()));   // rank 1
}

// ---- scaled dot-product attention ----

TEST(NativeSdpaTest, SingleQueryHandComputed) {
  // q [1,1,1,2] (B,H,T,C), k [1,1,2,2], v [1,1,2,1], scale {1,1}, no mask.
  // logits: q.k0 = 1, q.k1 = 0 -> weights e/(e+1), 1/(e+1); out = w0*10 + w1*20.
  std::vector<float> q = {1, 0}, k = {1, 0, 0, 1}, v = {10, 20}, scale = {1, 1}, out(1, kSentinel);
  const Dims dq{1, 1, 1, 2}, dk{1, 1, 2, 2}, dv{1, 1, 2, 1};
  ASSERT_TRUE(scaled_dot_product_attention(q.data(), 4, dq.data(), k.data(), v.data(), 4, dk.data(), dv.data(),
                                           scale.data(), nullptr, out.data()));
  const double e = std::exp(1.0);
  EXPECT_NEAR(out[0], (e * 10 + 20) / (e + 1), 1e-5);
}

TEST(NativeSdpaTest, ScaleIsPerChannelAndMaskIsAdditive) {
  // Scale {0, 1} zeroes channel 0; mask -inf on key 1 for query row 0 selects key 0 only.
  std::vector<float> q = {5, 1, 5, 1}, k = {1, 0, 0, 1}, v = {10, 20}, scale = {0, 1};
  std::vector<float> mask = {0, -kInf, 0, 0}, out(2, kSentinel);
  const Dims dq{1, 2, 2}, dk{1, 2, 2}, dv{1, 2, 1};  // H=1, T=2, C=2, no batch dims
  ASSERT_TRUE(scaled_dot_product_attention(q.data(), 3, dq.data(), k.data(), v.data(), 3, dk.data(), dv.data(),
                                           scale.data(), mask.data(), out.data()));
  EXPECT_NEAR(out[0], 10, 1e-6);
  // Row 1: logits 0 and 1 -> (10 + 20e) / (1 + e).
  const double e = std::exp(1.0);
  EXPECT_NEAR(out[1], (10 + 20 * e) / (1 + e), 1e-5);
}

TEST(NativeSdpaTest, MultiQuerySharesKeysAcrossHeadsAndFullyMaskedRowIsNan) {
  // q [2,1,1] (H=2, T=1, C=1); k, v [1,1] (U=1) shared: every head sees the single value.
  std::vector<float> q = {1, -1}, k = {3}, v = {7}, scale = {1}, out(2, kSentinel);
  const Dims dq{2, 1, 1}, dk{1, 1}, dv{1, 1};
  ASSERT_TRUE(scaled_dot_product_attention(q.data(), 3, dq.data(), k.data(), v.data(), 2, dk.data(), dv.data(),
                                           scale.data(), nullptr, out.data()));
  EXPECT_EQ(out, (std::vector<float>{7, 7}));
  std::vector<float> mask = {-kInf};
  ASSERT_TRUE(scaled_dot_product_attention(q.data(), 3, dq.data(), k.data(), v.data(), 2, dk.data(), dv.data(),
                                           scale.data(), mask.data(), out.data()));
  EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out[1]));
}

TEST(NativeSdpaTest, RejectsMismatchedShapes) {
  std::vector<float> buf(64);
  const Dims dq{1, 2, 3, 4}, dk_bad_c{1, 2, 5, 3}, dv{1, 2, 5, 2}, dk{1, 2, 5, 4}, dv_bad_u{1, 2, 6, 2};
  const Dims dk_bad_h{1, 3, 5, 4}, dk_rank2{5, 4};
  const float* p = buf.data();
  EXPECT_TRUE(scaled_dot_product_attention(p, 4, dq.data(), p, p, 4, dk.data(), dv.data(), p, nullptr, buf.data()));
  EXPECT_FALSE(
      scaled_dot_product_attention(p, 4, dq.data(), p, p, 4, dk_bad_c.data(), dv.data(), p, nullptr, buf.data()));
  EXPECT_FALSE(
      scaled_dot_product_attention(p, 4, dq.data(), p, p, 4, dk.data(), dv_bad_u.data(), p, nullptr, buf.data()));
  EXPECT_FALSE(
      scaled_dot_product_attention(p, 4, dq.data(), p, p, 4, dk_bad_h.data(), dv.data(), p, nullptr, buf.data()));
  EXPECT_FALSE(
      scaled_dot_product_attention(p, 4, dq.data(), p, p, 2, dk_rank2.data(), dk_rank2.data(), p, nullptr, buf.data()));
  const Dims q2{3, 4};
  EXPECT_FALSE(scaled_dot_product_attention(p, 2, q2.data(), p, p, 2, q2.data(), q2.data(), p, nullptr, buf.data()));
}

// ---- unary ----

TEST(NativeUnaryTest, MathFunctionsOnKnownPoints) {
  std::vector<float> x = {-1, 0, 2}, out(3);
  gelu(x.data(), out.data(), 3);
  expect_near_all(out, {-0.15865525f, 0, 1.95449974f});
  tanh(x.data(), out.data(), 3);
  expect_near_all(out, {-0.76159416f, 0, 0.96402758f});
  exp(x.data(), out.data(), 3);
  expect_near_all(out, {0.36787944f, 1, 7.3890561f}, 1e-6f);
  sin(x.data(), out.data(), 3);
  expect_near_all(out, {-0.84147098f, 0, 0.90929743f});
  cos(x.data(), out.data(), 3);
  expect_near_all(out, {0.54030231f, 1, -0.41614684f});
  sigmoid(x.data(), out.data(), 3);
  expect_near_all(out, {0.26894142f, 0.5f, 0.88079708f});
  std::vector<float> p = {0.25f, 1, 4}, pout(3);
  log(p.data(), pout.data(), 3);
  expect_near_all(pout, {-1.38629436f, 0, 1.38629436f});
  square_root(p.data(), pout.data(), 3);
  expect_near_all(pout, {0.5f, 1, 2});
  reciprocal_square_root(p.data(), pout.data(), 3);
  expect_near_all(pout, {2, 1, 0.5f});
  std::vector<float> z = {0, -1}, zout(2);
  log(z.data(), zout.data(), 2);
  EXPECT_EQ(zout[0], -kInf);
  EXPECT_TRUE(std::isnan(zout[1]));
}

TEST(NativeUnaryTest, SimpleAndPiecewiseFunctions) {
  std::vector<float> x = {-4, -1.5f, 0.5f, 4}, out(4);
  negate(x.data(), out.data(), 4);
  EXPECT_EQ(out, (std::vector<float>{4, 1.5f, -0.5f, -4}));
  abs(x.data(), out.data(), 4);
  EXPECT_EQ(out, (std::vector<float>{4, 1.5f, 0.5f, 4}));
  square(x.data(), out.data(), 4);
  EXPECT_EQ(out, (std::vector<float>{16, 2.25f, 0.25f, 16}));
  floor(x.data(), out.data(), 4);
  EXPECT_EQ(out, (std::vector<float>{-4, -2, 0, 4}));
  ceiling(x.data(), out.data(), 4);
  EXPECT_EQ(out, (std::vector<float>{-4, -1, 1, 4}));
  hardswish(x.data(), out.data(), 4);
  expect_near_all(out, {0, -1.5f * 1.5f / 6, 0.5f * 3.5f / 6, 4});
  leaky_relu(x.data(), out.data(), 4, 0.1f);
  expect_near_all(out, {-0.4f, -0.15f, 0.5f, 4});
  elu(x.data(), out.data(), 4, 2.0f);
  expect_near_all(out, {float(2 * std::expm1(-4.0)), float(2 * std::expm1(-1.5)), 0.5f, 4});
  clamp(x.data(), out.data(), 4, -1, 1);
  EXPECT_EQ(out, (std::vector<float>{-1, -1, 0.5f, 1}));
}

TEST(NativeUnaryTest, InPlaceExtremesNanAndEmpty) {
  std::vector<float> x = {-100, 100, NAN};
  sigmoid(x.data(), x.data(), 3);  // in place
  EXPECT_GT(x[0], 0.0f);
  EXPECT_LT(x[0], 1e-43f);
  EXPECT_EQ(x[1], 1.0f);
  EXPECT_TRUE(std::isnan(x[2]));
  std::vector<float> c = {NAN, 5};
  clamp(c.data(), c.data(), 2, 0, 1);
  EXPECT_TRUE(std::isnan(c[0]));
  EXPECT_EQ(c[1], 1.0f);
  float untouched = kSentinel;
  gelu(nullptr, &untouched, 0);
  EXPECT_EQ(untouched, kSentinel);
}

}  // namespace
}  // namespace etp_xnnpack::native

// ---- the fp32 fully-connected kernel (native_gemm.h) ----

namespace etp_xnnpack::native {
namespace {

// Fills each vector with seeded multiples of 1/256 in [-2, 2): sums of their products are exact
// enough that the kernels' results can be compared bit for bit.
void fill_exact(std::initializer_list<std::vector<float>*> vectors, uint32_t state) {
  for (std::vector<float>* v : vectors) {
    for (float& f : *v) {
      state = state * 1664525u + 1013904223u;
      f = static_cast<float>(static_cast<int>(state >> 22) - 512) / 256.0f;
    }
  }
}

// The first 64-byte aligned float in `v` (which has 16 floats of room for it).
float* aligned64(std::vector<float>* v) {
  return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(v->data()) + 63) & ~uintptr_t{63});
}

TEST(NativeGemmTest, MatchesTheDefinitionOnRaggedShapes) {
  if (!gemm_available()) GTEST_SKIP() << "no AVX-512F or AVX2 on this CPU: the plugin runs XNNPACK's operator instead";
  struct Case {
    size_t rows, k, nout;
    bool transposed, bias;
    float lo, hi;
  };
  constexpr float kInf = std::numeric_limits<float>::infinity();
  for (const Case& c : {Case{1, 1, 1, false, false, -kInf, kInf}, Case{8, 16, 32, false, true, -kInf, kInf},
                        Case{9, 33, 47, false, true, 0.0f, kInf}, Case{17, 7, 65, true, true, -1.0f, 1.0f},
                        Case{3, 512, 100, true, false, -kInf, 6.0f}, Case{64, 64, 96, false, true, -kInf, kInf}}) {
    std::vector<float> x(c.rows * c.k), w(c.nout * c.k), b(c.nout);
    fill_exact({&x, &w, &b}, 7);
    std::vector<float> packed(gemm_packed_floats(c.k, c.nout) + 16);
    float* aligned = aligned64(&packed);
    gemm_pack(w.data(), c.transposed, c.bias ? b.data() : nullptr, c.k, c.nout, aligned);
    std::vector<float> out(c.rows * c.nout + 1, -99.0f);
    const size_t panels = (c.nout + kGemmPanel - 1) / kGemmPanel;
    // Two calls over halves of the rows and panels, as the pool splits the work.
    gemm_run(x.data(), c.k, c.nout, aligned, c.lo, c.hi, out.data(), 0, c.rows / 2, 0, panels);
    gemm_run(x.data(), c.k, c.nout, aligned, c.lo, c.hi, out.data(), c.rows / 2, c.rows, 0, panels / 2);
    gemm_run(x.data(), c.k, c.nout, aligned, c.lo, c.hi, out.data(), c.rows / 2, c.rows, panels / 2, panels);
    for (size_t r = 0; r < c.rows; ++r) {
      for (size_t n = 0; n < c.nout; ++n) {
        // Weights as [nout][k], or [k][nout] when transposed.
        float want = c.bias ? b[n] : 0.0f;
        for (size_t p = 0; p < c.k; ++p) {
          want = std::fma(x[r * c.k + p], c.transposed ? w[p * c.nout + n] : w[n * c.k + p], want);
        }
        want = std::min(std::max(want, c.lo), c.hi);
        ASSERT_EQ(out[r * c.nout + n], want) << c.rows << "x" << c.k << "x" << c.nout << " at " << r << "," << n;
      }
    }
    EXPECT_EQ(out.back(), -99.0f);  // nothing written past the last row
  }
}

// ---- the same kernel as a convolution (native_gemm.h conv_run) ----

TEST(NativeConvTest, MatchesTheDefinitionWithPaddingStridesAndDilation) {
  if (!conv_available()) GTEST_SKIP() << "no AVX-512F on this CPU: the plugin runs XNNPACK's operator instead";
  struct Case {
    ConvGeometry g;
    size_t pad_bottom, pad_right;
    bool bias;
    float lo, hi;
  };
  constexpr float kInf = std::numeric_limits<float>::infinity();
  // {batch, in_h, in_w, cin, out_h, out_w (filled below), cout, kh, kw, sh, sw, dh, dw, pad_top, pad_left}
  const std::vector<Case> cases = {
      {{1, 6, 6, 3, 0, 0, 8, 3, 3, 1, 1, 1, 1, 1, 1}, 1, 1, true, -kInf, kInf},     // "same" 3x3
      {{2, 7, 5, 5, 0, 0, 40, 3, 2, 2, 1, 1, 1, 0, 1}, 1, 0, true, 0.0f, kInf},     // stride, ragged panel
      {{1, 9, 9, 4, 0, 0, 33, 3, 3, 1, 2, 2, 2, 2, 1}, 2, 3, false, -1.0f, 1.0f},   // dilation, odd pads
      {{1, 4, 4, 16, 0, 0, 200, 1, 1, 1, 1, 1, 1, 0, 0}, 0, 0, true, -kInf, 6.0f},  // 1x1, seven panels
      {{1, 1, 12, 6, 0, 0, 17, 1, 7, 1, 1, 1, 1, 0, 3}, 0, 3, true, -kInf, kInf},   // a 1-D conv as 2-D
      {{1, 10, 10, 2, 0, 0, 32, 8, 8, 1, 1, 1, 1, 3, 4}, 4, 3, true, -kInf, kInf},  // the most taps
      {{1, 3, 3, 2, 0, 0, 5, 3, 3, 1, 1, 1, 1, 5, 5}, 5, 5, true, -kInf, kInf},     // pads past the image
  };
  for (Case c : cases) {
    ConvGeometry& g = c.g;
    g.out_h = (g.in_h + g.pad_top + c.pad_bottom - g.dilation_h * (g.kernel_h - 1) - 1) / g.stride_h + 1;
    g.out_w = (g.in_w + g.pad_left + c.pad_right - g.dilation_w * (g.kernel_w - 1) - 1) / g.stride_w + 1;
    const size_t taps = g.kernel_h * g.kernel_w;
    ASSERT_LE(taps, kConvMaxTaps);
    std::vector<float> x(g.batch * g.in_h * g.in_w * g.cin), w(g.cout * taps * g.cin), b(g.cout);
    fill_exact({&x, &w, &b}, 11);
    std::vector<float> packed(conv_packed_floats(taps, g.cin, g.cout) + 16);
    float* aligned = aligned64(&packed);
    conv_pack(w.data(), c.bias ? b.data() : nullptr, taps, g.cin, g.cout, aligned);
    const size_t pixels = g.batch * g.out_h * g.out_w, panels = (g.cout + kGemmPanel - 1) / kGemmPanel;
    std::vector<float> out(pixels * g.cout + 1, -99.0f);
    // Three calls over parts of the pixels and panels, as the pool splits the work.
    conv_run(x.data(), g, aligned, c.lo, c.hi, out.data(), 0, pixels / 3, 0, panels);
    conv_run(x.data(), g, aligned, c.lo, c.hi, out.data(), pixels / 3, pixels, 0, panels / 2);
    conv_run(x.data(), g, aligned, c.lo, c.hi, out.data(), pixels / 3, pixels, panels / 2, panels);
    for (size_t q = 0; q < pixels; ++q) {
      const size_t n = q / (g.out_h * g.out_w), oy = q / g.out_w % g.out_h, ox = q % g.out_w;
      for (size_t o = 0; o < g.cout; ++o) {
        // The bias, then kernel positions row by row, then input channels, with fused multiply-adds.
        float want = c.bias ? b[o] : 0.0f;
        for (size_t ky = 0; ky < g.kernel_h; ++ky) {
          for (size_t kx = 0; kx < g.kernel_w; ++kx) {
            const long iy = long(oy * g.stride_h + ky * g.dilation_h) - long(g.pad_top);
            const long ix = long(ox * g.stride_w + kx * g.dilation_w) - long(g.pad_left);
            const bool inside = iy >= 0 && ix >= 0 && iy < long(g.in_h) && ix < long(g.in_w);
            for (size_t i = 0; i < g.cin; ++i) {
              const float xv = inside ? x[((n * g.in_h + iy) * g.in_w + ix) * g.cin + i] : 0.0f;
              want = std::fma(xv, w[((o * g.kernel_h + ky) * g.kernel_w + kx) * g.cin + i], want);
            }
          }
        }
        want = std::min(std::max(want, c.lo), c.hi);
        ASSERT_EQ(out[q * g.cout + o], want) << "case " << g.kernel_h << "x" << g.kernel_w << " cout " << g.cout
                                             << " at pixel " << q << ", channel " << o;
      }
    }
    EXPECT_EQ(out.back(), -99.0f);  // nothing written past the last pixel
  }
}

}  // namespace
}  // namespace etp_xnnpack::native
