// Reductions over dim lists (sum, mean, amax/amin, var, prod, any/all), over one dim with
// indices (argmax/argmin, max/min.dim) and the cumulative sum. Dims may be negative; an
// absent or (where the schema says so) empty dim list reduces every dim. Accumulation is in
// double for floating results and in wrapping int64 for integer results.
#include <cmath>

#include "kernels.h"
#include "pointwise_util.h"

namespace etp_portable {
namespace {

// An `int[1]?` argument: None gives items == nullptr; a lone int is accepted as one dim.
struct DimList {
  const int64_t* items = nullptr;
  uint64_t count = 0;
  int64_t single = 0;
};

bool read_dims(const Ctx& c, uint32_t i, DimList* d) {
  const etp_value* v = c.args[i];
  if (v->tag == ETP_VALUE_NONE) return true;
  if (v->tag == ETP_VALUE_INT) {
    d->single = v->u.i;
    d->items = &d->single;
    d->count = 1;
    return true;
  }
  return int_list_arg(c, i, &d->items, &d->count);
}

// A `ScalarType? dtype` argument: when given it must be the output dtype.
bool check_dtype_arg(const Ctx& c, uint32_t i, const etp_tensor& in, const etp_tensor& out) {
  int64_t dtype = 0;
  bool present = false;
  if (!optional_int_arg(c, i, &present, &dtype)) return false;
  if (present && dtype != out.dtype) {
    fail(c.host, ETP_ERR_DTYPE, "%s: dtype argument %s differs from the output dtype %s", c.op,
         etp_sdk::dtype_name(static_cast<int32_t>(dtype)), etp_sdk::dtype_name(out.dtype));
    return false;
  }
  if (!present && !can_cast(in.dtype, out.dtype)) {
    fail(c.host, ETP_ERR_DTYPE, "%s: input dtype %s cannot be cast to output dtype %s", c.op,
         etp_sdk::dtype_name(in.dtype), etp_sdk::dtype_name(out.dtype));
    return false;
  }
  return true;
}

etp_status plan(const Ctx& c, const etp_tensor& in, const DimList& dims, bool empty_means_all, bool keepdim,
                etp_tensor* out, ReducePlan* p) {
  if (etp_status s = make_reduce_plan(c, in, dims.items, dims.count, empty_means_all, keepdim, p)) return s;
  return resize_reduce_out(c, p, in.rank, out);
}

// Min/max style reductions have no identity: reducing over zero elements is an error.
etp_status check_nonempty(const Ctx& c, const ReducePlan& p) {
  if (p.inner_numel > 0) return ETP_OK;
  return fail(c.host, ETP_ERR_SHAPE, "%s: cannot reduce over a dim of size 0 (no identity)", c.op);
}

// plan() for reductions without identity: fails on an empty group before resizing `out`.
etp_status plan_nonempty(const Ctx& c, const etp_tensor& in, const DimList& dims, bool empty_means_all, bool keepdim,
                         etp_tensor* out, ReducePlan* p) {
  if (etp_status s = make_reduce_plan(c, in, dims.items, dims.count, empty_means_all, keepdim, p)) return s;
  if (etp_status s = check_nonempty(c, *p)) return s;
  return resize_reduce_out(c, p, in.rank, out);
}

// Reads (Tensor self, int[1]? dim (a plain `int dim` when `one_dim`), bool keepdim, ..., Tensor(a!) out)
// with `n` arguments and the output at `out_index`.
etp_status read_reduce_args(const Ctx& c, uint32_t n, uint32_t out_index, bool one_dim, etp_tensor** in,
                            DimList* dims, bool* keepdim, etp_tensor** out) {
  if (etp_status s = expect_args(c, n)) return s;
  auto read_dim = [&] { return one_dim ? int_arg(c, 1, &dims->single) : read_dims(c, 1, dims); };
  if (!tensor_arg(c, 0, in) || !read_dim() || !bool_arg(c, 2, keepdim) || !tensor_arg(c, out_index, out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (one_dim) {
    dims->items = &dims->single;
    dims->count = 1;
  }
  return ETP_OK;
}

// Sum (or product) of every reduced group, accumulated in A and stored in out's dtype.
template <typename A>
void accumulate(const etp_tensor& in, etp_tensor* out, const ReducePlan& p, bool product) {
  for_each_output(p, [&](int64_t o, int64_t base) {
    A acc = product ? A(1) : A(0);
    for_each_reduced(p, base, [&](int64_t i) {
      acc = product ? wrap_mul(acc, load<A>(in, i)) : wrap_add(acc, load<A>(in, i));
    });
    store(*out, o, acc);
  });
}

etp_status sum_or_prod(const etp_tensor& in, etp_tensor* out, const ReducePlan& p, bool product) {
  if (is_float_dtype(out->dtype)) accumulate<double>(in, out, p, product);
  else accumulate<int64_t>(in, out, p, product);
  return ETP_OK;
}

bool check_in_out(const Ctx& c, const etp_tensor& in, const etp_tensor& out) {
  return check_supported(c, in, "input") && check_supported(c, out, "output");
}

// The dim-list reductions with a `ScalarType? dtype` (argument 3) and the output at 4: reads the
// arguments, checks the dtypes (`float_out`: the output must be floating) and plans into out.
etp_status read_dtype_reduction(const Ctx& c, bool one_dim, bool float_out, etp_tensor** in, etp_tensor** out,
                                ReducePlan* p) {
  DimList dims;
  bool keepdim = false;
  if (etp_status s = read_reduce_args(c, 6, 4, one_dim, in, &dims, &keepdim, out)) return s;
  if (!check_in_out(c, **in, **out) || !check_dtype_arg(c, 3, **in, **out)) return ETP_ERR_DTYPE;
  if (float_out && !is_float_dtype((*out)->dtype)) {
    return dtype_error(c, "output", (*out)->dtype, "expected a floating dtype");
  }
  return plan(c, **in, dims, /*empty_means_all=*/!one_dim, keepdim, *out, p);
}

// The mean of every reduced group, accumulated in double.
void store_means(const etp_tensor& in, etp_tensor* out, const ReducePlan& p) {
  const double n = static_cast<double>(p.inner_numel);
  for_each_output(p, [&](int64_t o, int64_t base) {
    double acc = 0;
    for_each_reduced(p, base, [&](int64_t i) { acc += load<double>(in, i); });
    store(*out, o, acc / n);
  });
}

// aten::sum.IntList_out(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None, Tensor(a!) out)
ETP_PORTABLE_KERNEL(sum_out, "aten::sum.IntList_out") {
  etp_tensor *in, *out;
  ReducePlan p;
  if (etp_status s = read_dtype_reduction(c, /*one_dim=*/false, /*float_out=*/false, &in, &out, &p)) return s;
  return sum_or_prod(*in, out, p, /*product=*/false);
}

// aten::mean.out(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None, Tensor(a!) out)
ETP_PORTABLE_KERNEL(mean_out, "aten::mean.out") {
  etp_tensor *in, *out;
  ReducePlan p;
  if (etp_status s = read_dtype_reduction(c, /*one_dim=*/false, /*float_out=*/true, &in, &out, &p)) return s;
  store_means(*in, out, p);
  return ETP_OK;
}

// aten::prod.out(Tensor self, *, ScalarType? dtype=None, Tensor(a!) out)
ETP_PORTABLE_KERNEL(prod_out, "aten::prod.out") {
  etp_tensor *in, *out;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_arg(c, 0, &in) || !tensor_arg(c, 2, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (!check_in_out(c, *in, *out) || !check_dtype_arg(c, 1, *in, *out)) return ETP_ERR_DTYPE;
  ReducePlan p;
  if (etp_status s = plan(c, *in, DimList{}, /*empty_means_all=*/true, /*keepdim=*/false, out, &p)) return s;
  return sum_or_prod(*in, out, p, /*product=*/true);
}

// aten::prod.int_out(Tensor self, int dim, bool keepdim=False, *, ScalarType? dtype=None, Tensor(a!) out)
ETP_PORTABLE_KERNEL(prod_int_out, "aten::prod.int_out") {
  etp_tensor *in, *out;
  ReducePlan p;
  if (etp_status s = read_dtype_reduction(c, /*one_dim=*/true, /*float_out=*/false, &in, &out, &p)) return s;
  return sum_or_prod(*in, out, p, /*product=*/true);
}

// The NaN-propagating max (or min) of every group of `dims` into `out`, whose dtype must be the
// input's; reducing over zero elements is an error.
etp_status store_extremes(const Ctx& c, const etp_tensor& in, const DimList& dims, bool keepdim, bool is_max,
                          etp_tensor* out) {
  if (!check_in_out(c, in, *out)) return ETP_ERR_DTYPE;
  if (out->dtype != in.dtype) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: output dtype %s must equal the input dtype %s", c.op,
                etp_sdk::dtype_name(out->dtype), etp_sdk::dtype_name(in.dtype));
  }
  ReducePlan p;
  if (etp_status s = plan_nonempty(c, in, dims, /*empty_means_all=*/true, keepdim, out, &p)) return s;
  return dispatch_compute(in.dtype, [&](auto zero) {
    using C = decltype(zero);
    for_each_output(p, [&](int64_t o, int64_t base) {
      C acc = load<C>(in, base);
      for_each_reduced(p, base, [&](int64_t i) {
        const C v = load<C>(in, i);
        acc = is_max ? nan_max(acc, v) : nan_min(acc, v);
      });
      store(*out, o, acc);
    });
    return ETP_OK;
  });
}

// amax / amin: over a dim list.
etp_status extreme(const Ctx& c, bool is_max) {
  etp_tensor *in, *out;
  DimList dims;
  bool keepdim = false;
  if (etp_status s = read_reduce_args(c, 5, 3, /*one_dim=*/false, &in, &dims, &keepdim, &out)) return s;
  return store_extremes(c, *in, dims, keepdim, is_max, out);
}

// aten::amax.out(Tensor self, int[1] dim=[], bool keepdim=False, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(amax_out, "aten::amax.out") { return extreme(c, /*is_max=*/true); }
// aten::amin.out(Tensor self, int[1] dim=[], bool keepdim=False, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(amin_out, "aten::amin.out") { return extreme(c, /*is_max=*/false); }

// The value and first index of the max (or min) of every reduced group; NaN wins, as in
// PyTorch. Either output may be null.
template <typename C>
void arg_extreme(const etp_tensor& in, const ReducePlan& p, bool is_max, etp_tensor* values, etp_tensor* indices) {
  for_each_output(p, [&](int64_t o, int64_t base) {
    C best = load<C>(in, base);
    int64_t best_index = 0, n = 0;
    for_each_reduced(p, base, [&](int64_t i) {
      const C v = load<C>(in, i);
      bool better = is_max ? v > best : v < best;
      if constexpr (std::is_floating_point_v<C>) better = !std::isnan(best) && (better || std::isnan(v));
      if (better) {
        best = v;
        best_index = n;
      }
      ++n;
    });
    if (values) store(*values, o, best);
    if (indices) static_cast<int64_t*>(indices->data)[o] = best_index;
  });
}

// aten::argmax.out / argmin.out(Tensor self, int? dim=None, bool keepdim=False, *, Tensor(a!) out)
etp_status arg_reduce(const Ctx& c, bool is_max) {
  etp_tensor *in, *out;
  DimList dims;
  bool keepdim = false;
  if (etp_status s = read_reduce_args(c, 5, 3, /*one_dim=*/false, &in, &dims, &keepdim, &out)) return s;
  if (!check_supported(c, *in, "input")) return ETP_ERR_DTYPE;
  if (out->dtype != ETP_DTYPE_INT64) return dtype_error(c, "output", out->dtype, "expected int64");
  ReducePlan p;
  if (etp_status s = plan_nonempty(c, *in, dims, /*empty_means_all=*/false, keepdim, out, &p)) return s;
  return dispatch_compute(in->dtype, [&](auto zero) {
    arg_extreme<decltype(zero)>(*in, p, is_max, nullptr, out);
    return ETP_OK;
  });
}

ETP_PORTABLE_KERNEL(argmax_out, "aten::argmax.out") { return arg_reduce(c, /*is_max=*/true); }
ETP_PORTABLE_KERNEL(argmin_out, "aten::argmin.out") { return arg_reduce(c, /*is_max=*/false); }

// aten::max.dim_max / min.dim_min(Tensor self, int dim, bool keepdim=False, *, Tensor(a!) values,
// Tensor(b!) indices); the return slot is the list of both outputs and is not written.
etp_status dim_extreme(const Ctx& c, bool is_max) {
  etp_tensor *in, *values, *indices;
  DimList dims;
  bool keepdim = false;
  if (etp_status s = read_reduce_args(c, 6, 3, /*one_dim=*/true, &in, &dims, &keepdim, &values)) return s;
  if (!tensor_arg(c, 4, &indices)) return ETP_ERR_INVALID_ARGUMENT;
  if (!check_in_out(c, *in, *values)) return ETP_ERR_DTYPE;
  if (values->dtype != in->dtype) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: values dtype %s must equal the input dtype %s", c.op,
                etp_sdk::dtype_name(values->dtype), etp_sdk::dtype_name(in->dtype));
  }
  if (indices->dtype != ETP_DTYPE_INT64) return dtype_error(c, "indices", indices->dtype, "expected int64");
  ReducePlan p;
  if (etp_status s = plan_nonempty(c, *in, dims, /*empty_means_all=*/false, keepdim, indices, &p)) return s;
  // Values and indices may differ in dim order, so each gets its own output strides.
  ReducePlan pv = p;
  if (etp_status s = resize_reduce_out(c, &pv, in->rank, values)) return s;
  return dispatch_compute(in->dtype, [&](auto zero) {
    using C = decltype(zero);
    arg_extreme<C>(*in, pv, is_max, values, nullptr);
    arg_extreme<C>(*in, p, is_max, nullptr, indices);
    return ETP_OK;
  });
}

ETP_PORTABLE_KERNEL(max_dim_max, "aten::max.dim_max") { return dim_extreme(c, /*is_max=*/true); }
ETP_PORTABLE_KERNEL(min_dim_min, "aten::min.dim_min") { return dim_extreme(c, /*is_max=*/false); }

// Two-pass variance over `dims` divided by max(0, N - correction) into `out`, and the mean into
// `mean_out` when given (var_mean).
etp_status variance(const Ctx& c, const etp_tensor& in, const DimList& dims, double correction, bool keepdim,
                    etp_tensor* out, etp_tensor* mean_out) {
  if (!is_float_dtype(in.dtype)) return dtype_error(c, "input", in.dtype, "expected a floating dtype");
  if (!is_float_dtype(out->dtype)) return dtype_error(c, "output", out->dtype, "expected a floating dtype");
  if (mean_out && !is_float_dtype(mean_out->dtype)) {
    return dtype_error(c, "mean output", mean_out->dtype, "expected a floating dtype");
  }
  ReducePlan p;
  if (etp_status s = plan(c, in, dims, /*empty_means_all=*/true, keepdim, out, &p)) return s;
  ReducePlan pm = p;  // the mean output may have another dim order
  if (mean_out) {
    if (etp_status s = resize_reduce_out(c, &pm, in.rank, mean_out)) return s;
  }
  const double n = static_cast<double>(p.inner_numel);
  const double denom = std::fmax(0.0, n - correction);
  for_each_output(p, [&](int64_t o, int64_t base) {
    double sum = 0;
    for_each_reduced(p, base, [&](int64_t i) { sum += load<double>(in, i); });
    const double mean = sum / n;
    double sq = 0;
    for_each_reduced(p, base, [&](int64_t i) {
      const double d = load<double>(in, i) - mean;
      sq += d * d;
    });
    store(*out, o, sq / denom);
  });
  if (mean_out) store_means(in, mean_out, pm);
  return ETP_OK;
}

// Reads (Tensor self, int[1]? dim, Scalar? correction, bool keepdim, ...).
etp_status read_correction_args(const Ctx& c, etp_tensor** in, DimList* dims, double* correction, bool* keepdim) {
  Scalar value;
  bool has = false;
  if (!tensor_arg(c, 0, in) || !read_dims(c, 1, dims) || !read_optional_scalar(c, 2, &value, &has) ||
      !bool_arg(c, 3, keepdim)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  *correction = has ? value.as_double() : 1.0;
  return ETP_OK;
}

// aten::var.correction_out(Tensor self, int[1]? dim=None, *, Scalar? correction=None, bool keepdim=False,
// Tensor(a!) out): two-pass variance divided by max(0, N - correction).
ETP_PORTABLE_KERNEL(var_correction_out, "aten::var.correction_out") {
  etp_tensor *in, *out;
  DimList dims;
  double correction = 1;
  bool keepdim = false;
  if (etp_status s = expect_args(c, 6)) return s;
  if (etp_status s = read_correction_args(c, &in, &dims, &correction, &keepdim)) return s;
  if (!tensor_arg(c, 4, &out)) return ETP_ERR_INVALID_ARGUMENT;
  return variance(c, *in, dims, correction, keepdim, out, nullptr);
}

// aten::var.out(Tensor self, int[1]? dim, bool unbiased=True, bool keepdim=False, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(var_out, "aten::var.out") {
  etp_tensor *in, *out;
  DimList dims;
  bool unbiased = true, keepdim = false;
  if (etp_status s = expect_args(c, 6)) return s;
  if (!tensor_arg(c, 0, &in) || !read_dims(c, 1, &dims) || !bool_arg(c, 2, &unbiased) || !bool_arg(c, 3, &keepdim) ||
      !tensor_arg(c, 4, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  return variance(c, *in, dims, unbiased ? 1.0 : 0.0, keepdim, out, nullptr);
}

// aten::var_mean.correction_out(Tensor self, int[1]? dim=None, *, Scalar? correction=None,
// bool keepdim=False, Tensor(a!) out0, Tensor(b!) out1): variance and mean; the return slot
// lists both outputs and is not written.
ETP_PORTABLE_KERNEL(var_mean_correction_out, "aten::var_mean.correction_out") {
  etp_tensor *in, *var, *mean;
  DimList dims;
  double correction = 1;
  bool keepdim = false;
  if (etp_status s = expect_args(c, 7)) return s;
  if (etp_status s = read_correction_args(c, &in, &dims, &correction, &keepdim)) return s;
  if (!tensor_arg(c, 4, &var) || !tensor_arg(c, 5, &mean)) return ETP_ERR_INVALID_ARGUMENT;
  return variance(c, *in, dims, correction, keepdim, var, mean);
}

// aten::max.unary_out / min.unary_out(Tensor self, *, Tensor(a!) out): every element into a
// 0-dim output.
etp_status unary_extreme(const Ctx& c, bool is_max) {
  etp_tensor *in, *out;
  if (etp_status s = expect_args(c, 3)) return s;
  if (!tensor_arg(c, 0, &in) || !tensor_arg(c, 1, &out)) return ETP_ERR_INVALID_ARGUMENT;
  return store_extremes(c, *in, DimList{}, /*keepdim=*/false, is_max, out);
}

ETP_PORTABLE_KERNEL(max_unary_out, "aten::max.unary_out") { return unary_extreme(c, /*is_max=*/true); }
ETP_PORTABLE_KERNEL(min_unary_out, "aten::min.unary_out") { return unary_extreme(c, /*is_max=*/false); }

// aten::mean.dtype_out(Tensor self, *, ScalarType? dtype=None, Tensor(a!) out): the mean of every
// element into a 0-dim floating output.
ETP_PORTABLE_KERNEL(mean_dtype_out, "aten::mean.dtype_out") {
  etp_tensor *in, *out;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_arg(c, 0, &in) || !tensor_arg(c, 2, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (!check_in_out(c, *in, *out) || !check_dtype_arg(c, 1, *in, *out)) return ETP_ERR_DTYPE;
  if (!is_float_dtype(out->dtype)) return dtype_error(c, "output", out->dtype, "expected a floating dtype");
  ReducePlan p;
  if (etp_status s = plan(c, *in, DimList{}, /*empty_means_all=*/true, /*keepdim=*/false, out, &p)) return s;
  store_means(*in, out, p);
  return ETP_OK;
}

// any.all_out / all.all_out(Tensor self, *, Tensor(a!) out): a 0-dim bool (or uint8) result.
etp_status truth_reduce(const Ctx& c, bool want_all) {
  etp_tensor *in, *out;
  if (etp_status s = expect_args(c, 3)) return s;
  if (!tensor_arg(c, 0, &in) || !tensor_arg(c, 1, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (!check_supported(c, *in, "input")) return ETP_ERR_DTYPE;
  if (out->dtype != ETP_DTYPE_BOOL && out->dtype != ETP_DTYPE_UINT8) {
    return dtype_error(c, "output", out->dtype, "expected bool or uint8");
  }
  if (etp_status s = resize_out(c, out, 0, nullptr)) return s;
  bool result = want_all;
  const int64_t* strides[1] = {in->strides};
  for_each_offsets<1>(in->rank, in->sizes, strides, [&](const int64_t* o) {
    const bool v = load<bool>(*in, o[0]);
    result = want_all ? (result && v) : (result || v);
  });
  store(*out, 0, result);
  return ETP_OK;
}

ETP_PORTABLE_KERNEL(any_all_out, "aten::any.all_out") { return truth_reduce(c, /*want_all=*/false); }

// any over a dim list (`one_dim`: a plain int dim): true where some element of the group is
// nonzero (false for empty groups); the output is bool or uint8. any.dims_out with an empty
// (not absent) dim list reduces nothing: each element is its own truth value, as ExecuTorch does.
etp_status any_over_dims(const Ctx& c, bool one_dim) {
  etp_tensor *in, *out;
  DimList dims;
  bool keepdim = false;
  if (etp_status s = read_reduce_args(c, 5, 3, one_dim, &in, &dims, &keepdim, &out)) return s;
  if (!check_supported(c, *in, "input")) return ETP_ERR_DTYPE;
  if (out->dtype != ETP_DTYPE_BOOL && out->dtype != ETP_DTYPE_UINT8) {
    return dtype_error(c, "output", out->dtype, "expected bool or uint8");
  }
  if (!one_dim && c.args[1]->tag == ETP_VALUE_INT_LIST && dims.count == 0) {
    if (etp_status s = resize_out(c, out, in->rank, in->sizes)) return s;
    const int64_t* strides[2] = {out->strides, in->strides};
    for_each_offsets<2>(in->rank, in->sizes, strides,
                        [&](const int64_t* o) { store(*out, o[0], load<bool>(*in, o[1])); });
    return ETP_OK;
  }
  ReducePlan p;
  if (etp_status s = plan(c, *in, dims, /*empty_means_all=*/true, keepdim, out, &p)) return s;
  for_each_output(p, [&](int64_t o, int64_t base) {
    bool any = false;
    for_each_reduced(p, base, [&](int64_t i) { any = any || load<bool>(*in, i); });
    store(*out, o, any);
  });
  return ETP_OK;
}

// aten::any.out(Tensor self, int dim, bool keepdim=False, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(any_out, "aten::any.out") { return any_over_dims(c, /*one_dim=*/true); }
// aten::any.dims_out(Tensor self, int[1]? dim=None, bool keepdim=False, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(any_dims_out, "aten::any.dims_out") { return any_over_dims(c, /*one_dim=*/false); }
ETP_PORTABLE_KERNEL(all_all_out, "aten::all.all_out") { return truth_reduce(c, /*want_all=*/true); }

// aten::cumsum.out(Tensor self, int dim, *, ScalarType? dtype=None, Tensor(a!) out)
ETP_PORTABLE_KERNEL(cumsum_out, "aten::cumsum.out") {
  etp_tensor *in, *out;
  int64_t dim = 0;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &in) || !int_arg(c, 1, &dim) || !tensor_arg(c, 3, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (!check_in_out(c, *in, *out) || !check_dtype_arg(c, 2, *in, *out)) return ETP_ERR_DTYPE;
  if (!normalize_dim(c, dim, in->rank, &dim)) return ETP_ERR_INVALID_ARGUMENT;
  if (etp_status s = resize_out(c, out, in->rank, in->sizes)) return s;
  int64_t sizes[ETP_MAX_RANK] = {0};
  for (int32_t d = 0; d < in->rank; ++d) sizes[d] = in->sizes[d];
  int64_t length = 1, in_step = 0, out_step = 0;
  if (in->rank > 0) {
    length = sizes[dim];
    sizes[dim] = 1;
    in_step = in->strides[dim];
    out_step = out->strides[dim];
  }
  const int64_t* strides[2] = {out->strides, in->strides};
  auto scan = [&](auto zero) {
    using A = decltype(zero);
    for_each_offsets<2>(in->rank, sizes, strides, [&](const int64_t* o) {
      A acc = 0;
      for (int64_t k = 0; k < length; ++k) {
        acc = wrap_add(acc, load<A>(*in, o[1] + k * in_step));
        store(*out, o[0] + k * out_step, acc);
      }
    });
    return ETP_OK;
  };
  return is_float_dtype(out->dtype) ? scan(double{}) : scan(int64_t{});
}

}  // namespace

ETP_KERNEL_FAMILY(reduction_kernels, ETP_ENTRY(sum_out), ETP_ENTRY(mean_out), ETP_ENTRY(amax_out), ETP_ENTRY(amin_out),
                  ETP_ENTRY(argmax_out), ETP_ENTRY(argmin_out), ETP_ENTRY(max_dim_max), ETP_ENTRY(min_dim_min),
                  ETP_ENTRY(var_correction_out), ETP_ENTRY(prod_out), ETP_ENTRY(prod_int_out), ETP_ENTRY(cumsum_out),
                  ETP_ENTRY(any_all_out), ETP_ENTRY(all_all_out), ETP_ENTRY(any_out), ETP_ENTRY(any_dims_out),
                  ETP_ENTRY(var_out), ETP_ENTRY(var_mean_correction_out), ETP_ENTRY(max_unary_out),
                  ETP_ENTRY(min_unary_out), ETP_ENTRY(mean_dtype_out))

}  // namespace etp_portable
