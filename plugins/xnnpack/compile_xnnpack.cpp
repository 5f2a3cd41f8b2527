// Nodes that run as XNNPACK operators (operator API: created once, set up per call).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <tuple>

#include "compile.h"
#include "native_ops.h"

namespace etp_xnnpack {
namespace {

using fb_xnnpack::XNodeUnion;

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
  // Max pooling picks one input: in and out share the datatype and quantization. f16 and
  // s8/u8 variants exist in this XNNPACK; average pooling is fp32 only (checked before).
  if (!same_type(vi, vo, e)) return false;
  const Datatype dt = vi.datatype;
  if (dt != Datatype::xnn_datatype_fp32 && dt != Datatype::xnn_datatype_fp16 && dt != Datatype::xnn_datatype_qint8 &&
      dt != Datatype::xnn_datatype_quint8) {
    return *e = datatype_name(dt) + " max pooling is not supported (fp32, fp16, qint8, quint8)", false;
  }
  // The output size is XNNPACK's (XNNPACK writes that much): checked by shape_pooling.
  float lo, hi;  // not a structured binding: C++17 lambdas cannot capture those (clang refuses)
  std::tie(lo, hi) = output_bounds(node);
  const size_t channels = vi.dims[3];
  const uint32_t pt = n.padding_top(), pr = n.padding_right(), pb = n.padding_bottom(), pl = n.padding_left();
  const uint32_t ph = n.pooling_height(), pw = n.pooling_width(), sh = n.stride_height(), sw = n.stride_width();
  const uint32_t dh = std::max(1u, n.dilation_height()), dw = std::max(1u, n.dilation_width());
  xnn_status status;
  auto op = d.packed_op(
      "", 0, false,
      [&](xnn_operator_t* o) {
        if (!max) {
          return xnn_create_average_pooling2d_nhwc_f32(pt, pr, pb, pl, ph, pw, sh, sw, channels, channels, channels, lo,
                                                       hi,
                                                       /*flags=*/0, o);
        }
        switch (dt) {
          case Datatype::xnn_datatype_fp16:
            return xnn_create_max_pooling2d_nhwc_f16(pt, pr, pb, pl, ph, pw, sh, sw, dh, dw, channels, channels,
                                                     channels, lo, hi, 0, o);
          case Datatype::xnn_datatype_qint8:
            return xnn_create_max_pooling2d_nhwc_s8(pt, pr, pb, pl, ph, pw, sh, sw, dh, dw, channels, channels,
                                                    channels, quantized_bound<int8_t>(lo, vo),
                                                    quantized_bound<int8_t>(hi, vo), 0, o);
          case Datatype::xnn_datatype_quint8:
            return xnn_create_max_pooling2d_nhwc_u8(pt, pr, pb, pl, ph, pw, sh, sw, dh, dw, channels, channels,
                                                    channels, quantized_bound<uint8_t>(lo, vo),
                                                    quantized_bound<uint8_t>(hi, vo), 0, o);
          default:
            return xnn_create_max_pooling2d_nhwc_f32(pt, pr, pb, pl, ph, pw, sh, sw, dh, dw, channels, channels,
                                                     channels, lo, hi, 0, o);
        }
      },
      &status);
  if (!op) return create_failed(status, e);
  d.add_step(node_name(type), [op, in, out, max, dt](Delegate& dd) {
    const std::vector<size_t>& x = dd.dims(in);
    return run_op(dd, *op, [&]() -> xnn_status {
      pthreadpool_t pool = dd.threadpool();
      if (!max) return xnn_setup_average_pooling2d_nhwc_f32(op->op, x[0], x[1], x[2], dd.data(in), dd.data(out), pool);
      switch (dt) {
        case Datatype::xnn_datatype_fp16:
          return xnn_setup_max_pooling2d_nhwc_f16(op->op, x[0], x[1], x[2], dd.raw(in), dd.raw(out), pool);
        case Datatype::xnn_datatype_qint8:
          return xnn_setup_max_pooling2d_nhwc_s8(op->op, x[0], x[1], x[2], dd.as<int8_t>(in), dd.as<int8_t>(out), pool);
        case Datatype::xnn_datatype_quint8:
          return xnn_setup_max_pooling2d_nhwc_u8(op->op, x[0], x[1], x[2], dd.as<uint8_t>(in), dd.as<uint8_t>(out),
                                                 pool);
        default: return xnn_setup_max_pooling2d_nhwc_f32(op->op, x[0], x[1], x[2], dd.data(in), dd.data(out), pool);
      }
    });
  });
  return true;
}

// XNNArgMaxPooling2d: fp32 maxima and, per output element, the index of the maximum within its
// window as int32, in XNNPACK's order (column by column: kx * pooling_height + ky; checked by
// a test);
// an int64 index tensor gets the values widened. ExecuTorch's partitioner does not emit this
// node today; the plugin runs it so that every XNNPACK node type has a path.
bool argmax_pooling(Delegate& d, const fb_xnnpack::XNNArgMaxPooling2d& n, std::string* e) {
  const int in = d.graph().find(n.input_id()), out = d.graph().find(n.output_value_id()),
            index = d.graph().find(n.output_index_id());
  if (in < 0 || out < 0 || index < 0) return *e = "value id out of range", false;
  const Value &vi = d.value(in), &vo = d.value(out), &vx = d.value(index);
  if (!check_flags(XNodeUnion::XNNArgMaxPooling2d, n.flags(), kFlagKeepDims, e)) return false;
  if (!vi.is(Datatype::xnn_datatype_fp32) || !vo.is(Datatype::xnn_datatype_fp32) ||
      !vx.is(Datatype::xnn_datatype_int32)) {
    return *e = "expects fp32 input and values and int32 indices", false;
  }
  if (vi.dims.size() != 4 || vo.dims.size() != 4 || vo.dims != vx.dims || vi.dims[0] != vo.dims[0] ||
      vi.dims[3] != vo.dims[3]) {
    return *e = "input, values and indices must be 4-D NHWC with equal batch and channels", false;
  }
  // The output size is XNNPACK's: checked by shape_argmax_pooling.
  const size_t channels = vi.dims[3];
  xnn_status status;
  auto op = d.packed_op(
      "", 0, false,
      [&](xnn_operator_t* o) {
        return xnn_create_argmax_pooling2d_nhwc_f32(n.padding_top(), n.padding_right(), n.padding_bottom(),
                                                    n.padding_left(), n.pooling_height(), n.pooling_width(), channels,
                                                    channels, channels, /*flags=*/0, o);
      },
      &status);
  if (!op) return create_failed(status, e);
  d.add_step("XNNArgMaxPooling2d", [op, in, out, index](Delegate& dd) {
    const std::vector<size_t>& x = dd.dims(in);
    return run_op(dd, *op, [&] {
      return xnn_setup_argmax_pooling2d_nhwc_f32(op->op, x[0], x[1], x[2], dd.data(in), dd.data(out),
                                                 dd.as<uint32_t>(index), dd.threadpool());
    });
  });
  return true;
}

bool global_avg_pooling(Delegate& d, const fb_xnnpack::XNode& node, const fb_xnnpack::_XNNNode1x1& n, std::string* e) {
  const int in = d.graph().find(n.input_id()), out = d.graph().find(n.output_id());
  if (in < 0 || out < 0) return *e = "value id out of range", false;
  const Value &vi = d.value(in), &vo = d.value(out);
  if (!check_flags(XNodeUnion::XNNGlobalAvgPooling2d, n.flags(), kFlagKeepDims, e)) return false;
  if (vi.dims.size() != 4 || vo.numel != vi.dims[0] * vi.dims[3] || vo.dims.empty() || vo.dims[0] != vi.dims[0]) {
    return *e = "expects NHWC input and N x C output", false;
  }
  // fp32, fp16, qint8 and quint8 variants (quantized ones requantize: scales may differ).
  const Datatype dt = vi.datatype;
  if (vo.datatype != dt || (dt != Datatype::xnn_datatype_fp32 && dt != Datatype::xnn_datatype_fp16 &&
                            dt != Datatype::xnn_datatype_qint8 && dt != Datatype::xnn_datatype_quint8)) {
    return *e = "average pooling from " + datatype_name(dt) + " to " + datatype_name(vo.datatype) +
                " is not supported (fp32, fp16, qint8, quint8)",
           false;
  }
  // Quantized averaging scales by input / (output scale * pixels); XNNPACK asserts that this is
  // at least 2^-32, so the pixel count is bounded (dynamic shapes only shrink it).
  const bool quantized = dt == Datatype::xnn_datatype_qint8 || dt == Datatype::xnn_datatype_quint8;
  if (quantized) {
    const double scale = static_cast<double>(vi.scale) / vo.scale / (static_cast<double>(vi.dims[1]) * vi.dims[2]);
    if (!(scale >= 0x1.0p-32) || !(static_cast<double>(vi.scale) / vo.scale < 256.0)) {
      return *e = "quantized average pooling scale outside XNNPACK's range", false;
    }
  }
  float lo, hi;  // not a structured binding: C++17 lambdas cannot capture those (clang refuses)
  std::tie(lo, hi) = output_bounds(node);
  const size_t c = vi.dims[3];
  xnn_status status;
  auto op = d.packed_op(
      "", 0, false,
      [&](xnn_operator_t* o) {
        switch (dt) {
          case Datatype::xnn_datatype_fp16: return xnn_create_global_average_pooling_nwc_f16(c, c, c, lo, hi, 0, o);
          case Datatype::xnn_datatype_qint8:
            return xnn_create_global_average_pooling_nwc_qs8(
                c, c, c, static_cast<int8_t>(vi.zero_point), vi.scale, static_cast<int8_t>(vo.zero_point), vo.scale,
                quantized_bound<int8_t>(lo, vo), quantized_bound<int8_t>(hi, vo), 0, o);
          case Datatype::xnn_datatype_quint8:
            return xnn_create_global_average_pooling_nwc_qu8(
                c, c, c, static_cast<uint8_t>(vi.zero_point), vi.scale, static_cast<uint8_t>(vo.zero_point), vo.scale,
                quantized_bound<uint8_t>(lo, vo), quantized_bound<uint8_t>(hi, vo), 0, o);
          default: return xnn_create_global_average_pooling_nwc_f32(c, c, c, lo, hi, /*flags=*/0, o);
        }
      },
      &status);
  if (!op) return create_failed(status, e);
  d.add_step("XNNGlobalAvgPooling2d", [op, in, out, dt](Delegate& dd) {
    const std::vector<size_t>& x = dd.dims(in);
    return run_op(dd, *op, [&]() -> xnn_status {
      const size_t n = x[0], width = x[1] * x[2];
      pthreadpool_t pool = dd.threadpool();
      switch (dt) {
        case Datatype::xnn_datatype_fp16:
          return xnn_setup_global_average_pooling_nwc_f16(op->op, n, width, dd.raw(in), dd.raw(out), pool);
        case Datatype::xnn_datatype_qint8:
          return xnn_setup_global_average_pooling_nwc_qs8(op->op, n, width, dd.as<int8_t>(in), dd.as<int8_t>(out),
                                                          pool);
        case Datatype::xnn_datatype_quint8:
          return xnn_setup_global_average_pooling_nwc_qu8(op->op, n, width, dd.as<uint8_t>(in), dd.as<uint8_t>(out),
                                                          pool);
        default: return xnn_setup_global_average_pooling_nwc_f32(op->op, n, width, dd.data(in), dd.data(out), pool);
      }
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
  if (!n.pre_paddings() || !n.post_paddings() || n.pre_paddings()->size() != rank ||
      n.post_paddings()->size() != rank || vo.dims.size() != rank) {
    return *e = "paddings must have one entry per dim", false;
  }
  std::vector<size_t> pre(rank), post(rank);
  for (size_t i = 0; i < rank; ++i) {
    pre[i] = n.pre_paddings()->Get(static_cast<flatbuffers::uoffset_t>(i));
    post[i] = n.post_paddings()->Get(static_cast<flatbuffers::uoffset_t>(i));  // sizes: shape_constant_pad
  }
  if (!same_type(vi, vo, e)) return false;
  // The padding value in the tensor's own encoding: fp32, fp16 bits or a quantized byte.
  const float value = n.padding_value();
  const uint16_t half = native::to_half(value);
  const int8_t s8 = quantized_bound<int8_t>(value, vi);
  const uint8_t u8 = quantized_bound<uint8_t>(value, vi);
  const Datatype dt = vi.datatype;
  if (dt != Datatype::xnn_datatype_fp32 && dt != Datatype::xnn_datatype_fp16 && dt != Datatype::xnn_datatype_qint8 &&
      dt != Datatype::xnn_datatype_quint8) {
    return *e = datatype_name(dt) + " padding is not supported (fp32, fp16, qint8, quint8)", false;
  }
  const size_t elem = vi.elem_size;
  xnn_status status;
  auto op = d.packed_op(
      "", 0, false,
      [&](xnn_operator_t* o) {
        if (elem == 1)
          return xnn_create_constant_pad_nd_x8(dt == Datatype::xnn_datatype_qint8 ? static_cast<const void*>(&s8) : &u8,
                                               0, o);
        if (elem == 2) return xnn_create_constant_pad_nd_x16(&half, /*flags=*/0, o);
        return xnn_create_constant_pad_nd_x32(&value, /*flags=*/0, o);
      },
      &status);
  if (!op) return create_failed(status, e);
  d.add_step("XNNStaticConstantPad", [op, in, out, pre, post, elem](Delegate& dd) {
    const std::vector<size_t>& x = dd.dims(in);
    return run_op(dd, *op, [&] {
      const auto setup = elem == 1   ? xnn_setup_constant_pad_nd_x8
                         : elem == 2 ? xnn_setup_constant_pad_nd_x16
                                     : xnn_setup_constant_pad_nd_x32;
      return setup(op->op, x.size(), x.data(), pre.data(), post.data(), dd.raw(in), dd.raw(out), dd.threadpool());
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
  auto op = d.packed_op(
      "", 0, false,
      [&](xnn_operator_t* o) {
        return xnn_create_resize_bilinear2d_nhwc_f32(channels, channels, channels, n.flags(), o);
      },
      &status);
  if (!op) return create_failed(status, e);
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

// Add, subtract and multiply on fp16 or 8-bit quantized values (what this XNNPACK has:
// add/multiply f16, add/subtract/multiply qs8 and qu8). Inputs and output share the datatype;
// quantized ones may differ in scale and zero point.
bool binary_low_precision(Delegate& d, const fb_xnnpack::XNode& node, XNodeUnion type, int a, int b, int out,
                          std::string* e) {
  const Value &va = d.value(a), &vb = d.value(b), &vo = d.value(out);
  const Datatype dt = vo.datatype;
  using D = Datatype;
  const bool ok = va.datatype == dt && vb.datatype == dt &&
                  ((dt == D::xnn_datatype_fp16 && type != XNodeUnion::XNNSubtract) || dt == D::xnn_datatype_qint8 ||
                   dt == D::xnn_datatype_quint8);
  if (!ok) {
    return *e = "inputs " + datatype_name(va.datatype) + " and " + datatype_name(vb.datatype) + ", output " +
                datatype_name(dt) + ": this XNNPACK has only f16 add/multiply and qs8/qu8 add/subtract/multiply",
           false;
  }
  float lo, hi;  // not a structured binding: C++17 lambdas cannot capture those (clang refuses)
  std::tie(lo, hi) = output_bounds(node);
  const bool add = type == XNodeUnion::XNNAdd, sub = type == XNodeUnion::XNNSubtract;
  xnn_status status;
  auto op = d.packed_op(
      "", 0, false,
      [&](xnn_operator_t* o) -> xnn_status {
        if (dt == D::xnn_datatype_fp16)
          return add ? xnn_create_add_nd_f16(lo, hi, 0, o) : xnn_create_multiply_nd_f16(lo, hi, 0, o);
        if (dt == D::xnn_datatype_qint8) {
          const auto create = add   ? xnn_create_add_nd_qs8
                              : sub ? xnn_create_subtract_nd_qs8
                                    : xnn_create_multiply_nd_qs8;
          return create(static_cast<int8_t>(va.zero_point), va.scale, static_cast<int8_t>(vb.zero_point), vb.scale,
                        static_cast<int8_t>(vo.zero_point), vo.scale, quantized_bound<int8_t>(lo, vo),
                        quantized_bound<int8_t>(hi, vo), 0, o);
        }
        const auto create = add ? xnn_create_add_nd_qu8 : sub ? xnn_create_subtract_nd_qu8 : xnn_create_multiply_nd_qu8;
        return create(static_cast<uint8_t>(va.zero_point), va.scale, static_cast<uint8_t>(vb.zero_point), vb.scale,
                      static_cast<uint8_t>(vo.zero_point), vo.scale, quantized_bound<uint8_t>(lo, vo),
                      quantized_bound<uint8_t>(hi, vo), 0, o);
      },
      &status);
  if (!op) return create_failed(status, e);
  d.add_step(node_name(type), [op, a, b, out, dt, add, sub](Delegate& dd) {
    static const size_t kScalar[1] = {1};  // XNNPACK wants rank >= 1
    const std::vector<size_t>&da = dd.dims(a), &db = dd.dims(b);
    const size_t ra = da.empty() ? 1 : da.size(), rb = db.empty() ? 1 : db.size();
    const size_t* sa = da.empty() ? kScalar : da.data();
    const size_t* sb = db.empty() ? kScalar : db.data();
    return run_op(dd, *op, [&]() -> xnn_status {
      pthreadpool_t pool = dd.threadpool();
      if (dt == D::xnn_datatype_fp16) {
        const auto setup = add ? xnn_setup_add_nd_f16 : xnn_setup_multiply_nd_f16;
        return setup(op->op, ra, sa, rb, sb, dd.raw(a), dd.raw(b), dd.raw(out), pool);
      }
      if (dt == D::xnn_datatype_qint8) {
        const auto setup = add ? xnn_setup_add_nd_qs8 : sub ? xnn_setup_subtract_nd_qs8 : xnn_setup_multiply_nd_qs8;
        return setup(op->op, ra, sa, rb, sb, dd.as<int8_t>(a), dd.as<int8_t>(b), dd.as<int8_t>(out), pool);
      }
      const auto setup = add ? xnn_setup_add_nd_qu8 : sub ? xnn_setup_subtract_nd_qu8 : xnn_setup_multiply_nd_qu8;
      return setup(op->op, ra, sa, rb, sb, dd.as<uint8_t>(a), dd.as<uint8_t>(b), dd.as<uint8_t>(out), pool);
    });
  });
  return true;
}

// XNNClamp on fp16 or 8-bit quantized values (same datatype and quantization in and out).
bool clamp_low_precision(Delegate& d, const fb_xnnpack::XNode& node, int in, int out, std::string* e) {
  const Value &vi = d.value(in), &vo = d.value(out);
  const Datatype dt = vi.datatype;
  if (!same_type(vi, vo, e)) return false;
  if (dt != Datatype::xnn_datatype_fp16 && dt != Datatype::xnn_datatype_qint8 && dt != Datatype::xnn_datatype_quint8) {
    return *e = "clamp from " + datatype_name(dt) + " to " + datatype_name(vo.datatype) +
                " is not supported (fp32, fp16, qint8, quint8, same quantization in and out)",
           false;
  }
  constexpr size_t channels = 1;  // element-wise: one long row, whatever the (dynamic) last dim
  float lo, hi;                   // not a structured binding: C++17 lambdas cannot capture those (clang refuses)
  std::tie(lo, hi) = output_bounds(node);
  xnn_status status;
  auto op = d.packed_op(
      "", 0, false,
      [&](xnn_operator_t* o) -> xnn_status {
        if (dt == Datatype::xnn_datatype_fp16)
          return xnn_create_clamp_nc_f16(channels, channels, channels, lo, hi, 0, o);
        if (dt == Datatype::xnn_datatype_qint8) {
          return xnn_create_clamp_nc_s8(channels, channels, channels, quantized_bound<int8_t>(lo, vo),
                                        quantized_bound<int8_t>(hi, vo), 0, o);
        }
        return xnn_create_clamp_nc_u8(channels, channels, channels, quantized_bound<uint8_t>(lo, vo),
                                      quantized_bound<uint8_t>(hi, vo), 0, o);
      },
      &status);
  if (!op) return create_failed(status, e);
  d.add_step("XNNClamp", [op, in, out, dt](Delegate& dd) {
    const size_t rows = dd.numel(in) / channels;
    return run_op(dd, *op, [&]() -> xnn_status {
      if (dt == Datatype::xnn_datatype_fp16)
        return xnn_setup_clamp_nc_f16(op->op, rows, dd.raw(in), dd.raw(out), dd.threadpool());
      if (dt == Datatype::xnn_datatype_qint8) {
        return xnn_setup_clamp_nc_s8(op->op, rows, dd.as<int8_t>(in), dd.as<int8_t>(out), dd.threadpool());
      }
      return xnn_setup_clamp_nc_u8(op->op, rows, dd.as<uint8_t>(in), dd.as<uint8_t>(out), dd.threadpool());
    });
  });
  return true;
}

// XNNSigmoid on qint8 / quint8 values (this XNNPACK's lookup-table operator). Its tanh has
// the same form, but ExecuTorch's quantizer leaves tanh in fp32, so only sigmoid is wired.
bool quantized_sigmoid(Delegate& d, const fb_xnnpack::XNode& node, XNodeUnion type, int in, int out, std::string* e) {
  const Value &vi = d.value(in), &vo = d.value(out);
  const Datatype dt = vi.datatype;
  if (vi.numel != vo.numel) return *e = "input and output sizes differ", false;
  if (vo.datatype != dt || (dt != Datatype::xnn_datatype_qint8 && dt != Datatype::xnn_datatype_quint8)) {
    return *e = node_name(type) + " from " + datatype_name(dt) + " to " + datatype_name(vo.datatype) +
                " is not supported (fp32, fp16, qint8, quint8)",
           false;
  }
  const bool s8 = dt == Datatype::xnn_datatype_qint8;
  constexpr size_t c = 1;  // element-wise: one long row, whatever the (dynamic) last dim
  float lo, hi;            // not a structured binding: C++17 lambdas cannot capture those (clang refuses)
  std::tie(lo, hi) = output_bounds(node);
  xnn_status status;
  auto op = d.packed_op(
      "", 0, false,
      [&](xnn_operator_t* o) {
        if (s8) {
          return xnn_create_sigmoid_nc_qs8(c, c, c, static_cast<int8_t>(vi.zero_point), vi.scale,
                                           static_cast<int8_t>(vo.zero_point), vo.scale,
                                           quantized_bound<int8_t>(lo, vo), quantized_bound<int8_t>(hi, vo), 0, o);
        }
        return xnn_create_sigmoid_nc_qu8(c, c, c, static_cast<uint8_t>(vi.zero_point), vi.scale,
                                         static_cast<uint8_t>(vo.zero_point), vo.scale,
                                         quantized_bound<uint8_t>(lo, vo), quantized_bound<uint8_t>(hi, vo), 0, o);
      },
      &status);
  if (!op) return create_failed(status, e);
  d.add_step(node_name(type), [op, in, out, s8](Delegate& dd) {
    const size_t rows = dd.numel(in) / c;
    return run_op(dd, *op, [&]() -> xnn_status {
      pthreadpool_t pool = dd.threadpool();
      if (s8) return xnn_setup_sigmoid_nc_qs8(op->op, rows, dd.as<int8_t>(in), dd.as<int8_t>(out), pool);
      return xnn_setup_sigmoid_nc_qu8(op->op, rows, dd.as<uint8_t>(in), dd.as<uint8_t>(out), pool);
    });
  });
  return true;
}

// XNNConvert: fp32 <-> qint8 / quint8 / fp16 (quantize, dequantize, narrow, widen), or a copy
// between equal types.
bool convert(Delegate& d, const fb_xnnpack::_XNNNode1x1& n, std::string* e) {
  if (!check_flags(XNodeUnion::XNNConvert, n.flags(), 0, e)) return false;
  const int in = d.graph().find(n.input_id()), out = d.graph().find(n.output_id());
  if (in < 0 || out < 0) return *e = "value id out of range", false;
  const Value &vi = d.value(in), &vo = d.value(out);
  if (vi.numel != vo.numel) return *e = "input and output sizes differ", false;
  using D = Datatype;
  if (vi.is(D::xnn_datatype_fp32) && vo.is(D::xnn_datatype_qdint8)) return dynamic_quantize(d, in, out, e);
  enum class Conv { kCopy, kToQS8, kToQU8, kToF16, kFromQS8, kFromQU8, kFromF16 } kind;
  if (vi.datatype == vo.datatype && vi.scale == vo.scale && vi.zero_point == vo.zero_point &&
      vi.channel_scales.empty() && vo.channel_scales.empty()) {
    kind = Conv::kCopy;
  } else if (vi.is(D::xnn_datatype_fp32) && vo.is(D::xnn_datatype_qint8)) {
    kind = Conv::kToQS8;
  } else if (vi.is(D::xnn_datatype_fp32) && vo.is(D::xnn_datatype_quint8)) {
    kind = Conv::kToQU8;
  } else if (vi.is(D::xnn_datatype_fp32) && vo.is(D::xnn_datatype_fp16)) {
    kind = Conv::kToF16;
  } else if (vi.is(D::xnn_datatype_qint8) && vo.is(D::xnn_datatype_fp32)) {
    kind = Conv::kFromQS8;
  } else if (vi.is(D::xnn_datatype_quint8) && vo.is(D::xnn_datatype_fp32)) {
    kind = Conv::kFromQU8;
  } else if (vi.is(D::xnn_datatype_fp16) && vo.is(D::xnn_datatype_fp32)) {
    kind = Conv::kFromF16;
  } else {
    return *e = "conversion from " + datatype_name(vi.datatype) + " to " + datatype_name(vo.datatype) +
                " is not supported (fp32 <-> qint8, quint8, fp16; fp32 -> qdint8)",
           false;
  }
  if (kind == Conv::kCopy) {
    const size_t elem = vi.elem_size;
    d.add_step("XNNConvert", [in, out, elem](Delegate& dd) {
      if (dd.raw(in) != dd.raw(out)) std::memmove(dd.raw(out), dd.raw(in), dd.numel(in) * elem);
      return ETP_OK;
    });
    return true;
  }
  constexpr size_t channels = 1;  // element-wise: one long row, whatever the (dynamic) last dim
  xnn_status status;
  auto op = d.packed_op(
      "", 0, false,
      [&](xnn_operator_t* o) -> xnn_status {
        const size_t c = channels;
        switch (kind) {
          case Conv::kToQS8:
            return xnn_create_convert_nc_f32_qs8(c, c, c, vo.scale, static_cast<int8_t>(vo.zero_point), INT8_MIN,
                                                 INT8_MAX, 0, o);
          case Conv::kToQU8:
            return xnn_create_convert_nc_f32_qu8(c, c, c, vo.scale, static_cast<uint8_t>(vo.zero_point), 0, UINT8_MAX,
                                                 0, o);
          case Conv::kToF16: return xnn_create_convert_nc_f32_f16(c, c, c, 0, o);
          case Conv::kFromQS8:
            return xnn_create_convert_nc_qs8_f32(c, c, c, vi.scale, static_cast<int8_t>(vi.zero_point), 0, o);
          case Conv::kFromQU8:
            return xnn_create_convert_nc_qu8_f32(c, c, c, vi.scale, static_cast<uint8_t>(vi.zero_point), 0, o);
          default: return xnn_create_convert_nc_f16_f32(c, c, c, 0, o);
        }
      },
      &status);
  if (!op) return create_failed(status, e);
  d.add_step("XNNConvert", [op, in, out, kind](Delegate& dd) {
    const size_t rows = dd.numel(in) / channels;
    return run_op(dd, *op, [&]() -> xnn_status {
      pthreadpool_t pool = dd.threadpool();
      switch (kind) {
        case Conv::kToQS8: return xnn_setup_convert_nc_f32_qs8(op->op, rows, dd.data(in), dd.as<int8_t>(out), pool);
        case Conv::kToQU8: return xnn_setup_convert_nc_f32_qu8(op->op, rows, dd.data(in), dd.as<uint8_t>(out), pool);
        case Conv::kToF16: return xnn_setup_convert_nc_f32_f16(op->op, rows, dd.data(in), dd.raw(out), pool);
        case Conv::kFromQS8: return xnn_setup_convert_nc_qs8_f32(op->op, rows, dd.as<int8_t>(in), dd.data(out), pool);
        case Conv::kFromQU8: return xnn_setup_convert_nc_qu8_f32(op->op, rows, dd.as<uint8_t>(in), dd.data(out), pool);
        default: return xnn_setup_convert_nc_f16_f32(op->op, rows, dd.raw(in), dd.data(out), pool);
      }
    });
  });
  return true;
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
  if (!vo.is(Datatype::xnn_datatype_fp32) || !va.is(Datatype::xnn_datatype_fp32) ||
      !vb.is(Datatype::xnn_datatype_fp32)) {
    return binary_low_precision(d, node, type, a, b, out, e);
  }
  float lo, hi;  // not a structured binding: C++17 lambdas cannot capture those (clang refuses)
  std::tie(lo, hi) = output_bounds(node);
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
  auto op = d.packed_op(
      "", 0, false,
      [&](xnn_operator_t* o) -> xnn_status {
        switch (type) {
          case XNodeUnion::XNNAdd: return xnn_create_add_nd_f32(lo, hi, /*flags=*/0, o);
          case XNodeUnion::XNNSubtract: return xnn_create_subtract_nd_f32(lo, hi, /*flags=*/0, o);
          case XNodeUnion::XNNMultiply: return xnn_create_multiply_nd_f32(lo, hi, /*flags=*/0, o);
          case XNodeUnion::XNNDiv: return xnn_create_divide_nd_f32(lo, hi, /*flags=*/0, o);
          case XNodeUnion::XNNMaximum: return create_no_clamp(xnn_create_maximum_nd_f32, /*flags=*/0, o);
          default: return create_no_clamp(xnn_create_minimum_nd_f32, /*flags=*/0, o);
        }
      },
      &status);
  if (!op) return create_failed(status, e);
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
  // Softmax normalises over the last dim, fixed at creation; the others are element-wise and
  // run as one long row (XNNPACK processes it contiguously), so their last dim may change.
  const size_t last = vi.dims.empty() || vi.dims.back() == 0 ? 1 : vi.dims.back();
  const size_t channels = type == XNodeUnion::XNNSoftmax ? last : 1;
  if (!check_flags(type, n.flags(), 0, e)) return false;
  if (!vi.is(Datatype::xnn_datatype_fp32) || !vo.is(Datatype::xnn_datatype_fp32)) {
    // Only Clamp and Sigmoid get here with other types (compile_node's datatype gate).
    if (type == XNodeUnion::XNNSigmoid) return quantized_sigmoid(d, node, type, in, out, e);
    return clamp_low_precision(d, node, in, out, e);
  }
  float lo, hi;  // not a structured binding: C++17 lambdas cannot capture those (clang refuses)
  std::tie(lo, hi) = output_bounds(node);
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
  auto op = d.packed_op(
      "", 0, false,
      [&](xnn_operator_t* o) -> xnn_status {
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
      },
      &status);
  if (!op) return create_failed(status, e);
  d.add_step(node_name(type), [op, in, out, channels, setup](Delegate& dd) {
    const size_t rows = dd.numel(in) / channels;
    return run_op(dd, *op, [&] { return setup(op->op, rows, dd.data(in), dd.data(out), dd.threadpool()); });
  });
  return true;
}

}  // namespace

// The node table's compile functions (nodes.cpp) for nodes that run as XNNPACK operators.
bool compile_pooling(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  const bool max = node.xnode_union_type() == XNodeUnion::XNNMaxPooling2d;
  return pooling(d, node, max ? *node.xnode_union_as_XNNMaxPooling2d() : *node.xnode_union_as_XNNAvgPooling2d(), max,
                 e);
}
bool compile_global_avg_pooling(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  return global_avg_pooling(d, node, *node.xnode_union_as_XNNGlobalAvgPooling2d(), e);
}
bool compile_argmax_pooling(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  return argmax_pooling(d, *node.xnode_union_as_XNNArgMaxPooling2d(), e);
}
bool compile_constant_pad(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  return constant_pad(d, *node.xnode_union_as_XNNStaticConstantPad(), e);
}
bool compile_resize_bilinear(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  return resize_bilinear(d, *node.xnode_union_as_XNNStaticResizeBilinear2D(), e);
}
bool compile_binary(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  // Every binary member is a _XNNNode2x1.
  return binary(d, node, *static_cast<const fb_xnnpack::_XNNNode2x1*>(node.xnode_union()), node.xnode_union_type(), e);
}
bool compile_unary_xnnpack(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  return unary_nc(d, node, *static_cast<const fb_xnnpack::_XNNNode1x1*>(node.xnode_union()), node.xnode_union_type(),
                  e);
}
bool compile_convert(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  return convert(d, *node.xnode_union_as_XNNConvert(), e);
}

}  // namespace etp_xnnpack
