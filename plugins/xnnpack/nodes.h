// The node table: one entry per XNNPACK node type the plugin runs, holding everything the plugin
// knows about that type. Adding a node type means adding one entry to kNodeTypes (nodes.cpp)
// and, unless an existing one fits, writing its compile function (compile_*.cpp) and its shape
// rule (infer_dims.cpp).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "xnnpack_graph_generated.h"

namespace etp_xnnpack {

class Delegate;

// The value ids a node reads and writes, in its table's order (weighted nodes: input, filter,
// bias). Resolved once, when the graph is parsed (Graph::node_ids).
struct NodeIds {
  std::vector<uint32_t> in, out;
};

using NodeFn = bool (*)(Delegate& d, const fb_xnnpack::XNode& node, std::string* error);
// An fp32 element-wise kernel: out[i] = f(in[i]) for n elements.
using ElementwiseKernel = std::function<void(const float* in, float* out, size_t n)>;

struct NodeType {
  fb_xnnpack::XNodeUnion type;
  void (*ids)(const fb_xnnpack::XNode& node, NodeIds* ids);
  // False: every value must be fp32 (checked before compile). True: compile checks datatypes
  // itself (quantized, fp16 or pass-through types).
  bool other_datatypes;
  // Applies a fused output clamp (output_min_max) in every variant; on any other type a finite
  // bound would be dropped, so it is refused.
  bool fused_clamp;
  // Packs its filter and bias (ids.in[1..]) into the operator: they need no arena copy and can
  // live in the weight cache.
  bool packs_weights;
  // Output dims from the inputs' current dims (Delegate::dims); `ids` are the node's. Run at
  // init on the exported dims, where it must give the exported output dims, and again on
  // every reshape.
  bool (*shape)(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& ids, std::string* error);
  // Builds the node's step(s).
  NodeFn compile;
  // The node's fp32 element-wise kernel, when it has one: the fp16 path runs it on values
  // widened in chunks (this XNNPACK has few fp16 operators); null for other types.
  ElementwiseKernel (*elementwise)(const fb_xnnpack::XNode& node);
};

// The entry of `type`, or null when the plugin does not run it.
const NodeType* node_type(fb_xnnpack::XNodeUnion type);

}  // namespace etp_xnnpack
