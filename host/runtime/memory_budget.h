// The memory a bundle's loaded methods may plan: their planned buffers and the inputs a program
// leaves unplanned, charged when a method loads, before anything is allocated, and given back
// when it goes; backends charge their workspaces through the ABI's charge_memory (1.3). Declared sizes in a small file can ask for gigabytes; a per-allocation cap at
// physical memory still lets many such allocations add up, so the bundle keeps one total.
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace etp::runtime {

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit) : limit_(limit) {}

  // Three quarters of physical memory: the default limit (memory for weights, code and the rest
  // of the process stays).
  static uint64_t default_limit();

  uint64_t limit() const { return limit_; }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  // Charges `bytes` when they fit under the limit; false (nothing charged) otherwise.
  bool charge(uint64_t bytes);
  void release(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  // Why a charge was refused: "more than the bundle's memory budget has left (L of T bytes;
  // raise it with ...)".
  std::string refusal() const;

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

}  // namespace etp::runtime
