// The node compilers, split by where a node runs.
#pragma once

#include <string>

#include "delegate.h"

namespace etp_xnnpack {

// Nodes that run as XNNPACK operators. *handled is false for node types it does not cover.
bool compile_xnnpack_node(Delegate& d, const fb_xnnpack::XNode& node, std::string* error, bool* handled);
// Nodes that run as plugin-native kernels (what this XNNPACK lacks, or data movement).
bool compile_native_node(Delegate& d, const fb_xnnpack::XNode& node, std::string* error, bool* handled);

}  // namespace etp_xnnpack
