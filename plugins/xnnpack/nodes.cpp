// The node table (nodes.h): one entry per node type.
#include "nodes.h"

#include "compile.h"
#include "native_ops.h"

namespace etp_xnnpack {
namespace {

namespace x = fb_xnnpack;
using U = x::XNodeUnion;

// ---- value ids, by node table type ----

template <typename Table>
void ids_1x1(const x::XNode& node, NodeIds* ids) {
  const auto* n = static_cast<const Table*>(node.xnode_union());
  *ids = {{n->input_id()}, {n->output_id()}};
}

void ids_2x1(const x::XNode& node, NodeIds* ids) {
  const auto* n = static_cast<const x::_XNNNode2x1*>(node.xnode_union());
  *ids = {{n->input1_id(), n->input2_id()}, {n->output_id()}};
}

template <typename Table>
void ids_weighted(const x::XNode& node, NodeIds* ids) {
  const auto* n = static_cast<const Table*>(node.xnode_union());
  *ids = {{n->input1_id(), n->filter_id(), n->bias_id()}, {n->output_id()}};
}

void ids_concatenate(const x::XNode& node, NodeIds* ids) {
  // Only the node's own inputs: unused slots hold 0, a real value id.
  const auto* n = static_cast<const x::_XNNCat*>(node.xnode_union());
  *ids = {{n->input1_id(), n->input2_id(), n->input3_id(), n->input4_id(), n->input5_id()}, {n->output_id()}};
  ids->in.resize(concatenate_inputs(node.xnode_union_type()));
}

void ids_attention(const x::XNode& node, NodeIds* ids) {
  const auto* n = node.xnode_union_as_XNNScaledDotProductAttention();
  *ids = {{n->query_id(), n->key_id(), n->value_id(), n->scale_id(), n->mask_id()}, {n->output_id()}};
}

void ids_argmax_pooling(const x::XNode& node, NodeIds* ids) {
  const auto* n = node.xnode_union_as_XNNArgMaxPooling2d();
  *ids = {{n->input_id()}, {n->output_value_id(), n->output_index_id()}};
}

// ---- fp32 element-wise kernels (native_ops.h) ----

template <void (*Kernel)(const float*, float*, size_t)>
ElementwiseKernel kernel(const x::XNode&) {
  return Kernel;
}

ElementwiseKernel leaky_relu(const x::XNode& node) {
  const float slope = node.xnode_union_as_XNNLeakyReLU()->negative_slope();
  return [slope](const float* in, float* out, size_t n) { native::leaky_relu(in, out, n, slope); };
}

ElementwiseKernel elu(const x::XNode& node) {
  const float alpha = node.xnode_union_as_XNNELU()->alpha();
  return [alpha](const float* in, float* out, size_t n) { native::elu(in, out, n, alpha); };
}

constexpr bool kOtherTypes = true, kFp32 = false;  // datatypes
constexpr bool kClamp = true, kNoClamp = false;    // fused output clamp
constexpr bool kPacks = true, kNoWeights = false;  // packed weights

// clang-format off
const NodeType kNodeTypes[] = {
  // type                         ids                                  datatypes    clamp     weights     shape rule                compile                     fp32 element-wise kernel
  // Packed weights: XNNPACK operators (compile_weighted.cpp).
  {U::XNNFullyConnected,          ids_weighted<x::XNNFullyConnected>,  kOtherTypes, kClamp,   kPacks,     shape_fully_connected,    compile_fully_connected,    nullptr},
  {U::XNNConv2d,                  ids_weighted<x::_XNNNodeConv>,       kOtherTypes, kClamp,   kPacks,     shape_conv,               compile_convolution,        nullptr},
  {U::XNNDepthwiseConv2d,         ids_weighted<x::_XNNNodeConv>,       kOtherTypes, kClamp,   kPacks,     shape_conv,               compile_convolution,        nullptr},
  {U::XNNConvTranspose2d,         ids_weighted<x::_XNNNodeConv>,       kOtherTypes, kClamp,   kPacks,     shape_conv,               compile_deconvolution,      nullptr},
  // XNNPACK operators (compile_xnnpack.cpp).
  {U::XNNMaxPooling2d,            ids_1x1<x::_XNNPooling2D>,           kOtherTypes, kClamp,   kNoWeights, shape_pooling,            compile_pooling,            nullptr},
  {U::XNNAvgPooling2d,            ids_1x1<x::_XNNPooling2D>,           kFp32,       kClamp,   kNoWeights, shape_pooling,            compile_pooling,            nullptr},
  {U::XNNArgMaxPooling2d,         ids_argmax_pooling,                  kOtherTypes, kNoClamp, kNoWeights, shape_argmax_pooling,     compile_argmax_pooling,     nullptr},
  {U::XNNGlobalAvgPooling2d,      ids_1x1<x::_XNNNode1x1>,             kOtherTypes, kClamp,   kNoWeights, shape_global_avg_pooling, compile_global_avg_pooling, nullptr},
  {U::XNNStaticConstantPad,       ids_1x1<x::XNNStaticConstantPad>,    kOtherTypes, kNoClamp, kNoWeights, shape_constant_pad,       compile_constant_pad,       nullptr},
  {U::XNNStaticResizeBilinear2D,  ids_1x1<x::XNNStaticResizeBilinear2D>, kFp32,     kNoClamp, kNoWeights, shape_resize_bilinear,    compile_resize_bilinear,    nullptr},
  {U::XNNAdd,                     ids_2x1,                             kOtherTypes, kClamp,   kNoWeights, shape_broadcast,          compile_binary,             nullptr},
  {U::XNNSubtract,                ids_2x1,                             kOtherTypes, kClamp,   kNoWeights, shape_broadcast,          compile_binary,             nullptr},
  {U::XNNMultiply,                ids_2x1,                             kOtherTypes, kClamp,   kNoWeights, shape_broadcast,          compile_binary,             nullptr},
  {U::XNNDiv,                     ids_2x1,                             kFp32,       kClamp,   kNoWeights, shape_broadcast,          compile_binary,             nullptr},
  {U::XNNMaximum,                 ids_2x1,                             kFp32,       kNoClamp, kNoWeights, shape_broadcast,          compile_binary,             nullptr},
  {U::XNNMinimum,                 ids_2x1,                             kFp32,       kNoClamp, kNoWeights, shape_broadcast,          compile_binary,             nullptr},
  {U::XNNSoftmax,                 ids_1x1<x::_XNNNode1x1>,             kFp32,       kNoClamp, kNoWeights, shape_softmax,            compile_unary_xnnpack,      nullptr},
  {U::XNNSigmoid,                 ids_1x1<x::_XNNNode1x1>,             kOtherTypes, kNoClamp, kNoWeights, shape_same_as_input,      compile_unary_xnnpack,      kernel<native::sigmoid>},
  {U::XNNClamp,                   ids_1x1<x::_XNNNode1x1>,             kOtherTypes, kClamp,   kNoWeights, shape_same_as_input,      compile_unary_xnnpack,      nullptr},
  {U::XNNFloor,                   ids_1x1<x::_XNNNode1x1>,             kFp32,       kNoClamp, kNoWeights, shape_same_as_input,      compile_unary_xnnpack,      kernel<native::floor>},
  {U::XNNCeiling,                 ids_1x1<x::_XNNNode1x1>,             kFp32,       kNoClamp, kNoWeights, shape_same_as_input,      compile_unary_xnnpack,      kernel<native::ceiling>},
  {U::XNNSquareRoot,              ids_1x1<x::_XNNNode1x1>,             kFp32,       kNoClamp, kNoWeights, shape_same_as_input,      compile_unary_xnnpack,      kernel<native::square_root>},
  {U::XNNHardswish,               ids_1x1<x::_XNNNode1x1>,             kFp32,       kNoClamp, kNoWeights, shape_same_as_input,      compile_unary_xnnpack,      kernel<native::hardswish>},
  {U::XNNNegate,                  ids_1x1<x::_XNNNode1x1>,             kFp32,       kNoClamp, kNoWeights, shape_same_as_input,      compile_unary_xnnpack,      kernel<native::negate>},
  {U::XNNSquare,                  ids_1x1<x::_XNNNode1x1>,             kFp32,       kNoClamp, kNoWeights, shape_same_as_input,      compile_unary_xnnpack,      kernel<native::square>},
  {U::XNNAbs,                     ids_1x1<x::_XNNNode1x1>,             kFp32,       kNoClamp, kNoWeights, shape_same_as_input,      compile_unary_xnnpack,      kernel<native::abs>},
  {U::XNNConvert,                 ids_1x1<x::_XNNNode1x1>,             kOtherTypes, kNoClamp, kNoWeights, shape_same_as_input,      compile_convert,            nullptr},
  // Plugin-native kernels and data movement (compile_native.cpp).
  {U::XNNStaticTranspose,         ids_1x1<x::XNNStaticTranspose>,      kOtherTypes, kNoClamp, kNoWeights, shape_transpose,          compile_transpose,          nullptr},
  {U::XNNStaticReshape,           ids_1x1<x::XNNStaticReshape>,        kOtherTypes, kNoClamp, kNoWeights, shape_reshape,            compile_reshape,            nullptr},
  {U::XNNCopy,                    ids_1x1<x::_XNNNode1x1>,             kOtherTypes, kNoClamp, kNoWeights, shape_same_as_input,      compile_copy,               nullptr},
  {U::XNNConcatenate2,            ids_concatenate,                     kOtherTypes, kNoClamp, kNoWeights, shape_concatenate,        compile_concatenate,        nullptr},
  {U::XNNConcatenate3,            ids_concatenate,                     kOtherTypes, kNoClamp, kNoWeights, shape_concatenate,        compile_concatenate,        nullptr},
  {U::XNNConcatenate4,            ids_concatenate,                     kOtherTypes, kNoClamp, kNoWeights, shape_concatenate,        compile_concatenate,        nullptr},
  {U::XNNConcatenate5,            ids_concatenate,                     kOtherTypes, kNoClamp, kNoWeights, shape_concatenate,        compile_concatenate,        nullptr},
  {U::XNNStaticSlice,             ids_1x1<x::XNNStaticSlice>,          kOtherTypes, kNoClamp, kNoWeights, shape_slice,              compile_slice,              nullptr},
  {U::XNNBatchMatrixMultiply,     ids_2x1,                             kFp32,       kNoClamp, kNoWeights, shape_batch_matmul,       compile_batch_matmul,       nullptr},
  {U::XNNScaledDotProductAttention, ids_attention,                     kFp32,       kNoClamp, kNoWeights, shape_attention,          compile_attention,          nullptr},
  {U::XNNPReLU,                   ids_2x1,                             kFp32,       kNoClamp, kNoWeights, shape_prelu,              compile_prelu,              nullptr},
  {U::XNNGelu,                    ids_1x1<x::_XNNNode1x1>,             kFp32,       kClamp,   kNoWeights, shape_same_as_input,      compile_native_unary,       kernel<native::gelu>},
  {U::XNNTanh,                    ids_1x1<x::_XNNNode1x1>,             kFp32,       kClamp,   kNoWeights, shape_same_as_input,      compile_native_unary,       kernel<native::tanh>},
  {U::XNNExp,                     ids_1x1<x::_XNNNode1x1>,             kFp32,       kClamp,   kNoWeights, shape_same_as_input,      compile_native_unary,       kernel<native::exp>},
  {U::XNNLog,                     ids_1x1<x::_XNNNode1x1>,             kFp32,       kClamp,   kNoWeights, shape_same_as_input,      compile_native_unary,       kernel<native::log>},
  {U::XNNSin,                     ids_1x1<x::_XNNNode1x1>,             kFp32,       kClamp,   kNoWeights, shape_same_as_input,      compile_native_unary,       kernel<native::sin>},
  {U::XNNCos,                     ids_1x1<x::_XNNNode1x1>,             kFp32,       kClamp,   kNoWeights, shape_same_as_input,      compile_native_unary,       kernel<native::cos>},
  {U::XNNReciprocalSquareRoot,    ids_1x1<x::_XNNNode1x1>,             kFp32,       kClamp,   kNoWeights, shape_same_as_input,      compile_native_unary,       kernel<native::reciprocal_square_root>},
  {U::XNNLeakyReLU,               ids_1x1<x::XNNLeakyReLU>,            kFp32,       kNoClamp, kNoWeights, shape_same_as_input,      compile_leaky_relu,         leaky_relu},
  {U::XNNELU,                     ids_1x1<x::XNNELU>,                  kFp32,       kNoClamp, kNoWeights, shape_same_as_input,      compile_elu,                elu},
};
// clang-format on

}  // namespace

const NodeType* node_type(fb_xnnpack::XNodeUnion type) {
  for (const NodeType& t : kNodeTypes) {
    if (t.type == type) return &t;
  }
  return nullptr;
}

size_t concatenate_inputs(fb_xnnpack::XNodeUnion type) {
  return type == U::XNNConcatenate2 ? 2 : type == U::XNNConcatenate3 ? 3 : type == U::XNNConcatenate4 ? 4 : 5;
}

}  // namespace etp_xnnpack
