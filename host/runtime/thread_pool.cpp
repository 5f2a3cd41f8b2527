#include "runtime/thread_pool.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>

namespace etp::runtime {
namespace {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "futex words are plain 32-bit integers");

void futex_wait(std::atomic<uint32_t>* word, uint32_t expected) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}
void futex_wake(std::atomic<uint32_t>* word, int count) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
}

inline void relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins of a worker after its last chunk (a few microseconds) and of the caller before it sleeps.
constexpr int kWorkerSpins = 1000;
constexpr int kCallerSpins = 1000;
// The low half of a ticket while a job is being written: above any chunk count, so no claim.
constexpr uint64_t kClosed = UINT32_MAX;

thread_local bool t_in_task = false;  // running a chunk: a nested call runs inline

}  // namespace

ThreadPool::ThreadPool(uint32_t threads) : threads_(std::max<uint32_t>(threads, 1)) {}

ThreadPool::~ThreadPool() {
  stopping_.store(true);
  wake_.fetch_add(1);
  futex_wake(&wake_, INT_MAX);
  for (std::thread& t : workers_) t.join();
}

uint64_t ThreadPool::worker_cpu_ns() const {
  if (!started_.load()) return 0;
  uint64_t total = 0;
  for (const std::thread& t : workers_) {
    clockid_t clock;
    timespec ts{};
    if (::pthread_getcpuclockid(const_cast<std::thread&>(t).native_handle(), &clock) == 0 &&
        ::clock_gettime(clock, &ts) == 0) {
      total += static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
    }
  }
  return total;
}

void ThreadPool::start_workers() {
  for (uint32_t i = 1; i < threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
  started_.store(true);
}

uint32_t ThreadPool::run_chunks(uint64_t generation) {
  uint32_t ran = 0;
  uint64_t ticket = ticket_.load();
  for (;;) {
    if (ticket >> 32 != generation) return ran;  // a newer job: a worker looks at its caller's CPU first
    const uint32_t next = static_cast<uint32_t>(ticket);
    // Read the job before claiming: a successful claim proves these belong to its generation
    // (fields are written only while their generation's ticket is closed, and the next job
    // closes it only after every chunk of this one was claimed and run).
    const uint32_t chunks = chunks_.load();
    if (next >= chunks) return ran;
    const Task task = task_.load();
    void* const context = context_.load();
    const uint64_t count = count_.load(), grain = grain_.load();
    if (!ticket_.compare_exchange_weak(ticket, ticket + 1)) continue;  // ticket now holds the current value
    const uint64_t begin = static_cast<uint64_t>(next) * grain;
    t_in_task = true;
    task(context, begin, std::min(count, begin + grain));
    t_in_task = false;
    ++ran;
    if (done_.fetch_add(1) + 1 == chunks && caller_waits_.load() != 0) futex_wake(&done_, 1);
    ticket = ticket_.load();
  }
}

void ThreadPool::worker_loop() {
  uint64_t looked_at = 0;  // the last job generation whose caller's CPU this worker compared
  for (;;) {
    const uint32_t seen = wake_.load();
    if (stopping_.load()) return;
    // Woken onto the caller's CPU (the scheduler does that when the other cores are taken): the
    // two would only take turns, and this worker's chunks and spinning would delay the caller by
    // up to a time slice. Take nothing, say so, and sleep.
    const uint64_t generation = ticket_.load() >> 32;
    bool crowded = false;
    if (generation != looked_at) {
      looked_at = generation;
      const int caller = caller_cpu_.load();
      crowded = caller >= 0 && sched_getcpu() == caller;
    }
    if (crowded) {
      crowded_wakes_.fetch_add(1, std::memory_order_relaxed);
    } else if (const uint32_t ran = run_chunks(generation)) {
      worker_chunks_.fetch_add(ran, std::memory_order_relaxed);
    }
    // Idle: watch for the next job for a moment, then sleep until one is published.
    bool woke = false;
    for (int i = 0; i < kWorkerSpins && !woke && !crowded; ++i) {
      relax();
      woke = wake_.load(std::memory_order_relaxed) != seen;
    }
    if (woke) continue;
    sleepers_.fetch_add(1);
    if (wake_.load() == seen && !stopping_.load()) futex_wait(&wake_, seen);
    sleepers_.fetch_sub(1);
  }
}

void ThreadPool::back_off() {
  // A stall costs up to a scheduler tick (4 ms at HZ=250); the first back-off is as long, and
  // one after fewer than kRecentCalls parallel calls since the last is four times longer, up to
  // 256 ms. (Shrinking the penalty on each calm call instead let it fall back between stalls
  // that came 10 to 19 times per 1000 executes, and a 2-thread busy p99 was 14x: dq_8da4w_wide,
  // measured. Rare stalls, as a shared machine's noise gives, keep the 4 ms.)
  penalty_ =
      penalty_.count() != 0 && parallel_calls_ < kRecentCalls ? std::min(penalty_ * 4, kMaxPenalty) : kMinPenalty;
  parallel_calls_ = 0;
  solo_until_ = std::chrono::steady_clock::now() + penalty_;
  stalls_.fetch_add(1, std::memory_order_relaxed);
}

void ThreadPool::parallel_for(uint64_t count, uint64_t grain, Task task, void* context) {
  if (count == 0 || task == nullptr) return;
  if (grain == 0) grain = std::max<uint64_t>(1, count / (4 * static_cast<uint64_t>(threads_)));
  // Chunk indices fit 32 bits, below kClosed.
  grain = std::max<uint64_t>(grain, (count + kClosed - 1) / kClosed);
  const uint64_t chunks = (count + grain - 1) / grain;
  bool expected = false;
  if (threads_ == 1 || chunks == 1 || t_in_task || !busy_.compare_exchange_strong(expected, true)) {
    task(context, 0, count);  // one chunk's worth of work, nested, or the pool is taken
    return;
  }
  if (std::chrono::steady_clock::now() < solo_until_) {  // backing off after a stall (see the header)
    t_in_task = true;
    task(context, 0, count);
    t_in_task = false;
    busy_.store(false);
    return;
  }
  ++parallel_calls_;
  const bool first_job = !started_.load();
  if (first_job) start_workers();  // under busy_: one starter
  // The new generation first, closed (no chunk claimable), then the job, then open it. A worker
  // still holding the previous generation's ticket now fails its claim, whatever job fields it
  // read; were the fields written first, a late worker could claim "chunk n of the old job"
  // with the new job's chunk count and run a chunk that does not exist.
  const uint64_t generation = (ticket_.load() >> 32) + 1;
  // Before the generation: a worker that sees the new generation then reads this job's CPU.
  caller_cpu_.store(sched_getcpu());
  ticket_.store(generation << 32 | kClosed);
  task_.store(task);
  context_.store(context);
  count_.store(count);
  grain_.store(grain);
  chunks_.store(static_cast<uint32_t>(chunks));
  done_.store(0);
  ticket_.store(generation << 32);  // publishes the job: chunk 0 is claimable from here on
  wake_.fetch_add(1);
  if (sleepers_.load() != 0) futex_wake(&wake_, static_cast<int>(threads_ - 1));
  const auto start = std::chrono::steady_clock::now();
  const uint32_t ran = run_chunks(generation);
  // A worker found itself on this CPU (now or after an earlier job) and no worker helped: the
  // cores are taken. Back off as after a stall; waking workers would only cost the caller.
  const uint64_t crowded_wakes = crowded_wakes_.load(std::memory_order_relaxed);
  const bool crowded = crowded_wakes != crowded_seen_ && ran == chunks;
  crowded_seen_ = crowded_wakes;
  if (crowded && !first_job) {
    back_off();
  } else if (done_.load() != chunks) {
    // Every chunk is claimed; wait only for those running on workers right now.
    const auto worked = std::chrono::steady_clock::now() - start;
    for (int i = 0; i < kCallerSpins && done_.load() != chunks; ++i) relax();
    caller_waits_.store(1);
    for (uint32_t d = done_.load(); d != chunks; d = done_.load()) futex_wait(&done_, d);
    caller_waits_.store(0);
    const auto waited = std::chrono::steady_clock::now() - start - worked;
    // A worker was descheduled holding a chunk (not counted for the job that started the
    // workers: thread creation is slow once).
    if (waited > worked && waited > std::chrono::microseconds(100) && !first_job) back_off();
  }
  busy_.store(false);
}

}  // namespace etp::runtime
