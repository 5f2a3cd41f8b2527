// The operators the host implements itself, because they act on the host's own values
// rather than tensor data: symbolic sizes, scalar arithmetic on SymInts, tensor-to-scalar,
// and et_view (which aliases another tensor's memory). Names as ExecuTorch registers them.
#pragma once

#include <string>
#include <vector>

#include "etp_plugin.h"

namespace etp::runtime {

// Fills *out and returns true when `op_name` is a host prim operator.
bool find_prim_op(const std::string& op_name, etp_kernel* out);

}  // namespace etp::runtime
