// The host's thread pool (ABI 1.2 parallel_for): every item exactly once whatever the count,
// grain and thread count; nested and concurrent calls; idle threads that sleep.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

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

// Pins the calling thread to one CPU; false when this machine does not let it.
bool pin_to(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) return false;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
}

// Two CPUs this thread may run on, or fewer.
std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> out;
  if (pthread_getaffinity_np(pthread_self(), sizeof set, &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE && out.size() < 2; ++c) {
    if (CPU_ISSET(c, &set)) out.push_back(c);
  }
  return out;
}

void spin_20us(void*, uint64_t, uint64_t) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(20);
  while (std::chrono::steady_clock::now() < until) {
  }
}

// Work spreads: the worker, started while the caller ran on one CPU, is kept there, and the
// caller then moves to another, so the worker is never woken on the caller's CPU (where it
// would stay out). Over a few large jobs it runs some of the chunks, however busy the machine.
TEST(ThreadPoolTest, PoolThreadsTakeChunks) {
  const std::vector<int> cpus = allowed_cpus();
  if (cpus.size() < 2) GTEST_SKIP() << "needs two CPUs";
  bool pinned = false;
  uint64_t worker_chunks = 0;
  std::thread caller([&] {
    if (!pin_to(cpus[1])) return;
    ThreadPool pool(2);
    pool.parallel_for(64, 1, spin_20us, nullptr);  // starts the worker, on cpus[1]
    if (!(pinned = pin_to(cpus[0]))) return;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (pool.chunks_run_by_workers() == 0 && std::chrono::steady_clock::now() < deadline) {
      pool.parallel_for(64, 1, spin_20us, nullptr);
    }
    worker_chunks = pool.chunks_run_by_workers();
  });
  caller.join();
  if (!pinned) GTEST_SKIP() << "cannot pin threads to CPUs here";
  EXPECT_GT(worker_chunks, 0u);
}

// A worker woken on its caller's CPU (the scheduler's choice when the other cores are taken)
// takes no chunk, and the pool then runs calls on the caller alone for a while, longer each time
// it repeats soon: here every thread of the pool is pinned to one CPU, so each wake is such a
// wake.
TEST(ThreadPoolTest, AWorkerOnTheCallersCpuTakesNothingAndThePoolBacksOff) {
  bool pinned = false;
  uint64_t worker_chunks = 0, crowded = 0, stalls = 0, later_stalls = 0;
  std::thread caller([&] {
    // Workers start on the first parallel call, from this thread: they inherit its CPU set.
    if (!(pinned = pin_to(sched_getcpu()))) return;
    ThreadPool pool(2);
    Hits hits(64);
    uint64_t calls = 0;
    auto call = [&] {
      pool.parallel_for(64, 1, mark, &hits);
      ++calls;
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // the CPU goes idle: the worker runs
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while ((pool.crowded_wakes() == 0 || pool.stalls() == 0) && std::chrono::steady_clock::now() < deadline) call();
    // The back-offs grow (4, 16, 64, 256 ms): over the next 300 ms of calls a handful, where a
    // fixed 4 ms back-off gives about 70.
    stalls = pool.stalls();
    const auto later = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    while (std::chrono::steady_clock::now() < later) call();
    later_stalls = pool.stalls() - stalls;
    for (size_t i = 0; i < hits.count.size(); ++i) ASSERT_EQ(hits.count[i].load(), static_cast<int>(calls));
    worker_chunks = pool.chunks_run_by_workers();
    crowded = pool.crowded_wakes();
  });
  caller.join();
  if (!pinned) GTEST_SKIP() << "cannot pin a thread to one CPU here";
  EXPECT_GT(crowded, 0u);
  EXPECT_GT(stalls, 0u);
  EXPECT_LE(later_stalls, 8u);
  EXPECT_EQ(worker_chunks, 0u);
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
