// The node compilers, split by where a node runs, and the size rules they share with shape
// inference (infer_dims.cpp), so init-time checks and run-time dims can never disagree.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "delegate.h"
#include "nodes.h"

namespace etp_xnnpack {

// The node table's compile functions (nodes.cpp), by where a node runs. Each builds the node's
// step(s) or returns false with `error` set.
// As XNNPACK operators (compile_xnnpack.cpp):
bool compile_pooling(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);  // max and average
bool compile_global_avg_pooling(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
bool compile_argmax_pooling(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
bool compile_constant_pad(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
bool compile_resize_bilinear(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
bool compile_binary(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);         // any _XNNNode2x1
bool compile_unary_xnnpack(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);  // any _XNNNode1x1
bool compile_convert(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
// With packed weights, fp32, fp16 and 8-bit quantized (compile_weighted.cpp):
bool compile_fully_connected(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
bool compile_convolution(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);  // and depthwise
bool compile_deconvolution(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
// Dynamically quantized linears (compile_weighted.cpp, native_qd8.h): a Convert from fp32 to
// qdint8 (values `in`, `out`), and the fully-connected layers that read its output.
bool dynamic_quantize(Delegate& d, int in, int out, std::string* error);
// As plugin-native kernels: what this XNNPACK lacks, or data movement (compile_native.cpp):
bool compile_transpose(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
bool compile_reshape(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
bool compile_copy(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
bool compile_concatenate(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
bool compile_slice(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
bool compile_batch_matmul(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
bool compile_attention(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
bool compile_prelu(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
bool compile_native_unary(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);  // the entry's kernel
bool compile_leaky_relu(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
bool compile_elu(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
// An element-wise node on fp16 values: `kernel` on values widened in chunks. *handled is false
// unless its input is fp16 (compile_native.cpp).
bool compile_half(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids, const ElementwiseKernel& kernel,
                  std::string* error, bool* handled);

// The node table's shape rules (infer_dims.cpp): each sets the node's output dims from its
// inputs' current dims, or returns false with `error` set.
bool shape_fully_connected(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids, std::string* error);
bool shape_conv(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids,
                std::string* error);  // and depthwise, transposed
bool shape_pooling(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids, std::string* error);
bool shape_argmax_pooling(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids, std::string* error);
bool shape_global_avg_pooling(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids, std::string* error);
bool shape_resize_bilinear(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids, std::string* error);
bool shape_constant_pad(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids, std::string* error);
bool shape_broadcast(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids,
                     std::string* error);  // element-wise binary
bool shape_batch_matmul(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids, std::string* error);
bool shape_transpose(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids, std::string* error);
bool shape_reshape(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids, std::string* error);
bool shape_slice(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids, std::string* error);
bool shape_concatenate(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids, std::string* error);
bool shape_attention(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids, std::string* error);
bool shape_prelu(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids, std::string* error);
bool shape_softmax(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids, std::string* error);
bool shape_same_as_input(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids,
                         std::string* error);  // element-wise unary

// Inputs of an XNNConcatenateN node (2 to 5).
size_t concatenate_inputs(fb_xnnpack::XNodeUnion type);

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

// Output height and width of an argmax pooling: windows tile the padded input with stride =
// window size (XNNPACK: padded / pooling). False when a window is empty or larger than the
// padded input.
bool argmax_pool_output_hw(const fb_xnnpack::XNNArgMaxPooling2d& n, size_t in_h, size_t in_w, size_t* out_h,
                           size_t* out_w, std::string* error);

// ---- Helpers shared by the node compilers (compile.cpp) ----

// Rejects flag bits `type` does not allow: some change what XNNPACK computes (e.g.
// XNN_FLAG_TENSORFLOW_SAME_PADDING changes the output size the checks here rely on).
bool check_flags(fb_xnnpack::XNodeUnion type, uint32_t flags, uint32_t allowed, std::string* e);

// XNN_FLAG_KEEP_DIMS of newer XNNPACK (this one predates it): ExecuTorch sets it on pooling
// nodes. It keeps the output's rank, which the shape checks here already require.
constexpr uint32_t kFlagKeepDims = 0x40;

uint32_t float_bits(float f);

// Part of a shared-operator key: every creation argument, so two programs share an operator
// only when they would have created the same one.
std::string key_params(const char* kind, std::initializer_list<uint64_t> parts);

// Runs `setup` then the operator, holding the operator's lock (shared operators keep the
// pointers of the last setup). Setup is skipped when this step set the operator up for the
// same binding (pointers and dims unchanged since): XNNPACK's setup recomputes indirection
// buffers and tiling, which for small models cost more than the run (as XNNPACK's own runtime,
// set up once and run many times). `setup` must depend only on the binding and constants. A
// template: the step lambdas call it on every execute, and a std::function of their
// capturing lambdas would allocate each time.
template <typename Setup>
etp_status run_op(Delegate& d, PackedOp& op, Setup&& setup) {
  std::lock_guard<std::mutex> lock(op.mutex);
  xnn_status s = xnn_status_success;
  if (op.setup_generation != d.binding_generation() || op.setup_step != d.running_step()) {
    s = setup();
    op.setup_generation = s == xnn_status_success ? d.binding_generation() : 0;
    op.setup_step = d.running_step();
  }
  if (s == xnn_status_success) s = xnn_run_operator(op.op, d.threadpool());
  return s == xnn_status_success ? ETP_OK : d.fail(ETP_ERR_INTERNAL, "XNNPACK failed with status " + std::to_string(s));
}

// Cache key of an operator with packed weights: shared only when every weight it packs
// comes from a cache-owned data file.
std::string weights_key(const Value& filter, const Value* bias, const std::string& params);

// The values of a convolution-like node, checked: ids defined, constant weights (and bias),
// 4-D NHWC input and output, channel counts that match the weights and the bias, positive
// kernel, stride and dilation (compile_weighted.cpp).
bool conv_values(Delegate& d, const fb_xnnpack::_XNNNodeConv& n, int* in, int* w, int* out, int* b, std::string* e);

// XNNPACK's 8-bit convolution and fully-connected operators requantize with
// input_scale * kernel_scale / output_scale, which must lie in [2^-32, 256): above, creation
// fails; below, Debian's build stops on an assertion (params-init.c). Checked before creating.
bool requantization_fits(const Value& in, const Value& weights, const Value& out, std::string* e);

// Whether `a` and `b` have one datatype and one quantization (data movement, max pooling,
// padding and clamp pass values through unchanged); false with `e` naming both datatypes.
bool same_type(const Value& a, const Value& b, std::string* e);

// The error for an operator XNNPACK refused to create.
bool create_failed(xnn_status status, std::string* e);

// A fused clamp bound (float) as a quantized value of `v`'s type Q, saturated to Q's range.
template <typename Q>
Q quantized_bound(float bound, const Value& v) {
  constexpr float lo = std::numeric_limits<Q>::min(), hi = std::numeric_limits<Q>::max();
  if (std::isinf(bound)) return static_cast<Q>(bound < 0 ? lo : hi);
  const float q = std::nearbyint(bound / v.scale) + static_cast<float>(v.zero_point);
  return static_cast<Q>(std::min(hi, std::max(lo, q)));  // NaN -> lo
}

// fp16 copy of a constant that is fp16 or fp32.
std::vector<uint16_t> half_copy(const Value& v);

}  // namespace etp_xnnpack
