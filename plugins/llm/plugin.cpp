// ABI glue of the LLM operators plugin (`libetp_llm.so`): the query symbol and the plugin table
// over its kernel families (kernels.h's families_* functions, `self` the list). No options, no
// backends; attention spreads its (batch, head) pairs over the host's thread pool (ABI 1.2), whose
// size is the manifest's `threads:`.
#include <string>

#include "etp_plugin.h"
#include "etp_plugin.hpp"
#include "llm.h"

namespace etp_llm {
namespace {

const etp_host_api* g_host = nullptr;

etp_status init(void*, const etp_option* options, uint32_t num_options) {
  if (num_options > 0) {
    const std::string key = options[0].key;
    return etp_sdk::fail(g_host, ETP_ERR_INVALID_ARGUMENT,
                         "llm: unknown option '%s' (it takes none; the manifest's 'threads:' sizes the host's pool, "
                         "which attention uses)",
                         key.c_str());
  }
  return ETP_OK;
}

const KernelFamily kFamilies[] = {cache_kernels(), sdpa_kernels()};
etp_portable::FamilyList kList{kFamilies, static_cast<uint32_t>(sizeof(kFamilies) / sizeof(kFamilies[0]))};

const etp_plugin kPlugin = {
    ETP_ABI_HEADER(etp_plugin),
    /*name=*/"llm",
    /*version=*/"0.1.0",
    /*self=*/&kList,
    init,
    /*shutdown=*/nullptr,
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
  if (!parallel || count < 2 || !ETP_ABI_HAS(g_host, parallel_for)) {  // a host before ABI 1.2: one thread
    for (size_t i = 0; i < count; ++i) task(i);
    return;
  }
  g_host->parallel_for(
      g_host->self, count, 1,
      [](void* context, uint64_t begin, uint64_t end) {
        const auto& f = *static_cast<const std::function<void(size_t)>*>(context);
        for (uint64_t i = begin; i < end; ++i) f(static_cast<size_t>(i));
      },
      const_cast<std::function<void(size_t)>*>(&task));
}

}  // namespace etp_llm

ETP_PLUGIN_EXPORT const etp_plugin* etp_plugin_query(const etp_host_api* host) {
  etp_llm::g_host = host;
  return &etp_llm::kPlugin;
}
