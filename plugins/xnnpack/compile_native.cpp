// Nodes that run as plugin-native kernels (native_ops.h): what Debian's XNNPACK lacks, plus
// pure data movement. Shapes are checked here, at init, so the kernels never read or write
// outside a value's buffer.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <tuple>

#include "compile.h"
#include "native_ops.h"
#include "nodes.h"

namespace etp_xnnpack {
namespace {

using fb_xnnpack::XNodeUnion;

bool ids(Delegate& d, std::initializer_list<uint32_t> in, std::vector<int>* out, std::string* e) {
  for (uint32_t id : in) {
    const int index = d.graph().find(id);
    if (index < 0) return *e = "value id " + std::to_string(id) + " is not defined", false;
    out->push_back(index);
  }
  return true;
}

// A node's fused output clamp, read from the graph once at init; applied when it has a finite
// bound.
struct OutputClamp {
  float lo, hi;
  explicit OutputClamp(const fb_xnnpack::XNode& node) { std::tie(lo, hi) = output_bounds(node); }
  void operator()(float* out, size_t n) const {
    if (std::isfinite(lo) || std::isfinite(hi)) native::clamp(out, out, n, lo, hi);
  }
};

bool unary(Delegate& d, const fb_xnnpack::XNode& node, const fb_xnnpack::_XNNNode1x1& n, ElementwiseKernel fn,
           std::string* e) {
  std::vector<int> v;
  if (!ids(d, {n.input_id(), n.output_id()}, &v, e)) return false;
  if (d.value(v[0]).numel != d.value(v[1]).numel) return *e = "input and output sizes differ", false;
  d.add_step(node_name(node.xnode_union_type()), [fn, v, clamp = OutputClamp(node)](Delegate& dd) {
    const size_t count = dd.numel(v[0]);
    fn(dd.data(v[0]), dd.data(v[1]), count);
    clamp(dd.data(v[1]), count);
    return ETP_OK;
  });
  return true;
}

bool activation(Delegate& d, const fb_xnnpack::XNode& node, uint32_t in, uint32_t out, float parameter, bool elu,
                std::string* e) {
  std::vector<int> v;
  if (!ids(d, {in, out}, &v, e)) return false;
  if (d.value(v[0]).numel != d.value(v[1]).numel) return *e = "input and output sizes differ", false;
  d.add_step(node_name(node.xnode_union_type()), [v, parameter, elu](Delegate& dd) {
    (elu ? native::elu : native::leaky_relu)(dd.data(v[0]), dd.data(v[1]), dd.numel(v[0]), parameter);
    return ETP_OK;
  });
  return true;
}

bool transpose(Delegate& d, const fb_xnnpack::XNNStaticTranspose& n, std::string* e) {
  std::vector<int> v;
  if (!ids(d, {n.input_id(), n.output_id()}, &v, e)) return false;
  const Value &in = d.value(v[0]), &out = d.value(v[1]);
  // A permutation of the input's dims that gives the output's: checked by shape_transpose.
  std::vector<size_t> perm(n.perm()->begin(), n.perm()->end());
  if (!same_type(in, out, e)) return false;
  const size_t elem = in.elem_size;
  d.add_step("XNNStaticTranspose", [v, perm, elem](Delegate& dd) {
    const std::vector<size_t>& dims = dd.dims(v[0]);
    native::transpose(dd.raw(v[0]), dd.raw(v[1]), dims.size(), dims.data(), perm.data(), elem);
    return ETP_OK;
  });
  return true;
}

bool reshape_or_copy(Delegate& d, const fb_xnnpack::XNode& node, uint32_t in, uint32_t out, std::string* e) {
  std::vector<int> v;
  if (!ids(d, {in, out}, &v, e)) return false;
  if (d.value(v[0]).numel != d.value(v[1]).numel) return *e = "input and output sizes differ", false;
  if (!same_type(d.value(v[0]), d.value(v[1]), e)) return false;
  const size_t elem = d.value(v[0]).elem_size;
  d.add_step(node_name(node.xnode_union_type()), [v, elem](Delegate& dd) {
    if (dd.raw(v[0]) != dd.raw(v[1])) std::memmove(dd.raw(v[1]), dd.raw(v[0]), dd.numel(v[0]) * elem);
    return ETP_OK;
  });
  return true;
}

bool concatenate(Delegate& d, const fb_xnnpack::XNode& node, const fb_xnnpack::_XNNCat& n, size_t count,
                 std::string* e) {
  const uint32_t all[] = {n.input1_id(), n.input2_id(), n.input3_id(), n.input4_id(), n.input5_id()};
  std::vector<int> v;
  for (size_t i = 0; i < count; ++i) {
    if (!ids(d, {all[i]}, &v, e)) return false;
  }
  const int out = d.graph().find(n.output_id());
  if (out < 0) return *e = "output value id is not defined", false;
  const Value& vo = d.value(out);
  const size_t rank = vo.dims.size();  // the inputs' dims join along the axis: checked by shape_concatenate
  for (int i : v) {
    if (!same_type(d.value(i), vo, e)) return false;
  }
  const size_t axis = n.axis();
  const size_t elem = vo.elem_size;
  d.add_step(node_name(node.xnode_union_type()), [v, out, axis, rank, elem](Delegate& dd) {
    const void* inputs[native::kMaxConcatInputs];
    const size_t* dims[native::kMaxConcatInputs];
    for (size_t i = 0; i < v.size(); ++i) {
      inputs[i] = dd.raw(v[i]);
      dims[i] = dd.dims(v[i]).data();
    }
    const bool ok = native::concatenate(inputs, v.size(), rank, dims, axis, dd.raw(out), elem);
    return ok ? ETP_OK : dd.fail(ETP_ERR_SHAPE, "the inputs do not concatenate");
  });
  return true;
}

bool slice(Delegate& d, const fb_xnnpack::XNNStaticSlice& n, std::string* e) {
  std::vector<int> v;
  if (!ids(d, {n.input_id(), n.output_id()}, &v, e)) return false;
  const Value &in = d.value(v[0]), &out = d.value(v[1]);
  // Offsets and sizes fit the input: the shape rule (shape_slice) checked them before compile.
  std::vector<size_t> offsets(in.dims.size());
  for (size_t i = 0; i < offsets.size(); ++i) offsets[i] = n.offsets()->Get(static_cast<flatbuffers::uoffset_t>(i));
  if (!same_type(in, out, e)) return false;
  const size_t elem = in.elem_size;
  d.add_step("XNNStaticSlice", [v, offsets, elem](Delegate& dd) {
    const std::vector<size_t>& dims = dd.dims(v[0]);
    const bool ok =
        native::slice(dd.raw(v[0]), dd.raw(v[1]), dims.size(), dims.data(), offsets.data(), dd.dims(v[1]).data(), elem);
    return ok ? ETP_OK : dd.fail(ETP_ERR_SHAPE, "the slice does not fit the input");
  });
  return true;
}

bool batch_matmul(Delegate& d, const fb_xnnpack::_XNNNode2x1& n, std::string* e) {
  std::vector<int> v;
  if (!ids(d, {n.input1_id(), n.input2_id(), n.output_id()}, &v, e)) return false;
  const Value &a = d.value(v[0]), &b = d.value(v[1]), &o = d.value(v[2]);
  const bool transpose_b = n.flags() & native::kFlagTransposeB;
  size_t rank = 0, dims[native::kMaxRank];
  if (!native::batch_matmul_output_dims(a.dims.size(), a.dims.data(), b.dims.size(), b.dims.data(), transpose_b, &rank,
                                        dims) ||
      std::vector<size_t>(dims, dims + rank) != o.dims) {
    return *e = "input shapes do not multiply to the output shape", false;
  }
  d.add_step("XNNBatchMatrixMultiply", [v, transpose_b](Delegate& dd) {
    const std::vector<size_t>&a = dd.dims(v[0]), &b = dd.dims(v[1]);
    const bool ok = native::batch_matmul(dd.data(v[0]), a.size(), a.data(), dd.data(v[1]), b.size(), b.data(),
                                         transpose_b, dd.data(v[2]));
    return ok ? ETP_OK : dd.fail(ETP_ERR_SHAPE, "shapes rejected");
  });
  return true;
}

bool attention(Delegate& d, const fb_xnnpack::XNNScaledDotProductAttention& n, std::string* e) {
  std::vector<int> v;
  if (!ids(d, {n.query_id(), n.key_id(), n.value_id(), n.scale_id(), n.output_id()}, &v, e)) return false;
  const int mask = n.mask_id() == UINT32_MAX ? -1 : d.graph().find(n.mask_id());
  if (n.mask_id() != UINT32_MAX && mask < 0) return *e = "mask value id is not defined", false;
  const Value &q = d.value(v[0]), &k = d.value(v[1]), &val = d.value(v[2]), &scale = d.value(v[3]),
              &out = d.value(v[4]);
  const size_t qr = q.dims.size();
  if (qr < 3 || (k.dims.size() != qr && k.dims.size() + 1 != qr) || val.dims.size() != k.dims.size() ||
      out.dims.size() != qr) {
    return *e = "query, key, value and output ranks do not fit", false;
  }
  const size_t t = q.dims[qr - 2], c = q.dims[qr - 1], u = k.dims[k.dims.size() - 2], dv = val.dims.back();
  if (k.dims.back() != c || val.dims[val.dims.size() - 2] != u || scale.numel != c || out.dims[qr - 1] != dv ||
      out.numel != q.numel / c * dv || (mask >= 0 && d.value(mask).numel != t * u)) {
    return *e = "query, key, value, scale, mask and output sizes do not fit", false;
  }
  d.add_step("XNNScaledDotProductAttention", [v, mask](Delegate& dd) {
    const std::vector<size_t>&q = dd.dims(v[0]), &k = dd.dims(v[1]), &val = dd.dims(v[2]);
    const bool ok = native::scaled_dot_product_attention(dd.data(v[0]), q.size(), q.data(), dd.data(v[1]),
                                                         dd.data(v[2]), k.size(), k.data(), val.data(), dd.data(v[3]),
                                                         mask >= 0 ? dd.data(mask) : nullptr, dd.data(v[4]));
    return ok ? ETP_OK : dd.fail(ETP_ERR_SHAPE, "shapes rejected");
  });
  return true;
}

bool prelu(Delegate& d, const fb_xnnpack::_XNNNode2x1& n, std::string* e) {
  std::vector<int> v;
  if (!ids(d, {n.input1_id(), n.input2_id(), n.output_id()}, &v, e)) return false;
  const Value &in = d.value(v[0]), &slope = d.value(v[1]), &out = d.value(v[2]);
  const size_t channels = in.dims.empty() ? 1 : in.dims.back();
  if (out.numel != in.numel || (slope.numel != channels && slope.numel != 1) || channels == 0) {
    return *e = "slope must have one value or one per channel (last dim)", false;
  }
  d.add_step("XNNPReLU", [v, channels](Delegate& dd) {
    const float* x = dd.data(v[0]);
    const float* s = dd.data(v[1]);
    float* y = dd.data(v[2]);
    const size_t count = dd.numel(v[0]), per = dd.numel(v[1]);
    for (size_t i = 0; i < count; ++i) y[i] = x[i] < 0 ? x[i] * s[per == 1 ? 0 : i % channels] : x[i];
    return ETP_OK;
  });
  return true;
}

}  // namespace

bool compile_half(Delegate& d, const fb_xnnpack::XNode& node, const NodeIds& io, const ElementwiseKernel& kernel,
                  std::string* e, bool* handled) {
  *handled = false;
  if (io.in.empty() || io.out.empty()) return false;
  std::vector<int> v;
  if (!ids(d, {io.in[0], io.out[0]}, &v, e)) return false;  // leave unhandled: reported by the fp32 path
  const Value &in = d.value(v[0]), &out = d.value(v[1]);
  if (!in.is(Datatype::xnn_datatype_fp16)) return false;
  *handled = true;
  const uint32_t flags = node.xnode_union_type() == XNodeUnion::XNNLeakyReLU
                             ? node.xnode_union_as_XNNLeakyReLU()->flags()
                         : node.xnode_union_type() == XNodeUnion::XNNELU
                             ? node.xnode_union_as_XNNELU()->flags()
                             : static_cast<const fb_xnnpack::_XNNNode1x1*>(node.xnode_union())->flags();
  if (!check_flags(node.xnode_union_type(), flags, 0, e)) return false;
  if (!out.is(Datatype::xnn_datatype_fp16))
    return *e = "input is fp16 but the output " + datatype_name(out.datatype), false;
  if (in.numel != out.numel) return *e = "input and output sizes differ", false;
  d.add_step(node_name(node.xnode_union_type()), [kernel, v, clamp = OutputClamp(node)](Delegate& dd) {
    // Widened to fp32 in chunks on the stack, computed, clamped and narrowed back.
    constexpr size_t kChunk = 256;
    float buffer[kChunk];
    const auto* x = dd.as<const uint16_t>(v[0]);
    auto* y = dd.as<uint16_t>(v[1]);
    const size_t count = dd.numel(v[0]);
    for (size_t start = 0; start < count; start += kChunk) {
      const size_t n = std::min(kChunk, count - start);
      for (size_t i = 0; i < n; ++i) buffer[i] = native::from_half(x[start + i]);
      kernel(buffer, buffer, n);
      clamp(buffer, n);
      for (size_t i = 0; i < n; ++i) y[start + i] = native::to_half(buffer[i]);
    }
    return ETP_OK;
  });
  return true;
}

// The node table's compile functions (nodes.cpp) for nodes that run as plugin-native kernels.
bool compile_transpose(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  return transpose(d, *node.xnode_union_as_XNNStaticTranspose(), e);
}
bool compile_reshape(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  const auto* n = node.xnode_union_as_XNNStaticReshape();
  return reshape_or_copy(d, node, n->input_id(), n->output_id(), e);
}
bool compile_copy(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  const auto* n = node.xnode_union_as_XNNCopy();
  return reshape_or_copy(d, node, n->input_id(), n->output_id(), e);
}
bool compile_concatenate(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  // Every member is a _XNNCat; the type says how many inputs it has.
  return concatenate(d, node, *static_cast<const fb_xnnpack::_XNNCat*>(node.xnode_union()),
                     concatenate_inputs(node.xnode_union_type()), e);
}
bool compile_slice(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  return slice(d, *node.xnode_union_as_XNNStaticSlice(), e);
}
bool compile_batch_matmul(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  return batch_matmul(d, *node.xnode_union_as_XNNBatchMatrixMultiply(), e);
}
bool compile_attention(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  return attention(d, *node.xnode_union_as_XNNScaledDotProductAttention(), e);
}
bool compile_prelu(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  return prelu(d, *node.xnode_union_as_XNNPReLU(), e);
}
bool compile_native_unary(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  return unary(d, node, *static_cast<const fb_xnnpack::_XNNNode1x1*>(node.xnode_union()),
               node_type(node.xnode_union_type())->elementwise(node), e);
}
bool compile_leaky_relu(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  const auto* n = node.xnode_union_as_XNNLeakyReLU();
  return activation(d, node, n->input_id(), n->output_id(), n->negative_slope(), false, e);
}
bool compile_elu(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  const auto* n = node.xnode_union_as_XNNELU();
  return activation(d, node, n->input_id(), n->output_id(), n->alpha(), true, e);
}

}  // namespace etp_xnnpack
