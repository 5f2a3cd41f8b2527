// What the threading benchmarks share: a thread that keeps one core busy (another process's
// load, as on a shared phone or server), and a timing loop that reports the median and p99 of
// single calls (counters p50_us and p99_us), since a stall shows in the tail, not the mean.
#pragma once

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace etp::bench {

// A thread spinning on a core for the life of the object, when `on`.
class BusyCore {
 public:
  explicit BusyCore(bool on) {
    if (on)
      thread_ = std::thread([this] {
        volatile uint64_t x = 0;
        while (!stop_.load(std::memory_order_relaxed)) x = x + 1;
      });
  }
  ~BusyCore() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  BusyCore(const BusyCore&) = delete;
  BusyCore& operator=(const BusyCore&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Times each call of `call` (a core kept busy when `busy`) and reports p50/p99 in microseconds.
// `call` returns false to stop the benchmark (it reports why with SkipWithError).
template <typename Call>
void time_calls(benchmark::State& state, bool busy, Call&& call) {
  using Clock = std::chrono::steady_clock;
  BusyCore core(busy);
  std::vector<double> us;
  rusage before{}, after{};
  getrusage(RUSAGE_THREAD, &before);
  for (auto _ : state) {
    const auto start = Clock::now();
    if (!call()) return;
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  getrusage(RUSAGE_THREAD, &after);
  if (us.empty()) return;
  // Where a tail can come from besides the code timed: page faults the calling thread took, and
  // the times the scheduler took its CPU away (both per 1000 calls).
  const double per_1k = 1000.0 / static_cast<double>(us.size());
  state.counters["faults_per_1k"] = static_cast<double>(after.ru_minflt - before.ru_minflt) * per_1k;
  state.counters["preempted_per_1k"] = static_cast<double>(after.ru_nivcsw - before.ru_nivcsw) * per_1k;
  std::sort(us.begin(), us.end());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  state.SetLabel(busy ? "other core busy" : "idle");
}

}  // namespace etp::bench
