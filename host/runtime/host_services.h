// The etp_host_api tables the host hands to plugins: logging (plugins/plugin_log.h, which keeps
// the last error per thread so failures can quote the plugin's own words), aligned allocation,
// tensor resize with the host's bound checks, named-data lookup and release, (ABI 1.2) the
// thread pool (runtime/thread_pool.h) and (ABI 1.3) charges to a bundle's MemoryBudget. One table per pool size, made on first use and kept for
// the life of the process (plugins hold the pointer); thread-safe.
#pragma once

#include <cstdint>
#include <memory>

#include "etp_plugin.h"
#include "runtime/thread_pool.h"

namespace etp::runtime {

class HostServices {
 public:
  // The table with the default pool size (default_threads()).
  static const HostServices& get();
  // The table whose pool has `threads` threads, the caller's included (0: the default).
  static const HostServices& for_threads(uint32_t threads);
  // This machine's core count (std::thread::hardware_concurrency, at least 1), capped at 64.
  static uint32_t default_threads();

  const etp_host_api* api() const { return &api_; }
  uint32_t threads() const { return pool_->threads(); }
  ThreadPool& pool() const { return *pool_; }

 private:
  explicit HostServices(uint32_t threads);
  etp_host_api api_{};
  std::unique_ptr<ThreadPool> pool_;  // its workers start on the first parallel call
};

}  // namespace etp::runtime
