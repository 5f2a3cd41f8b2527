// quantized_decomposed::quantize_*, dequantize_* and add with ExecuTorch's arithmetic, so results
// are bit-exact against its runtime: quantizing computes inv_scale = 1.0f / float(scale) and
// q = clamp(zero_point + nearbyint(float(inv_scale * x)), quant_min, quant_max); dequantizing
// computes float((q - zero_point) * float(scale)). Per tensor (scale and zero point as scalars or
// one-element tensors), per channel (along `axis`) and per token (each row over the last dim);
// scales float64 or float32, zero points int64 or int32. Float sides are float32, float64, float16
// or bfloat16; quantized dtypes uint8, int8, uint16, int16, int32.
#include "kernel_util.h"
#include "quantized.h"

namespace etp_quantized {
namespace {

using namespace etp_portable;

bool is_integer_dtype(int32_t d) {
  return d == ETP_DTYPE_UINT8 || d == ETP_DTYPE_INT8 || d == ETP_DTYPE_INT16 || d == ETP_DTYPE_INT32 ||
         d == ETP_DTYPE_INT64;
}

// Calls f(T{}) with the C++ type of a floating dtype (check_float has accepted it).
template <typename F>
etp_status dispatch_real_float(int32_t dtype, F&& f) {
  switch (dtype) {
    case ETP_DTYPE_FLOAT64: return f(double{});
    case ETP_DTYPE_FLOAT16: return f(Half{});
    case ETP_DTYPE_BFLOAT16: return f(BFloat16{});
    default: return f(float{});
  }
}

// Checks quant_min..quant_max against the quantized dtype `dtype` and that the quantized tensor
// `q` has that dtype.
etp_status check_quant_range(const Ctx& c, int32_t dtype, const etp_tensor& q, int64_t quant_min, int64_t quant_max,
                             const char* which) {
  if (!quantized_dtype(dtype)) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: dtype %s is not a quantized integer dtype", c.op,
                etp_sdk::dtype_name(dtype));
  }
  if (q.dtype != dtype) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: %s has dtype %s but the dtype argument says %s", c.op, which,
                etp_sdk::dtype_name(q.dtype), etp_sdk::dtype_name(dtype));
  }
  int64_t lo = 0, hi = 0;
  dispatch_quantized(dtype, [&](auto zero) {
    using Q = decltype(zero);
    lo = std::numeric_limits<Q>::min();
    hi = std::numeric_limits<Q>::max();
    return ETP_OK;
  });
  if (quant_min > quant_max || quant_min < lo || quant_max > hi) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: quant range [%lld, %lld] does not fit %s [%lld, %lld]", c.op,
                static_cast<long long>(quant_min), static_cast<long long>(quant_max), etp_sdk::dtype_name(dtype),
                static_cast<long long>(lo), static_cast<long long>(hi));
  }
  return ETP_OK;
}

etp_status check_float(const Ctx& c, const etp_tensor& t, const char* which) {
  if (t.dtype == ETP_DTYPE_FLOAT32 || t.dtype == ETP_DTYPE_FLOAT64 || t.dtype == ETP_DTYPE_FLOAT16 ||
      t.dtype == ETP_DTYPE_BFLOAT16) {
    return ETP_OK;
  }
  return fail(c.host, ETP_ERR_DTYPE, "%s: %s has dtype %s, expected float32, float64, float16 or bfloat16", c.op,
              which, etp_sdk::dtype_name(t.dtype));
}

// A per-tensor parameter given as a one-element tensor (the .Tensor_out variants).
bool scalar_from_tensor(const Ctx& c, uint32_t i, bool integer, double* value, int64_t* ivalue) {
  etp_tensor* t = nullptr;
  if (!tensor_arg(c, i, &t)) return false;
  if (etp_sdk::numel(*t) != 1) {
    fail(c.host, ETP_ERR_SHAPE, "%s: argument %u must hold one element", c.op, i);
    return false;
  }
  const bool is_float = t->dtype == ETP_DTYPE_FLOAT32 || t->dtype == ETP_DTYPE_FLOAT64;
  if (integer != !is_float || (!is_float && t->dtype != ETP_DTYPE_INT64 && t->dtype != ETP_DTYPE_INT32)) {
    fail(c.host, ETP_ERR_DTYPE, "%s: argument %u has dtype %s", c.op, i, etp_sdk::dtype_name(t->dtype));
    return false;
  }
  if (t->dtype == ETP_DTYPE_FLOAT64) *value = *static_cast<const double*>(t->data);
  if (t->dtype == ETP_DTYPE_FLOAT32) *value = *static_cast<const float*>(t->data);
  if (t->dtype == ETP_DTYPE_INT64) *ivalue = *static_cast<const int64_t*>(t->data);
  if (t->dtype == ETP_DTYPE_INT32) *ivalue = *static_cast<const int32_t*>(t->data);
  return true;
}

// Per-channel parameters: the scale and zero point of channel `k` (zero points may be absent), and
// the channel strides: for each input dim, how far the channel index moves per step. Per channel
// along `axis` that is 1 on the axis and 0 elsewhere; per token (every dim but the last) it is the
// row-major stride over the leading dims. Walking the input with these strides as a third tensor
// gives each element's channel index as its offset.
struct Channels {
  const etp_tensor* scales = nullptr;
  const etp_tensor* zero_points = nullptr;
  int64_t stride[ETP_MAX_RANK] = {0};
  float scale(int64_t k) const { return float_param(*scales, k); }
  int32_t zero_point(int64_t k) const {
    if (zero_points == nullptr) return 0;
    return static_cast<int32_t>(zero_points->dtype == ETP_DTYPE_INT32
                                    ? static_cast<const int32_t*>(zero_points->data)[k]
                                    : static_cast<const int64_t*>(zero_points->data)[k]);
  }
};

// Reads the scales (argument scales_i) and zero points (zps_i) of `in` split into channels along
// `axis`, or into tokens when per_token is set; both must hold one value per channel.
etp_status read_channels(const Ctx& c, uint32_t scales_i, uint32_t zps_i, bool zps_optional, const etp_tensor& in,
                         int64_t axis, bool per_token, Channels* ch) {
  etp_tensor *scales = nullptr, *zps = nullptr;
  if (!tensor_arg(c, scales_i, &scales)) return ETP_ERR_INVALID_ARGUMENT;
  if (zps_optional) {
    if (!optional_tensor_arg(c, zps_i, &zps)) return ETP_ERR_INVALID_ARGUMENT;
  } else if (!tensor_arg(c, zps_i, &zps)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  int64_t n = 1;
  if (per_token) {
    if (in.rank == 0) return fail(c.host, ETP_ERR_SHAPE, "%s: input must have at least one dim", c.op);
    for (int32_t d = in.rank - 2; d >= 0; --d) {
      ch->stride[d] = n;
      n *= in.sizes[d];
    }
  } else {
    int64_t dim = 0;
    if (!normalize_dim(c, axis, in.rank, &dim)) return ETP_ERR_INVALID_ARGUMENT;
    n = in.rank == 0 ? 1 : in.sizes[dim];
    ch->stride[dim] = 1;
  }
  const char* what = per_token ? "tokens" : "channels";
  if (etp_sdk::numel(*scales) != n || (scales->dtype != ETP_DTYPE_FLOAT64 && scales->dtype != ETP_DTYPE_FLOAT32)) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: scales must be float32 or float64 with one value per %s (%lld), got %s with %lld",
                c.op, what, static_cast<long long>(n), etp_sdk::dtype_name(scales->dtype),
                static_cast<long long>(etp_sdk::numel(*scales)));
  }
  if (zps != nullptr && (etp_sdk::numel(*zps) != n || (zps->dtype != ETP_DTYPE_INT64 && zps->dtype != ETP_DTYPE_INT32))) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: zero_points must be int64 or int32 with one value per %s (%lld), got %s with %lld",
                c.op, what, static_cast<long long>(n), etp_sdk::dtype_name(zps->dtype),
                static_cast<long long>(etp_sdk::numel(*zps)));
  }
  if (etp_status s = check_row_major(c, *scales, "scales")) return s;
  if (zps != nullptr) {
    if (etp_status s = check_row_major(c, *zps, "zero_points")) return s;
  }
  ch->scales = scales;
  ch->zero_points = zps;
  return ETP_OK;
}

etp_status quantize(const Ctx& c, etp_tensor* in, etp_tensor* out, int32_t dtype, int64_t qmin, int64_t qmax,
                    double scale, int64_t zero_point, const Channels* channels) {
  if (etp_status s = check_float(c, *in, "input")) return s;
  if (etp_status s = check_quant_range(c, dtype, *out, qmin, qmax, "out")) return s;
  if (etp_status s = resize_out(c, out, in->rank, in->sizes)) return s;
  const int64_t* strides[3] = {out->strides, in->strides, channels ? channels->stride : nullptr};
  return dispatch_real_float(in->dtype, [&](auto xzero) {
    using X = decltype(xzero);
    return dispatch_quantized(dtype, [&](auto qzero) {
      using Q = decltype(qzero);
      const X* x = static_cast<const X*>(in->data);
      Q* q = static_cast<Q*>(out->data);
      for_each_offsets<3>(in->rank, in->sizes, strides, [&](const int64_t* o) {
        q[o[0]] = channels ? quantize_value<Q>(channels->scale(o[2]), channels->zero_point(o[2]), x[o[1]], qmin, qmax)
                           : quantize_value<Q>(scale, zero_point, x[o[1]], qmin, qmax);
      });
      return ETP_OK;
    });
  });
}

etp_status dequantize(const Ctx& c, etp_tensor* in, etp_tensor* out, int32_t dtype, int64_t qmin, int64_t qmax,
                      uint32_t out_dtype_i, double scale, int64_t zero_point, const Channels* channels) {
  if (etp_status s = check_quant_range(c, dtype, *in, qmin, qmax, "input")) return s;
  if (etp_status s = check_float(c, *out, "out")) return s;
  bool has_out_dtype = false;
  int64_t out_dtype = 0;
  if (!optional_int_arg(c, out_dtype_i, &has_out_dtype, &out_dtype)) return ETP_ERR_INVALID_ARGUMENT;
  if (has_out_dtype && out_dtype != out->dtype) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: out_dtype %s differs from the output's %s", c.op,
                etp_sdk::dtype_name(static_cast<int32_t>(out_dtype)), etp_sdk::dtype_name(out->dtype));
  }
  if (etp_status s = resize_out(c, out, in->rank, in->sizes)) return s;
  const int64_t* strides[3] = {out->strides, in->strides, channels ? channels->stride : nullptr};
  return dispatch_real_float(out->dtype, [&](auto xzero) {
    using X = decltype(xzero);
    return dispatch_quantized(dtype, [&](auto qzero) {
      using Q = decltype(qzero);
      const Q* q = static_cast<const Q*>(in->data);
      X* x = static_cast<X*>(out->data);
      for_each_offsets<3>(in->rank, in->sizes, strides, [&](const int64_t* o) {
        const float s = channels ? channels->scale(o[2]) : static_cast<float>(scale);
        const int32_t zp = channels ? channels->zero_point(o[2]) : static_cast<int32_t>(zero_point);
        // In int64: ExecuTorch's int32 difference would overflow for extreme zero points.
        x[o[0]] = static_cast<X>(static_cast<float>(static_cast<int64_t>(q[o[1]]) - zp) * s);
      });
      return ETP_OK;
    });
  });
}

// quantized_decomposed::quantize_per_tensor.out(Tensor input, float scale, int zero_point, int quant_min,
//     int quant_max, ScalarType dtype, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(quantize_per_tensor_out, "quantized_decomposed::quantize_per_tensor.out") {
  etp_tensor *in, *out;
  double scale = 0;
  int64_t zp = 0, qmin = 0, qmax = 0, dtype = 0;
  if (etp_status s = expect_args(c, 8)) return s;
  if (!tensor_arg(c, 0, &in) || !scalar_arg(c, 1, &scale) || !int_arg(c, 2, &zp) || !int_arg(c, 3, &qmin) ||
      !int_arg(c, 4, &qmax) || !int_arg(c, 5, &dtype) || !tensor_arg(c, 6, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  return quantize(c, in, out, static_cast<int32_t>(dtype), qmin, qmax, scale, zp, nullptr);
}

// quantized_decomposed::quantize_per_tensor.Tensor_out(Tensor input, Tensor scale, Tensor zero_point,
//     int quant_min, int quant_max, ScalarType dtype, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(quantize_per_tensor_tensor_out, "quantized_decomposed::quantize_per_tensor.Tensor_out") {
  etp_tensor *in, *out;
  double scale = 0, unused = 0;
  int64_t zp = 0, qmin = 0, qmax = 0, dtype = 0, iunused = 0;
  if (etp_status s = expect_args(c, 8)) return s;
  if (!tensor_arg(c, 0, &in) || !scalar_from_tensor(c, 1, false, &scale, &iunused) ||
      !scalar_from_tensor(c, 2, true, &unused, &zp) || !int_arg(c, 3, &qmin) || !int_arg(c, 4, &qmax) ||
      !int_arg(c, 5, &dtype) || !tensor_arg(c, 6, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  return quantize(c, in, out, static_cast<int32_t>(dtype), qmin, qmax, scale, zp, nullptr);
}

// quantized_decomposed::dequantize_per_tensor.out(Tensor input, float scale, int zero_point, int quant_min,
//     int quant_max, ScalarType dtype, *, ScalarType? out_dtype=None, Tensor(a!) out)
ETP_PORTABLE_KERNEL(dequantize_per_tensor_out, "quantized_decomposed::dequantize_per_tensor.out") {
  etp_tensor *in, *out;
  double scale = 0;
  int64_t zp = 0, qmin = 0, qmax = 0, dtype = 0;
  if (etp_status s = expect_args(c, 9)) return s;
  if (!tensor_arg(c, 0, &in) || !scalar_arg(c, 1, &scale) || !int_arg(c, 2, &zp) || !int_arg(c, 3, &qmin) ||
      !int_arg(c, 4, &qmax) || !int_arg(c, 5, &dtype) || !tensor_arg(c, 7, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  return dequantize(c, in, out, static_cast<int32_t>(dtype), qmin, qmax, 6, scale, zp, nullptr);
}

// quantized_decomposed::dequantize_per_tensor.Tensor_out(Tensor input, Tensor scale, Tensor zero_point,
//     int quant_min, int quant_max, ScalarType dtype, *, ScalarType? out_dtype=None, Tensor(a!) out)
ETP_PORTABLE_KERNEL(dequantize_per_tensor_tensor_out, "quantized_decomposed::dequantize_per_tensor.Tensor_out") {
  etp_tensor *in, *out;
  double scale = 0, unused = 0;
  int64_t zp = 0, qmin = 0, qmax = 0, dtype = 0, iunused = 0;
  if (etp_status s = expect_args(c, 9)) return s;
  if (!tensor_arg(c, 0, &in) || !scalar_from_tensor(c, 1, false, &scale, &iunused) ||
      !scalar_from_tensor(c, 2, true, &unused, &zp) || !int_arg(c, 3, &qmin) || !int_arg(c, 4, &qmax) ||
      !int_arg(c, 5, &dtype) || !tensor_arg(c, 7, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  return dequantize(c, in, out, static_cast<int32_t>(dtype), qmin, qmax, 6, scale, zp, nullptr);
}

// quantized_decomposed::quantize_per_channel.out(Tensor input, Tensor scales, Tensor zero_points, int axis,
//     int quant_min, int quant_max, ScalarType dtype, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(quantize_per_channel_out, "quantized_decomposed::quantize_per_channel.out") {
  etp_tensor *in, *out;
  int64_t axis = 0, qmin = 0, qmax = 0, dtype = 0;
  if (etp_status s = expect_args(c, 9)) return s;
  if (!tensor_arg(c, 0, &in) || !int_arg(c, 3, &axis) || !int_arg(c, 4, &qmin) || !int_arg(c, 5, &qmax) ||
      !int_arg(c, 6, &dtype) || !tensor_arg(c, 7, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  Channels ch;
  if (etp_status s = read_channels(c, 1, 2, /*zps_optional=*/false, *in, axis, /*per_token=*/false, &ch)) return s;
  return quantize(c, in, out, static_cast<int32_t>(dtype), qmin, qmax, 0, 0, &ch);
}

// quantized_decomposed::dequantize_per_channel.out(Tensor input, Tensor scales, Tensor? zero_points, int axis,
//     int quant_min, int quant_max, ScalarType dtype, *, ScalarType? out_dtype=None, Tensor(a!) out)
ETP_PORTABLE_KERNEL(dequantize_per_channel_out, "quantized_decomposed::dequantize_per_channel.out") {
  etp_tensor *in, *out;
  int64_t axis = 0, qmin = 0, qmax = 0, dtype = 0;
  if (etp_status s = expect_args(c, 10)) return s;
  if (!tensor_arg(c, 0, &in) || !int_arg(c, 3, &axis) || !int_arg(c, 4, &qmin) || !int_arg(c, 5, &qmax) ||
      !int_arg(c, 6, &dtype) || !tensor_arg(c, 8, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  Channels ch;
  if (etp_status s = read_channels(c, 1, 2, /*zps_optional=*/true, *in, axis, /*per_token=*/false, &ch)) return s;
  return dequantize(c, in, out, static_cast<int32_t>(dtype), qmin, qmax, 7, 0, 0, &ch);
}

// quantized_decomposed::quantize_per_token.out(Tensor input, Tensor scales, Tensor zero_points, int quant_min,
//     int quant_max, ScalarType dtype, *, Tensor(a!) out): per channel over the rows of the input
// viewed as [tokens, last dim].
ETP_PORTABLE_KERNEL(quantize_per_token_out, "quantized_decomposed::quantize_per_token.out") {
  etp_tensor *in, *out;
  int64_t qmin = 0, qmax = 0, dtype = 0;
  if (etp_status s = expect_args(c, 8)) return s;
  if (!tensor_arg(c, 0, &in) || !int_arg(c, 3, &qmin) || !int_arg(c, 4, &qmax) || !int_arg(c, 5, &dtype) ||
      !tensor_arg(c, 6, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  Channels ch;
  if (etp_status s = read_channels(c, 1, 2, /*zps_optional=*/false, *in, 0, /*per_token=*/true, &ch)) return s;
  return quantize(c, in, out, static_cast<int32_t>(dtype), qmin, qmax, 0, 0, &ch);
}

// quantized_decomposed::dequantize_per_token.out(Tensor input, Tensor scales, Tensor zero_points, int quant_min,
//     int quant_max, ScalarType dtype, ScalarType output_dtype, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(dequantize_per_token_out, "quantized_decomposed::dequantize_per_token.out") {
  etp_tensor *in, *out;
  int64_t qmin = 0, qmax = 0, dtype = 0;
  if (etp_status s = expect_args(c, 9)) return s;
  if (!tensor_arg(c, 0, &in) || !int_arg(c, 3, &qmin) || !int_arg(c, 4, &qmax) || !int_arg(c, 5, &dtype) ||
      !tensor_arg(c, 7, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  Channels ch;
  if (etp_status s = read_channels(c, 1, 2, /*zps_optional=*/false, *in, 0, /*per_token=*/true, &ch)) return s;
  return dequantize(c, in, out, static_cast<int32_t>(dtype), qmin, qmax, 6, 0, 0, &ch);
}

// quantized_decomposed::add.out(Tensor a, float a_scale, int a_zero_point, int a_quant_min, int a_quant_max,
//     Tensor b, float b_scale, int b_zero_point, int b_quant_min, int b_quant_max, float out_scale,
//     int out_zero_point, int out_quant_min, int out_quant_max, *, Tensor(a!) out)
// Dequantizes both (float scales, int32 zero points), adds in float and quantizes the sum, as
// ExecuTorch does; a, b and out have one shape and one integer dtype, every range within [0, 255].
ETP_PORTABLE_KERNEL(add_out, "quantized_decomposed::add.out") {
  etp_tensor *a, *b, *out;
  double scale[3] = {0, 0, 0};
  int64_t zp[3] = {0, 0, 0}, qmin[3] = {0, 0, 0}, qmax[3] = {0, 0, 0};
  if (etp_status s = expect_args(c, 16)) return s;
  if (!tensor_arg(c, 0, &a) || !tensor_arg(c, 5, &b) || !tensor_arg(c, 14, &out)) return ETP_ERR_INVALID_ARGUMENT;
  const uint32_t first[3] = {1, 6, 10};  // a's, b's and out's parameters (out has no tensor before them)
  for (int k = 0; k < 3; ++k) {
    const uint32_t i = first[k];
    if (!scalar_arg(c, i, &scale[k]) || !int_arg(c, i + 1, &zp[k]) || !int_arg(c, i + 2, &qmin[k]) ||
        !int_arg(c, i + 3, &qmax[k])) {
      return ETP_ERR_INVALID_ARGUMENT;
    }
    if (qmin[k] < 0 || qmax[k] > 255 || qmin[k] > qmax[k]) {
      static const char* const names[3] = {"a", "b", "out"};
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: quant range [%lld, %lld] of %s must lie within [0, 255]", c.op,
                  static_cast<long long>(qmin[k]), static_cast<long long>(qmax[k]), names[k]);
    }
  }
  if (a->dtype != b->dtype || a->dtype != out->dtype || !is_integer_dtype(a->dtype)) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: a, b and out must share one integer dtype, got %s, %s and %s", c.op,
                etp_sdk::dtype_name(a->dtype), etp_sdk::dtype_name(b->dtype), etp_sdk::dtype_name(out->dtype));
  }
  // ExecuTorch checks only [0, 255]; a range the dtype cannot hold (int8 up to 255) would wrap.
  etp_status range = ETP_OK;
  dispatch_real(c, a->dtype, [&](auto zero) {
    using T = decltype(zero);
    for (int k = 0; k < 3 && range == ETP_OK; ++k) {
      if (qmin[k] < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          qmax[k] > static_cast<int64_t>(std::numeric_limits<T>::max())) {
        range = fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: quant range [%lld, %lld] does not fit %s", c.op,
                     static_cast<long long>(qmin[k]), static_cast<long long>(qmax[k]), etp_sdk::dtype_name(a->dtype));
      }
    }
    return ETP_OK;
  });
  if (range != ETP_OK) return range;
  bool same = a->rank == b->rank;
  for (int32_t d = 0; same && d < a->rank; ++d) same = a->sizes[d] == b->sizes[d];
  if (!same) return fail(c.host, ETP_ERR_SHAPE, "%s: a and b must have the same shape", c.op);
  if (etp_status s = resize_out(c, out, a->rank, a->sizes)) return s;
  const float sa = static_cast<float>(scale[0]), sb = static_cast<float>(scale[1]);
  const int32_t za = static_cast<int32_t>(zp[0]), zb = static_cast<int32_t>(zp[1]);
  const int64_t* strides[3] = {out->strides, a->strides, b->strides};
  return dispatch_real(c, a->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* pa = static_cast<const T*>(a->data);
    const T* pb = static_cast<const T*>(b->data);
    T* po = static_cast<T*>(out->data);
    for_each_offsets<3>(a->rank, a->sizes, strides, [&](const int64_t* o) {
      // ExecuTorch dequantizes in double (exact for these operands) and rounds each term to float.
      const float sum = static_cast<float>((static_cast<double>(pa[o[1]]) - za) * sa) +
                        static_cast<float>((static_cast<double>(pb[o[2]]) - zb) * sb);
      po[o[0]] = quantize_value<T>(scale[2], zp[2], sum, qmin[2], qmax[2]);
    });
    return ETP_OK;
  });
}

}  // namespace

ETP_KERNEL_FAMILY(quantize_kernels, ETP_ENTRY(quantize_per_tensor_out), ETP_ENTRY(quantize_per_tensor_tensor_out),
                  ETP_ENTRY(dequantize_per_tensor_out), ETP_ENTRY(dequantize_per_tensor_tensor_out),
                  ETP_ENTRY(quantize_per_channel_out), ETP_ENTRY(dequantize_per_channel_out),
                  ETP_ENTRY(quantize_per_token_out), ETP_ENTRY(dequantize_per_token_out), ETP_ENTRY(add_out))

}  // namespace etp_quantized
