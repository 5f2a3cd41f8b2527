// Shape inference for bounded dynamic shapes: when a call's input shapes differ from the
// exported ones, every node's output dims are derived again from its inputs' current dims, in
// node order. The exported dims are the upper bounds the memory was planned for; reshape()
// checks that no value exceeds them.
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

size_t product(const Dims& dims) {
  size_t n = 1;
  for (size_t x : dims) n *= x;
  return n;
}

// Output size of a window op along one spatial dim (XNNPACK's floor rule).
size_t window_out(size_t in, uint32_t pad, uint32_t kernel, uint32_t stride, uint32_t dilation) {
  const size_t padded = in + pad, span = (kernel - 1) * size_t{std::max(1u, dilation)} + 1;
  return padded < span ? 0 : (padded - span) / std::max(1u, stride) + 1;
}

// A reshape's new dims for `numel` elements: the exported new shape when it still fits,
// else the exported output dims with the first dim that absorbs the change rescaled.
bool reshape_dims(const Dims& exported, size_t numel, size_t exported_numel, Dims* out) {
  *out = exported;
  if (product(exported) == numel) return true;
  for (size_t i = 0; i < out->size(); ++i) {
    if (exported_numel == 0) break;
    const size_t scaled = exported[i] * numel;
    if (scaled % exported_numel != 0) continue;
    (*out)[i] = scaled / exported_numel;
    if (product(*out) == numel) return true;
    (*out)[i] = exported[i];
  }
  return false;
}

bool conv_like(Delegate& d, const fb_xnnpack::_XNNNodeConv& n, bool transposed, std::string* e) {
  const Dims* x = get(d, n.input1_id());
  const int out = d.graph().find(n.output_id());
  if (x == nullptr || out < 0 || x->size() != 4) return *e = "expects a 4-D NHWC input", false;
  Dims o = d.value(out).dims;
  o[0] = (*x)[0];
  if (transposed) {
    auto size = [](size_t in, uint32_t stride, uint32_t adj, uint32_t k, uint32_t dil, uint32_t pad) -> size_t {
      const size_t full = (in - 1) * stride + adj + (k - 1) * size_t{dil} + 1;
      return in == 0 || full < pad ? 0 : full - pad;
    };
    o[1] = size((*x)[1], n.subsampling_height(), n.adjustment_height(), n.kernel_height(), n.dilation_height(),
                n.padding_top() + n.padding_bottom());
    o[2] = size((*x)[2], n.subsampling_width(), n.adjustment_width(), n.kernel_width(), n.dilation_width(),
                n.padding_left() + n.padding_right());
  } else {
    o[1] = window_out((*x)[1], n.padding_top() + n.padding_bottom(), n.kernel_height(), n.subsampling_height(),
                      n.dilation_height());
    o[2] = window_out((*x)[2], n.padding_left() + n.padding_right(), n.kernel_width(), n.subsampling_width(),
                      n.dilation_width());
  }
  return set(d, n.output_id(), std::move(o), e);
}

bool same_as_input(Delegate& d, uint32_t in, uint32_t out, std::string* e) {
  const Dims* x = get(d, in);
  if (x == nullptr) return *e = "value id " + std::to_string(in) + " is not defined", false;
  return set(d, out, *x, e);
}

}  // namespace

bool infer_node_dims(Delegate& d, size_t index, std::string* e) {
  const fb_xnnpack::XNode& node = *d.graph().root().xnodes()->Get(static_cast<flatbuffers::uoffset_t>(index));
  switch (node.xnode_union_type()) {
    case XNodeUnion::XNNFullyConnected: {
      const auto* n = node.xnode_union_as_XNNFullyConnected();
      const Dims* x = get(d, n->input1_id());
      const int out = d.graph().find(n->output_id());
      if (x == nullptr || x->empty() || out < 0) return *e = "value id out of range", false;
      Dims o = *x;
      o.back() = d.value(out).dims.back();
      return set(d, n->output_id(), std::move(o), e);
    }
    case XNodeUnion::XNNConv2d: return conv_like(d, *node.xnode_union_as_XNNConv2d(), false, e);
    case XNodeUnion::XNNDepthwiseConv2d: return conv_like(d, *node.xnode_union_as_XNNDepthwiseConv2d(), false, e);
    case XNodeUnion::XNNConvTranspose2d: return conv_like(d, *node.xnode_union_as_XNNConvTranspose2d(), true, e);
    case XNodeUnion::XNNMaxPooling2d:
    case XNodeUnion::XNNAvgPooling2d: {
      const bool max = node.xnode_union_type() == XNodeUnion::XNNMaxPooling2d;
      const auto* n = max ? node.xnode_union_as_XNNMaxPooling2d() : node.xnode_union_as_XNNAvgPooling2d();
      const Dims* x = get(d, n->input_id());
      if (x == nullptr || x->size() != 4) return *e = "expects a 4-D NHWC input", false;
      Dims o = *x;
      o[1] = window_out((*x)[1], n->padding_top() + n->padding_bottom(), n->pooling_height(), n->stride_height(),
                        max ? n->dilation_height() : 1);
      o[2] = window_out((*x)[2], n->padding_left() + n->padding_right(), n->pooling_width(), n->stride_width(),
                        max ? n->dilation_width() : 1);
      return set(d, n->output_id(), std::move(o), e);
    }
    case XNodeUnion::XNNGlobalAvgPooling2d: {
      const auto* n = node.xnode_union_as_XNNGlobalAvgPooling2d();
      const Dims* x = get(d, n->input_id());
      const int out = d.graph().find(n->output_id());
      if (x == nullptr || x->empty() || out < 0) return *e = "value id out of range", false;
      Dims o = d.value(out).dims;
      o[0] = (*x)[0];
      return set(d, n->output_id(), std::move(o), e);
    }
    case XNodeUnion::XNNStaticResizeBilinear2D: {
      const auto* n = node.xnode_union_as_XNNStaticResizeBilinear2D();
      const Dims* x = get(d, n->input_id());
      if (x == nullptr || x->size() != 4) return *e = "expects a 4-D NHWC input", false;
      return set(d, n->output_id(), {(*x)[0], n->new_height(), n->new_width(), (*x)[3]}, e);
    }
    case XNodeUnion::XNNStaticConstantPad: {
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
    case XNodeUnion::XNNAdd: case XNodeUnion::XNNSubtract: case XNodeUnion::XNNMultiply: case XNodeUnion::XNNDiv:
    case XNodeUnion::XNNMaximum: case XNodeUnion::XNNMinimum: {
      const auto* n = node.xnode_union_as_XNNAdd();  // every binary member is a _XNNNode2x1
      const Dims *a = get(d, n->input1_id()), *b = get(d, n->input2_id());
      size_t rank = 0, dims[native::kMaxRank];
      if (a == nullptr || b == nullptr ||
          !native::broadcast_output_dims(a->size(), a->data(), b->size(), b->data(), &rank, dims)) {
        return *e = "input shapes do not broadcast", false;
      }
      return set(d, n->output_id(), Dims(dims, dims + rank), e);
    }
    case XNodeUnion::XNNBatchMatrixMultiply: {
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
    case XNodeUnion::XNNStaticTranspose: {
      const auto* n = node.xnode_union_as_XNNStaticTranspose();
      const Dims* x = get(d, n->input_id());
      if (x == nullptr || !n->perm() || n->perm()->size() != x->size()) return *e = "perm does not fit the input", false;
      Dims o(x->size());
      for (size_t i = 0; i < o.size(); ++i) {
        const uint32_t p = n->perm()->Get(static_cast<flatbuffers::uoffset_t>(i));
        if (p >= x->size()) return *e = "perm out of range", false;
        o[i] = (*x)[p];
      }
      return set(d, n->output_id(), std::move(o), e);
    }
    case XNodeUnion::XNNStaticReshape: {
      const auto* n = node.xnode_union_as_XNNStaticReshape();
      const int in = d.graph().find(n->input_id()), out = d.graph().find(n->output_id());
      if (in < 0 || out < 0) return *e = "value id out of range", false;
      Dims o;
      if (!reshape_dims(d.value(out).dims, d.numel(in), d.value(in).numel, &o)) {
        return *e = "cannot reshape the input's " + std::to_string(d.numel(in)) + " elements", false;
      }
      return set(d, n->output_id(), std::move(o), e);
    }
    case XNodeUnion::XNNStaticSlice: {
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
        if (offset + o[i] > (*x)[i]) return *e = "slice does not fit dim " + std::to_string(i), false;
      }
      return set(d, n->output_id(), std::move(o), e);
    }
    case XNodeUnion::XNNConcatenate2: case XNodeUnion::XNNConcatenate3: case XNodeUnion::XNNConcatenate4:
    case XNodeUnion::XNNConcatenate5: {
      const auto* n = node.xnode_union_as_XNNConcatenate2();  // every member is a _XNNCat
      const XNodeUnion type = node.xnode_union_type();
      const size_t count = type == XNodeUnion::XNNConcatenate2   ? 2
                           : type == XNodeUnion::XNNConcatenate3 ? 3
                           : type == XNodeUnion::XNNConcatenate4 ? 4
                                                                  : 5;
      const uint32_t ids[] = {n->input1_id(), n->input2_id(), n->input3_id(), n->input4_id(), n->input5_id()};
      const Dims* first = get(d, ids[0]);
      if (first == nullptr || n->axis() >= first->size()) return *e = "axis out of range", false;
      Dims o = *first;
      o[n->axis()] = 0;
      for (size_t i = 0; i < count; ++i) {
        const Dims* x = get(d, ids[i]);
        if (x == nullptr || x->size() != o.size()) return *e = "inputs differ in rank", false;
        o[n->axis()] += (*x)[n->axis()];
      }
      return set(d, n->output_id(), std::move(o), e);
    }
    case XNodeUnion::XNNScaledDotProductAttention: {
      const auto* n = node.xnode_union_as_XNNScaledDotProductAttention();
      const Dims *q = get(d, n->query_id()), *v = get(d, n->value_id());
      if (q == nullptr || v == nullptr || q->empty() || v->empty()) return *e = "value id out of range", false;
      Dims o = *q;
      o.back() = v->back();
      return set(d, n->output_id(), std::move(o), e);
    }
    case XNodeUnion::XNNPReLU: {
      const auto* n = node.xnode_union_as_XNNPReLU();
      return same_as_input(d, n->input1_id(), n->output_id(), e);
    }
    case XNodeUnion::XNNLeakyReLU:
      return same_as_input(d, node.xnode_union_as_XNNLeakyReLU()->input_id(), node.xnode_union_as_XNNLeakyReLU()->output_id(), e);
    case XNodeUnion::XNNELU:
      return same_as_input(d, node.xnode_union_as_XNNELU()->input_id(), node.xnode_union_as_XNNELU()->output_id(), e);
    case XNodeUnion::XNNArgMaxPooling2d:
      return *e = "not supported", false;
    default: {  // every other member is an element-wise _XNNNode1x1
      const auto* n = static_cast<const fb_xnnpack::_XNNNode1x1*>(node.xnode_union());
      return same_as_input(d, n->input_id(), n->output_id(), e);
    }
  }
}

}  // namespace etp_xnnpack
