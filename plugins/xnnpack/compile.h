// The node compilers, split by where a node runs, and the size rules they share with shape
// inference (infer_dims.cpp), so init-time checks and run-time dims can never disagree.
#pragma once

#include <string>
#include <utility>

#include "delegate.h"

namespace etp_xnnpack {

// Nodes that run as XNNPACK operators. *handled is false for node types it does not cover.
bool compile_xnnpack_node(Delegate& d, const fb_xnnpack::XNode& node, std::string* error, bool* handled);
// Nodes that run as plugin-native kernels (what this XNNPACK lacks, or data movement).
bool compile_native_node(Delegate& d, const fb_xnnpack::XNode& node, std::string* error, bool* handled);

// The node's fused output clamp, or (-inf, +inf).
std::pair<float, float> output_bounds(const fb_xnnpack::XNode& node);

// Output height and width of a convolution (or, `transposed`, a deconvolution) for an input of
// `in_h` x `in_w`, exactly as XNNPACK computes them. False with `error` set when a kernel,
// stride or dilation is 0 or a padding exceeds the input plus the kernel extent.
bool conv_output_hw(const fb_xnnpack::_XNNNodeConv& n, bool transposed, size_t in_h, size_t in_w, size_t* out_h,
                    size_t* out_w, std::string* error);
// Same for a max (`max`) or average pooling; average pooling has no dilation.
bool pool_output_hw(const fb_xnnpack::_XNNPooling2D& n, bool max, size_t in_h, size_t in_w, size_t* out_h,
                    size_t* out_w, std::string* error);

}  // namespace etp_xnnpack
