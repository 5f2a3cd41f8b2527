// Activation functions, clamps and (log-)softmax. Float-only activations keep the input
// dtype (float32/float64); relu, hardtanh and clamp also take integers, as in ExecuTorch.
#include <cmath>

#include "kernels.h"
#include "pointwise_util.h"

namespace etp_portable {
namespace {

// Reads self (argument 0) and out (argument n - 2) of an n-argument activation, checks the
// dtypes (input category in `mask`: 1 bool, 2 integer, 4 float; out dtype == in dtype) and
// resizes out to self's shape.
etp_status read_activation(const Ctx& c, uint32_t n, unsigned mask, etp_tensor** in, etp_tensor** out) {
  if (etp_status s = expect_args(c, n)) return s;
  if (!tensor_arg(c, 0, in) || !tensor_arg(c, n - 2, out)) return ETP_ERR_INVALID_ARGUMENT;
  if (!check_supported(c, **in, "input")) return ETP_ERR_DTYPE;
  if (!((mask >> dtype_category((*in)->dtype)) & 1u)) {
    return dtype_error(c, "input", (*in)->dtype, mask == 4 ? "expected a floating dtype" : nullptr);
  }
  if ((*out)->dtype != (*in)->dtype) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: output dtype %s must equal the input dtype %s", c.op,
                etp_sdk::dtype_name((*out)->dtype), etp_sdk::dtype_name((*in)->dtype));
  }
  return resize_out(c, *out, (*in)->rank, (*in)->sizes);
}

// Runs a dtype-preserving activation whose op is a generic lambda of the element type.
template <typename Op>
etp_status run_same(const etp_tensor& in, etp_tensor* out, Op op) {
  return dispatch_compute(in.dtype, [&](auto zero) {
    map_unary<decltype(zero)>(in, out, op);
    return ETP_OK;
  });
}

// Runs a float-only activation (input already checked to be floating).
template <typename Op>
etp_status run_float(const etp_tensor& in, etp_tensor* out, Op op) {
  if (in.dtype == ETP_DTYPE_FLOAT64) map_unary<double>(in, out, op);
  else map_unary<float>(in, out, op);
  return ETP_OK;
}

// aten::relu.out(Tensor self, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(relu_out, "aten::relu.out") {
  etp_tensor *in, *out;
  if (etp_status s = read_activation(c, 3, kIntFloat, &in, &out)) return s;
  return run_same(*in, out, [](auto x) {
    using C = decltype(x);
    if constexpr (std::is_floating_point_v<C>) {
      if (std::isnan(x)) return x;
    }
    return x > C(0) ? x : C(0);
  });
}

// aten::gelu.out(Tensor self, *, str approximate='none', Tensor(a!) out)
ETP_PORTABLE_KERNEL(gelu_out, "aten::gelu.out") {
  etp_tensor *in, *out;
  if (etp_status s = read_activation(c, 4, kFloatOnly, &in, &out)) return s;
  const etp_value& mode = *c.args[1];
  const bool tanh_mode = string_equals(mode, "tanh");
  if (!tanh_mode && !string_equals(mode, "none")) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: approximate must be \"none\" or \"tanh\"", c.op);
  }
  return run_float(*in, out, [tanh_mode](auto x) {
    using C = decltype(x);
    if (tanh_mode) {
      const C k = static_cast<C>(0.7978845608028654);  // sqrt(2 / pi)
      return C(0.5) * x * (C(1) + std::tanh(k * (x + C(0.044715) * x * x * x)));
    }
    return C(0.5) * x * (C(1) + std::erf(x * static_cast<C>(0.7071067811865476)));
  });
}

// aten::hardtanh.out(Tensor self, Scalar min_val=-1, Scalar max_val=1, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(hardtanh_out, "aten::hardtanh.out") {
  etp_tensor *in, *out;
  double lo = -1, hi = 1;
  if (etp_status s = read_activation(c, 5, kIntFloat, &in, &out)) return s;
  if (!scalar_arg(c, 1, &lo) || !scalar_arg(c, 2, &hi)) return ETP_ERR_INVALID_ARGUMENT;
  return run_same(*in, out, [lo, hi](auto x) {
    using C = decltype(x);
    return nan_min(nan_max(x, convert<C>(lo)), convert<C>(hi));
  });
}

// aten::leaky_relu.out(Tensor self, Scalar negative_slope=0.01, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(leaky_relu_out, "aten::leaky_relu.out") {
  etp_tensor *in, *out;
  double slope = 0.01;
  if (etp_status s = read_activation(c, 4, kFloatOnly, &in, &out)) return s;
  if (!scalar_arg(c, 1, &slope)) return ETP_ERR_INVALID_ARGUMENT;
  return run_float(*in, out, [slope](auto x) {
    using C = decltype(x);
    return x > C(0) ? x : static_cast<C>(x * static_cast<C>(slope));
  });
}

// aten::elu.out(Tensor self, Scalar alpha=1, Scalar scale=1, Scalar input_scale=1, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(elu_out, "aten::elu.out") {
  etp_tensor *in, *out;
  double alpha = 1, scale = 1, input_scale = 1;
  if (etp_status s = read_activation(c, 6, kFloatOnly, &in, &out)) return s;
  if (!scalar_arg(c, 1, &alpha) || !scalar_arg(c, 2, &scale) || !scalar_arg(c, 3, &input_scale)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  return run_float(*in, out, [alpha, scale, input_scale](auto x) {
    using C = decltype(x);
    if (x > C(0)) return static_cast<C>(x * static_cast<C>(scale));
    return static_cast<C>(scale * alpha) * std::expm1(x * static_cast<C>(input_scale));
  });
}

template <typename C>
C hard_sigmoid(C x) {
  const C r = x + C(3);
  return (r < C(0) ? C(0) : r > C(6) ? C(6) : r) / C(6);
}

// aten::hardswish.out(Tensor self, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(hardswish_out, "aten::hardswish.out") {
  etp_tensor *in, *out;
  if (etp_status s = read_activation(c, 3, kFloatOnly, &in, &out)) return s;
  return run_float(*in, out, [](auto x) { return x * hard_sigmoid(x); });
}

// aten::hardsigmoid.out(Tensor self, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(hardsigmoid_out, "aten::hardsigmoid.out") {
  etp_tensor *in, *out;
  if (etp_status s = read_activation(c, 3, kFloatOnly, &in, &out)) return s;
  return run_float(*in, out, [](auto x) { return hard_sigmoid(x); });
}

// aten::softplus.out(Tensor self, Scalar beta=1, Scalar threshold=20, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(softplus_out, "aten::softplus.out") {
  etp_tensor *in, *out;
  double beta = 1, threshold = 20;
  if (etp_status s = read_activation(c, 5, kFloatOnly, &in, &out)) return s;
  if (!scalar_arg(c, 1, &beta) || !scalar_arg(c, 2, &threshold)) return ETP_ERR_INVALID_ARGUMENT;
  return run_float(*in, out, [beta, threshold](auto x) {
    using C = decltype(x);
    const C bx = x * static_cast<C>(beta);
    return bx > static_cast<C>(threshold) ? x : static_cast<C>(std::log1p(std::exp(bx)) / static_cast<C>(beta));
  });
}

// ---------------------------------------------------------------------------------------------
// clamp

// Checks that an integer output can hold a clamp bound (ExecuTorch rejects, e.g., 300 for uint8).
bool bound_fits(const Ctx& c, const Scalar& s, int32_t out_dtype, const char* which) {
  if (!is_integral_dtype(out_dtype)) return true;
  const double v = s.as_double();
  double lo = 0, hi = 0;
  switch (out_dtype) {
    case ETP_DTYPE_UINT8: lo = 0, hi = 255; break;
    case ETP_DTYPE_INT8: lo = -128, hi = 127; break;
    case ETP_DTYPE_INT16: lo = -32768, hi = 32767; break;
    case ETP_DTYPE_INT32: lo = -2147483648.0, hi = 2147483647.0; break;
    default: return true;
  }
  if (v >= lo && v <= hi) return true;
  fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: %s value %g is out of range for output dtype %s", c.op, which, v,
       etp_sdk::dtype_name(out_dtype));
  return false;
}

// aten::clamp.out(Tensor self, Scalar? min=None, Scalar? max=None, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(clamp_out, "aten::clamp.out") {
  etp_tensor *in, *out;
  Scalar lo, hi;
  bool has_lo = false, has_hi = false;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &in) || !read_optional_scalar(c, 1, &lo, &has_lo) ||
      !read_optional_scalar(c, 2, &hi, &has_hi) || !tensor_arg(c, 3, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (!has_lo && !has_hi) return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: min and max are both None", c.op);
  if (!check_supported(c, *in, "input") || !check_supported(c, *out, "output")) return ETP_ERR_DTYPE;
  int32_t common = in->dtype;
  if (has_lo) common = promote_with_scalar(common, lo);
  if (has_hi) common = promote_with_scalar(common, hi);
  if (!can_cast(common, out->dtype)) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: result dtype %s cannot be cast to output dtype %s", c.op,
                etp_sdk::dtype_name(common), etp_sdk::dtype_name(out->dtype));
  }
  if ((has_lo && !bound_fits(c, lo, out->dtype, "min")) || (has_hi && !bound_fits(c, hi, out->dtype, "max"))) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_status s = resize_out(c, out, in->rank, in->sizes)) return s;
  return dispatch_compute(common, [&](auto zero) {
    using C = decltype(zero);
    map_unary<C>(*in, out, [&](C x) {
      if (has_lo) x = nan_max(x, lo.as<C>());
      if (has_hi) x = nan_min(x, hi.as<C>());
      return x;
    });
    return ETP_OK;
  });
}

// aten::clamp.Tensor_out(Tensor self, Tensor? min=None, Tensor? max=None, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(clamp_tensor_out, "aten::clamp.Tensor_out") {
  etp_tensor *in, *lo, *hi, *out;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &in) || !optional_tensor_arg(c, 1, &lo) || !optional_tensor_arg(c, 2, &hi) ||
      !tensor_arg(c, 3, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (!lo && !hi) return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: min and max are both None", c.op);
  if (!check_supported(c, *out, "output")) return ETP_ERR_DTYPE;
  int32_t common = in->dtype;
  for (const etp_tensor* t : {in, lo, hi}) {
    if (t && !check_supported(c, *t, "input")) return ETP_ERR_DTYPE;
    if (t) common = promote_types(common, t->dtype);
  }
  if (!can_cast(common, out->dtype)) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: result dtype %s cannot be cast to output dtype %s", c.op,
                etp_sdk::dtype_name(common), etp_sdk::dtype_name(out->dtype));
  }
  int32_t rank = 0;
  int64_t sizes[ETP_MAX_RANK] = {0};
  if (!broadcast_shape3(c, in, lo, hi, &rank, sizes)) return ETP_ERR_SHAPE;
  if (etp_status s = resize_out(c, out, rank, sizes)) return s;
  int64_t s_in[ETP_MAX_RANK] = {0}, s_lo[ETP_MAX_RANK] = {0}, s_hi[ETP_MAX_RANK] = {0};
  broadcast_strides(*in, rank, s_in);
  if (lo) broadcast_strides(*lo, rank, s_lo);
  if (hi) broadcast_strides(*hi, rank, s_hi);
  const int64_t* strides[4] = {out->strides, s_in, s_lo, s_hi};
  return dispatch_compute(common, [&](auto zero) {
    using C = decltype(zero);
    for_each_offsets<4>(rank, sizes, strides, [&](const int64_t* o) {
      C x = load<C>(*in, o[1]);
      if (lo) x = nan_max(x, load<C>(*lo, o[2]));
      if (hi) x = nan_min(x, load<C>(*hi, o[3]));
      store(*out, o[0], x);
    });
    return ETP_OK;
  });
}

// ---------------------------------------------------------------------------------------------
// glu, softmax, log_softmax: operators along one dim

// Iteration over every position of `t` with dim `dim` collapsed to one element.
struct AlongDim {
  int32_t rank = 0;
  int64_t sizes[ETP_MAX_RANK] = {0};
  int64_t length = 1;  // size of the dim (1 for a scalar)
  int64_t in_step = 0, out_step = 0;
};

AlongDim along_dim(const etp_tensor& in, const etp_tensor& out, int64_t dim) {
  AlongDim a;
  a.rank = in.rank;
  for (int32_t d = 0; d < in.rank; ++d) a.sizes[d] = in.sizes[d];
  if (in.rank > 0) {
    a.length = in.sizes[dim];
    a.sizes[dim] = 1;
    a.in_step = in.strides[dim];
    a.out_step = out.strides[dim];
  }
  return a;
}

// Softmax or log-softmax along `dim` over elements stored as S: max-subtracted in C (float, or
// double for float64; float16 and bfloat16 widen to float first, as ExecuTorch's), exponentials
// accumulated in double, each result rounded once to S.
template <typename S>
void softmax_loop(const etp_tensor& in, etp_tensor* out, const AlongDim& a, bool log) {
  using C = std::conditional_t<std::is_same_v<S, double>, double, float>;
  const S* pi = static_cast<const S*>(in.data);
  S* po = static_cast<S*>(out->data);
  const int64_t* strides[2] = {out->strides, in.strides};
  for_each_offsets<2>(a.rank, a.sizes, strides, [&](const int64_t* o) {
    auto at = [&](int64_t k) { return static_cast<C>(pi[o[1] + k * a.in_step]); };
    C max = -std::numeric_limits<C>::infinity();
    for (int64_t k = 0; k < a.length; ++k) max = nan_max(max, at(k));
    if (std::isinf(max) && max < 0) max = 0;  // all -inf: keep exp finite-arithmetic
    double sum = 0;
    for (int64_t k = 0; k < a.length; ++k) sum += std::exp(static_cast<double>(at(k) - max));
    const double log_sum = std::log(sum);
    for (int64_t k = 0; k < a.length; ++k) {
      const double shifted = static_cast<double>(at(k) - max);
      po[o[0] + k * a.out_step] = static_cast<S>(log ? shifted - log_sum : std::exp(shifted) / sum);
    }
  });
}

etp_status softmax_kernel(const Ctx& c, bool log) {
  etp_tensor *in, *out;
  int64_t dim = 0;
  bool half_to_float = false;
  if (etp_status s = read_activation(c, 5, kFloatOnly, &in, &out)) return s;
  if (!int_arg(c, 1, &dim) || !bool_arg(c, 2, &half_to_float)) return ETP_ERR_INVALID_ARGUMENT;
  if (half_to_float) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: half_to_float=True is not supported (as in ExecuTorch's portable kernels)", c.op);
  }
  if (!normalize_dim(c, dim, in->rank, &dim)) return ETP_ERR_INVALID_ARGUMENT;
  const AlongDim a = along_dim(*in, *out, dim);
  return dispatch_float(c, in->dtype, [&](auto zero) {
    softmax_loop<decltype(zero)>(*in, out, a, log);
    return ETP_OK;
  });
}

// aten::_softmax.out(Tensor self, int dim, bool half_to_float, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(softmax_out, "aten::_softmax.out") { return softmax_kernel(c, /*log=*/false); }

// aten::_log_softmax.out(Tensor self, int dim, bool half_to_float, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(log_softmax_out, "aten::_log_softmax.out") { return softmax_kernel(c, /*log=*/true); }

// aten::glu.out(Tensor self, int dim=-1, *, Tensor(a!) out): first half * sigmoid(second half)
ETP_PORTABLE_KERNEL(glu_out, "aten::glu.out") {
  etp_tensor *in, *out;
  int64_t dim = -1;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_arg(c, 0, &in) || !int_arg(c, 1, &dim) || !tensor_arg(c, 2, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (!is_float_dtype(in->dtype)) return dtype_error(c, "input", in->dtype, "expected a floating dtype");
  if (!is_float_dtype(out->dtype)) return dtype_error(c, "output", out->dtype, "expected a floating dtype");
  if (in->rank == 0) return fail(c.host, ETP_ERR_SHAPE, "%s: glu does not accept a 0-dim tensor", c.op);
  if (!normalize_dim(c, dim, in->rank, &dim)) return ETP_ERR_INVALID_ARGUMENT;
  if (in->sizes[dim] % 2 != 0) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: halving dim %lld of size %lld needs an even size", c.op,
                static_cast<long long>(dim), static_cast<long long>(in->sizes[dim]));
  }
  int64_t sizes[ETP_MAX_RANK] = {0};
  for (int32_t d = 0; d < in->rank; ++d) sizes[d] = in->sizes[d];
  sizes[dim] /= 2;
  if (etp_status s = resize_out(c, out, in->rank, sizes)) return s;
  const int64_t half = sizes[dim] * in->strides[dim];
  const int64_t* strides[2] = {out->strides, in->strides};
  const bool wide = in->dtype == ETP_DTYPE_FLOAT64 || out->dtype == ETP_DTYPE_FLOAT64;
  for_each_offsets<2>(in->rank, sizes, strides, [&](const int64_t* o) {
    if (wide) {
      const double b = load<double>(*in, o[1] + half);
      store(*out, o[0], load<double>(*in, o[1]) / (1.0 + std::exp(-b)));
    } else {
      const float b = load<float>(*in, o[1] + half);
      store(*out, o[0], load<float>(*in, o[1]) / (1.0f + std::exp(-b)));
    }
  });
  return ETP_OK;
}

}  // namespace

ETP_KERNEL_FAMILY(activation_kernels, ETP_ENTRY(relu_out), ETP_ENTRY(gelu_out), ETP_ENTRY(hardtanh_out),
                  ETP_ENTRY(clamp_out), ETP_ENTRY(clamp_tensor_out), ETP_ENTRY(leaky_relu_out), ETP_ENTRY(elu_out),
                  ETP_ENTRY(hardswish_out), ETP_ENTRY(hardsigmoid_out), ETP_ENTRY(glu_out), ETP_ENTRY(softplus_out),
                  ETP_ENTRY(softmax_out), ETP_ENTRY(log_softmax_out))

}  // namespace etp_portable
