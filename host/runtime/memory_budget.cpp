#include "runtime/memory_budget.h"

#include <unistd.h>

#include <algorithm>

namespace etp::runtime {

uint64_t MemoryBudget::default_limit() {
  static const uint64_t limit = [] {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return UINT64_MAX;
    return static_cast<uint64_t>(pages) / 4 * 3 * static_cast<uint64_t>(page);
  }();
  return limit;
}

bool MemoryBudget::charge(uint64_t bytes) {
  uint64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (bytes > limit_ || used > limit_ - bytes) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return true;
}

std::string MemoryBudget::refusal() const {
  const uint64_t left = limit_ - std::min(limit_, used());
  return "more than the bundle's memory budget has left (" + std::to_string(left) + " of " + std::to_string(limit_) +
         " bytes; raise it with memory_budget in the manifest or --memory-budget)";
}

}  // namespace etp::runtime
