// quantized_decomposed::quantize_* and dequantize_* with ExecuTorch's arithmetic, so results are
// bit-exact against its runtime: quantizing computes inv_scale = 1.0f / float(scale) and
// q = clamp(zero_point + nearbyint(float(inv_scale * x)), quant_min, quant_max); dequantizing
// computes float((q - zero_point) * float(scale)). Per tensor (scale and zero point as scalars or
// one-element tensors) and per channel (along `axis`, scales float64 or float32, zero points
// int64). Float inputs are float32 or float64; quantized dtypes uint8, int8, uint16, int16, int32.
#include <cmath>

#include "kernel_util.h"
#include "quantized.h"

namespace etp_quantized {
namespace {

using namespace etp_portable;

bool quantized_dtype(int32_t dtype) {
  return dtype == ETP_DTYPE_UINT8 || dtype == ETP_DTYPE_INT8 || dtype == ETP_DTYPE_UINT16 || dtype == ETP_DTYPE_INT16 ||
         dtype == ETP_DTYPE_INT32;
}

// Calls f(T{}) with the C++ type of a quantized dtype.
template <typename F>
etp_status dispatch_quantized(int32_t dtype, F&& f) {
  switch (dtype) {
    case ETP_DTYPE_UINT8: return f(uint8_t{});
    case ETP_DTYPE_INT8: return f(int8_t{});
    case ETP_DTYPE_UINT16: return f(uint16_t{});
    case ETP_DTYPE_INT16: return f(int16_t{});
    default: return f(int32_t{});
  }
}

template <typename F>
etp_status dispatch_real_float(int32_t dtype, F&& f) {
  return dtype == ETP_DTYPE_FLOAT64 ? f(double{}) : f(float{});
}

// The quantized value of `x`, as ExecuTorch's quantize_val.
template <typename Q, typename X>
Q quantize_value(double scale, int64_t zero_point, X x, int64_t quant_min, int64_t quant_max) {
  const float inv_scale = 1.0f / static_cast<float>(scale);
  const float scaled = static_cast<float>(inv_scale * x);
  // nearbyint of a float beyond int64 (or NaN) is clamped here first: no undefined conversion.
  const float rounded = std::nearbyint(scaled);
  int64_t q = 0;
  if (rounded >= 9.2e18f) {
    q = quant_max;
  } else if (rounded <= -9.2e18f) {
    q = quant_min;
  } else if (rounded == rounded) {
    q = zero_point + static_cast<int64_t>(rounded);
  } else {
    q = zero_point;  // NaN
  }
  q = std::max<int64_t>(q, quant_min);
  q = std::min<int64_t>(q, quant_max);
  return static_cast<Q>(q);
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
  if (t.dtype == ETP_DTYPE_FLOAT32 || t.dtype == ETP_DTYPE_FLOAT64) return ETP_OK;
  return fail(c.host, ETP_ERR_DTYPE, "%s: %s has dtype %s, expected float32 or float64", c.op, which,
              etp_sdk::dtype_name(t.dtype));
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

// Per-channel parameters: the scale and zero point of channel `k` (zero points may be absent).
struct Channels {
  const etp_tensor* scales = nullptr;
  const etp_tensor* zero_points = nullptr;
  double scale(int64_t k) const {
    const int64_t o = k * scales->strides[0];
    return scales->dtype == ETP_DTYPE_FLOAT64 ? static_cast<const double*>(scales->data)[o]
                                              : static_cast<const float*>(scales->data)[o];
  }
  int64_t zero_point(int64_t k) const {
    if (zero_points == nullptr) return 0;
    const int64_t o = k * zero_points->strides[0];
    return zero_points->dtype == ETP_DTYPE_INT32 ? static_cast<const int32_t*>(zero_points->data)[o]
                                                 : static_cast<const int64_t*>(zero_points->data)[o];
  }
};

etp_status read_channels(const Ctx& c, uint32_t scales_i, uint32_t zps_i, bool zps_optional, const etp_tensor& in,
                         int64_t axis, Channels* ch, int64_t* dim) {
  etp_tensor *scales = nullptr, *zps = nullptr;
  if (!tensor_arg(c, scales_i, &scales)) return ETP_ERR_INVALID_ARGUMENT;
  if (zps_optional) {
    if (!optional_tensor_arg(c, zps_i, &zps)) return ETP_ERR_INVALID_ARGUMENT;
  } else if (!tensor_arg(c, zps_i, &zps)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (!normalize_dim(c, axis, in.rank, dim)) return ETP_ERR_INVALID_ARGUMENT;
  const int64_t n = in.sizes[*dim];
  if (scales->rank != 1 || scales->sizes[0] != n ||
      (scales->dtype != ETP_DTYPE_FLOAT64 && scales->dtype != ETP_DTYPE_FLOAT32)) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: scales must be float [%lld] for axis %lld", c.op, static_cast<long long>(n),
                static_cast<long long>(*dim));
  }
  if (zps != nullptr &&
      (zps->rank != 1 || zps->sizes[0] != n || (zps->dtype != ETP_DTYPE_INT64 && zps->dtype != ETP_DTYPE_INT32))) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: zero_points must be int64 [%lld]", c.op, static_cast<long long>(n));
  }
  ch->scales = scales;
  ch->zero_points = zps;
  return ETP_OK;
}

// The channel of the element at logical walk offset: the walker's third stride is the unit
// stride along `dim`, so its offset is the channel index itself.
etp_status quantize(const Ctx& c, etp_tensor* in, etp_tensor* out, int32_t dtype, int64_t qmin, int64_t qmax,
                    double scale, int64_t zero_point, const Channels* channels, int64_t dim) {
  if (etp_status s = check_float(c, *in, "input")) return s;
  if (etp_status s = check_quant_range(c, dtype, *out, qmin, qmax, "out")) return s;
  if (etp_status s = resize_out(c, out, in->rank, in->sizes)) return s;
  int64_t unit[ETP_MAX_RANK] = {0};
  if (channels) unit[dim] = 1;
  const int64_t* strides[3] = {out->strides, in->strides, unit};
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
                      uint32_t out_dtype_i, double scale, int64_t zero_point, const Channels* channels, int64_t dim) {
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
  int64_t unit[ETP_MAX_RANK] = {0};
  if (channels) unit[dim] = 1;
  const int64_t* strides[3] = {out->strides, in->strides, unit};
  return dispatch_real_float(out->dtype, [&](auto xzero) {
    using X = decltype(xzero);
    return dispatch_quantized(dtype, [&](auto qzero) {
      using Q = decltype(qzero);
      const Q* q = static_cast<const Q*>(in->data);
      X* x = static_cast<X*>(out->data);
      for_each_offsets<3>(in->rank, in->sizes, strides, [&](const int64_t* o) {
        const float s = static_cast<float>(channels ? channels->scale(o[2]) : scale);
        const int32_t zp = static_cast<int32_t>(channels ? channels->zero_point(o[2]) : zero_point);
        x[o[0]] = static_cast<X>((static_cast<int32_t>(q[o[1]]) - zp) * s);
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
  return quantize(c, in, out, static_cast<int32_t>(dtype), qmin, qmax, scale, zp, nullptr, 0);
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
  return quantize(c, in, out, static_cast<int32_t>(dtype), qmin, qmax, scale, zp, nullptr, 0);
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
  return dequantize(c, in, out, static_cast<int32_t>(dtype), qmin, qmax, 6, scale, zp, nullptr, 0);
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
  return dequantize(c, in, out, static_cast<int32_t>(dtype), qmin, qmax, 6, scale, zp, nullptr, 0);
}

// quantized_decomposed::quantize_per_channel.out(Tensor input, Tensor scales, Tensor zero_points, int axis,
//     int quant_min, int quant_max, ScalarType dtype, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(quantize_per_channel_out, "quantized_decomposed::quantize_per_channel.out") {
  etp_tensor *in, *out;
  int64_t axis = 0, qmin = 0, qmax = 0, dtype = 0, dim = 0;
  if (etp_status s = expect_args(c, 9)) return s;
  if (!tensor_arg(c, 0, &in) || !int_arg(c, 3, &axis) || !int_arg(c, 4, &qmin) || !int_arg(c, 5, &qmax) ||
      !int_arg(c, 6, &dtype) || !tensor_arg(c, 7, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  Channels ch;
  if (etp_status s = read_channels(c, 1, 2, /*zps_optional=*/false, *in, axis, &ch, &dim)) return s;
  return quantize(c, in, out, static_cast<int32_t>(dtype), qmin, qmax, 0, 0, &ch, dim);
}

// quantized_decomposed::dequantize_per_channel.out(Tensor input, Tensor scales, Tensor? zero_points, int axis,
//     int quant_min, int quant_max, ScalarType dtype, *, ScalarType? out_dtype=None, Tensor(a!) out)
ETP_PORTABLE_KERNEL(dequantize_per_channel_out, "quantized_decomposed::dequantize_per_channel.out") {
  etp_tensor *in, *out;
  int64_t axis = 0, qmin = 0, qmax = 0, dtype = 0, dim = 0;
  if (etp_status s = expect_args(c, 10)) return s;
  if (!tensor_arg(c, 0, &in) || !int_arg(c, 3, &axis) || !int_arg(c, 4, &qmin) || !int_arg(c, 5, &qmax) ||
      !int_arg(c, 6, &dtype) || !tensor_arg(c, 8, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  Channels ch;
  if (etp_status s = read_channels(c, 1, 2, /*zps_optional=*/true, *in, axis, &ch, &dim)) return s;
  return dequantize(c, in, out, static_cast<int32_t>(dtype), qmin, qmax, 7, 0, 0, &ch, dim);
}

}  // namespace

const etp_sdk::KernelEntry* quantize_kernels(uint32_t* count) {
  static const etp_sdk::KernelEntry entries[] = {
      ETP_ENTRY(quantize_per_tensor_out),   ETP_ENTRY(quantize_per_tensor_tensor_out),
      ETP_ENTRY(dequantize_per_tensor_out), ETP_ENTRY(dequantize_per_tensor_tensor_out),
      ETP_ENTRY(quantize_per_channel_out),  ETP_ENTRY(dequantize_per_channel_out)};
  *count = sizeof(entries) / sizeof(entries[0]);
  return entries;
}

}  // namespace etp_quantized
