// The XNNPACK plugin's pthreadpool functions (plugins/xnnpack/thread_pool.h), linked in directly:
// an operator's measured time decides whether it runs alone, and forget_timings (called when a
// delegate is destroyed) makes the pool measure again, so an operator allocated where a freed one
// was cannot inherit that one's verdict.
#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <chrono>

#include "thread_pool.h"

namespace etp_xnnpack {
namespace {

int g_parallel_calls = 0;

// A two-thread target that counts the calls it is given and runs them on the calling thread.
void count_and_run(void*, uint64_t count, uint64_t, etp_parallel_task task, void* context) {
  ++g_parallel_calls;
  task(context, 0, count);
}

struct Work {
  bool slow = false;  // each item then spins for 2 us: 64 items are far over the pool's 20 us
};

void item(void* context, size_t) {
  if (!static_cast<Work*>(context)->slow) return;
  const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(2);
  while (std::chrono::steady_clock::now() < end) {
  }
}

TEST(XnnpackPoolTimingTest, AfterForgetTimingsAnOperatorIsMeasuredAgain) {
  ParallelFor target;
  target.parallel_for = count_and_run;
  target.threads = 2;
  pthreadpool_t pool = create_pool(target);
  Work work;  // one context, task and tile count: what the pool's table is keyed by
  for (int i = 0; i < 3; ++i) pthreadpool_parallelize_1d(pool, item, &work, 64, 0);  // timed small
  // The operator is freed with its delegate and another, large one is allocated in its place.
  forget_timings(pool);
  work.slow = true;
  pthreadpool_parallelize_1d(pool, item, &work, 64, 0);  // unknown: runs alone, timed
  const int before = g_parallel_calls;
  pthreadpool_parallelize_1d(pool, item, &work, 64, 0);
  // Without forget_timings the old "small" verdict would keep it alone for up to 16 calls.
  EXPECT_EQ(g_parallel_calls, before + 1) << "a large operator still runs alone after its entry was forgotten";
  destroy_pool(pool);
}

TEST(XnnpackPoolTimingTest, ForgetTimingsIgnoresPoolsItDidNotMake) {
  forget_timings(nullptr);  // pthreadpool's NULL pool: nothing to do
  SUCCEED();
}

}  // namespace
}  // namespace etp_xnnpack
