// ABI glue of the LLM operators plugin (`libetp_llm.so`): the query symbol and the plugin table
// over its kernel families. It has no options and no backends.
#include "etp_plugin.h"
#include "etp_plugin.hpp"
#include "llm.h"

namespace etp_llm {
namespace {

etp_portable::FamilyList families() {
  static const KernelFamily all[] = {cache_kernels(), sdpa_kernels()};
  return {all, static_cast<uint32_t>(sizeof(all) / sizeof(all[0]))};
}

etp_status resolve_kernel(void*, const char* op_name, etp_kernel* out) { return families().resolve(op_name, out); }
uint32_t num_kernels(void*) { return families().size(); }
const char* kernel_name(void*, uint32_t index) { return families().name(index); }

const etp_plugin kPlugin = {
    ETP_ABI_HEADER(etp_plugin),
    /*name=*/"llm",
    /*version=*/"0.1.0",
    /*self=*/nullptr,
    /*init=*/nullptr,
    /*shutdown=*/nullptr,       resolve_kernel, num_kernels, kernel_name,
    /*num_backends=*/0,
    /*backends=*/nullptr,
    /*cache_report=*/nullptr,
};

}  // namespace
}  // namespace etp_llm

ETP_PLUGIN_EXPORT const etp_plugin* etp_plugin_query(const etp_host_api* host) {
  if (host == nullptr || host->header.major != ETP_ABI_MAJOR) return nullptr;
  return &etp_llm::kPlugin;
}
