// Portable kernels on the host's thread pool (ABI 1.2 parallel_for): matmul, convolution and
// large pointwise operators give the same bits at 1 and 3 threads (each output is computed by one
// thread in one order), and the pool threads take part.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <vector>

#include "plugins/portable/kernel_harness.h"

namespace etp::test {
namespace {

using V = TestValue;

TestTensor filled(std::vector<int64_t> sizes, uint32_t seed, std::vector<uint8_t> order = {}) {
  TestTensor t(ETP_DTYPE_FLOAT32, std::move(sizes), std::move(order));
  std::vector<float> values(static_cast<size_t>(etp_sdk::numel(t.view())));
  uint32_t state = seed;
  for (float& v : values) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(static_cast<int>(state >> 20) % 2001 - 1000) / 977.0f;
  }
  t.set_logical(values);
  return t;
}

// Runs `call` on a harness with 1 thread and with 3; returns both outputs and whether the
// 3-thread pool's threads took part: they ran chunks, or, with every other core taken for 5 s,
// they were woken on the caller's CPU and left the calls to it (runtime/thread_pool.h; the
// pool's own tests check both behaviours with pinned threads).
std::vector<std::vector<float>> at_one_and_three(const std::function<std::vector<float>(KernelHarness&)>& call,
                                                 bool* took_part) {
  std::vector<std::vector<float>> out;
  for (uint32_t threads : {1u, 3u}) {
    KernelHarness h(ETP_PORTABLE_PLUGIN_PATH, threads);
    out.push_back(call(h));
    if (threads == 1) continue;
    // The pool threads may all be descheduled on a busy machine (the caller then runs every
    // chunk), so more calls give them the chance to show they take part.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (h.pool().chunks_run_by_workers() == 0 && std::chrono::steady_clock::now() < deadline) call(h);
    *took_part = h.pool().chunks_run_by_workers() > 0 || h.pool().crowded_wakes() > 0;
  }
  return out;
}

TEST(PortableParallelTest, MatmulTilesGiveTheSameBitsAtAnyThreadCount) {
  // 37 x 129 x 61: partial row and column tiles; 291k multiply-adds, above the parallel bound.
  bool took_part = false;
  const auto outputs = at_one_and_three(
      [](KernelHarness& h) {
        TestTensor a = filled({37, 129}, 1), b = filled({129, 61}, 2), out(ETP_DTYPE_FLOAT32, {37, 61});
        V va = V::tensor(a), vb = V::tensor(b), vo = V::tensor(out);
        EXPECT_EQ(h.run("aten::mm.out", {&va, &vb, &vo, &vo}), ETP_OK) << h.last_error();
        const auto x = a.logical<float>(), y = b.logical<float>(), o = out.logical<float>();
        for (int64_t i = 0; i < 37; i += 9) {
          for (int64_t j = 0; j < 61; j += 7) {
            double want = 0;
            for (int64_t p = 0; p < 129; ++p) want += double(x[i * 129 + p]) * y[p * 61 + j];
            EXPECT_NEAR(o[i * 61 + j], want, 1e-4) << i << "," << j;
          }
        }
        return o;
      },
      &took_part);
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_TRUE(took_part);
}

TEST(PortableParallelTest, StridedAndBatchedMatmulGiveTheSameBits) {
  bool took_part = false;
  // The second matrix column-major: the dot-product path, spread by rows.
  const auto strided = at_one_and_three(
      [](KernelHarness& h) {
        TestTensor a = filled({40, 100}, 3), b = filled({100, 50}, 4, {1, 0}), out(ETP_DTYPE_FLOAT32, {40, 50});
        V va = V::tensor(a), vb = V::tensor(b), vo = V::tensor(out);
        EXPECT_EQ(h.run("aten::mm.out", {&va, &vb, &vo, &vo}), ETP_OK) << h.last_error();
        return out.logical<float>();
      },
      &took_part);
  EXPECT_EQ(strided[0], strided[1]);
  EXPECT_TRUE(took_part) << "strided";
  took_part = false;
  const auto batched = at_one_and_three(
      [](KernelHarness& h) {
        TestTensor a = filled({3, 20, 64}, 5), b = filled({3, 64, 40}, 6), out(ETP_DTYPE_FLOAT32, {3, 20, 40});
        V va = V::tensor(a), vb = V::tensor(b), vo = V::tensor(out);
        EXPECT_EQ(h.run("aten::bmm.out", {&va, &vb, &vo, &vo}), ETP_OK) << h.last_error();
        return out.logical<float>();
      },
      &took_part);
  EXPECT_EQ(batched[0], batched[1]);
  EXPECT_TRUE(took_part) << "batched";
}

TEST(PortableParallelTest, ConvolutionPlanesGiveTheSameBits) {
  for (bool transposed : {false, true}) {
    bool took_part = false;
    const auto outputs = at_one_and_three(
        [&](KernelHarness& h) {
          TestTensor x = filled({2, 8, 12, 12}, 7);
          TestTensor w = transposed ? filled({8, 16, 3, 3}, 8) : filled({16, 8, 3, 3}, 8);
          TestTensor bias = filled({16}, 9);
          const int64_t side = transposed ? 14 : 10;
          TestTensor out(ETP_DTYPE_FLOAT32, {2, 16, side, side});
          V vx = V::tensor(x), vw = V::tensor(w), vb = V::tensor(bias), vo = V::tensor(out);
          V stride = V::int_list({1, 1}), padding = V::int_list({0, 0}), dilation = V::int_list({1, 1});
          V vt = V::boolean(transposed), output_padding = V::int_list({0, 0}), groups = V::integer(1);
          EXPECT_EQ(h.run("aten::convolution.out",
                          {&vx, &vw, &vb, &stride, &padding, &dilation, &vt, &output_padding, &groups, &vo, &vo}),
                    ETP_OK)
              << h.last_error();
          return out.logical<float>();
        },
        &took_part);
    EXPECT_EQ(outputs[0], outputs[1]) << (transposed ? "transposed" : "direct");
    EXPECT_TRUE(took_part) << (transposed ? "transposed" : "direct");
  }
}

TEST(PortableParallelTest, LargePointwiseGivesTheSameBits) {
  bool took_part = false;
  const auto outputs = at_one_and_three(
      [](KernelHarness& h) {
        TestTensor a = filled({600, 1001}, 10), b = filled({600, 1001}, 11), out(ETP_DTYPE_FLOAT32, {600, 1001});
        V va = V::tensor(a), vb = V::tensor(b), vo = V::tensor(out);
        EXPECT_EQ(h.run("aten::mul.out", {&va, &vb, &vo, &vo}), ETP_OK) << h.last_error();
        const auto x = a.logical<float>(), y = b.logical<float>(), o = out.logical<float>();
        for (size_t i = 0; i < o.size(); i += 4099) EXPECT_EQ(o[i], x[i] * y[i]) << i;
        EXPECT_EQ(o.back(), x.back() * y.back());
        return o;
      },
      &took_part);
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_TRUE(took_part);
}

}  // namespace
}  // namespace etp::test
