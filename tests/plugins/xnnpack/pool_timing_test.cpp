// The XNNPACK plugin's pthreadpool functions (plugins/xnnpack/thread_pool.h), linked in directly:
// an operator's measured time decides whether it runs alone, and forget_timings (called when a
// delegate is destroyed) makes the pool measure again, so an operator allocated where a freed one
// was cannot inherit that one's verdict.
#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <chrono>
#include <cstring>

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

ParallelFor two_threads() {
  ParallelFor target;
  target.parallel_for = count_and_run;
  target.threads = 2;
  return target;
}

// Calls `work` on `pool` twice and returns how many of the two went to the threads.
int parallel_calls_of_two(pthreadpool_t pool, Work& work) {
  const int before = g_parallel_calls;
  for (int i = 0; i < 2; ++i) pthreadpool_parallelize_1d(pool, item, &work, 64, 0);
  return g_parallel_calls - before;
}

TEST(XnnpackPoolTimingTest, AfterForgetTimingsAnOperatorIsMeasuredAgain) {
  pthreadpool_t pool = create_pool(two_threads());
  Work work;  // one context, task and tile count: what the pool's table is keyed by
  for (int i = 0; i < 3; ++i) pthreadpool_parallelize_1d(pool, item, &work, 64, 0);  // timed small
  // The operator is freed with its delegate and another, large one is allocated in its place:
  // its first call runs alone and is timed, its second goes to the threads. Without
  // forget_timings the old "small" verdict would keep it alone for up to 16 calls.
  forget_timings(pool);
  work.slow = true;
  EXPECT_EQ(parallel_calls_of_two(pool, work), 1) << "a large operator still runs alone after its entry was forgotten";
  destroy_pool(pool);
}

// A private copy of the plugin has a pool of its own; its operators may sit where the first
// copy's were, and must not take their verdicts.
TEST(XnnpackPoolTimingTest, AnotherPoolDoesNotShareTimings) {
  pthreadpool_t first = create_pool(two_threads()), second = create_pool(two_threads());
  Work work;
  for (int i = 0; i < 3; ++i) pthreadpool_parallelize_1d(first, item, &work, 64, 0);  // timed small
  work.slow = true;
  EXPECT_EQ(parallel_calls_of_two(second, work), 1) << "the second pool took the first pool's verdict";
  destroy_pool(first);
  destroy_pool(second);
}

// A pthreadpool another library made reaches these functions too; forget_timings leaves it be.
TEST(XnnpackPoolTimingTest, ForgetTimingsDoesNotWriteIntoAForeignPool) {
  alignas(64) unsigned char foreign[256];
  std::memset(foreign, 0xA5, sizeof foreign);  // not our pools' magic
  forget_timings(reinterpret_cast<pthreadpool_t>(foreign));
  forget_timings(nullptr);  // pthreadpool's NULL pool
  for (unsigned char byte : foreign) ASSERT_EQ(byte, 0xA5);
}

}  // namespace
}  // namespace etp_xnnpack
