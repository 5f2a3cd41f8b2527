// Parity suite: each native kernel of the XNNPACK plugin against the portable plugin's kernel (run
// from the real built .so through the kernel harness) on the same seeded random inputs.
//
// Tolerances (|native - portable| <= atol + rtol * |portable|):
// - data movement (transpose, concatenate, slice) and sign/rounding ops: exact.
// - element-wise math: rtol 1e-5, atol 1e-6. Both sides call the same libm in float, so this
//   mostly guards against formula differences (e.g. hardswish's x*(c/6) vs (x*c)/6 rounding).
// - reductions (bmm, SDPA): rtol 1e-5, atol 1e-5. Summation order differs (portable
//   softmax sums in double; SDPA is an online softmax against a bmm/softmax/bmm composition),
//   so results differ by a few float ulps of the row's magnitude; inputs are in [-1, 1] and
//   K <= 32, so 1e-5 absolute is ~100 ulps of the largest partial sums.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "native_ops.h"
#include "plugins/portable/kernel_harness.h"
#include "plugins/portable/op_call.h"

namespace etp::test {
namespace {

namespace nx = etp_xnnpack::native;
using Dims = std::vector<size_t>;
using Floats = std::vector<float>;

std::vector<int64_t> i64(const Dims& d) { return std::vector<int64_t>(d.begin(), d.end()); }
size_t count(const Dims& d) { return nx::numel(d.size(), d.data()); }

TestTensor make(const Dims& dims, const Floats& data) {
  TestTensor t(ETP_DTYPE_FLOAT32, i64(dims));
  t.set_logical(data);
  return t;
}
TestTensor empty(const Dims& dims) { return TestTensor(ETP_DTYPE_FLOAT32, i64(dims)); }

TestValue str(const char* s) {
  TestValue v;
  v.value.tag = ETP_VALUE_STRING;
  v.value.u.string = {s, std::strlen(s)};
  return v;
}

class NativeParityTest : public ::testing::Test {
 protected:
  Floats random(size_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> dist(lo, hi);
    Floats v(n);
    for (float& x : v) x = dist(rng_);
    return v;
  }
  size_t random_dim(size_t lo, size_t hi) { return std::uniform_int_distribution<size_t>(lo, hi)(rng_); }
  Dims random_dims(size_t rank, size_t hi = 4) {
    Dims d(rank);
    for (size_t& x : d) x = random_dim(1, hi);
    return d;
  }

  // Runs `op` on args (out tensor last) and returns the out tensor's values.
  Floats portable(const std::string& op, std::vector<TestValue> args, TestTensor& out) {
    EXPECT_EQ(call(h_, op, std::move(args)), ETP_OK) << op << ": " << h_.last_error();
    return out.logical<float>();
  }

  static void expect_close(const Floats& native, const Floats& reference, double rtol, double atol,
                           const std::string& what) {
    ASSERT_EQ(native.size(), reference.size()) << what;
    int reported = 0;
    for (size_t i = 0; i < native.size(); ++i) {
      const double n = native[i], r = reference[i];
      const bool ok = (std::isnan(n) && std::isnan(r)) || n == r || std::fabs(n - r) <= atol + rtol * std::fabs(r);
      if (!ok && reported++ < 5) ADD_FAILURE() << what << " at " << i << ": native " << n << " portable " << r;
    }
  }
  static void expect_exact(const Floats& native, const Floats& reference, const std::string& what) {
    expect_close(native, reference, 0, 0, what);
  }

  KernelHarness h_;
  std::mt19937 rng_{20240611};
};

// ---- data movement ----

TEST_F(NativeParityTest, TransposeMatchesPermuteCopyForRanks1To6) {
  for (int trial = 0; trial < 24; ++trial) {
    const size_t rank = 1 + static_cast<size_t>(trial) % nx::kMaxRank;
    const Dims dims = random_dims(rank);
    Dims perm(rank);
    for (size_t i = 0; i < rank; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng_);
    Dims out_dims(rank);
    for (size_t i = 0; i < rank; ++i) out_dims[i] = dims[perm[i]];
    const Floats in = random(count(dims));
    Floats native(in.size());
    ASSERT_TRUE(nx::transpose(in.data(), native.data(), rank, dims.data(), perm.data()));
    TestTensor a = make(dims, in), out = empty(out_dims);
    expect_exact(native,
                 portable("aten::permute_copy.out", {V::tensor(a), V::int_list(i64(perm)), V::tensor(out)}, out),
                 "transpose rank " + std::to_string(rank));
  }
}

TEST_F(NativeParityTest, ConcatenateMatchesCatForEveryAxisAndInputCount) {
  for (size_t rank = 1; rank <= 4; ++rank) {
    for (size_t axis = 0; axis < rank; ++axis) {
      for (size_t inputs = 2; inputs <= nx::kMaxConcatInputs; ++inputs) {
        const Dims base = random_dims(rank);
        std::vector<Dims> dims(inputs, base);
        std::vector<Floats> data;
        std::vector<TestTensor> tensors;
        Dims out_dims = base;
        out_dims[axis] = 0;
        for (size_t i = 0; i < inputs; ++i) {
          dims[i][axis] = random_dim(0, 3);  // 0-sized inputs included
          out_dims[axis] += dims[i][axis];
          data.push_back(random(count(dims[i])));
          tensors.push_back(make(dims[i], data[i]));
        }
        std::vector<const float*> ptrs;
        std::vector<const size_t*> dim_ptrs;
        std::vector<TestTensor*> list;
        for (size_t i = 0; i < inputs; ++i) {
          ptrs.push_back(data[i].data());
          dim_ptrs.push_back(dims[i].data());
          list.push_back(&tensors[i]);
        }
        Floats native(count(out_dims));
        ASSERT_TRUE(nx::concatenate(ptrs.data(), inputs, rank, dim_ptrs.data(), axis, native.data()));
        TestTensor out = empty(out_dims);
        expect_exact(native,
                     portable("aten::cat.out",
                              {V::tensor_list(list), V::integer(static_cast<int64_t>(axis)), V::tensor(out)}, out),
                     "concatenate axis " + std::to_string(axis));
      }
    }
  }
}

// The portable slice works one dim at a time, so a multi-dim slice is a chain of slice_copy calls.
TEST_F(NativeParityTest, SliceMatchesChainedSliceCopy) {
  for (int trial = 0; trial < 18; ++trial) {
    const size_t rank = 1 + static_cast<size_t>(trial) % nx::kMaxRank;
    const Dims dims = random_dims(rank, 5);
    Dims offsets(rank), sizes(rank);
    for (size_t i = 0; i < rank; ++i) {
      offsets[i] = random_dim(0, dims[i] - 1);
      sizes[i] = random_dim(1, dims[i] - offsets[i]);
    }
    const Floats in = random(count(dims));
    Floats native(count(sizes));
    ASSERT_TRUE(nx::slice(in.data(), native.data(), rank, dims.data(), offsets.data(), sizes.data()));
    Dims cur_dims = dims;
    Floats cur = in;
    for (size_t d = 0; d < rank; ++d) {
      TestTensor a = make(cur_dims, cur);
      cur_dims[d] = sizes[d];
      TestTensor out = empty(cur_dims);
      cur = portable("aten::slice_copy.Tensor_out",
                     {V::tensor(a), V::integer(static_cast<int64_t>(d)), V::integer(static_cast<int64_t>(offsets[d])),
                      V::integer(static_cast<int64_t>(offsets[d] + sizes[d])), V::integer(1), V::tensor(out)},
                     out);
    }
    expect_exact(native, cur, "slice rank " + std::to_string(rank));
  }
}

// ---- matrix ops ----

TEST_F(NativeParityTest, BatchMatmulMatchesBmmWithAndWithoutTransposeB) {
  for (int trial = 0; trial < 12; ++trial) {
    const bool transpose_b = trial % 2 == 1;
    const size_t b0 = random_dim(1, 3), b1 = random_dim(1, 3), m = random_dim(1, 9), k = random_dim(1, 32),
                 n = random_dim(1, 9);
    const Dims da{b0, b1, m, k}, db = transpose_b ? Dims{b0, b1, n, k} : Dims{b0, b1, k, n};
    const Floats a = random(count(da)), b = random(count(db));
    Floats native(b0 * b1 * m * n);
    ASSERT_TRUE(nx::batch_matmul(a.data(), 4, da.data(), b.data(), 4, db.data(), transpose_b, native.data()));
    // Portable bmm is 3-D: fold the batch dims; for transpose_b, transpose the stored [N, K] first.
    TestTensor ta = make({b0 * b1, m, k}, a), tb = make({b0 * b1, db[2], db[3]}, b);
    TestTensor tbt = empty({b0 * b1, k, n}), out = empty({b0 * b1, m, n});
    TestTensor* rhs = &tb;
    if (transpose_b) {
      portable("aten::transpose_copy.int_out", {V::tensor(tb), V::integer(1), V::integer(2), V::tensor(tbt)}, tbt);
      rhs = &tbt;
    }
    expect_close(native, portable("aten::bmm.out", {V::tensor(ta), V::tensor(*rhs), V::tensor(out)}, out), 1e-5,
                 1e-5, "batch_matmul trial " + std::to_string(trial));
  }
}

TEST_F(NativeParityTest, BatchMatmulBroadcastMatchesExpandThenBmm) {
  // a [2,1,M,K] x b [3,K,N] -> [2,3,M,N]: portable expands both operands, then runs bmm.
  const size_t m = 4, k = 7, n = 5;
  const Dims da{2, 1, m, k}, db{3, k, n};
  const Floats a = random(count(da)), b = random(count(db));
  Floats native(2 * 3 * m * n);
  ASSERT_TRUE(nx::batch_matmul(a.data(), 4, da.data(), b.data(), 3, db.data(), false, native.data()));
  TestTensor ta = make(da, a), tb = make({1, 3, k, n}, b);
  TestTensor ea = empty({2, 3, m, k}), eb = empty({2, 3, k, n});
  const Floats av = portable("aten::expand_copy.out",
                             {V::tensor(ta), V::int_list({2, 3, m, k}), V::boolean(false), V::tensor(ea)}, ea);
  const Floats bv = portable("aten::expand_copy.out",
                             {V::tensor(tb), V::int_list({2, 3, k, n}), V::boolean(false), V::tensor(eb)}, eb);
  TestTensor a3 = make({6, m, k}, av), b3 = make({6, k, n}, bv), out = empty({6, m, n});
  expect_close(native, portable("aten::bmm.out", {V::tensor(a3), V::tensor(b3), V::tensor(out)}, out), 1e-5, 1e-5,
               "batch_matmul broadcast");
}

// ---- scaled dot-product attention ----

// SDPA against a portable composition: mul (channel scale) -> transpose_copy -> bmm -> add (mask)
// -> _softmax -> bmm, with expand_copy for the multi-query key/value.
class NativeSdpaParityTest : public NativeParityTest {
 protected:
  void check(bool multi_query, bool causal_mask, size_t b, size_t heads, size_t t_count, size_t u_count, size_t c,
             size_t d) {
    const Dims dq{b, heads, t_count, c};
    const Dims dk = multi_query ? Dims{b, u_count, c} : Dims{b, heads, u_count, c};
    const Dims dv = multi_query ? Dims{b, u_count, d} : Dims{b, heads, u_count, d};
    const Floats q = random(count(dq)), k = random(count(dk)), v = random(count(dv));
    const Floats scale = random(c, 0.1f, 1.0f);  // per channel, as XNNPACK defines it
    Floats mask(t_count * u_count, 0.0f);
    for (size_t t = 0; t < t_count; ++t)
      for (size_t u = 0; u < u_count; ++u) mask[t * u_count + u] = u > t ? -INFINITY : 0.25f * float(u % 3);
    Floats native(b * heads * t_count * d);
    ASSERT_TRUE(nx::scaled_dot_product_attention(q.data(), 4, dq.data(), k.data(), v.data(), dk.size(), dk.data(),
                                                 dv.data(), scale.data(), causal_mask ? mask.data() : nullptr,
                                                 native.data()));
    const size_t bh = b * heads;
    Floats k_full = k, v_full = v;
    if (multi_query) {
      TestTensor tk = make({b, 1, u_count, c}, k), tv = make({b, 1, u_count, d}, v);
      TestTensor ek = empty({b, heads, u_count, c}), ev = empty({b, heads, u_count, d});
      k_full = portable("aten::expand_copy.out",
                        {V::tensor(tk), V::int_list(i64({b, heads, u_count, c})), V::boolean(false), V::tensor(ek)},
                        ek);
      v_full = portable("aten::expand_copy.out",
                        {V::tensor(tv), V::int_list(i64({b, heads, u_count, d})), V::boolean(false), V::tensor(ev)},
                        ev);
    }
    TestTensor tq = make({bh, t_count, c}, q), ts = make({c}, scale), qs = empty({bh, t_count, c});
    portable("aten::mul.out", {V::tensor(tq), V::tensor(ts), V::tensor(qs)}, qs);
    TestTensor tk = make({bh, u_count, c}, k_full), kt = empty({bh, c, u_count});
    portable("aten::transpose_copy.int_out", {V::tensor(tk), V::integer(1), V::integer(2), V::tensor(kt)}, kt);
    TestTensor logits = empty({bh, t_count, u_count}), masked = empty({bh, t_count, u_count});
    portable("aten::bmm.out", {V::tensor(qs), V::tensor(kt), V::tensor(logits)}, logits);
    TestTensor* scores = &logits;
    TestTensor tm = make({t_count, u_count}, mask);
    if (causal_mask) {
      portable("aten::add.out", {V::tensor(logits), V::tensor(tm), V::integer(1), V::tensor(masked)}, masked);
      scores = &masked;
    }
    TestTensor probs = empty({bh, t_count, u_count});
    portable("aten::_softmax.out", {V::tensor(*scores), V::integer(-1), V::boolean(false), V::tensor(probs)}, probs);
    TestTensor tv = make({bh, u_count, d}, v_full), out = empty({bh, t_count, d});
    const Floats reference = portable("aten::bmm.out", {V::tensor(probs), V::tensor(tv), V::tensor(out)}, out);
    expect_close(native, reference, 1e-5, 1e-5,
                 std::string("sdpa") + (multi_query ? " multi-query" : " multi-head") + (causal_mask ? " masked" : ""));
  }
};

TEST_F(NativeSdpaParityTest, MultiHeadWithoutMask) { check(false, false, 2, 3, 5, 7, 16, 8); }
TEST_F(NativeSdpaParityTest, MultiHeadWithCausalMask) { check(false, true, 1, 4, 6, 6, 32, 16); }
TEST_F(NativeSdpaParityTest, MultiQueryWithCausalMask) { check(true, true, 2, 4, 3, 9, 8, 5); }
TEST_F(NativeSdpaParityTest, SingleTokenDecodeStep) { check(false, true, 1, 2, 1, 12, 16, 16); }

// ---- element-wise unary ----

struct UnaryCase {
  const char* op;
  void (*native)(const float*, float*, size_t);
  float lo, hi;
  bool exact;
};

TEST_F(NativeParityTest, UnaryOpsMatchPortable) {
  const UnaryCase cases[] = {
      {"aten::tanh.out", nx::tanh, -5, 5, false},
      {"aten::exp.out", nx::exp, -10, 10, false},
      {"aten::log.out", nx::log, 1e-3f, 100, false},
      {"aten::sin.out", nx::sin, -10, 10, false},
      {"aten::cos.out", nx::cos, -10, 10, false},
      {"aten::rsqrt.out", nx::reciprocal_square_root, 1e-3f, 100, false},
      {"aten::sqrt.out", nx::square_root, 0, 100, false},
      {"aten::sigmoid.out", nx::sigmoid, -20, 20, false},
      {"aten::hardswish.out", nx::hardswish, -5, 5, false},
      {"aten::neg.out", nx::negate, -5, 5, true},
      {"aten::abs.out", nx::abs, -5, 5, true},
      {"aten::floor.out", nx::floor, -5, 5, true},
      {"aten::ceil.out", nx::ceiling, -5, 5, true},
  };
  for (const UnaryCase& uc : cases) {
    const Dims dims{3, 37};
    const Floats in = random(count(dims), uc.lo, uc.hi);
    Floats native(in.size());
    uc.native(in.data(), native.data(), in.size());
    TestTensor a = make(dims, in), out = empty(dims);
    const Floats reference = portable(uc.op, {V::tensor(a), V::tensor(out)}, out);
    if (uc.exact) {
      expect_exact(native, reference, uc.op);
    } else {
      expect_close(native, reference, 1e-5, 1e-6, uc.op);
    }
  }
}

TEST_F(NativeParityTest, GeluMatchesExactGelu) {
  const Floats in = random(200, -6, 6);
  Floats native(in.size());
  nx::gelu(in.data(), native.data(), in.size());
  TestTensor a = make({200}, in), out = empty({200});
  expect_close(native, portable("aten::gelu.out", {V::tensor(a), str("none"), V::tensor(out)}, out), 1e-5, 1e-6,
               "gelu");
}

TEST_F(NativeParityTest, ParameterizedActivationsMatchPortable) {
  const Dims dims{4, 25};
  const Floats in = random(count(dims), -6, 6);
  Floats native(in.size());
  TestTensor a = make(dims, in), out = empty(dims);
  nx::clamp(in.data(), native.data(), in.size(), -0.5f, 2.0f);
  expect_exact(native, portable("aten::clamp.out", {V::tensor(a), V::real(-0.5), V::real(2.0), V::tensor(out)}, out),
               "clamp");
  nx::leaky_relu(in.data(), native.data(), in.size(), 0.125f);
  expect_exact(native, portable("aten::leaky_relu.out", {V::tensor(a), V::real(0.125), V::tensor(out)}, out),
               "leaky_relu");
  nx::elu(in.data(), native.data(), in.size(), 1.5f);
  expect_close(native,
               portable("aten::elu.out", {V::tensor(a), V::real(1.5), V::integer(1), V::integer(1), V::tensor(out)}, out),
               1e-5, 1e-6, "elu");
  nx::square(in.data(), native.data(), in.size());
  expect_close(native, portable("aten::pow.Tensor_Scalar_out", {V::tensor(a), V::integer(2), V::tensor(out)}, out),
               1e-6, 0, "square");
}

}  // namespace
}  // namespace etp::test
