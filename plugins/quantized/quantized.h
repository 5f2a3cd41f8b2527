// Kernel declarations of the quantized plugin (ExecuTorch's quantized_decomposed operators).
#pragma once

#include "kernels.h"  // portable's ETP_PORTABLE_KERNEL and ETP_ENTRY (the kernels themselves are not linked)

namespace etp_quantized {

// quantize/dequantize per tensor and per channel (quantize.cpp).
const etp_sdk::KernelEntry* quantize_kernels(uint32_t* count);

}  // namespace etp_quantized
