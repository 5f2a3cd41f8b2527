// Nodes that run as XNNPACK operators (operator API: created once, set up per call).
#include <cstdio>
#include <cstring>
#include <initializer_list>

#include "compile.h"

namespace etp_xnnpack {
namespace {

using fb_xnnpack::XNodeUnion;

// Rejects flag bits `type` does not allow: some change what XNNPACK computes (e.g.
// XNN_FLAG_TENSORFLOW_SAME_PADDING changes the output size the checks here rely on).
bool check_flags(XNodeUnion type, uint32_t flags, uint32_t allowed, std::string* e) {
  const uint32_t bad = flags & ~allowed;
  if (bad == 0) return true;
  char hex[16];
  std::snprintf(hex, sizeof(hex), "0x%x", bad);
  return *e = node_name(type) + " does not allow flag " + hex, false;
}

// XNN_FLAG_KEEP_DIMS of newer XNNPACK (this one predates it): ExecuTorch sets it on pooling
// nodes. It keeps the output's rank, which the shape checks here already require.
constexpr uint32_t kFlagKeepDims = 0x40;

uint32_t float_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return bits;
}

// Part of a shared-operator key: every creation argument, so two programs share an operator
// only when they would have created the same one.
std::string key_params(const char* kind, std::initializer_list<uint64_t> parts) {
  std::string key = kind;
  for (uint64_t p : parts) key += "," + std::to_string(p);
  return key;
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
  if (!check_flags(XNodeUnion::XNNFullyConnected, n.flags(), XNN_FLAG_TRANSPOSE_WEIGHTS, e)) return false;
  const bool transposed = n.flags() & XNN_FLAG_TRANSPOSE_WEIGHTS;
  const size_t k = transposed ? vw.dims[0] : vw.dims[1], nout = transposed ? vw.dims[1] : vw.dims[0];
  if (vi.dims.empty() || vi.dims.back() != k || k == 0) return *e = "input channels do not match the weights", false;
  if (vo.numel != vi.numel / k * nout || (b >= 0 && d.value(b).numel != nout)) return *e = "output or bias size mismatch", false;
  const auto [lo, hi] = output_bounds(node);
  const float* weights = vw.constant;
  const float* bias = b >= 0 ? d.value(b).constant : nullptr;
  const uint32_t flags = n.flags();
  xnn_status status;
  auto op = d.packed_op(weights_key(vw, b >= 0 ? &d.value(b) : nullptr, key_params("fc", {k, nout, flags, float_bits(lo), float_bits(hi)})), vw.file_id, true,
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
  size_t in_channels = 0, out_channels = 0, weights = 0;
  if (__builtin_mul_overflow(groups, gin, &in_channels) || __builtin_mul_overflow(groups, gout, &out_channels) ||
      __builtin_mul_overflow(out_channels, size_t{n.kernel_height()}, &weights) ||
      __builtin_mul_overflow(weights, size_t{n.kernel_width()}, &weights) ||
      __builtin_mul_overflow(weights, gin, &weights)) {
    return *e = "channel counts and kernel size overflow", false;
  }
  if (groups == 0 || vi.dims[3] != in_channels || vo.dims[3] != out_channels || vw.numel != weights ||
      vi.dims[0] != vo.dims[0] || (*b >= 0 && d.value(*b).numel != out_channels)) {
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
  const XNodeUnion type = depthwise ? XNodeUnion::XNNDepthwiseConv2d : XNodeUnion::XNNConv2d;
  if (!check_flags(type, n.flags(), XNN_FLAG_DEPTHWISE_CONVOLUTION, e)) return false;
  const uint32_t groups = n.groups(), gin = n.group_input_channels(), gout = n.group_output_channels();
  // Output size as XNNPACK computes it; it must match the serialized output.
  size_t out_h = 0, out_w = 0;
  if (!conv_output_hw(n, /*transposed=*/false, vi.dims[1], vi.dims[2], &out_h, &out_w, e)) return false;
  if (vo.dims[1] != out_h || vo.dims[2] != out_w) return *e = "output spatial size does not match the convolution", false;
  const auto [lo, hi] = output_bounds(node);
  const float* weights = vw.constant;
  const float* bias = b >= 0 ? d.value(b).constant : nullptr;
  const uint32_t flags = depthwise ? XNN_FLAG_DEPTHWISE_CONVOLUTION : 0;
  const std::string params = key_params(
      "conv", {n.padding_top(), n.padding_right(), n.padding_bottom(), n.padding_left(), n.kernel_height(),
               n.kernel_width(), n.subsampling_height(), n.subsampling_width(), n.dilation_height(), n.dilation_width(),
               groups, gin, gout, flags, float_bits(lo), float_bits(hi)});
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
  d.add_step(node_name(type), [op, in, out](Delegate& dd) {
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
  const XNodeUnion type = max ? XNodeUnion::XNNMaxPooling2d : XNodeUnion::XNNAvgPooling2d;
  if (!check_flags(type, n.flags(), kFlagKeepDims, e)) return false;
  if (!max && (n.dilation_height() > 1 || n.dilation_width() > 1)) return *e = "average pooling has no dilation", false;
  // Output size as XNNPACK computes it: XNNPACK writes that much, so it must be the slot's.
  size_t out_h = 0, out_w = 0;
  if (!pool_output_hw(n, max, vi.dims[1], vi.dims[2], &out_h, &out_w, e)) return false;
  if (vo.dims[1] != out_h || vo.dims[2] != out_w) return *e = "output spatial size does not match the pooling", false;
  const auto [lo, hi] = output_bounds(node);
  const size_t channels = vi.dims[3];
  xnn_status status;
  auto op = d.packed_op("", 0, false, [&](xnn_operator_t* o) {
    if (max) {
      return xnn_create_max_pooling2d_nhwc_f32(n.padding_top(), n.padding_right(), n.padding_bottom(), n.padding_left(),
                                               n.pooling_height(), n.pooling_width(), n.stride_height(), n.stride_width(),
                                               std::max(1u, n.dilation_height()), std::max(1u, n.dilation_width()),
                                               channels, channels, channels, lo, hi, /*flags=*/0, o);
    }
    return xnn_create_average_pooling2d_nhwc_f32(n.padding_top(), n.padding_right(), n.padding_bottom(), n.padding_left(),
                                                 n.pooling_height(), n.pooling_width(), n.stride_height(), n.stride_width(),
                                                 channels, channels, channels, lo, hi, /*flags=*/0, o);
  }, &status);
  if (!op) return *e = "XNNPACK cannot create the operator (status " + std::to_string(status) + ")", false;
  d.add_step(node_name(type), [op, in, out, max](Delegate& dd) {
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
  if (!check_flags(XNodeUnion::XNNGlobalAvgPooling2d, n.flags(), kFlagKeepDims, e)) return false;
  if (vi.dims.size() != 4 || vo.numel != vi.dims[0] * vi.dims[3]) return *e = "expects NHWC input and N x C output", false;
  const auto [lo, hi] = output_bounds(node);
  const size_t channels = vi.dims[3];
  xnn_status status;
  auto op = d.packed_op("", 0, false, [&](xnn_operator_t* o) {
    return xnn_create_global_average_pooling_nwc_f32(channels, channels, channels, lo, hi, /*flags=*/0, o);
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
  if (!check_flags(XNodeUnion::XNNConvTranspose2d, n.flags(), 0, e)) return false;
  const uint32_t groups = n.groups(), gin = n.group_input_channels(), gout = n.group_output_channels();
  // Output size as XNNPACK computes it; it must match the serialized output.
  size_t out_h = 0, out_w = 0;
  if (!conv_output_hw(n, /*transposed=*/true, vi.dims[1], vi.dims[2], &out_h, &out_w, e)) return false;
  if (vo.dims[1] != out_h || vo.dims[2] != out_w) {
    return *e = "output spatial size does not match the transposed convolution", false;
  }
  const auto [lo, hi] = output_bounds(node);
  const float* weights = vw.constant;
  const float* bias = b >= 0 ? d.value(b).constant : nullptr;
  const std::string params = key_params(
      "deconv", {n.padding_top(), n.padding_right(), n.padding_bottom(), n.padding_left(), n.kernel_height(),
                 n.kernel_width(), n.subsampling_height(), n.subsampling_width(), n.dilation_height(),
                 n.dilation_width(), groups, gin, gout, /*flags=*/0, float_bits(lo), float_bits(hi)});
  xnn_status status;
  auto op = d.packed_op(weights_key(vw, b >= 0 ? &d.value(b) : nullptr, params), vw.file_id, true,
                        [&](xnn_operator_t* o) {
                          return xnn_create_deconvolution2d_nhwc_f32(
                              n.padding_top(), n.padding_right(), n.padding_bottom(), n.padding_left(), n.kernel_height(),
                              n.kernel_width(), n.subsampling_height(), n.subsampling_width(), n.dilation_height(),
                              n.dilation_width(), groups, gin, gout, size_t{groups} * gin, size_t{groups} * gout, weights,
                              bias, lo, hi, /*flags=*/0, o);
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
  if (!check_flags(XNodeUnion::XNNStaticConstantPad, n.flags(), 0, e)) return false;
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
    return xnn_create_constant_pad_nd_x32(&value, /*flags=*/0, o);
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
  // Both change only the sampling grid, not the output size.
  constexpr uint32_t kAllowed = XNN_FLAG_ALIGN_CORNERS | XNN_FLAG_TENSORFLOW_LEGACY_MODE;
  if (!check_flags(XNodeUnion::XNNStaticResizeBilinear2D, n.flags(), kAllowed, e)) return false;
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
  if (!check_flags(type, n.flags(), 0, e)) return false;
  const auto [lo, hi] = output_bounds(node);
  BinarySetup setup = nullptr;
  switch (type) {
    case XNodeUnion::XNNAdd: setup = xnn_setup_add_nd_f32; break;
    case XNodeUnion::XNNSubtract: setup = xnn_setup_subtract_nd_f32; break;
    case XNodeUnion::XNNMultiply: setup = xnn_setup_multiply_nd_f32; break;
    case XNodeUnion::XNNDiv: setup = xnn_setup_divide_nd_f32; break;
    case XNodeUnion::XNNMaximum: setup = xnn_setup_maximum_nd_f32; break;
    case XNodeUnion::XNNMinimum: setup = xnn_setup_minimum_nd_f32; break;
    default: return *e = "not a binary node", false;
  }
  xnn_status status;
  auto op = d.packed_op("", 0, false, [&](xnn_operator_t* o) -> xnn_status {
    switch (type) {
      case XNodeUnion::XNNAdd: return xnn_create_add_nd_f32(lo, hi, /*flags=*/0, o);
      case XNodeUnion::XNNSubtract: return xnn_create_subtract_nd_f32(lo, hi, /*flags=*/0, o);
      case XNodeUnion::XNNMultiply: return xnn_create_multiply_nd_f32(lo, hi, /*flags=*/0, o);
      case XNodeUnion::XNNDiv: return xnn_create_divide_nd_f32(lo, hi, /*flags=*/0, o);
      case XNodeUnion::XNNMaximum: return create_no_clamp(xnn_create_maximum_nd_f32, /*flags=*/0, o);
      default: return create_no_clamp(xnn_create_minimum_nd_f32, /*flags=*/0, o);
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
  if (!check_flags(type, n.flags(), 0, e)) return false;
  const auto [lo, hi] = output_bounds(node);
  const uint32_t flags = 0;
  using Setup = xnn_status (*)(xnn_operator_t, size_t, const float*, float*, pthreadpool_t);
  Setup setup = nullptr;
  switch (type) {
    case XNodeUnion::XNNSoftmax: setup = xnn_setup_softmax_nc_f32; break;
    case XNodeUnion::XNNSigmoid: setup = xnn_setup_sigmoid_nc_f32; break;
    case XNodeUnion::XNNClamp: setup = xnn_setup_clamp_nc_f32; break;
    case XNodeUnion::XNNFloor: setup = xnn_setup_floor_nc_f32; break;
    case XNodeUnion::XNNCeiling: setup = xnn_setup_ceiling_nc_f32; break;
    case XNodeUnion::XNNSquareRoot: setup = xnn_setup_square_root_nc_f32; break;
    case XNodeUnion::XNNHardswish: setup = xnn_setup_hardswish_nc_f32; break;
    case XNodeUnion::XNNNegate: setup = xnn_setup_negate_nc_f32; break;
    case XNodeUnion::XNNSquare: setup = xnn_setup_square_nc_f32; break;
    case XNodeUnion::XNNAbs: setup = xnn_setup_abs_nc_f32; break;
    default: return *e = "not an element-wise node", false;
  }
  xnn_status status;
  auto op = d.packed_op("", 0, false, [&](xnn_operator_t* o) -> xnn_status {
    switch (type) {
      case XNodeUnion::XNNSoftmax: return xnn_create_softmax_nc_f32(channels, channels, channels, flags, o);
      case XNodeUnion::XNNSigmoid: return xnn_create_sigmoid_nc_f32(channels, channels, channels, flags, o);
      case XNodeUnion::XNNClamp: return xnn_create_clamp_nc_f32(channels, channels, channels, lo, hi, flags, o);
      case XNodeUnion::XNNFloor: return xnn_create_floor_nc_f32(channels, channels, channels, flags, o);
      case XNodeUnion::XNNCeiling: return xnn_create_ceiling_nc_f32(channels, channels, channels, flags, o);
      case XNodeUnion::XNNSquareRoot: return xnn_create_square_root_nc_f32(channels, channels, channels, flags, o);
      case XNodeUnion::XNNHardswish: return xnn_create_hardswish_nc_f32(channels, channels, channels, flags, o);
      case XNodeUnion::XNNNegate: return xnn_create_negate_nc_f32(channels, channels, channels, flags, o);
      case XNodeUnion::XNNSquare: return xnn_create_square_nc_f32(channels, channels, channels, flags, o);
      default: return xnn_create_abs_nc_f32(channels, channels, channels, flags, o);
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
