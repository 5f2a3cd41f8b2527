// The pool XNNPACK's operators run on.
//
// Debian's XNNPACK takes a `pthreadpool_t` and calls thirteen pthreadpool_parallelize_* functions
// of libpthreadpool with it. That pthreadpool makes its caller wait until every worker has
// checked in, so with a core taken by another process a run stalls for scheduler ticks (10^3 to
// 10^4 times its normal time, measured). This plugin therefore defines those functions itself
// (exported by its version script): XNNPACK, loaded as this plugin's dependency, binds to them
// before libpthreadpool, and they run each operator's range on the host's pool (ABI 1.2
// parallel_for), whose caller takes work itself and never waits for an absent worker.
//
// Symbol binding is decided by the dynamic linker, so it is checked, not assumed: `probe()` runs
// an XNNPACK operator and reports whether our functions received the call, or those of another
// copy of this plugin file loaded earlier (the host loads private copies for other options; then
// XNNPACK's GOT slot is read to see where its calls go). Neither holds when another pthreadpool
// sits in the process's global scope (a program linking XNNPACK itself); then the plugin falls
// back to libpthreadpool. Pools our functions did not create (another library's real pthreadpool
// reaching us) are forwarded to libpthreadpool untouched.
#pragma once

#include <pthreadpool.h>

#include <cstdint>

#include "etp_plugin.h"

namespace etp_xnnpack {

// Where the chunks of one parallel call go: `parallel_for(self, ...)` with ABI 1.2's contract.
struct ParallelFor {
  void (*parallel_for)(void* self, uint64_t count, uint64_t grain, etp_parallel_task task, void* context) = nullptr;
  void* self = nullptr;
  uint32_t threads = 1;
};

// A pthreadpool_t for XNNPACK whose work goes to `target` (freed with destroy_pool).
pthreadpool_t create_pool(const ParallelFor& target);
void destroy_pool(pthreadpool_t pool);

// Makes the pool forget how long its operators took (small ones run on the calling thread, see
// thread_pool.cpp): called when a delegate is destroyed, so an operator allocated later where a
// freed one was does not inherit its verdict. Nothing for a pool create_pool did not make.
void forget_timings(pthreadpool_t pool);

// True when XNNPACK's pthreadpool calls reach this plugin's functions (XNNPACK must be
// initialised). Runs one tiny operator.
bool probe();

}  // namespace etp_xnnpack
