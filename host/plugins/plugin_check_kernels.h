// The differential part of `etp plugin check`: a plugin's kernels run next to a reference
// plugin's (the portable one) on generated cases of the operators whose schemas the checker
// knows (elementwise unary, binary and scalar out-variants, comparisons, reductions, softmax,
// matmul, permute), and their outputs compared.
#pragma once

#include <string>

#include "etp_plugin.h"

namespace etp::plugins {

struct KernelDiff {
  bool ok = true;
  std::string detail;
};

// The host's resize_tensor for the tensors compare_kernels makes (ETP_ERR_SHAPE for others).
etp_status resize_checked_tensor(etp_tensor* tensor, int32_t rank, const int64_t* sizes);

// Both tables initialised; `host` serves resize_tensor and log for the calls.
KernelDiff compare_kernels(const etp_plugin& candidate, const etp_plugin& reference, const etp_host_api& host);

}  // namespace etp::plugins
