// ABI glue of the LLM operators plugin (`libetp_llm.so`): the query symbol, the plugin table over
// its kernel families (kernels.h's families_* functions, `self` the list), and its one option,
// `threads` (the pool attention spreads heads over). No backends.
#include <pthreadpool.h>

#include <cstdlib>
#include <string>

#include "etp_plugin.h"
#include "etp_plugin.hpp"
#include "llm.h"

namespace etp_llm {
namespace {

const etp_host_api* g_host = nullptr;
pthreadpool_t g_pool = nullptr;  // null: one thread (the caller's)

etp_status init(void*, const etp_option* options, uint32_t num_options) {
  // One thread unless asked: measured on a 2-core machine, a second pool next to XNNPACK's (whose
  // workers spin after each delegate call) made attention slower, not faster (plugins/llm/README.md).
  size_t threads = 1;
  for (uint32_t i = 0; i < num_options; ++i) {
    const std::string key = options[i].key, value = options[i].value;
    if (key != "threads") {
      return etp_sdk::fail(g_host, ETP_ERR_INVALID_ARGUMENT, "llm: unknown option '%s' (known: threads)", key.c_str());
    }
    char* end = nullptr;
    const long n = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || n < 1 || n > 256) {
      return etp_sdk::fail(g_host, ETP_ERR_INVALID_ARGUMENT,
                           "llm: option 'threads' must be an integer from 1 to 256, got '%s'", value.c_str());
    }
    threads = static_cast<size_t>(n);
  }
  g_pool = threads > 1 ? pthreadpool_create(threads) : nullptr;
  return ETP_OK;
}

void shutdown(void*) {
  if (g_pool != nullptr) pthreadpool_destroy(g_pool);
  g_pool = nullptr;
}

const KernelFamily kFamilies[] = {cache_kernels(), sdpa_kernels()};
etp_portable::FamilyList kList{kFamilies, static_cast<uint32_t>(sizeof(kFamilies) / sizeof(kFamilies[0]))};

const etp_plugin kPlugin = {
    ETP_ABI_HEADER(etp_plugin),
    /*name=*/"llm",
    /*version=*/"0.1.0",
    /*self=*/&kList,
    init,
    shutdown,
    etp_portable::families_resolve,
    etp_portable::families_size,
    etp_portable::families_name,
    /*num_backends=*/0,
    /*backends=*/nullptr,
    /*cache_report=*/nullptr,
    /*accept_kernel_call=*/nullptr,
    /*cache_records=*/nullptr,
};

}  // namespace

void parallel_for(size_t count, bool parallel, const std::function<void(size_t)>& task) {
  if (!parallel || g_pool == nullptr || count < 2) {
    for (size_t i = 0; i < count; ++i) task(i);
    return;
  }
  pthreadpool_parallelize_1d(
      g_pool, [](void* context, size_t i) { (*static_cast<const std::function<void(size_t)>*>(context))(i); },
      const_cast<std::function<void(size_t)>*>(&task), count, PTHREADPOOL_FLAG_YIELD_WORKERS);
}

}  // namespace etp_llm

ETP_PLUGIN_EXPORT const etp_plugin* etp_plugin_query(const etp_host_api* host) {
  etp_llm::g_host = host;
  return &etp_llm::kPlugin;
}
