// ABI glue of the quantized-operators plugin (`libetp_quantized.so`): the query symbol and the
// plugin table over its kernel families (kernels.h's families_* functions, `self` the list). It
// has no options and no backends.
#include "etp_plugin.h"
#include "etp_plugin.hpp"
#include "quantized.h"

namespace etp_quantized {
namespace {

const KernelFamily kFamilies[] = {quantize_kernels(), qparams_kernels(), embedding_kernels(), mixed_kernels()};
etp_portable::FamilyList kList{kFamilies, static_cast<uint32_t>(sizeof(kFamilies) / sizeof(kFamilies[0]))};

const etp_plugin kPlugin = {
    ETP_ABI_HEADER(etp_plugin),
    /*name=*/"quantized",
    /*version=*/"0.1.0",
    /*self=*/&kList,
    /*init=*/nullptr,
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
}  // namespace etp_quantized

ETP_PLUGIN_EXPORT const etp_plugin* etp_plugin_query(const etp_host_api*) { return &etp_quantized::kPlugin; }
