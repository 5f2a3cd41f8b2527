// The node table's shape rules (nodes.h). They run at init on the exported dims before any
// compiler has checked the node, so each checks every rank and index it relies on.
// Shape inference for bounded dynamic shapes: when a call's input shapes differ from the
// exported ones, every node's output dims are derived again from its inputs' current dims, in
// node order. The exported dims are the upper bounds the memory was planned for; reshape()
// checks that no value exceeds them.
#include <algorithm>

#include "compile.h"
#include "native_ops.h"

namespace etp_xnnpack {
namespace {

using fb_xnnpack::XNodeUnion;
using Dims = std::vector<size_t>;

bool set(Delegate& d, uint32_t id, Dims dims, std::string* e) {
  const int v = d.graph().find(id);
  if (v < 0) return *e = "value id " + std::to_string(id) + " is not defined", false;
  d.mutable_dims(v) = std::move(dims);
  return true;
}

const Dims* get(Delegate& d, uint32_t id) {
  const int v = d.graph().find(id);
  return v < 0 ? nullptr : &d.dims(v);
}

// The current dims of value `id` when its last dim is still `expected`: the size an operator
// was created for (channels, input width), which a call cannot change.
const Dims* get_with_last(Delegate& d, uint32_t id, size_t expected, std::string* e) {
  const Dims* x = get(d, id);
  if (x == nullptr || x->empty()) return *e = "value id " + std::to_string(id) + " is not defined", nullptr;
  if (x->back() != expected) {
    *e = "last dim is " + std::to_string(x->back()) + ", the operator was created for " + std::to_string(expected);
    return nullptr;
  }
  return x;
}

// Exported last dim of value `id` (0 when it has none).
size_t exported_last(Delegate& d, uint32_t id) {
  const int v = d.graph().find(id);
  return v < 0 || d.value(v).dims.empty() ? 0 : d.value(v).dims.back();
}

// A reshape's new dims for the input's current dims: the exported output dims while the input
// is as exported; else the new shape, whose one 0 entry (ExecuTorch writes -1 as 0) takes what
// the other entries leave.
bool reshape_dims(Delegate& d, const fb_xnnpack::XNNStaticReshape& n, int in, int out, Dims* o, std::string* e) {
  if (d.dims(in) == d.value(in).dims) return *o = d.value(out).dims, true;
  const size_t numel = d.numel(in);
  if (!n.new_shape() || n.new_shape()->size() != d.value(out).dims.size()) {
    return *e = "new shape does not match the output rank", false;
  }
  o->assign(n.new_shape()->begin(), n.new_shape()->end());
  const auto zeros = std::count(o->begin(), o->end(), size_t{0});
  if (zeros > 1) return *e = "new shape has more than one inferred (0) entry", false;
  size_t known = 1;
  for (size_t x : *o) known *= x == 0 ? 1 : x;
  if (zeros == 1) {
    if (known == 0 || numel % known != 0) return *e = "cannot reshape " + std::to_string(numel) + " elements", false;
    *std::find(o->begin(), o->end(), size_t{0}) = numel / known;
  } else if (known != numel) {
    return *e = "cannot reshape the input's " + std::to_string(numel) + " elements to the fixed new shape", false;
  }
  return true;
}

bool conv_like(Delegate& d, const fb_xnnpack::_XNNNodeConv& n, bool transposed, std::string* e) {
  const Dims* x = get_with_last(d, n.input1_id(), exported_last(d, n.input1_id()), e);
  const int out = d.graph().find(n.output_id());
  if (x == nullptr) return false;
  if (out < 0 || x->size() != 4 || d.value(out).dims.size() != 4)
    return *e = "expects a 4-D NHWC input and output", false;
  Dims o = d.value(out).dims;
  o[0] = (*x)[0];
  if (!conv_output_hw(n, transposed, (*x)[1], (*x)[2], &o[1], &o[2], e)) return false;
  return set(d, n.output_id(), std::move(o), e);
}

bool same_as_input(Delegate& d, uint32_t in, uint32_t out, std::string* e) {
  const Dims* x = get(d, in);
  if (x == nullptr) return *e = "value id " + std::to_string(in) + " is not defined", false;
  return set(d, out, *x, e);
}

}  // namespace

bool shape_fully_connected(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds&, std::string* e) {
  const auto* n = node.xnode_union_as_XNNFullyConnected();
  const Dims* x = get_with_last(d, n->input1_id(), exported_last(d, n->input1_id()), e);
  const int out = d.graph().find(n->output_id());
  if (x == nullptr) return false;
  if (out < 0 || d.value(out).dims.empty()) return *e = "value id out of range, or a scalar output", false;
  Dims o = *x;
  o.back() = d.value(out).dims.back();
  return set(d, n->output_id(), std::move(o), e);
}

bool shape_conv(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds&, std::string* e) {
  return conv_like(d, *static_cast<const fb_xnnpack::_XNNNodeConv*>(node.xnode_union()),
                   node.xnode_union_type() == XNodeUnion::XNNConvTranspose2d, e);
}

bool shape_pooling(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds&, std::string* e) {
  const bool max = node.xnode_union_type() == XNodeUnion::XNNMaxPooling2d;
  const auto* n = max ? node.xnode_union_as_XNNMaxPooling2d() : node.xnode_union_as_XNNAvgPooling2d();
  const Dims* x = get_with_last(d, n->input_id(), exported_last(d, n->input_id()), e);
  if (x == nullptr) return false;
  if (x->size() != 4) return *e = "expects a 4-D NHWC input", false;
  Dims o = *x;
  if (!pool_output_hw(*n, max, (*x)[1], (*x)[2], &o[1], &o[2], e)) return false;
  return set(d, n->output_id(), std::move(o), e);
}

bool shape_argmax_pooling(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds&, std::string* e) {
  const auto* n = node.xnode_union_as_XNNArgMaxPooling2d();
  const Dims* x = get_with_last(d, n->input_id(), exported_last(d, n->input_id()), e);
  if (x == nullptr) return false;
  if (x->size() != 4) return *e = "expects a 4-D NHWC input", false;
  Dims o = *x;
  if (!argmax_pool_output_hw(*n, (*x)[1], (*x)[2], &o[1], &o[2], e)) return false;
  return set(d, n->output_value_id(), o, e) && set(d, n->output_index_id(), std::move(o), e);
}

bool shape_global_avg_pooling(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds&, std::string* e) {
  const auto* n = node.xnode_union_as_XNNGlobalAvgPooling2d();
  const Dims* x = get_with_last(d, n->input_id(), exported_last(d, n->input_id()), e);
  const int out = d.graph().find(n->output_id());
  if (x == nullptr) return false;
  if (out < 0 || d.value(out).dims.empty()) return *e = "value id out of range, or a scalar output", false;
  Dims o = d.value(out).dims;
  o[0] = (*x)[0];
  return set(d, n->output_id(), std::move(o), e);
}

bool shape_resize_bilinear(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds&, std::string* e) {
  const auto* n = node.xnode_union_as_XNNStaticResizeBilinear2D();
  const Dims* x = get_with_last(d, n->input_id(), exported_last(d, n->input_id()), e);
  if (x == nullptr) return false;
  if (x->size() != 4) return *e = "expects a 4-D NHWC input", false;
  return set(d, n->output_id(), {(*x)[0], n->new_height(), n->new_width(), (*x)[3]}, e);
}

bool shape_constant_pad(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds&, std::string* e) {
  const auto* n = node.xnode_union_as_XNNStaticConstantPad();
  const Dims* x = get(d, n->input_id());
  if (x == nullptr || !n->pre_paddings() || !n->post_paddings() || n->pre_paddings()->size() != x->size() ||
      n->post_paddings()->size() != x->size()) {
    return *e = "paddings do not fit the input", false;
  }
  Dims o = *x;
  for (size_t i = 0; i < o.size(); ++i) {
    o[i] += n->pre_paddings()->Get(static_cast<flatbuffers::uoffset_t>(i)) +
            n->post_paddings()->Get(static_cast<flatbuffers::uoffset_t>(i));
  }
  return set(d, n->output_id(), std::move(o), e);
}

bool shape_broadcast(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds&, std::string* e) {
  const auto* n = static_cast<const fb_xnnpack::_XNNNode2x1*>(node.xnode_union());  // every binary member
  const Dims *a = get(d, n->input1_id()), *b = get(d, n->input2_id());
  size_t rank = 0, dims[native::kMaxRank];
  if (a == nullptr || b == nullptr ||
      !native::broadcast_output_dims(a->size(), a->data(), b->size(), b->data(), &rank, dims)) {
    return *e = "input shapes do not broadcast", false;
  }
  return set(d, n->output_id(), Dims(dims, dims + rank), e);
}

bool shape_batch_matmul(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds&, std::string* e) {
  const auto* n = node.xnode_union_as_XNNBatchMatrixMultiply();
  const Dims *a = get(d, n->input1_id()), *b = get(d, n->input2_id());
  size_t rank = 0, dims[native::kMaxRank];
  if (a == nullptr || b == nullptr ||
      !native::batch_matmul_output_dims(a->size(), a->data(), b->size(), b->data(),
                                        n->flags() & native::kFlagTransposeB, &rank, dims)) {
    return *e = "input shapes do not multiply", false;
  }
  return set(d, n->output_id(), Dims(dims, dims + rank), e);
}

bool shape_transpose(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds&, std::string* e) {
  const auto* n = node.xnode_union_as_XNNStaticTranspose();
  const Dims* x = get(d, n->input_id());
  if (x == nullptr || !n->perm() || n->perm()->size() != x->size()) return *e = "perm does not fit the input", false;
  Dims o(x->size());
  std::vector<bool> seen(x->size(), false);
  for (size_t i = 0; i < o.size(); ++i) {
    const uint32_t p = n->perm()->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (p >= x->size() || seen[p]) return *e = "perm is not a permutation of the input's dims", false;
    seen[p] = true;
    o[i] = (*x)[p];
  }
  return set(d, n->output_id(), std::move(o), e);
}

bool shape_reshape(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds&, std::string* e) {
  const auto* n = node.xnode_union_as_XNNStaticReshape();
  const int in = d.graph().find(n->input_id()), out = d.graph().find(n->output_id());
  if (in < 0 || out < 0) return *e = "value id out of range", false;
  Dims o;
  if (!reshape_dims(d, *n, in, out, &o, e)) return false;
  return set(d, n->output_id(), std::move(o), e);
}

bool shape_slice(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds&, std::string* e) {
  const auto* n = node.xnode_union_as_XNNStaticSlice();
  const Dims* x = get(d, n->input_id());
  if (x == nullptr || !n->offsets() || !n->sizes() || n->sizes()->size() != x->size() ||
      n->offsets()->size() != x->size()) {
    return *e = "slice does not fit the input", false;
  }
  Dims o(x->size());
  for (size_t i = 0; i < o.size(); ++i) {
    const size_t offset = n->offsets()->Get(static_cast<flatbuffers::uoffset_t>(i));
    const size_t size = n->sizes()->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (offset > (*x)[i]) return *e = "slice offset past the end of dim " + std::to_string(i), false;
    o[i] = size == 0 ? (*x)[i] - offset : size;
    if (o[i] > (*x)[i] - offset) return *e = "slice does not fit dim " + std::to_string(i), false;
  }
  return set(d, n->output_id(), std::move(o), e);
}

bool shape_concatenate(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds&, std::string* e) {
  const auto* n = static_cast<const fb_xnnpack::_XNNCat*>(node.xnode_union());  // every member
  const size_t count = concatenate_inputs(node.xnode_union_type());
  const uint32_t ids[] = {n->input1_id(), n->input2_id(), n->input3_id(), n->input4_id(), n->input5_id()};
  const Dims* first = get(d, ids[0]);
  if (first == nullptr || n->axis() >= first->size()) return *e = "axis out of range", false;
  Dims o = *first;
  o[n->axis()] = 0;
  for (size_t i = 0; i < count; ++i) {
    const Dims* x = get(d, ids[i]);
    if (x == nullptr || x->size() != o.size()) return *e = "inputs differ in rank", false;
    for (size_t k = 0; k < o.size(); ++k) {
      if (k != n->axis() && (*x)[k] != o[k])
        return *e = "inputs differ off the axis (dim " + std::to_string(k) + ")", false;
    }
    o[n->axis()] += (*x)[n->axis()];
  }
  return set(d, n->output_id(), std::move(o), e);
}

bool shape_attention(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds&, std::string* e) {
  const auto* n = node.xnode_union_as_XNNScaledDotProductAttention();
  const Dims *q = get(d, n->query_id()), *v = get(d, n->value_id());
  if (q == nullptr || v == nullptr || q->empty() || v->empty()) return *e = "value id out of range", false;
  Dims o = *q;
  o.back() = v->back();
  return set(d, n->output_id(), std::move(o), e);
}

bool shape_prelu(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds&, std::string* e) {
  const auto* n = node.xnode_union_as_XNNPReLU();
  // The kernel indexes the slope by the channel count fixed at init.
  if (get_with_last(d, n->input1_id(), exported_last(d, n->input1_id()), e) == nullptr) return false;
  return same_as_input(d, n->input1_id(), n->output_id(), e);
}

bool shape_softmax(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds&, std::string* e) {
  // Softmax's channel width (last dim) is fixed when its operator is created; the other
  // element-wise operators run on one long row and take any shape.
  const auto* n = static_cast<const fb_xnnpack::_XNNNode1x1*>(node.xnode_union());
  const Dims* x = get(d, n->input_id());
  if (x != nullptr && !x->empty() && x->back() != 0 &&
      get_with_last(d, n->input_id(), exported_last(d, n->input_id()), e) == nullptr) {
    return false;
  }
  return same_as_input(d, n->input_id(), n->output_id(), e);
}

bool shape_same_as_input(Delegate& d, const fb_xnnpack::XNode&, const NodeIds& ids, std::string* e) {
  return same_as_input(d, ids.in[0], ids.out[0], e);
}

}  // namespace etp_xnnpack
