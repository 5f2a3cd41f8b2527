// The LLM operators plugin: KV-cache writes and SDPA over the caches, checked against attention
// computed here in double (the comparison with ExecuTorch's runtime is in the llm_* fixtures),
// grouped-query head mapping, the causal and masked key ranges, and the errors where
// ExecuTorch would abort or write outside the cache.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "plugins/portable/op_call.h"

namespace etp::test {
namespace {

// [1, rows, heads, dim] float32 holding f(row, head, d).
template <typename F>
TestTensor tensor4(int64_t rows, int64_t heads, int64_t dim, F f) {
  TestTensor t(ETP_DTYPE_FLOAT32, {1, rows, heads, dim});
  std::vector<float> v;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t d = 0; d < dim; ++d) v.push_back(f(r, h, d));
  t.set_logical(v);
  return t;
}

// softmax(q.k / sqrt(dim)) v in double, for query row r of head h over keys [0, keys).
double reference(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v, int64_t r,
                 int64_t h, int64_t hk, int64_t d_out, int64_t keys, int64_t heads, int64_t kv_heads, int64_t dim) {
  std::vector<double> s(static_cast<size_t>(keys));
  double max = -INFINITY, sum = 0, acc = 0;
  for (int64_t j = 0; j < keys; ++j) {
    double dot = 0;
    for (int64_t d = 0; d < dim; ++d) dot += double(q[(r * heads + h) * dim + d]) * k[(j * kv_heads + hk) * dim + d];
    s[j] = dot / std::sqrt(double(dim));
    max = std::max(max, s[j]);
  }
  for (int64_t j = 0; j < keys; ++j) {
    const double p = std::exp(s[j] - max);
    sum += p;
    acc += p * v[(j * kv_heads + hk) * dim + d_out];
  }
  return acc / sum;
}

TEST(LlmOpsTest, UpdateCacheThenCausalGroupedQueryAttention) {
  KernelHarness h(ETP_LLM_PLUGIN_PATH);
  const int64_t max_rows = 6, heads = 4, kv_heads = 2, dim = 3;
  TestTensor k_cache = tensor4(max_rows, kv_heads, dim, [](auto...) { return NAN; });  // unread rows may hold anything
  TestTensor v_cache = tensor4(max_rows, kv_heads, dim, [](auto...) { return NAN; });
  auto fk = [](int64_t r, int64_t h, int64_t d) { return std::sin(float(r * 7 + h * 3 + d)); };
  auto fv = [](int64_t r, int64_t h, int64_t d) { return std::cos(float(r * 5 + h * 2 + d)); };
  auto fq = [](int64_t r, int64_t h, int64_t d) { return std::sin(float(r + 11 * h + 3 * d)); };
  // Prefill 3 rows at start_pos 0, then one more row at start_pos 3.
  TestTensor k0 = tensor4(3, kv_heads, dim, fk), v0 = tensor4(3, kv_heads, dim, fv);
  TestTensor dummy(ETP_DTYPE_FLOAT32, {1});
  ASSERT_EQ(call(h, "llama::update_cache.out", {V::tensor(k0), V::tensor(k_cache), V::integer(0), V::tensor(dummy)}),
            ETP_OK)
      << h.last_error();
  ASSERT_EQ(call(h, "llama::update_cache.out", {V::tensor(v0), V::tensor(v_cache), V::integer(0), V::tensor(dummy)}),
            ETP_OK);
  TestTensor q0 = tensor4(3, heads, dim, fq), out0(ETP_DTYPE_FLOAT32, {1, 3, heads, dim});
  ASSERT_EQ(call(h, "llama::custom_sdpa.out",
                 {V::tensor(q0), V::tensor(k_cache), V::tensor(v_cache), V::integer(0), V::none(), V::real(0),
                  V::boolean(true), V::none(), V::tensor(out0)}),
            ETP_OK)
      << h.last_error();
  const auto kc = k_cache.logical<float>(), vc = v_cache.logical<float>(), q = q0.logical<float>(),
             got = out0.logical<float>();
  for (int64_t r = 0; r < 3; ++r) {
    for (int64_t hh = 0; hh < heads; ++hh) {
      for (int64_t d = 0; d < dim; ++d) {
        // Row r sees keys 0..r; query head hh reads key/value head hh / 2.
        EXPECT_NEAR(got[(r * heads + hh) * dim + d],
                    reference(q, kc, vc, r, hh, hh / 2, d, r + 1, heads, kv_heads, dim), 1e-6)
            << "row " << r << " head " << hh;
      }
    }
  }
  // Non-causal decode at start_pos 2 with one query: sees keys 0..2 (start_pos + 1 of them).
  TestTensor q1 = tensor4(1, heads, dim, fq), out1(ETP_DTYPE_FLOAT32, {1, 1, heads, dim});
  ASSERT_EQ(call(h, "llama::custom_sdpa.out",
                 {V::tensor(q1), V::tensor(k_cache), V::tensor(v_cache), V::integer(2), V::none(), V::real(0),
                  V::boolean(false), V::none(), V::tensor(out1)}),
            ETP_OK)
      << h.last_error();
  const auto q1v = q1.logical<float>(), got1 = out1.logical<float>();
  for (int64_t hh = 0; hh < heads; ++hh) {
    EXPECT_NEAR(got1[hh * dim], reference(q1v, kc, vc, 0, hh, hh / 2, 0, 3, heads, kv_heads, dim), 1e-6);
  }
}

TEST(LlmOpsTest, MaskedAttentionReadsTheWholeCacheAndAFullyMaskedRowIsNaN) {
  KernelHarness h(ETP_LLM_PLUGIN_PATH);
  TestTensor k = tensor4(2, 1, 2, [](int64_t r, int64_t, int64_t d) { return float(r + d); });
  TestTensor v = tensor4(2, 1, 2, [](int64_t r, int64_t, int64_t d) { return float(10 * r + d); });
  TestTensor q = tensor4(2, 1, 2, [](auto...) { return 0.0f; });  // equal scores: the mask decides
  auto mask = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 2}, {0, std::log(3.0f), -INFINITY, -INFINITY});
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 1, 2});
  ASSERT_EQ(call(h, "llama::custom_sdpa.out",
                 {V::tensor(q), V::tensor(k), V::tensor(v), V::integer(0), V::tensor(mask), V::real(0),
                  V::boolean(false), V::none(), V::tensor(out)}),
            ETP_OK)
      << h.last_error();
  const auto got = out.logical<float>();
  // Row 0: weights 1 : 3 over values rows 0 and 1.
  EXPECT_NEAR(got[0], 0.25 * 0 + 0.75 * 10, 1e-5);
  EXPECT_NEAR(got[1], 0.25 * 1 + 0.75 * 11, 1e-5);
  EXPECT_TRUE(std::isnan(got[2]) && std::isnan(got[3])) << "every key masked, as ExecuTorch: NaN";
  EXPECT_EQ(call(h, "llama::custom_sdpa.out",
                 {V::tensor(q), V::tensor(k), V::tensor(v), V::integer(0), V::tensor(mask), V::real(0),
                  V::boolean(true), V::none(), V::tensor(out)}),
            ETP_ERR_INVALID_ARGUMENT)
      << "a mask and is_causal together";
}

TEST(LlmOpsTest, RefusesWhatExecuTorchWouldWriteOutsideTheCacheOrAbortOn) {
  KernelHarness h(ETP_LLM_PLUGIN_PATH);
  TestTensor cache = tensor4(4, 2, 2, [](auto...) { return 0.0f; });
  TestTensor rows3 = tensor4(3, 2, 2, [](auto...) { return 1.0f; });
  TestTensor dummy(ETP_DTYPE_FLOAT32, {1});
  auto update = [&](TestTensor& value, int64_t pos) {
    return call(h, "llama::update_cache.out", {V::tensor(value), V::tensor(cache), V::integer(pos), V::tensor(dummy)});
  };
  EXPECT_EQ(update(rows3, -1), ETP_ERR_INVALID_ARGUMENT) << "negative start_pos";
  EXPECT_EQ(update(rows3, 2), ETP_ERR_INVALID_ARGUMENT) << "rows 2..4 of a 4-row cache";
  EXPECT_NE(h.last_error().find("3 rows at start_pos 2 do not fit cache of 4 rows"), std::string::npos)
      << h.last_error();
  EXPECT_EQ(cache.logical<float>(), std::vector<float>(16, 0.0f)) << "nothing written";
  TestTensor three_heads = tensor4(1, 3, 2, [](auto...) { return 1.0f; });
  EXPECT_EQ(update(three_heads, 0), ETP_ERR_SHAPE);
  ASSERT_EQ(update(rows3, 1), ETP_OK) << h.last_error();
  EXPECT_EQ(cache.logical<float>()[4], 1.0f);
  // update_cache_with_indices: rows go where the indices say; an index off the cache is refused
  // before anything is written.
  TestTensor two = tensor4(2, 2, 2, [](int64_t r, int64_t, int64_t) { return float(r + 5); });
  auto idx = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1, 2}, {3, 0});
  ASSERT_EQ(call(h, "llama::update_cache_with_indices.out",
                 {V::tensor(two), V::tensor(cache), V::integer(99), V::tensor(idx), V::tensor(dummy)}),
            ETP_OK)
      << h.last_error();
  EXPECT_EQ(cache.logical<float>()[12], 5.0f);
  EXPECT_EQ(cache.logical<float>()[0], 6.0f);
  auto bad = TestTensor::of<int64_t>(ETP_DTYPE_INT64, {1, 2}, {1, 4});
  EXPECT_EQ(call(h, "llama::update_cache_with_indices.out",
                 {V::tensor(two), V::tensor(cache), V::integer(0), V::tensor(bad), V::tensor(dummy)}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(cache.logical<float>()[4], 1.0f) << "row 1 untouched";
  // SDPA: 3 query heads over 2 key/value heads, and a start_pos past the cache.
  TestTensor q3 = tensor4(1, 3, 2, [](auto...) { return 1.0f; }), out(ETP_DTYPE_FLOAT32, {1, 1, 3, 2});
  EXPECT_EQ(call(h, "llama::custom_sdpa.out",
                 {V::tensor(q3), V::tensor(cache), V::tensor(cache), V::integer(0), V::none(), V::real(0),
                  V::boolean(true), V::none(), V::tensor(out)}),
            ETP_ERR_SHAPE);
  TestTensor q2 = tensor4(1, 2, 2, [](auto...) { return 1.0f; }), out2(ETP_DTYPE_FLOAT32, {1, 1, 2, 2});
  EXPECT_EQ(call(h, "llama::custom_sdpa.out",
                 {V::tensor(q2), V::tensor(cache), V::tensor(cache), V::integer(4), V::none(), V::real(0),
                  V::boolean(true), V::none(), V::tensor(out2)}),
            ETP_ERR_INVALID_ARGUMENT)
      << "start_pos 4 + 1 query reaches past 4 cached rows";
}

// custom_quantized_sdpa dequantizes int8 q, k, v per (token, head) and attends like custom_sdpa on
// the dequantized floats, in either layout; every zero point and scale is required.
TEST(LlmOpsTest, QuantizedSdpaAttendsOverDequantizedValuesInBothLayouts) {
  KernelHarness h(ETP_LLM_PLUGIN_PATH);
  const int64_t rows = 3, heads = 2, dim = 2;
  auto qv = [](int64_t r, int64_t hh, int64_t d) { return int8_t((r * 5 + hh * 3 + d * 7) % 11 - 5); };
  auto kv = [](int64_t r, int64_t hh, int64_t d) { return int8_t((r * 3 + hh + d * 2) % 9 - 4); };
  auto vv = [](int64_t r, int64_t hh, int64_t d) { return int8_t((r + hh * 4 + d) % 7 - 3); };
  const float scale_of[3] = {0.5f, 0.25f, 2.0f};
  const int8_t zp_of[3] = {1, -2, 0};
  for (bool seq_at_2 : {false, true}) {
    auto shape = [&](int64_t last) {
      return seq_at_2 ? std::vector<int64_t>{1, heads, rows, last} : std::vector<int64_t>{1, rows, heads, last};
    };
    auto index = [&](int64_t r, int64_t hh) { return seq_at_2 ? hh * rows + r : r * heads + hh; };
    TestTensor qi(ETP_DTYPE_INT8, shape(dim)), ki(ETP_DTYPE_INT8, shape(dim)), vi(ETP_DTYPE_INT8, shape(dim));
    TestTensor qf(ETP_DTYPE_FLOAT32, {1, rows, heads, dim}), kf(ETP_DTYPE_FLOAT32, {1, rows, heads, dim}),
        vf(ETP_DTYPE_FLOAT32, {1, rows, heads, dim});
    std::vector<int8_t> qd(rows * heads * dim), kd(qd.size()), vd(qd.size());
    std::vector<float> qff(qd.size()), kff(qd.size()), vff(qd.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t hh = 0; hh < heads; ++hh)
        for (int64_t d = 0; d < dim; ++d) {
          const int64_t at = index(r, hh) * dim + d, f = (r * heads + hh) * dim + d;
          qd[at] = qv(r, hh, d), kd[at] = kv(r, hh, d), vd[at] = vv(r, hh, d);
          qff[f] = (qd[at] - zp_of[0]) * scale_of[0];
          kff[f] = (kd[at] - zp_of[1]) * scale_of[1];
          vff[f] = (vd[at] - zp_of[2]) * scale_of[2];
        }
    qi.set_logical(qd), ki.set_logical(kd), vi.set_logical(vd);
    qf.set_logical(qff), kf.set_logical(kff), vf.set_logical(vff);
    std::vector<TestTensor> zps, scales;
    for (int i = 0; i < 3; ++i) {
      zps.emplace_back(ETP_DTYPE_INT8, shape(1));
      zps.back().set_logical(std::vector<int8_t>(rows * heads, zp_of[i]));
      scales.emplace_back(ETP_DTYPE_FLOAT32, shape(1));
      scales.back().set_logical(std::vector<float>(rows * heads, scale_of[i]));
    }
    TestTensor out(ETP_DTYPE_FLOAT32, shape(dim)), expected(ETP_DTYPE_FLOAT32, {1, rows, heads, dim});
    ASSERT_EQ(call(h, "llama::custom_quantized_sdpa.out",
                   {V::tensor(qi), V::tensor(ki), V::tensor(vi), V::integer(0), V::none(), V::real(0), V::boolean(true),
                    V::none(), V::tensor(zps[0]), V::tensor(scales[0]), V::tensor(zps[1]), V::tensor(scales[1]),
                    V::tensor(zps[2]), V::tensor(scales[2]), V::boolean(seq_at_2), V::tensor(out)}),
              ETP_OK)
        << h.last_error();
    ASSERT_EQ(call(h, "llama::custom_sdpa.out",
                   {V::tensor(qf), V::tensor(kf), V::tensor(vf), V::integer(0), V::none(), V::real(0), V::boolean(true),
                    V::none(), V::tensor(expected)}),
              ETP_OK);
    const auto got = out.logical<float>(), want = expected.logical<float>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t hh = 0; hh < heads; ++hh)
        for (int64_t d = 0; d < dim; ++d) {
          EXPECT_NEAR(got[index(r, hh) * dim + d], want[(r * heads + hh) * dim + d], 1e-5) << "seq_at_2 " << seq_at_2;
        }
    EXPECT_EQ(call(h, "llama::custom_quantized_sdpa.out",
                   {V::tensor(qi), V::tensor(ki), V::tensor(vi), V::integer(0), V::none(), V::real(0), V::boolean(true),
                    V::none(), V::tensor(zps[0]), V::tensor(scales[0]), V::none(), V::tensor(scales[1]),
                    V::tensor(zps[2]), V::tensor(scales[2]), V::boolean(seq_at_2), V::tensor(out)}),
              ETP_ERR_INVALID_ARGUMENT)
        << "k_zero_points missing";
  }
}

// sdpa_with_kv_cache = two update_cache calls and custom_sdpa over the caches; a refused call
// leaves both caches unchanged.
TEST(LlmOpsTest, SdpaWithKvCacheWritesBothCachesThenAttends) {
  KernelHarness h(ETP_LLM_PLUGIN_PATH);
  TestTensor kc = tensor4(4, 1, 2, [](auto...) { return 0.0f; }), vc = tensor4(4, 1, 2, [](auto...) { return 0.0f; });
  TestTensor k = tensor4(2, 1, 2, [](int64_t r, int64_t, int64_t d) { return float(r - d); });
  TestTensor v = tensor4(2, 1, 2, [](int64_t r, int64_t, int64_t d) { return float(3 * r + d); });
  TestTensor q = tensor4(2, 1, 2, [](int64_t r, int64_t, int64_t d) { return float(r + d) * 0.5f; });
  TestTensor out(ETP_DTYPE_FLOAT32, {1, 2, 1, 2}), expected(ETP_DTYPE_FLOAT32, {1, 2, 1, 2});
  auto run = [&](int64_t pos, int64_t seq_len, TestTensor& o) {
    return call(h, "llama::sdpa_with_kv_cache.out",
                {V::tensor(q), V::tensor(k), V::tensor(v), V::tensor(kc), V::tensor(vc), V::integer(pos),
                 V::integer(seq_len), V::none(), V::real(0), V::boolean(true), V::none(), V::tensor(o)});
  };
  EXPECT_EQ(run(3, 2, out), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kc.logical<float>(), std::vector<float>(8, 0.0f)) << "refused: nothing written";
  ASSERT_EQ(run(1, 2, out), ETP_OK) << h.last_error();
  EXPECT_EQ(kc.logical<float>()[2], 0.0f);  // row 1 = k row 0: (0, -1)
  EXPECT_EQ(kc.logical<float>()[3], -1.0f);
  ASSERT_EQ(call(h, "llama::custom_sdpa.out",
                 {V::tensor(q), V::tensor(kc), V::tensor(vc), V::integer(1), V::none(), V::real(0), V::boolean(true),
                  V::none(), V::tensor(expected)}),
            ETP_OK);
  EXPECT_EQ(out.logical<float>(), expected.logical<float>());
}

// llama::fallback.out: a copy into an output resized to the input's shape, refusing another dtype.
TEST(LlmOpsTest, FallbackCopiesItsInput) {
  KernelHarness h(ETP_LLM_PLUGIN_PATH);
  auto in = TestTensor::of<float>(ETP_DTYPE_FLOAT32, {2, 2}, {1, 2, 3, 4});
  TestTensor out(ETP_DTYPE_FLOAT32, {4, 4});
  ASSERT_EQ(call(h, "llama::fallback.out", {V::tensor(in), V::tensor(out)}), ETP_OK) << h.last_error();
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(out.logical<float>(), (std::vector<float>{1, 2, 3, 4}));
  TestTensor ints(ETP_DTYPE_INT32, {2, 2});
  EXPECT_EQ(call(h, "llama::fallback.out", {V::tensor(in), V::tensor(ints)}), ETP_ERR_DTYPE);
}

// Attention large enough for the thread pool (work above kParallelWork): with a host pool of 2
// threads (ABI 1.2 parallel_for) the heads spread over it; the result must equal the one-thread
// result bit for bit (each head is computed by one thread in the same order) and the
// double-precision reference. The plugin takes no options: the pool is the host's.
TEST(LlmOpsTest, PooledAttentionEqualsOneThreadAndTheReference) {
  const int64_t rows = 4, keys = 64, heads = 8, kv_heads = 2, dim = 64;
  auto fk = [](int64_t r, int64_t h, int64_t d) { return std::sin(float(r * 7 + h * 3 + d) * 0.1f); };
  auto fv = [](int64_t r, int64_t h, int64_t d) { return std::cos(float(r * 5 + h * 2 + d) * 0.1f); };
  auto fq = [](int64_t r, int64_t h, int64_t d) { return std::sin(float(r + 11 * h + 3 * d) * 0.1f); };
  std::vector<std::vector<float>> results;
  for (uint32_t threads : {1u, 2u}) {
    KernelHarness h(ETP_LLM_PLUGIN_PATH, threads);
    ASSERT_EQ(h.plugin()->init(h.plugin()->self, nullptr, 0), ETP_OK) << h.last_error();
    TestTensor k = tensor4(keys, kv_heads, dim, fk), v = tensor4(keys, kv_heads, dim, fv);
    TestTensor q = tensor4(rows, heads, dim, fq), out(ETP_DTYPE_FLOAT32, {1, rows, heads, dim});
    // Rows 60..63 of a 64-row cache, causal: row r sees keys 0 ..= 60 + r.
    ASSERT_EQ(call(h, "llama::custom_sdpa.out",
                   {V::tensor(q), V::tensor(k), V::tensor(v), V::integer(keys - rows), V::none(), V::real(0),
                    V::boolean(true), V::none(), V::tensor(out)}),
              ETP_OK)
        << h.last_error();
    results.push_back(out.logical<float>());
    const auto kc = k.logical<float>(), vc = v.logical<float>(), qv = q.logical<float>();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t hh = 0; hh < heads; hh += 3) {
        EXPECT_NEAR(results.back()[(r * heads + hh) * dim + 5],
                    reference(qv, kc, vc, r, hh, hh / 4, 5, keys - rows + r + 1, heads, kv_heads, dim), 1e-5);
      }
    }
  }
  EXPECT_EQ(results[0], results[1]);
  KernelHarness h(ETP_LLM_PLUGIN_PATH);
  const etp_option threads{"threads", "2"};
  EXPECT_EQ(h.plugin()->init(h.plugin()->self, &threads, 1), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(h.last_error().find("llm: unknown option 'threads' (it takes none; the manifest's 'threads:' sizes the "
                                "host's pool"),
            std::string::npos)
      << h.last_error();
}

}  // namespace
}  // namespace etp::test
