// ABI glue of the XNNPACK backend plugin: options, the thread pool, the backend table.
#include <dlfcn.h>
#include <pthreadpool.h>
#include <xnnpack.h>

#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "delegate.h"
#include "etp_plugin.h"
#include "etp_plugin.hpp"
#include "runtime/thread_pool.h"
#include "thread_pool.h"

namespace etp_xnnpack {
namespace {

PluginState g_state;
std::unique_ptr<etp::runtime::ThreadPool> g_own_pool;  // when `threads` differs from the host's pool
bool g_real_pthreadpool = false;                       // g_state.threadpool is libpthreadpool's

void log(int32_t level, const std::string& message) {
  if (g_state.host != nullptr && g_state.host->log != nullptr)
    g_state.host->log(g_state.host->self, level, message.c_str());
}

// The pool XNNPACK runs on (thread_pool.h): the host's when it has `threads` threads, else one of
// our own of that size; libpthreadpool's only when the probe finds XNNPACK bound elsewhere.
void choose_pool(size_t threads) {
  if (threads <= 1) return;  // NULL: XNNPACK runs on the calling thread
  if (!probe()) {
    log(ETP_LOG_WARNING,
        "xnnpack: another pthreadpool in this process receives XNNPACK's calls (a program that "
        "links XNNPACK itself?); running on libpthreadpool, which stalls when cores are busy");
    g_state.threadpool = pthreadpool_create(threads);
    g_real_pthreadpool = true;
    return;
  }
  const etp_host_api* host = g_state.host;
  ParallelFor target;
  target.threads = static_cast<uint32_t>(threads);
  if (ETP_ABI_HAS(host, parallel_for) && ETP_ABI_HAS(host, thread_count) && host->thread_count(host->self) == threads) {
    target.parallel_for = host->parallel_for;
    target.self = host->self;
    log(ETP_LOG_INFO, "xnnpack: " + std::to_string(threads) + " threads on the host's pool");
  } else {
    g_own_pool = std::make_unique<etp::runtime::ThreadPool>(static_cast<uint32_t>(threads));
    target.parallel_for = [](void* self, uint64_t count, uint64_t grain, etp_parallel_task task, void* context) {
      static_cast<etp::runtime::ThreadPool*>(self)->parallel_for(count, grain, task, context);
    };
    target.self = g_own_pool.get();
    log(ETP_LOG_INFO, "xnnpack: " + std::to_string(threads) + " threads on a pool of its own");
  }
  g_state.threadpool = create_pool(target);
}

etp_status init(void*, const etp_option* options, uint32_t num_options) {
  // Without the option, as many threads as the host's pool (the manifest's `threads:`, ABI 1.2).
  size_t threads = ETP_ABI_HAS(g_state.host, thread_count) ? g_state.host->thread_count(g_state.host->self)
                                                           : std::thread::hardware_concurrency();
  for (uint32_t i = 0; i < num_options; ++i) {
    const std::string key = options[i].key, value = options[i].value;
    if (key != "threads") {
      return etp_sdk::fail(g_state.host, ETP_ERR_INVALID_ARGUMENT, "xnnpack: unknown option '%s' (known: threads)",
                           key.c_str());
    }
    char* end = nullptr;
    const long n = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || n < 1 || n > 256) {
      return etp_sdk::fail(g_state.host, ETP_ERR_INVALID_ARGUMENT,
                           "xnnpack: option 'threads' must be an integer from 1 to 256, got '%s'", value.c_str());
    }
    threads = static_cast<size_t>(n);
  }
  // XNNPACK keeps the allocator (and cpuinfo its tables) for the life of the process, so this
  // library must never be unmapped while XNNPACK is: pin it (a later load gets the same copy).
  Dl_info self{};
  if (dladdr(reinterpret_cast<void*>(&init), &self) == 0 || self.dli_fname == nullptr ||
      dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) == nullptr) {
    return etp_sdk::fail(g_state.host, ETP_ERR_INTERNAL, "xnnpack: cannot pin the plugin library in memory");
  }
  // Our allocator counts what XNNPACK allocates, so packed weights are measured, not guessed.
  // (If another part of the process initialised XNNPACK first, its allocator stays in place
  // and the cache report shows 0 packed bytes.)
  if (xnn_initialize(counting_allocator()) != xnn_status_success) {
    return etp_sdk::fail(g_state.host, ETP_ERR_UNAVAILABLE, "xnnpack: xnn_initialize failed (unsupported CPU?)");
  }
  g_state.threads = threads == 0 ? 1 : threads;
  choose_pool(g_state.threads);
  return ETP_OK;
}

void shutdown(void*) {
  if (g_real_pthreadpool) {
    pthreadpool_destroy(g_state.threadpool);
  } else {
    destroy_pool(g_state.threadpool);
  }
  g_state.threadpool = nullptr;
  g_real_pthreadpool = false;
  g_own_pool.reset();
  // No xnn_deinitialize: XNNPACK stays initialised (with our allocator) for the process.
}

etp_status backend_init(void*, const etp_backend_init_args* args, void** out_handle) {
  return etp_sdk::guarded(g_state.host, "XnnpackBackend init", [&]() -> etp_status {
    if (!ETP_ABI_HAS_FIELD(args, delegate_index) || args->payload == nullptr) {
      return etp_sdk::fail(g_state.host, ETP_ERR_INVALID_ARGUMENT, "XnnpackBackend: incomplete init arguments");
    }
    CacheUser user;
    user.name = std::string(args->program_name ? args->program_name : "?") + ":" +
                (args->method_name ? args->method_name : "?") + ":" + std::to_string(args->delegate_index);
    user.method_id = ETP_ABI_HAS_FIELD(args, method_id) ? args->method_id : 0;
    user.delegate_index = args->delegate_index;
    auto delegate = std::make_unique<Delegate>(g_state, std::move(user));
    if (etp_status s = delegate->init(args)) return s;
    *out_handle = delegate.release();
    return ETP_OK;
  });
}

etp_status backend_execute(void*, void* handle, etp_value* const* args, uint32_t num_args) {
  return etp_sdk::guarded(g_state.host, "XnnpackBackend execute",
                          [&] { return static_cast<Delegate*>(handle)->execute(args, num_args); });
}

void backend_destroy(void*, void* handle) {
  delete static_cast<Delegate*>(handle);
  if (!g_real_pthreadpool) forget_timings(g_state.threadpool);  // its operators' memory is free now
}

// The reports' strings and arrays live here until the next call (the ABI's contract).
std::mutex g_report_mutex;
std::vector<CacheReportEntry> g_report;
std::vector<std::string> g_report_users;                  // cache_report (ABI 1.1 hosts)
std::vector<std::vector<etp_cache_user>> g_record_users;  // cache_records (ABI 1.2)

uint32_t cache_report(void*, etp_cache_entry* entries, uint32_t capacity) {
  std::lock_guard<std::mutex> lock(g_report_mutex);
  g_report = g_state.cache.report();
  g_report_users.clear();
  for (const CacheReportEntry& e : g_report) {
    std::string users;
    for (const CacheUser& u : e.users) users += (users.empty() ? "" : "\n") + u.name;
    g_report_users.push_back(std::move(users));
  }
  for (uint32_t i = 0; i < capacity && i < g_report.size(); ++i) {
    entries[i] = {g_report[i].key.c_str(),
                  g_report[i].file_id,
                  g_report[i].packed_bytes,
                  static_cast<uint32_t>(g_report[i].users.size()),
                  g_report[i].shared ? ETP_CACHE_ENTRY_SHARED : 0u,
                  g_report_users[i].c_str()};
  }
  return static_cast<uint32_t>(g_report.size());
}

uint32_t cache_records(void*, etp_cache_record* records, uint32_t capacity) {
  std::lock_guard<std::mutex> lock(g_report_mutex);
  g_report = g_state.cache.report();
  g_record_users.clear();
  for (const CacheReportEntry& e : g_report) {
    std::vector<etp_cache_user> users;
    for (const CacheUser& u : e.users) users.push_back({u.method_id, u.delegate_index, 0});
    g_record_users.push_back(std::move(users));
  }
  for (uint32_t i = 0; i < capacity && i < g_report.size(); ++i) {
    records[i] = {g_report[i].key.c_str(),
                  g_report[i].file_id,
                  g_report[i].packed_bytes,
                  g_report[i].shared ? ETP_CACHE_ENTRY_SHARED : 0u,
                  static_cast<uint32_t>(g_record_users[i].size()),
                  g_record_users[i].data()};
  }
  return static_cast<uint32_t>(g_report.size());
}

const etp_backend kBackend = {
    ETP_ABI_HEADER(etp_backend), "XnnpackBackend", nullptr, backend_init, backend_execute, backend_destroy};
const etp_backend* const kBackends[] = {&kBackend};

const etp_plugin kPlugin = {
    ETP_ABI_HEADER(etp_plugin),
    /*name=*/"xnnpack",
    /*version=*/"0.1.0",
    /*self=*/nullptr,
    init,
    shutdown,
    /*resolve_kernel=*/nullptr,
    /*num_kernels=*/nullptr,
    /*kernel_name=*/nullptr,
    /*num_backends=*/1,
    kBackends,
    cache_report,
    /*accept_kernel_call=*/nullptr,
    cache_records,
};

}  // namespace
}  // namespace etp_xnnpack

ETP_PLUGIN_EXPORT const etp_plugin* etp_plugin_query(const etp_host_api* host) {
  if (host == nullptr || host->header.major != ETP_ABI_MAJOR) return nullptr;
  etp_xnnpack::g_state.host = host;
  return &etp_xnnpack::kPlugin;
}
