// Nodes that run as XNNPACK operators (operator API: created once, set up per call).
#include <cmath>
#include <limits>

#include "compile.h"

namespace etp_xnnpack {
namespace {

using fb_xnnpack::XNodeUnion;

std::pair<float, float> min_max(const fb_xnnpack::XNode& node) {
  if (const fb_xnnpack::OutputMinMax* m = node.output_min_max()) return {m->output_min(), m->output_max()};
  return {-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()};
}

// Runs `setup` then the operator, holding the operator's lock (shared operators keep the
// pointers of the last setup).
etp_status run_op(Delegate& d, PackedOp& op, const std::function<xnn_status()>& setup) {
  std::lock_guard<std::mutex> lock(op.mutex);
  xnn_status s = setup();
  if (s == xnn_status_success) s = xnn_run_operator(op.op, d.threadpool());
  return s == xnn_status_success ? ETP_OK : d.fail(ETP_ERR_INTERNAL, "XNNPACK failed with status " + std::to_string(s));
}

// Cache key of an operator with packed weights: shared only when every weight it packs
// comes from a cache-owned data file.
std::string weights_key(const Value& filter, const Value* bias, const std::string& params) {
  if (!filter.cache_owned || filter.named_key.empty()) return "";
  if (bias != nullptr && (!bias->cache_owned || bias->named_key.empty())) return "";
  return std::to_string(filter.file_id) + "/" + filter.named_key + "/" + (bias ? bias->named_key : "") + "/" + params;
}

bool fully_connected(Delegate& d, const fb_xnnpack::XNode& node, const fb_xnnpack::XNNFullyConnected& n, std::string* e) {
  const int in = d.graph().find(n.input1_id()), w = d.graph().find(n.filter_id()), out = d.graph().find(n.output_id());
  const int b = n.bias_id() == UINT32_MAX ? -1 : d.graph().find(n.bias_id());
  if (in < 0 || w < 0 || out < 0 || (n.bias_id() != UINT32_MAX && b < 0)) return *e = "value id out of range", false;
  const Value &vi = d.value(in), &vw = d.value(w), &vo = d.value(out);
  if (vw.constant == nullptr || vw.dims.size() != 2 || (b >= 0 && d.value(b).constant == nullptr)) {
    return *e = "weights and bias must be constant 2-D / 1-D tensors", false;
  }
  const bool transposed = n.flags() & XNN_FLAG_TRANSPOSE_WEIGHTS;
  const size_t k = transposed ? vw.dims[0] : vw.dims[1], nout = transposed ? vw.dims[1] : vw.dims[0];
  if (vi.dims.empty() || vi.dims.back() != k || k == 0) return *e = "input channels do not match the weights", false;
  if (vo.numel != vi.numel / k * nout || (b >= 0 && d.value(b).numel != nout)) return *e = "output or bias size mismatch", false;
  const auto [lo, hi] = min_max(node);
  const float* weights = vw.constant;
  const float* bias = b >= 0 ? d.value(b).constant : nullptr;
  const uint32_t flags = n.flags();
  xnn_status status;
  auto op = d.packed_op(weights_key(vw, b >= 0 ? &d.value(b) : nullptr, "fc" + std::to_string(flags)), vw.file_id, true,
                        [&](xnn_operator_t* o) {
                          return xnn_create_fully_connected_nc_f32(k, nout, k, nout, weights, bias, lo, hi, flags, o);
                        },
                        &status);
  if (!op) return *e = "XNNPACK cannot create the operator (status " + std::to_string(status) + ")", false;
  d.add_step("XNNFullyConnected", [op, in, out, k](Delegate& dd) {
    const size_t rows = dd.numel(in) / k;
    return run_op(dd, *op, [&] {
      return xnn_setup_fully_connected_nc_f32(op->op, rows, dd.data(in), dd.data(out), dd.threadpool());
    });
  });
  return true;
}

// The values of a convolution-like node, checked: ids defined, constant weights (and bias),
// 4-D NHWC input and output, channel counts that match the weights and the bias, positive
// kernel, stride and dilation. The bias size matters: XNNPACK reads one entry per output channel.
bool conv_values(Delegate& d, const fb_xnnpack::_XNNNodeConv& n, int* in, int* w, int* out, int* b, std::string* e) {
  *in = d.graph().find(n.input1_id());
  *w = d.graph().find(n.filter_id());
  *out = d.graph().find(n.output_id());
  *b = n.bias_id() == UINT32_MAX ? -1 : d.graph().find(n.bias_id());
  if (*in < 0 || *w < 0 || *out < 0 || (n.bias_id() != UINT32_MAX && *b < 0)) return *e = "value id out of range", false;
  const Value &vi = d.value(*in), &vw = d.value(*w), &vo = d.value(*out);
  if (vw.constant == nullptr || (*b >= 0 && d.value(*b).constant == nullptr)) return *e = "weights must be constant", false;
  if (vi.dims.size() != 4 || vo.dims.size() != 4) return *e = "input and output must be 4-D NHWC", false;
  const size_t groups = n.groups(), gin = n.group_input_channels(), gout = n.group_output_channels();
  if (groups == 0 || vi.dims[3] != groups * gin || vo.dims[3] != groups * gout ||
      vw.numel != groups * gout * n.kernel_height() * n.kernel_width() * gin || vi.dims[0] != vo.dims[0] ||
      (*b >= 0 && d.value(*b).numel != groups * gout)) {
    return *e = "channel counts do not match the weights", false;
  }
  if (n.subsampling_height() == 0 || n.subsampling_width() == 0 || n.dilation_height() == 0 || n.dilation_width() == 0 ||
      n.kernel_height() == 0 || n.kernel_width() == 0) {
    return *e = "kernel, stride and dilation must be positive", false;
  }
  return true;
}

bool convolution(Delegate& d, const fb_xnnpack::XNode& node, const fb_xnnpack::_XNNNodeConv& n, bool depthwise,
                 std::string* e) {
  int in, w, out, b;
  if (!conv_values(d, n, &in, &w, &out, &b, e)) return false;
  const Value &vi = d.value(in), &vw = d.value(w), &vo = d.value(out);
  const uint32_t groups = n.groups(), gin = n.group_input_channels(), gout = n.group_output_channels();
  // Output size as XNNPACK computes it; it must match the serialized output.
  auto out_size = [](size_t in_size, uint32_t pad, uint32_t kernel, uint32_t stride, uint32_t dilation) -> size_t {
    const size_t padded = in_size + pad, effective = (kernel - 1) * size_t{dilation} + 1;
    return padded < effective ? 0 : (padded - effective) / stride + 1;
  };
  if (vo.dims[1] != out_size(vi.dims[1], n.padding_top() + n.padding_bottom(), n.kernel_height(), n.subsampling_height(), n.dilation_height()) ||
      vo.dims[2] != out_size(vi.dims[2], n.padding_left() + n.padding_right(), n.kernel_width(), n.subsampling_width(), n.dilation_width())) {
    return *e = "output spatial size does not match the convolution", false;
  }
  const auto [lo, hi] = min_max(node);
  const float* weights = vw.constant;
  const float* bias = b >= 0 ? d.value(b).constant : nullptr;
  const uint32_t flags = (n.flags() & ~XNN_FLAG_DEPTHWISE_CONVOLUTION) | (depthwise ? XNN_FLAG_DEPTHWISE_CONVOLUTION : 0);
  const std::string params = "conv" + std::to_string(n.kernel_height()) + "x" + std::to_string(n.kernel_width()) + "s" +
                             std::to_string(n.subsampling_height()) + "p" + std::to_string(n.padding_top()) + "g" +
                             std::to_string(groups) + "f" + std::to_string(flags);
  xnn_status status;
  auto op = d.packed_op(weights_key(vw, b >= 0 ? &d.value(b) : nullptr, params), vw.file_id, true,
                        [&](xnn_operator_t* o) {
                          return xnn_create_convolution2d_nhwc_f32(
                              n.padding_top(), n.padding_right(), n.padding_bottom(), n.padding_left(), n.kernel_height(),
                              n.kernel_width(), n.subsampling_height(), n.subsampling_width(), n.dilation_height(),
                              n.dilation_width(), groups, gin, gout, size_t{groups} * gin, size_t{groups} * gout, weights,
                              bias, lo, hi, flags, o);
                        },
                        &status);
  if (!op) return *e = "XNNPACK cannot create the operator (status " + std::to_string(status) + ")", false;
  d.add_step(depthwise ? "XNNDepthwiseConv2d" : "XNNConv2d", [op, in, out](Delegate& dd) {
    const std::vector<size_t>& x = dd.dims(in);
    return run_op(dd, *op, [&] {
      return xnn_setup_convolution2d_nhwc_f32(op->op, x[0], x[1], x[2], dd.data(in), dd.data(out), dd.threadpool());
    });
  });
  return true;
}

bool pooling(Delegate& d, const fb_xnnpack::XNode& node, const fb_xnnpack::_XNNPooling2D& n, bool max, std::string* e) {
  const int in = d.graph().find(n.input_id()), out = d.graph().find(n.output_id());
  if (in < 0 || out < 0) return *e = "value id out of range", false;
  const Value &vi = d.value(in), &vo = d.value(out);
  if (vi.dims.size() != 4 || vo.dims.size() != 4 || vi.dims[3] != vo.dims[3] || vi.dims[0] != vo.dims[0]) {
    return *e = "input and output must be 4-D NHWC with equal channels", false;
  }
  if (n.stride_height() == 0 || n.stride_width() == 0 || n.pooling_height() == 0 || n.pooling_width() == 0) {
    return *e = "pooling size and stride must be positive", false;
  }
  const auto [lo, hi] = min_max(node);
  const size_t channels = vi.dims[3];
  xnn_status status;
  auto op = d.packed_op("", 0, false, [&](xnn_operator_t* o) {
    if (max) {
      return xnn_create_max_pooling2d_nhwc_f32(n.padding_top(), n.padding_right(), n.padding_bottom(), n.padding_left(),
                                               n.pooling_height(), n.pooling_width(), n.stride_height(), n.stride_width(),
                                               std::max(1u, n.dilation_height()), std::max(1u, n.dilation_width()),
                                               channels, channels, channels, lo, hi, n.flags(), o);
    }
    return xnn_create_average_pooling2d_nhwc_f32(n.padding_top(), n.padding_right(), n.padding_bottom(), n.padding_left(),
                                                 n.pooling_height(), n.pooling_width(), n.stride_height(), n.stride_width(),
                                                 channels, channels, channels, lo, hi, n.flags(), o);
  }, &status);
  if (!op) return *e = "XNNPACK cannot create the operator (status " + std::to_string(status) + ")", false;
  d.add_step(max ? "XNNMaxPooling2d" : "XNNAvgPooling2d", [op, in, out, max](Delegate& dd) {
    const std::vector<size_t>& x = dd.dims(in);
    return run_op(dd, *op, [&] {
      return max ? xnn_setup_max_pooling2d_nhwc_f32(op->op, x[0], x[1], x[2], dd.data(in), dd.data(out), dd.threadpool())
                 : xnn_setup_average_pooling2d_nhwc_f32(op->op, x[0], x[1], x[2], dd.data(in), dd.data(out), dd.threadpool());
    });
  });
  return true;
}

bool global_avg_pooling(Delegate& d, const fb_xnnpack::XNode& node, const fb_xnnpack::_XNNNode1x1& n, std::string* e) {
  const int in = d.graph().find(n.input_id()), out = d.graph().find(n.output_id());
  if (in < 0 || out < 0) return *e = "value id out of range", false;
  const Value &vi = d.value(in), &vo = d.value(out);
  if (vi.dims.size() != 4 || vo.numel != vi.dims[0] * vi.dims[3]) return *e = "expects NHWC input and N x C output", false;
  const auto [lo, hi] = min_max(node);
  const size_t channels = vi.dims[3];
  xnn_status status;
  auto op = d.packed_op("", 0, false, [&](xnn_operator_t* o) {
    return xnn_create_global_average_pooling_nwc_f32(channels, channels, channels, lo, hi, n.flags(), o);
  }, &status);
  if (!op) return *e = "XNNPACK cannot create the operator (status " + std::to_string(status) + ")", false;
  d.add_step("XNNGlobalAvgPooling2d", [op, in, out](Delegate& dd) {
    const std::vector<size_t>& x = dd.dims(in);
    return run_op(dd, *op, [&] {
      return xnn_setup_global_average_pooling_nwc_f32(op->op, x[0], x[1] * x[2], dd.data(in), dd.data(out), dd.threadpool());
    });
  });
  return true;
}

bool deconvolution(Delegate& d, const fb_xnnpack::XNode& node, const fb_xnnpack::_XNNNodeConv& n, std::string* e) {
  int in, w, out, b;
  if (!conv_values(d, n, &in, &w, &out, &b, e)) return false;
  const Value &vi = d.value(in), &vw = d.value(w), &vo = d.value(out);
  const uint32_t groups = n.groups(), gin = n.group_input_channels(), gout = n.group_output_channels();
  // Output size as XNNPACK computes it; it must match the serialized output.
  auto out_size = [](size_t in_size, uint32_t stride, uint32_t adjustment, uint32_t kernel, uint32_t dilation,
                     uint32_t pad) -> int64_t {
    return static_cast<int64_t>((in_size - 1) * stride + adjustment + (kernel - 1) * size_t{dilation} + 1) - pad;
  };
  if (vi.dims[1] == 0 || vi.dims[2] == 0 ||
      out_size(vi.dims[1], n.subsampling_height(), n.adjustment_height(), n.kernel_height(), n.dilation_height(),
               n.padding_top() + n.padding_bottom()) != static_cast<int64_t>(vo.dims[1]) ||
      out_size(vi.dims[2], n.subsampling_width(), n.adjustment_width(), n.kernel_width(), n.dilation_width(),
               n.padding_left() + n.padding_right()) != static_cast<int64_t>(vo.dims[2])) {
    return *e = "output spatial size does not match the transposed convolution", false;
  }
  const auto [lo, hi] = min_max(node);
  const float* weights = vw.constant;
  const float* bias = b >= 0 ? d.value(b).constant : nullptr;
  const std::string params = "deconv" + std::to_string(n.kernel_height()) + "x" + std::to_string(n.kernel_width()) + "s" +
                             std::to_string(n.subsampling_height()) + "p" + std::to_string(n.padding_top()) + "g" +
                             std::to_string(groups);
  xnn_status status;
  auto op = d.packed_op(weights_key(vw, b >= 0 ? &d.value(b) : nullptr, params), vw.file_id, true,
                        [&](xnn_operator_t* o) {
                          return xnn_create_deconvolution2d_nhwc_f32(
                              n.padding_top(), n.padding_right(), n.padding_bottom(), n.padding_left(), n.kernel_height(),
                              n.kernel_width(), n.subsampling_height(), n.subsampling_width(), n.dilation_height(),
                              n.dilation_width(), groups, gin, gout, size_t{groups} * gin, size_t{groups} * gout, weights,
                              bias, lo, hi, n.flags(), o);
                        },
                        &status);
  if (!op) return *e = "XNNPACK cannot create the operator (status " + std::to_string(status) + ")", false;
  const uint32_t adj_h = n.adjustment_height(), adj_w = n.adjustment_width();
  d.add_step("XNNConvTranspose2d", [op, in, out, adj_h, adj_w](Delegate& dd) {
    const std::vector<size_t>& x = dd.dims(in);
    return run_op(dd, *op, [&] {
      return xnn_setup_deconvolution2d_nhwc_f32(op->op, x[0], x[1], x[2], adj_h, adj_w, dd.data(in), dd.data(out),
                                                dd.threadpool());
    });
  });
  return true;
}

bool constant_pad(Delegate& d, const fb_xnnpack::XNNStaticConstantPad& n, std::string* e) {
  const int in = d.graph().find(n.input_id()), out = d.graph().find(n.output_id());
  if (in < 0 || out < 0) return *e = "value id out of range", false;
  const Value &vi = d.value(in), &vo = d.value(out);
  const size_t rank = vi.dims.size();
  if (!n.pre_paddings() || !n.post_paddings() || n.pre_paddings()->size() != rank || n.post_paddings()->size() != rank ||
      vo.dims.size() != rank) {
    return *e = "paddings must have one entry per dim", false;
  }
  std::vector<size_t> pre(rank), post(rank);
  for (size_t i = 0; i < rank; ++i) {
    pre[i] = n.pre_paddings()->Get(static_cast<flatbuffers::uoffset_t>(i));
    post[i] = n.post_paddings()->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (vo.dims[i] != vi.dims[i] + pre[i] + post[i]) return *e = "output size does not match the padding", false;
  }
  const float value = n.padding_value();
  xnn_status status;
  auto op = d.packed_op("", 0, false, [&](xnn_operator_t* o) {
    return xnn_create_constant_pad_nd_x32(&value, n.flags(), o);
  }, &status);
  if (!op) return *e = "XNNPACK cannot create the operator (status " + std::to_string(status) + ")", false;
  d.add_step("XNNStaticConstantPad", [op, in, out, pre, post](Delegate& dd) {
    const std::vector<size_t>& x = dd.dims(in);
    return run_op(dd, *op, [&] {
      return xnn_setup_constant_pad_nd_x32(op->op, x.size(), x.data(), pre.data(), post.data(), dd.data(in),
                                           dd.data(out), dd.threadpool());
    });
  });
  return true;
}

bool resize_bilinear(Delegate& d, const fb_xnnpack::XNNStaticResizeBilinear2D& n, std::string* e) {
  const int in = d.graph().find(n.input_id()), out = d.graph().find(n.output_id());
  if (in < 0 || out < 0) return *e = "value id out of range", false;
  const Value &vi = d.value(in), &vo = d.value(out);
  if (vi.dims.size() != 4 || vo.dims.size() != 4 || vo.dims[0] != vi.dims[0] || vo.dims[3] != vi.dims[3] ||
      vo.dims[1] != n.new_height() || vo.dims[2] != n.new_width() || n.new_height() == 0 || n.new_width() == 0) {
    return *e = "expects NHWC input and an output of the new height and width", false;
  }
  const size_t channels = vi.dims[3];
  xnn_status status;
  auto op = d.packed_op("", 0, false, [&](xnn_operator_t* o) {
    return xnn_create_resize_bilinear2d_nhwc_f32(channels, channels, channels, n.flags(), o);
  }, &status);
  if (!op) return *e = "XNNPACK cannot create the operator (status " + std::to_string(status) + ")", false;
  const size_t out_h = vo.dims[1], out_w = vo.dims[2];
  d.add_step("XNNStaticResizeBilinear2D", [op, in, out, out_h, out_w](Delegate& dd) {
    const std::vector<size_t>& x = dd.dims(in);
    return run_op(dd, *op, [&] {
      return xnn_setup_resize_bilinear2d_nhwc_f32(op->op, x[0], x[1], x[2], out_h, out_w, dd.data(in), dd.data(out),
                                                  dd.threadpool());
    });
  });
  return true;
}

using BinaryCreate = xnn_status (*)(float, float, uint32_t, xnn_operator_t*);
using BinarySetup = xnn_status (*)(xnn_operator_t, size_t, const size_t*, size_t, const size_t*, const float*,
                                   const float*, float*, pthreadpool_t);

xnn_status create_no_clamp(xnn_status (*create)(uint32_t, xnn_operator_t*), uint32_t flags, xnn_operator_t* o) {
  return create(flags, o);
}

bool binary(Delegate& d, const fb_xnnpack::XNode& node, const fb_xnnpack::_XNNNode2x1& n, XNodeUnion type,
            std::string* e) {
  const int a = d.graph().find(n.input1_id()), b = d.graph().find(n.input2_id()), out = d.graph().find(n.output_id());
  if (a < 0 || b < 0 || out < 0) return *e = "value id out of range", false;
  const Value &va = d.value(a), &vb = d.value(b), &vo = d.value(out);
  // The broadcast shape of the inputs must be the output's.
  const size_t rank = std::max(va.dims.size(), vb.dims.size());
  if (vo.dims.size() != rank) return *e = "output rank does not match the broadcast shape", false;
  for (size_t i = 0; i < rank; ++i) {
    const size_t da = i + va.dims.size() >= rank ? va.dims[i + va.dims.size() - rank] : 1;
    const size_t db = i + vb.dims.size() >= rank ? vb.dims[i + vb.dims.size() - rank] : 1;
    if ((da != db && da != 1 && db != 1) || vo.dims[i] != (da == 1 ? db : da)) {
      return *e = "input shapes do not broadcast to the output shape", false;
    }
  }
  const auto [lo, hi] = min_max(node);
  BinarySetup setup = nullptr;
  xnn_status status;
  auto op = d.packed_op("", 0, false, [&](xnn_operator_t* o) -> xnn_status {
    switch (type) {
      case XNodeUnion::XNNAdd: setup = xnn_setup_add_nd_f32; return xnn_create_add_nd_f32(lo, hi, n.flags(), o);
      case XNodeUnion::XNNSubtract: setup = xnn_setup_subtract_nd_f32; return xnn_create_subtract_nd_f32(lo, hi, n.flags(), o);
      case XNodeUnion::XNNMultiply: setup = xnn_setup_multiply_nd_f32; return xnn_create_multiply_nd_f32(lo, hi, n.flags(), o);
      case XNodeUnion::XNNDiv: setup = xnn_setup_divide_nd_f32; return xnn_create_divide_nd_f32(lo, hi, n.flags(), o);
      case XNodeUnion::XNNMaximum: setup = xnn_setup_maximum_nd_f32; return create_no_clamp(xnn_create_maximum_nd_f32, n.flags(), o);
      case XNodeUnion::XNNMinimum: setup = xnn_setup_minimum_nd_f32; return create_no_clamp(xnn_create_minimum_nd_f32, n.flags(), o);
      default: return xnn_status_unsupported_parameter;
    }
  }, &status);
  if (!op) return *e = "XNNPACK cannot create the operator (status " + std::to_string(status) + ")", false;
  d.add_step(node_name(type), [op, a, b, out, setup](Delegate& dd) {
    static const size_t kScalar[1] = {1};  // XNNPACK wants rank >= 1
    const std::vector<size_t>&da = dd.dims(a), &db = dd.dims(b);
    return run_op(dd, *op, [&] {
      return setup(op->op, da.empty() ? 1 : da.size(), da.empty() ? kScalar : da.data(), db.empty() ? 1 : db.size(),
                   db.empty() ? kScalar : db.data(), dd.data(a), dd.data(b), dd.data(out), dd.threadpool());
    });
  });
  return true;
}

// Element-wise operators of the `_nc` family: [batch, channels] with channels = last dim.
bool unary_nc(Delegate& d, const fb_xnnpack::XNode& node, const fb_xnnpack::_XNNNode1x1& n, XNodeUnion type,
              std::string* e) {
  const int in = d.graph().find(n.input_id()), out = d.graph().find(n.output_id());
  if (in < 0 || out < 0) return *e = "value id out of range", false;
  const Value &vi = d.value(in), &vo = d.value(out);
  if (vi.numel != vo.numel) return *e = "input and output sizes differ", false;
  const size_t channels = vi.dims.empty() || vi.dims.back() == 0 ? 1 : vi.dims.back();
  const auto [lo, hi] = min_max(node);
  const uint32_t flags = n.flags();
  using Setup = xnn_status (*)(xnn_operator_t, size_t, const float*, float*, pthreadpool_t);
  Setup setup = nullptr;
  xnn_status status;
  auto op = d.packed_op("", 0, false, [&](xnn_operator_t* o) -> xnn_status {
    switch (type) {
      case XNodeUnion::XNNSoftmax: setup = xnn_setup_softmax_nc_f32; return xnn_create_softmax_nc_f32(channels, channels, channels, flags, o);
      case XNodeUnion::XNNSigmoid: setup = xnn_setup_sigmoid_nc_f32; return xnn_create_sigmoid_nc_f32(channels, channels, channels, flags, o);
      case XNodeUnion::XNNClamp: setup = xnn_setup_clamp_nc_f32; return xnn_create_clamp_nc_f32(channels, channels, channels, lo, hi, flags, o);
      case XNodeUnion::XNNFloor: setup = xnn_setup_floor_nc_f32; return xnn_create_floor_nc_f32(channels, channels, channels, flags, o);
      case XNodeUnion::XNNCeiling: setup = xnn_setup_ceiling_nc_f32; return xnn_create_ceiling_nc_f32(channels, channels, channels, flags, o);
      case XNodeUnion::XNNSquareRoot: setup = xnn_setup_square_root_nc_f32; return xnn_create_square_root_nc_f32(channels, channels, channels, flags, o);
      case XNodeUnion::XNNHardswish: setup = xnn_setup_hardswish_nc_f32; return xnn_create_hardswish_nc_f32(channels, channels, channels, flags, o);
      case XNodeUnion::XNNNegate: setup = xnn_setup_negate_nc_f32; return xnn_create_negate_nc_f32(channels, channels, channels, flags, o);
      case XNodeUnion::XNNSquare: setup = xnn_setup_square_nc_f32; return xnn_create_square_nc_f32(channels, channels, channels, flags, o);
      case XNodeUnion::XNNAbs: setup = xnn_setup_abs_nc_f32; return xnn_create_abs_nc_f32(channels, channels, channels, flags, o);
      default: return xnn_status_unsupported_parameter;
    }
  }, &status);
  if (!op) return *e = "XNNPACK cannot create the operator (status " + std::to_string(status) + ")", false;
  d.add_step(node_name(type), [op, in, out, channels, setup](Delegate& dd) {
    const size_t rows = dd.numel(in) / channels;
    return run_op(dd, *op, [&] { return setup(op->op, rows, dd.data(in), dd.data(out), dd.threadpool()); });
  });
  return true;
}

}  // namespace

bool compile_xnnpack_node(Delegate& d, const fb_xnnpack::XNode& node, std::string* e, bool* handled) {
  *handled = true;
  switch (node.xnode_union_type()) {
    case XNodeUnion::XNNFullyConnected: return fully_connected(d, node, *node.xnode_union_as_XNNFullyConnected(), e);
    case XNodeUnion::XNNConv2d: return convolution(d, node, *node.xnode_union_as_XNNConv2d(), false, e);
    case XNodeUnion::XNNDepthwiseConv2d: return convolution(d, node, *node.xnode_union_as_XNNDepthwiseConv2d(), true, e);
    case XNodeUnion::XNNMaxPooling2d: return pooling(d, node, *node.xnode_union_as_XNNMaxPooling2d(), true, e);
    case XNodeUnion::XNNAvgPooling2d: return pooling(d, node, *node.xnode_union_as_XNNAvgPooling2d(), false, e);
    case XNodeUnion::XNNGlobalAvgPooling2d: return global_avg_pooling(d, node, *node.xnode_union_as_XNNGlobalAvgPooling2d(), e);
    case XNodeUnion::XNNConvTranspose2d: return deconvolution(d, node, *node.xnode_union_as_XNNConvTranspose2d(), e);
    case XNodeUnion::XNNStaticConstantPad: return constant_pad(d, *node.xnode_union_as_XNNStaticConstantPad(), e);
    case XNodeUnion::XNNStaticResizeBilinear2D:
      return resize_bilinear(d, *node.xnode_union_as_XNNStaticResizeBilinear2D(), e);
    case XNodeUnion::XNNAdd: return binary(d, node, *node.xnode_union_as_XNNAdd(), XNodeUnion::XNNAdd, e);
    case XNodeUnion::XNNSubtract: return binary(d, node, *node.xnode_union_as_XNNSubtract(), XNodeUnion::XNNSubtract, e);
    case XNodeUnion::XNNMultiply: return binary(d, node, *node.xnode_union_as_XNNMultiply(), XNodeUnion::XNNMultiply, e);
    case XNodeUnion::XNNDiv: return binary(d, node, *node.xnode_union_as_XNNDiv(), XNodeUnion::XNNDiv, e);
    case XNodeUnion::XNNMaximum: return binary(d, node, *node.xnode_union_as_XNNMaximum(), XNodeUnion::XNNMaximum, e);
    case XNodeUnion::XNNMinimum: return binary(d, node, *node.xnode_union_as_XNNMinimum(), XNodeUnion::XNNMinimum, e);
    case XNodeUnion::XNNSoftmax: return unary_nc(d, node, *node.xnode_union_as_XNNSoftmax(), XNodeUnion::XNNSoftmax, e);
    case XNodeUnion::XNNSigmoid: return unary_nc(d, node, *node.xnode_union_as_XNNSigmoid(), XNodeUnion::XNNSigmoid, e);
    case XNodeUnion::XNNClamp: return unary_nc(d, node, *node.xnode_union_as_XNNClamp(), XNodeUnion::XNNClamp, e);
    case XNodeUnion::XNNFloor: return unary_nc(d, node, *node.xnode_union_as_XNNFloor(), XNodeUnion::XNNFloor, e);
    case XNodeUnion::XNNCeiling: return unary_nc(d, node, *node.xnode_union_as_XNNCeiling(), XNodeUnion::XNNCeiling, e);
    case XNodeUnion::XNNSquareRoot: return unary_nc(d, node, *node.xnode_union_as_XNNSquareRoot(), XNodeUnion::XNNSquareRoot, e);
    case XNodeUnion::XNNHardswish: return unary_nc(d, node, *node.xnode_union_as_XNNHardswish(), XNodeUnion::XNNHardswish, e);
    case XNodeUnion::XNNNegate: return unary_nc(d, node, *node.xnode_union_as_XNNNegate(), XNodeUnion::XNNNegate, e);
    case XNodeUnion::XNNSquare: return unary_nc(d, node, *node.xnode_union_as_XNNSquare(), XNodeUnion::XNNSquare, e);
    case XNodeUnion::XNNAbs: return unary_nc(d, node, *node.xnode_union_as_XNNAbs(), XNodeUnion::XNNAbs, e);
    default:
      *handled = false;
      return false;
  }
}

}  // namespace etp_xnnpack
