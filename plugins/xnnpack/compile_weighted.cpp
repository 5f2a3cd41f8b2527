// Nodes with packed weights: fully connected, (depthwise) convolution and transposed
// convolution, in every variant Debian's XNNPACK snapshot can run:
//   fp32                   input, weights, output fp32
//   fp16                   input and output fp16; weights fp16 or fp32 (converted here)
//   qs8 (per-tensor)       qint8 input and output, qint8 weights, qint32 bias
//   qc8 (per-channel)      qint8 input and output, qcint8 weights, qcint32 bias. This snapshot
//                          has qc8 only for convolution, so a qc8 fully connected layer runs
//                          as the 1x1 convolution it is: input [rows, k] as an NHWC image
//                          [1, rows, 1, k], weights [n, k] as [n, 1, 1, k].
// Transposed convolution has no qc8 variant here. Anything else (dynamic quantization, 4-bit
// weights, mixed types) is refused at init with the datatypes named.
#include <cstring>
#include <functional>
#include <tuple>

#include "compile.h"
#include "native_gemm.h"
#include "native_qd8.h"
#include "native_ops.h"

namespace etp_xnnpack {
namespace {

using fb_xnnpack::XNodeUnion;

enum class Kind { kF32, kF16, kQS8, kQC8 };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kF32: return "f32";
    case Kind::kF16: return "f16";  // fully-connected and convolution compute it in fp32 (F16Compute)
    case Kind::kQS8: return "qs8";
    default: return "qc8";
  }
}

// Which variant input/weights/bias/output select; false with the datatypes named if none.
// `out_channels` is the weights' output-channel count (per-channel scales need one each) and
// `channel_dim` the dim of the weights that holds it.
bool weighted_kind(const Value& in, const Value& w, const Value* b, const Value& out, size_t out_channels,
                   int32_t channel_dim, Kind* kind, std::string* e) {
  using D = Datatype;
  const auto both = [&](D t) { return in.is(t) && out.is(t); };
  const auto bias_is = [&](D t1, D t2) { return b == nullptr || b->is(t1) || b->is(t2); };
  if (both(D::xnn_datatype_fp32) && w.is(D::xnn_datatype_fp32) && bias_is(D::xnn_datatype_fp32, D::xnn_datatype_fp32)) {
    return *kind = Kind::kF32, true;
  }
  if (both(D::xnn_datatype_fp16) && (w.is(D::xnn_datatype_fp16) || w.is(D::xnn_datatype_fp32)) &&
      bias_is(D::xnn_datatype_fp16, D::xnn_datatype_fp32)) {
    return *kind = Kind::kF16, true;
  }
  if (both(D::xnn_datatype_qint8) && w.is(D::xnn_datatype_qint8) &&
      bias_is(D::xnn_datatype_qint32, D::xnn_datatype_qint32)) {
    if (w.zero_point != 0) return *e = "qint8 weights must be symmetric (zero point 0)", false;
    if (!requantization_fits(in, w, out, e)) return false;
    return *kind = Kind::kQS8, true;
  }
  if (both(D::xnn_datatype_qint8) && w.is(D::xnn_datatype_qcint8) &&
      bias_is(D::xnn_datatype_qcint32, D::xnn_datatype_qcint32)) {
    if (w.channel_scales.size() != out_channels || w.channel_dim != channel_dim) {
      return *e = "per-channel weight scales must be one per output channel (dim " + std::to_string(channel_dim) + ")",
             false;
    }
    if (!requantization_fits(in, w, out, e)) return false;
    return *kind = Kind::kQC8, true;
  }
  return *e = "input " + datatype_name(in.datatype) + ", weights " + datatype_name(w.datatype) +
              (b ? ", bias " + datatype_name(b->datatype) : std::string()) + ", output " + datatype_name(out.datatype) +
              ": not a combination Debian's XNNPACK runs (fp32; fp16; qint8 with qint8 or qcint8 weights)",
         false;
}

// Operator parameters that depend on the variant, for the shared-operator key.
std::string quant_key(Kind kind, const Value& in, const Value& w, const Value* b, const Value& out) {
  // The stored datatypes too: the same named bytes read as fp16 or fp32 pack differently.
  std::string key = std::string(",") + kind_name(kind) +
                    key_params("", {static_cast<uint64_t>(w.datatype), b ? static_cast<uint64_t>(b->datatype) : 0});
  if (kind == Kind::kQS8 || kind == Kind::kQC8) {
    key += key_params("", {float_bits(in.scale), static_cast<uint64_t>(in.zero_point), float_bits(out.scale),
                           static_cast<uint64_t>(out.zero_point), float_bits(w.scale)});
    for (float s : w.channel_scales) key += "," + std::to_string(float_bits(s));
  }
  return key;
}

// Creation arguments of one convolution (a fully connected layer is a 1x1 one).
struct ConvShape {
  uint32_t pad_top = 0, pad_right = 0, pad_bottom = 0, pad_left = 0, kernel_h = 1, kernel_w = 1, stride_h = 1,
           stride_w = 1, dilation_h = 1, dilation_w = 1, groups = 1;
  size_t group_in = 0, group_out = 0;
  uint32_t flags = 0;
};

xnn_status create_conv(Kind kind, const ConvShape& c, const Value& in, const Value& w, const Value* b, const Value& out,
                       float lo, float hi, const void* weights, const void* bias, xnn_operator_t* op) {
  const size_t cin = size_t{c.groups} * c.group_in, cout = size_t{c.groups} * c.group_out;
  switch (kind) {
    case Kind::kF32:
      return xnn_create_convolution2d_nhwc_f32(c.pad_top, c.pad_right, c.pad_bottom, c.pad_left, c.kernel_h, c.kernel_w,
                                               c.stride_h, c.stride_w, c.dilation_h, c.dilation_w, c.groups, c.group_in,
                                               c.group_out, cin, cout, static_cast<const float*>(weights),
                                               static_cast<const float*>(bias), lo, hi, c.flags, op);
    case Kind::kF16:  // computed in fp32 (F16Compute): float weights
      return xnn_create_convolution2d_nhwc_f32(c.pad_top, c.pad_right, c.pad_bottom, c.pad_left, c.kernel_h, c.kernel_w,
                                               c.stride_h, c.stride_w, c.dilation_h, c.dilation_w, c.groups, c.group_in,
                                               c.group_out, cin, cout, static_cast<const float*>(weights),
                                               static_cast<const float*>(bias), lo, hi, c.flags, op);
    case Kind::kQS8:
      return xnn_create_convolution2d_nhwc_qs8(
          c.pad_top, c.pad_right, c.pad_bottom, c.pad_left, c.kernel_h, c.kernel_w, c.stride_h, c.stride_w,
          c.dilation_h, c.dilation_w, c.groups, c.group_in, c.group_out, cin, cout, static_cast<int8_t>(in.zero_point),
          in.scale, w.scale, static_cast<const int8_t*>(weights), static_cast<const int32_t*>(bias),
          static_cast<int8_t>(out.zero_point), out.scale, quantized_bound<int8_t>(lo, out),
          quantized_bound<int8_t>(hi, out), c.flags, op);
    default:
      (void)b;
      return xnn_create_convolution2d_nhwc_qc8(
          c.pad_top, c.pad_right, c.pad_bottom, c.pad_left, c.kernel_h, c.kernel_w, c.stride_h, c.stride_w,
          c.dilation_h, c.dilation_w, c.groups, c.group_in, c.group_out, cin, cout, static_cast<int8_t>(in.zero_point),
          in.scale, w.channel_scales.data(), static_cast<const int8_t*>(weights), static_cast<const int32_t*>(bias),
          static_cast<int8_t>(out.zero_point), out.scale, quantized_bound<int8_t>(lo, out),
          quantized_bound<int8_t>(hi, out), c.flags, op);
  }
}

xnn_status setup_conv(Kind kind, xnn_operator_t op, size_t n, size_t h, size_t w, const void* in, void* out,
                      pthreadpool_t pool) {
  switch (kind) {
    case Kind::kF32:
      return xnn_setup_convolution2d_nhwc_f32(op, n, h, w, static_cast<const float*>(in), static_cast<float*>(out),
                                              pool);
    case Kind::kF16:  // computed in fp32 (F16Compute): `in` and `out` are its fp32 buffers
      return xnn_setup_convolution2d_nhwc_f32(op, n, h, w, static_cast<const float*>(in), static_cast<float*>(out),
                                              pool);
    case Kind::kQS8:
      return xnn_setup_convolution2d_nhwc_qs8(op, n, h, w, static_cast<const int8_t*>(in), static_cast<int8_t*>(out),
                                              pool);
    default:
      return xnn_setup_convolution2d_nhwc_qc8(op, n, h, w, static_cast<const int8_t*>(in), static_cast<int8_t*>(out),
                                              pool);
  }
}

// fp16 operators take fp16 weights: converted copies live until the operator has packed them.
struct HalfWeights {
  std::vector<uint16_t> weights, bias;
  const void* w = nullptr;
  const void* b = nullptr;
  HalfWeights(Kind kind, const Value& vw, const Value* vb) {
    w = vw.constant;
    b = vb ? vb->constant : nullptr;
    if (kind != Kind::kF16) return;
    weights = half_copy(vw);
    w = weights.data();
    if (vb) {
      bias = half_copy(*vb);
      b = bias.data();
    }
  }
};

// fp16 fully-connected and convolution layers compute in fp32: Debian's XNNPACK has only slow
// fp16 kernels on x86 (a tiny convolution took 2.2 us of fp16_xnnpack's 3.3). Weights and
// bias are rounded to fp16 first, as an fp16 operator packs them, then widened; the input is
// widened into a buffer of the step's, the operator accumulates in fp32 (as XNNPACK's x86 fp16
// kernels do) and the output is rounded to fp16 once, after bias and clamp.
struct F16Weights {
  std::vector<float> weights, bias;
  F16Weights(const Value& vw, const Value* vb) : weights(widen(vw)), bias(vb ? widen(*vb) : std::vector<float>{}) {}
  const float* b() const { return bias.empty() ? nullptr : bias.data(); }
  static std::vector<float> widen(const Value& v) {
    const std::vector<uint16_t> half = half_copy(v);
    std::vector<float> out(half.size());
    native::half_to_float(half.data(), out.data(), half.size());
    return out;
  }
};

// The fp32 buffers of one fp16 layer's step (sized for the exported, largest, shapes; XNNPACK
// may read XNN_EXTRA_BYTES past an input).
struct F16Compute {
  std::vector<float> in, out;
  F16Compute(size_t in_numel, size_t out_numel) : in(in_numel + XNN_EXTRA_BYTES / sizeof(float)), out(out_numel) {}
  void widen(Delegate& d, int value) { native::half_to_float(d.as<const uint16_t>(value), in.data(), d.numel(value)); }
  void narrow(Delegate& d, int value) { native::float_to_half(out.data(), d.as<uint16_t>(value), d.numel(value)); }
};

// Native packed weights (native_gemm.h) of `floats` floats, filled by `pack`, shared under `key`
// like an XNNPACK operator's. The key leaves out the clamp, which the kernel applies.
std::shared_ptr<PackedOp> native_weights(Delegate& d, const Value& vw, const Value* vb, const std::string& params,
                                         size_t floats, const std::function<void(float*)>& pack, std::string* e) {
  xnn_status status;
  auto op = d.packed(
      weights_key(vw, vb, params), vw.file_id, true,
      [&](PackedOp& p) {
        p.native = static_cast<float*>(counting_allocator()->aligned_allocate(nullptr, 64, floats * sizeof(float)));
        if (p.native == nullptr) return xnn_status_out_of_memory;
        pack(p.native);
        return xnn_status_success;
      },
      &status);
  if (!op) create_failed(status, e);
  return op;
}

// Spreads `rows` output rows times `nout` output columns over the pool like an XNNPACK
// operator (with its denormal flushing). One item: `panel_tile` 32-column panels (their
// weights stay in cache) over a block of rows; all rows when there are items enough to share out.
template <typename Run>
void parallel_panels(Delegate& d, size_t rows, size_t nout, size_t panel_tile, const Run& run,
                     size_t panel_width = native::kGemmPanel) {
  const size_t panels = (nout + panel_width - 1) / panel_width;
  const size_t tile_rows = panels >= 8 * panel_tile ? rows : std::max<size_t>(8, (rows / 4 + 7) / 8 * 8);
  pthreadpool_parallelize_2d_tile_2d(
      d.threadpool(),
      [](void* context, size_t row, size_t panel, size_t row_count, size_t panel_count) {
        (*static_cast<const Run*>(context))(row, row + row_count, panel, panel + panel_count);
      },
      const_cast<Run*>(&run), rows, panels, tile_rows, panel_tile, PTHREADPOOL_FLAG_DISABLE_DENORMALS);
}

// fp32 fully-connected layers on AVX-512 and AVX2 CPUs run the plugin's own kernel (native_gemm.h:
// 1.4x Debian XNNPACK's throughput on a 64x512x512 layer with AVX-512; with AVX2, prefill reads
// the weights once where XNNPACK's operator reads them once per 4-row tile).
bool native_fully_connected(Delegate& d, const Value& vi, const Value& vw, const Value* vb, const Value& vo, int in,
                            int out, size_t k, size_t nout, bool transposed, float lo, float hi, std::string* e) {
  const std::string params =
      key_params("fc-native", {k, nout, transposed ? 1u : 0u}) + quant_key(Kind::kF32, vi, vw, vb, vo);
  auto op = native_weights(
      d, vw, vb, params, native::gemm_packed_floats(k, nout),
      [&](float* packed) { native::gemm_pack(vw.f32(), transposed, vb ? vb->f32() : nullptr, k, nout, packed); }, e);
  if (!op) return false;
  d.add_step("XNNFullyConnected", [op, in, out, k, nout, lo, hi](Delegate& dd) {
    const float* x = dd.data(in);
    float* y = dd.data(out);
    parallel_panels(dd, dd.numel(in) / k, nout, 1, [&](size_t row, size_t row_end, size_t panel, size_t panel_end) {
      native::gemm_run(x, k, nout, op->native, lo, hi, y, row, row_end, panel, panel_end);
    });
    return ETP_OK;
  });
  return true;
}

// fp32 2-D convolutions with one group run the same kernel as an implicit GEMM (native_gemm.h:
// conv_bench's 3x3, 32 -> 64 channels). The output size was checked by the shape rule; dims
// are read at run time, so a reshaped input needs nothing more.
bool native_convolution(Delegate& d, const ConvShape& c, const Value& vi, const Value& vw, const Value* vb,
                        const Value& vo, int in, int out, float lo, float hi, std::string* e) {
  const size_t taps = size_t{c.kernel_h} * c.kernel_w, cin = c.group_in, cout = c.group_out;
  const std::string params =
      key_params("conv-native", {c.pad_top, c.pad_right, c.pad_bottom, c.pad_left, c.kernel_h, c.kernel_w, c.stride_h,
                                 c.stride_w, c.dilation_h, c.dilation_w, cin, cout}) +
      quant_key(Kind::kF32, vi, vw, vb, vo);
  auto op = native_weights(
      d, vw, vb, params, native::conv_packed_floats(taps, cin, cout),
      [&](float* packed) { native::conv_pack(vw.f32(), vb ? vb->f32() : nullptr, taps, cin, cout, packed); }, e);
  if (!op) return false;
  d.add_step("XNNConv2d", [op, c, in, out, cin, cout, lo, hi](Delegate& dd) {
    const std::vector<size_t>&x = dd.dims(in), &y = dd.dims(out);
    const native::ConvGeometry g{x[0],       x[1],         x[2],         cin,        y[1],
                                 y[2],       cout,         c.kernel_h,   c.kernel_w, c.stride_h,
                                 c.stride_w, c.dilation_h, c.dilation_w, c.pad_top,  c.pad_left};
    const float* from = dd.data(in);
    float* to = dd.data(out);
    // Up to 4 panels an item: a pixel block's read addresses are found once for all of them.
    parallel_panels(dd, g.batch * g.out_h * g.out_w, cout, 4,
                    [&](size_t pixel, size_t pixel_end, size_t panel, size_t panel_end) {
                      native::conv_run(from, g, op->native, lo, hi, to, pixel, pixel_end, panel, panel_end);
                    });
    return ETP_OK;
  });
  return true;
}

// Shared float32 weights are packed without the node's output clamp, which a step of its own
// then applies in place: XNNPACK's packed weights do not depend on the clamp, and two programs
// over one foundation file may fuse different activations into one layer (a LoRA program adds
// its adapter before the ReLU that the base program fuses). Private weights keep the fused clamp.
struct Clamp {
  float op_lo, op_hi;  // the bounds the operator is created (and keyed) with
  bool separate;       // a clamp step to [lo, hi] follows the operator
};
Clamp split_clamp(const Value& w, const Value* b, Kind kind, float lo, float hi) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const bool separate = kind == Kind::kF32 && !weights_key(w, b, "").empty() && (lo != -kInf || hi != kInf);
  return separate ? Clamp{-kInf, kInf, true} : Clamp{lo, hi, false};
}

void add_clamp_step(Delegate& d, const Clamp& clamp, const std::string& type, int out, float lo, float hi) {
  if (!clamp.separate) return;
  d.add_step(type + " output clamp", [out, lo, hi](Delegate& dd) {
    native::clamp(dd.data(out), dd.data(out), dd.numel(out), lo, hi);
    return ETP_OK;
  });
}

// ---- dynamically quantized linears (native_qd8.h) ----

// A qdint8 value's per-row parameters, after its data (graph.h).
native::Qd8Params* qd8_params(Delegate& d, int value) {
  return reinterpret_cast<native::Qd8Params*>(static_cast<uint8_t*>(d.raw(value)) + qd8_params_offset(d.value(value)));
}

// FNV-1a of `bytes`: scales in a cache key without spelling them out.
uint64_t fnv1a(const void* bytes, size_t size) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < size; ++i) h = (h ^ static_cast<const uint8_t*>(bytes)[i]) * 1099511628211ull;
  return h;
}

// A fully-connected layer whose input is qdint8 (a Convert's output): qbint4, qcint4 or qcint8
// weights [n, k], an optional fp32 bias, an fp32 output. The packed weights do not depend on
// the fused clamp, which the kernel applies, so programs that fuse different activations into
// one shared layer share its packed weights.
bool dynamic_fully_connected(Delegate& d, const fb_xnnpack::XNode& node, const fb_xnnpack::XNNFullyConnected& n,
                             int in, int out, const Value& vw, const Value* vb, size_t k, size_t nout,
                             std::string* e) {
  using D = Datatype;
  const Value& vo = d.value(out);
  if (n.flags() != 0) return *e = "a dynamically quantized layer takes no flags (weights [n, k])", false;
  if (!vo.is(D::xnn_datatype_fp32) || (vb != nullptr && !vb->is(D::xnn_datatype_fp32))) {
    return *e = "a qdint8 input needs an fp32 bias and output", false;
  }
  native::Qd8Layer layer{native::Qd8Weights::kQC8, k, nout, 0};
  const void* scales = nullptr;
  size_t scale_bytes = 0;
  if (vw.is(D::xnn_datatype_qbint4)) {
    layer.kind = native::Qd8Weights::kQB4;
    layer.block = vw.group_size;
    scales = vw.block_scales.data();
    scale_bytes = vw.block_scales.size() * sizeof(uint16_t);
  } else if (vw.is(D::xnn_datatype_qcint4) || vw.is(D::xnn_datatype_qcint8)) {
    const bool four = vw.is(D::xnn_datatype_qcint4);
    layer.kind = four ? native::Qd8Weights::kQC4 : native::Qd8Weights::kQC8;
    if (vw.channel_scales.size() != nout || vw.channel_dim != 0) {
      return *e = "per-channel weight scales must be one per output channel (dim 0)", false;
    }
    scales = vw.channel_scales.data();
    scale_bytes = nout * sizeof(float);
  } else {
    return *e = "qdint8 input with " + datatype_name(vw.datatype) + " weights (qbint4, qcint4 or qcint8 expected)",
           false;
  }
  // Sums of activations (<= 255) times weights must fit an int32, as in XNNPACK's kernels.
  if ((layer.kind == native::Qd8Weights::kQB4 ? layer.block : k) > native::qd8_max_k()) {
    return *e = std::to_string(k) + " input channels" +
                (layer.kind == native::Qd8Weights::kQB4 ? " per block" : std::string()) +
                " overflow the int32 sums of a dynamically quantized layer",
           false;
  }
  const std::string params = key_params("fc-qd8", {k, nout, static_cast<uint64_t>(layer.kind), layer.block,
                                                   fnv1a(scales, scale_bytes), static_cast<uint64_t>(vw.datatype)});
  const size_t bytes = native::qd8_packed_bytes(layer);
  auto op = native_weights(
      d, vw, vb, params, (bytes + sizeof(float) - 1) / sizeof(float),
      [&](float* packed) {
        native::qd8_pack(layer, vw.constant, scales, vb ? vb->f32() : nullptr, reinterpret_cast<uint8_t*>(packed));
      },
      e);
  if (!op) return false;
  float lo, hi;
  std::tie(lo, hi) = output_bounds(node);
  d.add_step("XNNFullyConnected", [op, layer, in, out, lo, hi](Delegate& dd) {
    const uint8_t* q = dd.as<const uint8_t>(in);
    const native::Qd8Params* params = qd8_params(dd, in);
    float* y = dd.data(out);
    const uint8_t* packed = reinterpret_cast<const uint8_t*>(op->native);
    // 8 panels a call: each call sums its rows' activations per block first (the AVX2 kernel);
    // at 2 panels a call that made a 1024x2816 layer 7% slower in cache, at 8 by 2-3%
    // (etp_bench_qd8, the panels-per-call cases).
    parallel_panels(
        dd, dd.numel(in) / layer.k, layer.n, 8,
        [&](size_t row, size_t row_end, size_t panel, size_t panel_end) {
          native::qd8_fully_connected(layer, packed, q, params, lo, hi, y, row, row_end, panel, panel_end);
        },
        native::kQd8Panel);
    return ETP_OK;
  });
  return true;
}

bool fully_connected(Delegate& d, const fb_xnnpack::XNode& node, const fb_xnnpack::XNNFullyConnected& n,
                     std::string* e) {
  const int in = d.graph().find(n.input1_id()), w = d.graph().find(n.filter_id()), out = d.graph().find(n.output_id());
  const int b = n.bias_id() == UINT32_MAX ? -1 : d.graph().find(n.bias_id());
  if (in < 0 || w < 0 || out < 0 || (n.bias_id() != UINT32_MAX && b < 0)) return *e = "value id out of range", false;
  const Value &vi = d.value(in), &vw = d.value(w), &vo = d.value(out);
  const Value* vb = b >= 0 ? &d.value(b) : nullptr;
  if (vw.constant == nullptr || vw.dims.size() != 2 || (vb && vb->constant == nullptr)) {
    return *e = "weights and bias must be constant 2-D / 1-D tensors", false;
  }
  if (!check_flags(XNodeUnion::XNNFullyConnected, n.flags(), XNN_FLAG_TRANSPOSE_WEIGHTS, e)) return false;
  const bool transposed = n.flags() & XNN_FLAG_TRANSPOSE_WEIGHTS;
  const size_t k = transposed ? vw.dims[0] : vw.dims[1], nout = transposed ? vw.dims[1] : vw.dims[0];
  if (vi.dims.empty() || vi.dims.back() != k || k == 0) return *e = "input channels do not match the weights", false;
  if (vo.numel != vi.numel / k * nout || vo.dims.empty() || vo.dims.back() != nout || (vb && vb->numel != nout)) {
    return *e = "output or bias size mismatch", false;
  }
  if (vi.is(Datatype::xnn_datatype_qdint8)) return dynamic_fully_connected(d, node, n, in, out, vw, vb, k, nout, e);
  Kind kind;
  if (!weighted_kind(vi, vw, vb, vo, nout, transposed ? 1 : 0, &kind, e)) return false;
  float lo, hi;  // not a structured binding: C++17 lambdas cannot capture those (clang refuses)
  std::tie(lo, hi) = output_bounds(node);
  if (kind == Kind::kF32 && native::gemm_available()) {
    return native_fully_connected(d, vi, vw, vb, vo, in, out, k, nout, transposed, lo, hi, e);
  }
  const Clamp clamp = split_clamp(vw, vb, kind, lo, hi);
  const uint32_t flags = n.flags();
  const std::string params = key_params("fc", {k, nout, flags, float_bits(clamp.op_lo), float_bits(clamp.op_hi)}) +
                             quant_key(kind, vi, vw, vb, vo);
  std::unique_ptr<F16Weights> wide;
  if (kind == Kind::kF16) wide = std::make_unique<F16Weights>(vw, vb);
  // qc8 runs as a 1x1 convolution, whose weights are [nout, k]: transposed ones are turned.
  std::vector<uint8_t> turned;
  const void* weights = vw.constant;
  if (kind == Kind::kQC8 && transposed) {
    turned.resize(vw.numel);
    const size_t dims[2] = {k, nout}, perm[2] = {1, 0};
    native::transpose(vw.constant, turned.data(), 2, dims, perm, 1);
    weights = turned.data();
  }
  xnn_status status;
  auto op = d.packed_op(
      weights_key(vw, vb, params), vw.file_id, true,
      [&](xnn_operator_t* o) -> xnn_status {
        switch (kind) {
          case Kind::kF32:
            return xnn_create_fully_connected_nc_f32(k, nout, k, nout, vw.f32(), vb ? vb->f32() : nullptr, clamp.op_lo,
                                                     clamp.op_hi, flags, o);
          case Kind::kF16:
            return xnn_create_fully_connected_nc_f32(k, nout, k, nout, wide->weights.data(), wide->b(), lo, hi, flags,
                                                     o);
          case Kind::kQS8:
            return xnn_create_fully_connected_nc_qs8(
                k, nout, k, nout, static_cast<int8_t>(vi.zero_point), vi.scale, vw.scale,
                static_cast<const int8_t*>(vw.constant), vb ? static_cast<const int32_t*>(vb->constant) : nullptr,
                static_cast<int8_t>(vo.zero_point), vo.scale, quantized_bound<int8_t>(lo, vo),
                quantized_bound<int8_t>(hi, vo), flags, o);
          default: {
            ConvShape c;
            c.group_in = k;
            c.group_out = nout;
            return create_conv(kind, c, vi, vw, vb, vo, lo, hi, weights, vb ? vb->constant : nullptr, o);
          }
        }
      },
      &status);
  if (!op) return create_failed(status, e);
  std::shared_ptr<F16Compute> f16;
  if (kind == Kind::kF16) f16 = std::make_shared<F16Compute>(vi.numel, vo.numel);
  d.add_step("XNNFullyConnected", [op, in, out, k, kind, f16](Delegate& dd) {
    const size_t rows = dd.numel(in) / k;
    if (f16) f16->widen(dd, in);
    const etp_status s = run_op(dd, *op, [&]() -> xnn_status {
      switch (kind) {
        case Kind::kF32:
          return xnn_setup_fully_connected_nc_f32(op->op, rows, dd.data(in), dd.data(out), dd.threadpool());
        case Kind::kF16:
          return xnn_setup_fully_connected_nc_f32(op->op, rows, f16->in.data(), f16->out.data(), dd.threadpool());
        case Kind::kQS8:
          return xnn_setup_fully_connected_nc_qs8(op->op, rows, dd.as<int8_t>(in), dd.as<int8_t>(out), dd.threadpool());
        default: return setup_conv(kind, op->op, rows, 1, 1, dd.raw(in), dd.raw(out), dd.threadpool());
      }
    });
    if (s == ETP_OK && f16) f16->narrow(dd, out);
    return s;
  });
  add_clamp_step(d, clamp, "XNNFullyConnected", out, lo, hi);
  return true;
}

bool convolution(Delegate& d, const fb_xnnpack::XNode& node, const fb_xnnpack::_XNNNodeConv& n, bool depthwise,
                 std::string* e) {
  int in, w, out, b;
  if (!conv_values(d, n, &in, &w, &out, &b, e)) return false;
  const Value &vi = d.value(in), &vw = d.value(w), &vo = d.value(out);
  const Value* vb = b >= 0 ? &d.value(b) : nullptr;
  const XNodeUnion type = depthwise ? XNodeUnion::XNNDepthwiseConv2d : XNodeUnion::XNNConv2d;
  if (!check_flags(type, n.flags(), XNN_FLAG_DEPTHWISE_CONVOLUTION, e)) return false;
  ConvShape c;
  c.pad_top = n.padding_top(), c.pad_right = n.padding_right(), c.pad_bottom = n.padding_bottom();
  c.pad_left = n.padding_left(), c.kernel_h = n.kernel_height(), c.kernel_w = n.kernel_width();
  c.stride_h = n.subsampling_height(), c.stride_w = n.subsampling_width();
  c.dilation_h = n.dilation_height(), c.dilation_w = n.dilation_width();
  c.groups = n.groups(), c.group_in = n.group_input_channels(), c.group_out = n.group_output_channels();
  c.flags = depthwise ? XNN_FLAG_DEPTHWISE_CONVOLUTION : 0;
  // The output size is XNNPACK's: checked by shape_conv.
  // Weights are [out, kh, kw, in] (depthwise: [1, kh, kw, out]): output channels on dim 0 (3).
  Kind kind;
  if (!weighted_kind(vi, vw, vb, vo, vo.dims[3], depthwise ? 3 : 0, &kind, e)) return false;
  float lo, hi;  // not a structured binding: C++17 lambdas cannot capture those (clang refuses)
  std::tie(lo, hi) = output_bounds(node);
  if (kind == Kind::kF32 && !depthwise && c.groups == 1 && native::conv_available() &&
      native::conv_worth_it(size_t{c.kernel_h} * c.kernel_w, c.group_in, c.group_out)) {
    return native_convolution(d, c, vi, vw, vb, vo, in, out, lo, hi, e);
  }
  const Clamp clamp = split_clamp(vw, vb, kind, lo, hi);
  const std::string params =
      key_params("conv", {c.pad_top, c.pad_right, c.pad_bottom, c.pad_left, c.kernel_h, c.kernel_w, c.stride_h,
                          c.stride_w, c.dilation_h, c.dilation_w, c.groups, c.group_in, c.group_out, c.flags,
                          float_bits(clamp.op_lo), float_bits(clamp.op_hi)}) +
      quant_key(kind, vi, vw, vb, vo);
  std::unique_ptr<F16Weights> wide;
  if (kind == Kind::kF16) wide = std::make_unique<F16Weights>(vw, vb);
  const void* weights = wide ? static_cast<const void*>(wide->weights.data()) : vw.constant;
  const void* bias = wide ? static_cast<const void*>(wide->b()) : vb ? vb->constant : nullptr;
  xnn_status status;
  auto op = d.packed_op(
      weights_key(vw, vb, params), vw.file_id, true,
      [&](xnn_operator_t* o) {
        return create_conv(kind, c, vi, vw, vb, vo, clamp.op_lo, clamp.op_hi, weights, bias, o);
      },
      &status);
  if (!op) return create_failed(status, e);
  std::shared_ptr<F16Compute> f16;
  if (kind == Kind::kF16) f16 = std::make_shared<F16Compute>(vi.numel, vo.numel);
  d.add_step(node_name(type), [op, in, out, kind, f16](Delegate& dd) {
    const std::vector<size_t>& x = dd.dims(in);
    if (f16) f16->widen(dd, in);
    void* from = f16 ? static_cast<void*>(f16->in.data()) : dd.raw(in);
    void* to = f16 ? static_cast<void*>(f16->out.data()) : dd.raw(out);
    const etp_status s =
        run_op(dd, *op, [&] { return setup_conv(kind, op->op, x[0], x[1], x[2], from, to, dd.threadpool()); });
    if (s == ETP_OK && f16) f16->narrow(dd, out);
    return s;
  });
  add_clamp_step(d, clamp, node_name(type), out, lo, hi);
  return true;
}

bool deconvolution(Delegate& d, const fb_xnnpack::XNode& node, const fb_xnnpack::_XNNNodeConv& n, std::string* e) {
  int in, wi, out, b;
  if (!conv_values(d, n, &in, &wi, &out, &b, e)) return false;
  const Value &vi = d.value(in), &vw = d.value(wi), &vo = d.value(out);
  const Value* vb = b >= 0 ? &d.value(b) : nullptr;
  if (!check_flags(XNodeUnion::XNNConvTranspose2d, n.flags(), 0, e)) return false;
  // The output size is XNNPACK's: checked by shape_conv.
  if (vw.is(Datatype::xnn_datatype_qcint8))
    return *e = "this XNNPACK has no per-channel (qc8) transposed convolution", false;
  Kind kind;
  if (!weighted_kind(vi, vw, vb, vo, vo.dims[3], 0, &kind, e)) return false;
  float lo, hi;  // not a structured binding: C++17 lambdas cannot capture those (clang refuses)
  std::tie(lo, hi) = output_bounds(node);
  const Clamp clamp = split_clamp(vw, vb, kind, lo, hi);
  const uint32_t pt = n.padding_top(), pr = n.padding_right(), pb = n.padding_bottom(), pl = n.padding_left();
  const uint32_t kh = n.kernel_height(), kw = n.kernel_width(), sh = n.subsampling_height(), sw = n.subsampling_width();
  const uint32_t dh = n.dilation_height(), dw = n.dilation_width(), groups = n.groups();
  const size_t gin = n.group_input_channels(), gout = n.group_output_channels();
  const size_t cin = size_t{groups} * gin, cout = size_t{groups} * gout;
  const std::string params = key_params("deconv", {pt, pr, pb, pl, kh, kw, sh, sw, dh, dw, groups, gin, gout,
                                                   /*flags=*/0, float_bits(clamp.op_lo), float_bits(clamp.op_hi)}) +
                             quant_key(kind, vi, vw, vb, vo);
  HalfWeights half(kind, vw, vb);
  xnn_status status;
  auto op = d.packed_op(
      weights_key(vw, vb, params), vw.file_id, true,
      [&](xnn_operator_t* o) {
        switch (kind) {
          case Kind::kF16:
            return xnn_create_deconvolution2d_nhwc_f16(pt, pr, pb, pl, kh, kw, sh, sw, dh, dw, groups, gin, gout, cin,
                                                       cout, half.w, half.b, lo, hi, 0, o);
          case Kind::kQS8:
            return xnn_create_deconvolution2d_nhwc_qs8(
                pt, pr, pb, pl, kh, kw, sh, sw, dh, dw, groups, gin, gout, cin, cout,
                static_cast<int8_t>(vi.zero_point), vi.scale, vw.scale, static_cast<const int8_t*>(vw.constant),
                vb ? static_cast<const int32_t*>(vb->constant) : nullptr, static_cast<int8_t>(vo.zero_point), vo.scale,
                quantized_bound<int8_t>(lo, vo), quantized_bound<int8_t>(hi, vo), 0, o);
          default:
            return xnn_create_deconvolution2d_nhwc_f32(pt, pr, pb, pl, kh, kw, sh, sw, dh, dw, groups, gin, gout, cin,
                                                       cout, vw.f32(), vb ? vb->f32() : nullptr, clamp.op_lo,
                                                       clamp.op_hi, 0, o);
        }
      },
      &status);
  if (!op) return create_failed(status, e);
  const uint32_t adj_h = n.adjustment_height(), adj_w = n.adjustment_width();
  d.add_step("XNNConvTranspose2d", [op, in, out, adj_h, adj_w, kind](Delegate& dd) {
    const std::vector<size_t>& x = dd.dims(in);
    return run_op(dd, *op, [&]() -> xnn_status {
      pthreadpool_t pool = dd.threadpool();
      switch (kind) {
        case Kind::kF16:
          return xnn_setup_deconvolution2d_nhwc_f16(op->op, x[0], x[1], x[2], adj_h, adj_w, dd.raw(in), dd.raw(out),
                                                    pool);
        case Kind::kQS8:
          return xnn_setup_deconvolution2d_nhwc_qs8(op->op, x[0], x[1], x[2], adj_h, adj_w, dd.as<int8_t>(in),
                                                    dd.as<int8_t>(out), pool);
        default:
          return xnn_setup_deconvolution2d_nhwc_f32(op->op, x[0], x[1], x[2], adj_h, adj_w, dd.data(in), dd.data(out),
                                                    pool);
      }
    });
  });
  add_clamp_step(d, clamp, "XNNConvTranspose2d", out, lo, hi);
  return true;
}

}  // namespace

// The values of a convolution-like node, checked: ids defined, constant weights (and bias),
// 4-D NHWC input and output, channel counts that match the weights and the bias, positive
// kernel, stride and dilation. The bias size matters: XNNPACK reads one entry per output channel.
bool conv_values(Delegate& d, const fb_xnnpack::_XNNNodeConv& n, int* in, int* w, int* out, int* b, std::string* e) {
  *in = d.graph().find(n.input1_id());
  *w = d.graph().find(n.filter_id());
  *out = d.graph().find(n.output_id());
  *b = n.bias_id() == UINT32_MAX ? -1 : d.graph().find(n.bias_id());
  if (*in < 0 || *w < 0 || *out < 0 || (n.bias_id() != UINT32_MAX && *b < 0))
    return *e = "value id out of range", false;
  const Value &vi = d.value(*in), &vw = d.value(*w), &vo = d.value(*out);
  if (vw.constant == nullptr || (*b >= 0 && d.value(*b).constant == nullptr))
    return *e = "weights must be constant", false;
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
  if (n.subsampling_height() == 0 || n.subsampling_width() == 0 || n.dilation_height() == 0 ||
      n.dilation_width() == 0 || n.kernel_height() == 0 || n.kernel_width() == 0) {
    return *e = "kernel, stride and dilation must be positive", false;
  }
  return true;
}

// The node table's compile functions (nodes.cpp) for nodes with packed weights.
bool compile_fully_connected(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  return fully_connected(d, node, *node.xnode_union_as_XNNFullyConnected(), e);
}
bool compile_convolution(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  const bool depthwise = node.xnode_union_type() == XNodeUnion::XNNDepthwiseConv2d;
  return convolution(d, node, *static_cast<const fb_xnnpack::_XNNNodeConv*>(node.xnode_union()), depthwise, e);
}
bool compile_deconvolution(Delegate& d, const fb_xnnpack::XNode& node, std::string* e) {
  return deconvolution(d, node, *node.xnode_union_as_XNNConvTranspose2d(), e);
}

bool dynamic_quantize(Delegate& d, int in, int out, std::string* e) {
  const Value& vo = d.value(out);
  if (vo.dims.empty() || vo.dims.back() == 0) return *e = "a qdint8 value needs a non-empty last dim", false;
  const size_t k = vo.dims.back();
  d.add_step("XNNConvert", [in, out, k](Delegate& dd) {
    // The rows' parameters were given room for the exported rows of k values (graph.h).
    if (dd.dims(in).empty() || dd.dims(in).back() != k) {
      return dd.fail(ETP_ERR_SHAPE, "the last dim of a dynamically quantized input must stay " + std::to_string(k));
    }
    native::qd8_quantize(dd.data(in), dd.numel(in) / k, k, dd.as<uint8_t>(out), qd8_params(dd, out));
    return ETP_OK;
  });
  return true;
}

}  // namespace etp_xnnpack
