// ABI glue of the portable kernels plugin: the query symbol, the plugin table, its one option.
#include <cerrno>
#include <cstdlib>
#include <string>

#include "etp_plugin.h"
#include "etp_plugin.hpp"
#include "kernels.h"

namespace etp_portable {
namespace {

const etp_host_api* g_host = nullptr;  // set by etp_plugin_query; used for messages

const KernelFamily kFamilies[] = {
    elementwise_kernels(), unary_kernels(), activation_kernels(), compare_kernels(), reduction_kernels(),
    creation_kernels(),    copy_kernels(),  shape_kernels(),      linalg_kernels(),  index_kernels(),
    norm_kernels(),        conv_kernels(),  upsample_kernels(),   pool_kernels(),    random_kernels(),
};
FamilyList kList{kFamilies, static_cast<uint32_t>(sizeof(kFamilies) / sizeof(kFamilies[0]))};

// One option: `seed`, a non-negative integer that makes the random operators reproducible.
// Any other is a manifest mistake worth reporting.
etp_status init(void*, const etp_option* options, uint32_t num_options) {
  for (uint32_t i = 0; i < num_options; ++i) {
    const std::string key = options[i].key, value = options[i].value;
    if (key != "seed") {
      return etp_sdk::fail(g_host, ETP_ERR_INVALID_ARGUMENT, "portable: unknown option '%s' (known: seed)",
                           options[i].key);
    }
    char* end = nullptr;
    errno = 0;
    const unsigned long long seed = std::strtoull(value.c_str(), &end, 10);
    if (value.empty() || value[0] == '-' || *end != '\0' || errno == ERANGE) {
      return etp_sdk::fail(g_host, ETP_ERR_INVALID_ARGUMENT,
                           "portable: option 'seed' must be a non-negative integer, got '%s'", options[i].value);
    }
    seed_random(seed);
  }
  return ETP_OK;
}

const etp_plugin kPlugin = {
    ETP_ABI_HEADER(etp_plugin),
    /*name=*/"portable",
    /*version=*/"0.1.0",
    /*self=*/&kList,  // kernels.h's families_* functions read it
    init,
    /*shutdown=*/nullptr,
    families_resolve,
    families_size,
    families_name,
    /*num_backends=*/0,
    /*backends=*/nullptr,
    /*cache_report=*/nullptr,
    /*accept_kernel_call=*/nullptr,
    /*cache_records=*/nullptr,
};

}  // namespace
}  // namespace etp_portable

ETP_PLUGIN_EXPORT const etp_plugin* etp_plugin_query(const etp_host_api* host) {
  if (host == nullptr || host->header.major != ETP_ABI_MAJOR) return nullptr;
  etp_portable::g_host = host;
  return &etp_portable::kPlugin;
}
