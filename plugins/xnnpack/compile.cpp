#include "compile.h"
#include "native_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <tuple>

namespace etp_xnnpack {
namespace {

size_t doz(size_t a, size_t b) { return a > b ? a - b : 0; }

// Kernel extent with dilation; false when a parameter is 0 or a padding is out of proportion
// (XNNPACK adds paddings as size_t: a huge one means a huge output, not a wrap).
bool window_checks(size_t in, uint32_t pad_a, uint32_t pad_b, uint32_t kernel, uint32_t stride, uint32_t dilation,
                   size_t* effective, std::string* error) {
  if (kernel == 0 || stride == 0 || dilation == 0)
    return *error = "kernel, stride and dilation must be positive", false;
  *effective = (size_t{kernel} - 1) * dilation + 1;
  if (uint64_t{pad_a} + pad_b > uint64_t{in} + *effective) {
    return *error = "padding exceeds the input plus the kernel extent", false;
  }
  return true;
}

// Also the padded input must hold one window: some XNNPACK window operators (average pooling)
// compute (padded - kernel) / stride + 1 without guarding the subtraction, and no framework
// makes such a window.
bool window_fits(size_t in, uint32_t pad_a, uint32_t pad_b, size_t effective, std::string* error) {
  if (uint64_t{in} + pad_a + pad_b < effective) {
    return *error = "the padded input (" + std::to_string(uint64_t{in} + pad_a + pad_b) +
                    ") is smaller than the kernel extent (" + std::to_string(effective) + ")",
           false;
  }
  return true;
}

// xnn_compute_convolution_output_dimension: doz(padded, effective) / stride + 1.
bool window_out(size_t in, uint32_t pad_a, uint32_t pad_b, uint32_t kernel, uint32_t stride, uint32_t dilation,
                size_t* out, std::string* error) {
  size_t effective = 0;
  if (!window_checks(in, pad_a, pad_b, kernel, stride, dilation, &effective, error) ||
      !window_fits(in, pad_a, pad_b, effective, error)) {
    return false;
  }
  *out = doz(in + size_t{pad_a} + pad_b, effective) / stride + 1;
  return true;
}

// xnn_compute_deconvolution_output_dimension: doz(stride * (in - 1) + adjustment + effective, padding).
bool deconv_out(size_t in, uint32_t pad_a, uint32_t pad_b, uint32_t adjustment, uint32_t kernel, uint32_t stride,
                uint32_t dilation, size_t* out, std::string* error) {
  size_t effective = 0;
  if (!window_checks(in, pad_a, pad_b, kernel, stride, dilation, &effective, error)) return false;
  if (in == 0) return *error = "transposed convolution of an empty input", false;
  if (adjustment >= stride) return *error = "adjustment must be smaller than the stride", false;  // XNNPACK's rule
  size_t span = 0;
  if (__builtin_mul_overflow(size_t{stride}, in - 1, &span) ||
      __builtin_add_overflow(span, adjustment + effective, &span)) {
    return *error = "transposed convolution output size overflows", false;
  }
  *out = doz(span, size_t{pad_a} + pad_b);
  return true;
}

}  // namespace

bool check_flags(fb_xnnpack::XNodeUnion type, uint32_t flags, uint32_t allowed, std::string* e) {
  const uint32_t bad = flags & ~allowed;
  if (bad == 0) return true;
  char hex[16];
  std::snprintf(hex, sizeof(hex), "0x%x", bad);
  return *e = node_name(type) + " does not allow flag " + hex, false;
}

uint32_t float_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return bits;
}

std::string key_params(const char* kind, std::initializer_list<uint64_t> parts) {
  std::string key = kind;
  for (uint64_t p : parts) key += "," + std::to_string(p);
  return key;
}

std::string weights_key(const Value& filter, const Value* bias, const std::string& params) {
  if (!filter.cache_owned || filter.named_key.empty()) return "";
  if (bias != nullptr && (!bias->cache_owned || bias->named_key.empty())) return "";
  return std::to_string(filter.file_id) + "/" + filter.named_key + "/" + (bias ? bias->named_key : "") + "/" + params;
}

bool requantization_fits(const Value& in, const Value& weights, const Value& out, std::string* e) {
  const auto fits = [](double scale) { return scale >= 0x1.0p-32 && scale < 256.0; };
  const double io = static_cast<double>(in.scale) / static_cast<double>(out.scale);
  bool ok = weights.channel_scales.empty() ? fits(io * weights.scale) : true;
  for (float s : weights.channel_scales) ok = ok && fits(io * s);
  if (!ok) return *e = "requantization scale (input * weight / output scale) outside XNNPACK's [2^-32, 256)", false;
  return true;
}

bool same_type(const Value& a, const Value& b, std::string* e) {
  if (a.datatype == b.datatype && a.scale == b.scale && a.zero_point == b.zero_point &&
      a.channel_scales == b.channel_scales) {
    return true;
  }
  return *e = "input is " + datatype_name(a.datatype) + " and output " + datatype_name(b.datatype) +
              " (or their quantization differs); this node passes values through and cannot convert",
         false;
}

bool create_failed(xnn_status status, std::string* e) {
  return *e = "XNNPACK cannot create the operator (status " + std::to_string(status) + ")", false;
}

std::vector<uint16_t> half_copy(const Value& v) {
  std::vector<uint16_t> out(v.numel);
  if (v.is(Datatype::xnn_datatype_fp16)) {
    std::memcpy(out.data(), v.constant, v.numel * sizeof(uint16_t));
  } else {
    for (size_t i = 0; i < v.numel; ++i) out[i] = native::to_half(v.f32()[i]);
  }
  return out;
}

std::pair<float, float> output_bounds(const fb_xnnpack::XNode& node) {
  if (const fb_xnnpack::OutputMinMax* m = node.output_min_max()) return {m->output_min(), m->output_max()};
  return {-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()};
}

bool conv_output_hw(const fb_xnnpack::_XNNNodeConv& n, bool transposed, size_t in_h, size_t in_w, size_t* out_h,
                    size_t* out_w, std::string* error) {
  if (transposed) {
    return deconv_out(in_h, n.padding_top(), n.padding_bottom(), n.adjustment_height(), n.kernel_height(),
                      n.subsampling_height(), n.dilation_height(), out_h, error) &&
           deconv_out(in_w, n.padding_left(), n.padding_right(), n.adjustment_width(), n.kernel_width(),
                      n.subsampling_width(), n.dilation_width(), out_w, error);
  }
  return window_out(in_h, n.padding_top(), n.padding_bottom(), n.kernel_height(), n.subsampling_height(),
                    n.dilation_height(), out_h, error) &&
         window_out(in_w, n.padding_left(), n.padding_right(), n.kernel_width(), n.subsampling_width(),
                    n.dilation_width(), out_w, error);
}

bool argmax_pool_output_hw(const fb_xnnpack::XNNArgMaxPooling2d& n, size_t in_h, size_t in_w, size_t* out_h,
                           size_t* out_w, std::string* error) {
  const uint64_t padded_h = uint64_t{in_h} + n.padding_top() + n.padding_bottom();
  const uint64_t padded_w = uint64_t{in_w} + n.padding_left() + n.padding_right();
  if (n.pooling_height() == 0 || n.pooling_width() == 0 || padded_h < n.pooling_height() ||
      padded_w < n.pooling_width()) {
    return *error = "the pooling window must be non-empty and fit the padded input", false;
  }
  *out_h = static_cast<size_t>(padded_h / n.pooling_height());
  *out_w = static_cast<size_t>(padded_w / n.pooling_width());
  return true;
}

bool pool_output_hw(const fb_xnnpack::_XNNPooling2D& n, bool max, size_t in_h, size_t in_w, size_t* out_h,
                    size_t* out_w, std::string* error) {
  // The exporter may leave dilation 0 (meaning 1); max pooling is created with max(1, dilation).
  const uint32_t dil_h = max ? std::max(1u, n.dilation_height()) : 1,
                 dil_w = max ? std::max(1u, n.dilation_width()) : 1;
  return window_out(in_h, n.padding_top(), n.padding_bottom(), n.pooling_height(), n.stride_height(), dil_h, out_h,
                    error) &&
         window_out(in_w, n.padding_left(), n.padding_right(), n.pooling_width(), n.stride_width(), dil_w, out_w,
                    error);
}

namespace {

bool fp32_only(const Graph& graph, const NodeIds& ids, std::string* error) {
  for (const auto* list : {&ids.in, &ids.out}) {
    for (uint32_t id : *list) {
      const int index = graph.find(id);
      if (index < 0) continue;  // optional input, or reported by the node's compiler
      const Value& v = graph.values()[static_cast<size_t>(index)];
      if (!v.is(Datatype::xnn_datatype_fp32)) {
        return *error =
                   "value id " + std::to_string(id) + " is " + datatype_name(v.datatype) +
                   "; this node type runs in fp32 only here (see the plugin README for the datatypes each node takes)",
               false;
      }
    }
  }
  return true;
}

// The entry's shape rule on the exported dims must give the exported output dims: the rule
// that re-derives dims on every reshape is the one checked here.
bool exported_shape_holds(Delegate& d, const NodeType& type, const fb_xnnpack::XNode& node, const NodeIds& ids,
                          std::string* error) {
  if (!type.shape(d, node, ids, error)) return false;
  for (uint32_t id : ids.out) {
    const int v = d.graph().find(id);
    if (v < 0) continue;
    std::vector<size_t>& derived = d.mutable_dims(v);
    if (derived != d.value(v).dims) {
      std::string got, want;
      for (size_t x : derived) got += (got.empty() ? "" : ", ") + std::to_string(x);
      for (size_t x : d.value(v).dims) want += (want.empty() ? "" : ", ") + std::to_string(x);
      derived = d.value(v).dims;
      return *error =
                 "output value id " + std::to_string(id) + " has dims [" + want + "] but the inputs give [" + got + "]",
             false;
    }
  }
  return true;
}

}  // namespace

bool compile_node(Delegate& d, size_t index, std::string* error) {
  const fb_xnnpack::XNode& node = *d.graph().root().xnodes()->Get(static_cast<flatbuffers::uoffset_t>(index));
  const NodeType* type = node_type(node.xnode_union_type());
  if (type == nullptr) return *error = "this node type is not supported by the XNNPACK plugin", false;
  const NodeIds& ids = d.graph().node_ids(index);
  float lo, hi;  // not a structured binding: C++17 lambdas cannot capture those (clang refuses)
  std::tie(lo, hi) = output_bounds(node);
  if ((std::isfinite(lo) || std::isfinite(hi)) && !type->fused_clamp) {
    return *error = "a fused output clamp on this node type is not supported (it would be dropped)", false;
  }
  if (type->elementwise != nullptr) {
    bool handled = false;
    const bool ok = compile_half(d, node, ids, type->elementwise(node), error, &handled);
    if (handled) return ok;
  }
  if (!type->other_datatypes && !fp32_only(d.graph(), ids, error)) return false;
  // The shape rule first: compilers rely on the dims it checked (one rule for init and reshape).
  return exported_shape_holds(d, *type, node, ids, error) && type->compile(d, node, error);
}

bool infer_node_dims(Delegate& d, size_t index, std::string* error) {
  const fb_xnnpack::XNode& node = *d.graph().root().xnodes()->Get(static_cast<flatbuffers::uoffset_t>(index));
  const NodeType* type = node_type(node.xnode_union_type());
  if (type == nullptr) return *error = "this node type is not supported by the XNNPACK plugin", false;
  return type->shape(d, node, d.graph().node_ids(index), error);
}

}  // namespace etp_xnnpack
