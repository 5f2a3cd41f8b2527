// The host's thread pool behind etp_host_api.parallel_for (ABI 1.2), shared by every plugin of
// a bundle.
//
// Design, for a machine whose other cores may be busy (the stall the threading issue measured
// with pthreadpool, whose caller waits until every worker has checked in):
//  - the caller publishes a job and runs chunks itself; chunks are claimed one at a time from a
//    shared counter, so a worker that is not scheduled claims nothing and delays nothing;
//  - the caller waits only for chunks that a running worker has claimed, never for a worker to
//    arrive; at worst the call runs at one thread's speed;
//  - workers spin briefly after a job (back-to-back calls stay cheap), then sleep on a futex: a
//    process that holds the pool but runs nothing uses no CPU;
//  - a job's description lives in the pool, tagged with a generation; a late worker whose claim
//    names an old generation fails the claim, so it never touches a finished job;
//  - a worker descheduled in the middle of a chunk still delays the caller (its chunk must
//    finish). When the caller waited for workers longer than it worked itself, the cores are
//    oversubscribed: calls run on the caller alone for a while (4 ms, four times longer when it
//    repeats within 256 parallel calls, up to 256 ms) before workers are tried again, so under
//    sustained load a call runs at one thread's speed and only the rare probe can stall. A
//    time, not a count of calls: a count would keep a model of large operators on one thread
//    for seconds after the load went away;
//  - when the other cores are taken, the scheduler wakes a worker onto the caller's own CPU,
//    where the two only take turns: its chunks and its spinning held the caller up by up to a
//    time slice (a 2-thread p99 twice the 1-thread one with a busy core, measured). A worker
//    that finds itself on the caller's CPU (sched_getcpu, recorded with each job) takes nothing
//    and sleeps at once, and a job no worker helped with after such a wake backs off like a
//    stall.
// One job at a time: a call made while another thread's job runs, or from inside a task, runs
// its whole range on the calling thread. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace etp::runtime {

class ThreadPool {
 public:
  using Task = void (*)(void* context, uint64_t begin, uint64_t end);

  // `threads` counts the caller: threads - 1 workers, started on the first parallel call.
  explicit ThreadPool(uint32_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  uint32_t threads() const { return threads_; }
  // Chunks the pool threads (not callers) have run, and the CPU time they used (ns): how tests
  // and benchmarks see that work spread and that idle threads sleep. worker_cpu_ns must not race
  // with the first parallel_for (which starts the threads).
  uint64_t chunks_run_by_workers() const { return worker_chunks_.load(std::memory_order_relaxed); }
  uint64_t worker_cpu_ns() const;
  // Calls after which the pool backed off: a worker kept the caller waiting, or was woken onto
  // the caller's CPU and nobody helped.
  uint64_t stalls() const { return stalls_.load(std::memory_order_relaxed); }
  // Times a worker woke for a job on the caller's CPU and left the job alone.
  uint64_t crowded_wakes() const { return crowded_wakes_.load(std::memory_order_relaxed); }
  // task(context, begin, end) over [0, count) in chunks of `grain` (0: count / (4 * threads)).
  void parallel_for(uint64_t count, uint64_t grain, Task task, void* context);

 private:
  void start_workers();
  void worker_loop();
  // Claims and runs chunks of job `generation` until none is left; returns how many it ran.
  uint32_t run_chunks(uint64_t generation);
  // Calls run on the caller alone for a while (under busy_); see back_off's definition.
  void back_off();

  const uint32_t threads_;
  std::vector<std::thread> workers_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> busy_{false};  // a job is being run (one at a time)

  // The current job. ticket_: generation in the high 32 bits, next chunk in the low 32.
  std::atomic<uint64_t> ticket_{0};
  std::atomic<Task> task_{nullptr};
  std::atomic<void*> context_{nullptr};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> grain_{1};
  std::atomic<uint32_t> chunks_{0};
  std::atomic<uint32_t> done_{0};  // chunks finished (futex word the caller waits on)
  std::atomic<uint32_t> caller_waits_{0};
  std::atomic<uint32_t> wake_{0};  // bumped per job (futex word workers sleep on)
  std::atomic<uint32_t> sleepers_{0};
  std::atomic<uint64_t> worker_chunks_{0};
  std::atomic<int> caller_cpu_{-1};  // the CPU the current job's caller ran on when it published it
  std::atomic<uint64_t> crowded_wakes_{0};
  // Guarded by busy_: crowded_wakes_ when the last job ended (a newer count: a worker woke on
  // the caller's CPU since); the back-off after a stall: calls run alone until solo_until_, the
  // last back-off's length, and the calls run in parallel since.
  uint64_t crowded_seen_ = 0;
  std::chrono::steady_clock::time_point solo_until_{};
  std::chrono::nanoseconds penalty_{0};
  uint64_t parallel_calls_ = 0;
  std::atomic<uint64_t> stalls_{0};
  static constexpr std::chrono::nanoseconds kMinPenalty = std::chrono::milliseconds(4),
                                            kMaxPenalty = std::chrono::milliseconds(256);
  static constexpr uint64_t kRecentCalls = 256;
};

}  // namespace etp::runtime
