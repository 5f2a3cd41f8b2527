// The host's thread pool (ABI 1.2 parallel_for): every item exactly once whatever the count,
// grain and thread count; nested and concurrent calls; idle threads that sleep.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "runtime/host_services.h"
#include "runtime/thread_pool.h"

namespace etp::test {
namespace {

using runtime::ThreadPool;

struct Hits {
  std::vector<std::atomic<int>> count;
  explicit Hits(size_t n) : count(n) {}
};

void mark(void* context, uint64_t begin, uint64_t end) {
  auto* hits = static_cast<Hits*>(context);
  for (uint64_t i = begin; i < end; ++i) hits->count[i].fetch_add(1);
}

TEST(ThreadPoolTest, RunsEveryItemExactlyOnce) {
  for (uint32_t threads : {1u, 2u, 5u}) {
    ThreadPool pool(threads);
    for (uint64_t count : {0ull, 1ull, 2ull, 7ull, 1000ull, 100003ull}) {
      for (uint64_t grain : {0ull, 1ull, 3ull, 64ull, 1000000ull}) {
        Hits hits(count);
        pool.parallel_for(count, grain, mark, &hits);
        for (uint64_t i = 0; i < count; ++i) {
          ASSERT_EQ(hits.count[i].load(), 1)
              << "threads " << threads << " count " << count << " grain " << grain << " item " << i;
        }
      }
    }
  }
}

// Back-to-back jobs whose chunk counts alternate, small then large: a worker late from one job
// must never run a chunk of the next (an early version let a stale ticket claim "chunk n of the
// old job" with the new job's fields: an extra chunk, and a caller waiting forever).
TEST(ThreadPoolTest, ALateWorkerNeverRunsAChunkOfTheNextJob) {
  struct Job {
    std::vector<std::atomic<int>> hits;
    std::atomic<int> outside{0};
    explicit Job(size_t n) : hits(n) {}
  };
  auto mark_checked = [](void* context, uint64_t begin, uint64_t end) {
    auto* job = static_cast<Job*>(context);
    for (uint64_t i = begin; i < end; ++i) {
      if (i < job->hits.size()) {
        job->hits[i].fetch_add(1);
      } else {
        job->outside.fetch_add(1);
      }
    }
  };
  ThreadPool pool(3);
  for (int round = 0; round < 100000; ++round) {
    const size_t count = round % 2 == 0 ? 2 : 48;
    Job job(count);
    pool.parallel_for(count, 1, mark_checked, &job);
    ASSERT_EQ(job.outside.load(), 0) << "round " << round;
    for (size_t i = 0; i < count; ++i) ASSERT_EQ(job.hits[i].load(), 1) << "round " << round << " item " << i;
  }
}

// Work spreads: over a few large jobs, the pool threads run some of the chunks.
TEST(ThreadPoolTest, PoolThreadsTakeChunks) {
  ThreadPool pool(2);
  for (int attempt = 0; attempt < 200 && pool.chunks_run_by_workers() == 0; ++attempt) {
    pool.parallel_for(
        64, 1,
        [](void*, uint64_t, uint64_t) {
          const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(20);
          while (std::chrono::steady_clock::now() < until) {
          }
        },
        nullptr);
  }
  EXPECT_GT(pool.chunks_run_by_workers(), 0u);
}

// A task that calls parallel_for again: the inner call runs on the calling thread.
TEST(ThreadPoolTest, NestedCallsRunOnTheCallingThread) {
  ThreadPool pool(3);
  struct Outer {
    ThreadPool* pool;
    std::vector<std::atomic<int>> rows = std::vector<std::atomic<int>>(16 * 16);
  } outer{&pool};
  pool.parallel_for(
      16, 1,
      [](void* context, uint64_t begin, uint64_t end) {
        auto* o = static_cast<Outer*>(context);
        for (uint64_t r = begin; r < end; ++r) {
          struct Inner {
            Outer* o;
            uint64_t row;
          } inner{o, r};
          o->pool->parallel_for(
              16, 1,
              [](void* c, uint64_t b, uint64_t e) {
                auto* in = static_cast<Inner*>(c);
                for (uint64_t i = b; i < e; ++i) in->o->rows[in->row * 16 + i].fetch_add(1);
              },
              &inner);
        }
      },
      &outer);
  for (const auto& hit : outer.rows) EXPECT_EQ(hit.load(), 1);
}

// Two threads calling at once: one job holds the pool, the other runs on its own thread; both
// complete with every item once.
TEST(ThreadPoolTest, ConcurrentCallersEachGetEveryItemOnce) {
  ThreadPool pool(2);
  std::atomic<int> failures{0};
  auto caller = [&] {
    for (int round = 0; round < 300; ++round) {
      Hits hits(257);
      pool.parallel_for(257, 5, mark, &hits);
      for (const auto& h : hits.count) failures += h.load() != 1;
    }
  };
  std::thread a(caller), b(caller);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
}

// A pool that ran work and then sits idle uses no CPU: its threads sleep (measured on the pool
// threads' own CPU clocks over 200 ms, after their short spin has ended).
TEST(ThreadPoolTest, IdleThreadsSleep) {
  ThreadPool pool(2);
  Hits hits(10000);
  pool.parallel_for(10000, 100, mark, &hits);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const uint64_t before = pool.worker_cpu_ns();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const uint64_t used = pool.worker_cpu_ns() - before;
  EXPECT_LT(used, 2'000'000u) << "idle pool threads used " << used << " ns of CPU in 200 ms (the bound is 1 %)";
}

TEST(ThreadPoolTest, HostTablesArePerPoolSize) {
  const auto& one = runtime::HostServices::for_threads(1);
  const auto& three = runtime::HostServices::for_threads(3);
  EXPECT_NE(one.api(), three.api());
  EXPECT_EQ(&runtime::HostServices::for_threads(3), &three);
  EXPECT_EQ(one.api()->thread_count(one.api()->self), 1u);
  EXPECT_EQ(three.api()->thread_count(three.api()->self), 3u);
  EXPECT_EQ(runtime::HostServices::get().threads(), runtime::HostServices::default_threads());
  Hits hits(100);
  three.api()->parallel_for(three.api()->self, 100, 0, mark, &hits);
  for (const auto& h : hits.count) EXPECT_EQ(h.load(), 1);
}

}  // namespace
}  // namespace etp::test
