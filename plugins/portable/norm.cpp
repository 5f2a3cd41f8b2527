// Normalizations: batch norm (inference and training), layer norm and group norm, float32/float64. Inputs
// and outputs are addressed through strides, so channels-last tensors work unchanged. The
// statistics are computed in double and stored in the tensor dtype.
#include <cmath>
#include <utility>

#include "kernels.h"
#include "movement_util.h"

namespace etp_portable {
namespace {

using namespace movement;

// An optional per-feature parameter (weight/bias) of `n` elements, or absent.
struct Param {
  const etp_tensor* t;
  template <typename T>
  T at(int64_t i, T absent) const {
    return t ? static_cast<const T*>(t->data)[i * t->strides[0]] : absent;
  }
};

etp_status check_vector(const Ctx& c, const etp_tensor* t, int64_t n, int32_t dtype, const char* what) {
  if (t == nullptr) return ETP_OK;
  if (etp_status s = same_dtype(c, *t, dtype, what)) return s;
  if (t->rank != 1 || t->sizes[0] != n) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: %s must have shape [%lld]", c.op, what, static_cast<long long>(n));
  }
  return ETP_OK;
}

// aten::_native_batch_norm_legit_no_training.out(Tensor input, Tensor? weight, Tensor? bias,
//     Tensor running_mean, Tensor running_var, float momentum, float eps, *,
//     Tensor(a!) out0, Tensor(b!) out1, Tensor(c!) out2)
// out0 = (x - mean[c]) / sqrt(var[c] + eps) * w[c] + b[c]; out1 and out2 are resized to [0]
// as in ExecuTorch.
etp_status batch_norm_inference(const Ctx& c, etp_tensor* in, etp_tensor* weight, etp_tensor* bias, etp_tensor* mean,
                                etp_tensor* var, double eps, etp_tensor* out, etp_tensor* out1, etp_tensor* out2) {
  if (in->rank < 1) return fail(c.host, ETP_ERR_SHAPE, "%s: input must have rank >= 1", c.op);
  const int32_t cdim = in->rank >= 2 ? 1 : 0;
  const int64_t channels = in->sizes[cdim];
  if (etp_status s = same_dtype(c, *out, in->dtype, "out")) return s;
  if (etp_status s = check_vector(c, weight, channels, in->dtype, "weight")) return s;
  if (etp_status s = check_vector(c, bias, channels, in->dtype, "bias")) return s;
  if (etp_status s = check_vector(c, mean, channels, in->dtype, "running_mean")) return s;
  if (etp_status s = check_vector(c, var, channels, in->dtype, "running_var")) return s;
  if (etp_status s = resize_out(c, out, in->rank, in->sizes)) return s;
  const int64_t zero = 0;
  if (etp_status s = resize_out(c, out1, 1, &zero, "out1")) return s;
  if (etp_status s = resize_out(c, out2, 1, &zero, "out2")) return s;
  // The third walk offset is the channel index itself.
  int64_t channel_stride[ETP_MAX_RANK] = {0};
  channel_stride[cdim] = 1;
  return dispatch_float(c, in->dtype, [&](auto tzero) {
    using T = decltype(tzero);
    const T* x = static_cast<const T*>(in->data);
    T* o = static_cast<T*>(out->data);
    const Param w{weight}, b{bias}, m{mean}, v{var};
    for_each_strided(in->rank, in->sizes, out->strides, in->strides, channel_stride,
                     [&](int64_t oo, int64_t xo, int64_t ch) {
                       const T invstd = static_cast<T>(1.0 / std::sqrt(static_cast<double>(v.at<T>(ch, 0)) + eps));
                       o[oo] = (x[xo] - m.at<T>(ch, 0)) * invstd * w.at<T>(ch, 1) + b.at<T>(ch, 0);
                     });
    return ETP_OK;
  });
}

ETP_PORTABLE_KERNEL(batch_norm_no_training_out, "aten::_native_batch_norm_legit_no_training.out") {
  etp_tensor *in, *weight, *bias, *mean, *var, *out, *out1, *out2;
  double momentum = 0, eps = 0;
  if (etp_status s = expect_args(c, 11)) return s;
  if (!tensor_arg(c, 0, &in) || !optional_tensor_arg(c, 1, &weight) || !optional_tensor_arg(c, 2, &bias) ||
      !tensor_arg(c, 3, &mean) || !tensor_arg(c, 4, &var) || !scalar_arg(c, 5, &momentum) ||
      !scalar_arg(c, 6, &eps) || !tensor_arg(c, 7, &out) || !tensor_arg(c, 8, &out1) || !tensor_arg(c, 9, &out2)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  return batch_norm_inference(c, in, weight, bias, mean, var, eps, out, out1, out2);
}

// Training-mode batch norm: per-channel mean and biased variance over every other dim,
// out = (x - mean) * invstd * w + b with invstd = 1 / sqrt(var + eps); save_mean and
// save_invstd get the statistics; running_mean/var (when given) move by `momentum` towards the
// mean and the unbiased variance, as PyTorch.
etp_status batch_norm_training(const Ctx& c, etp_tensor* in, etp_tensor* weight, etp_tensor* bias,
                               etp_tensor* running_mean, etp_tensor* running_var, double momentum, double eps,
                               etp_tensor* out, etp_tensor* save_mean, etp_tensor* save_invstd) {
  if (in->rank < 2) return fail(c.host, ETP_ERR_SHAPE, "%s: input must have rank >= 2 (N, C, ...)", c.op);
  const int64_t channels = in->sizes[1];
  if (etp_status s = same_dtype(c, *out, in->dtype, "out")) return s;
  for (const auto& [t, what] : {std::pair<etp_tensor*, const char*>{weight, "weight"}, {bias, "bias"},
                                {running_mean, "running_mean"}, {running_var, "running_var"}}) {
    if (etp_status s = check_vector(c, t, channels, in->dtype, what)) return s;
  }
  if (etp_status s = same_dtype(c, *save_mean, in->dtype, "save_mean")) return s;
  if (etp_status s = same_dtype(c, *save_invstd, in->dtype, "save_invstd")) return s;
  if (etp_status s = resize_out(c, out, in->rank, in->sizes)) return s;
  if (etp_status s = resize_out(c, save_mean, 1, &channels, "save_mean")) return s;
  if (etp_status s = resize_out(c, save_invstd, 1, &channels, "save_invstd")) return s;
  const int64_t count = channels > 0 ? etp_sdk::numel(*in) / channels : 0;
  if (count == 0) return fail(c.host, ETP_ERR_SHAPE, "%s: no elements per channel to compute statistics", c.op);
  // Walk every element but the channel: sizes with the channel dim set to 1.
  int64_t sizes[ETP_MAX_RANK] = {0};
  for (int32_t d = 0; d < in->rank; ++d) sizes[d] = d == 1 ? 1 : in->sizes[d];
  return dispatch_float(c, in->dtype, [&](auto tzero) {
    using T = decltype(tzero);
    const T* x = static_cast<const T*>(in->data);
    T* o = static_cast<T*>(out->data);
    const Param w{weight}, b{bias};
    for (int64_t ch = 0; ch < channels; ++ch) {
      const T* xc = x + ch * in->strides[1];
      double sum = 0, squares = 0;
      for_each_strided(in->rank, sizes, in->strides, nullptr, nullptr,
                       [&](int64_t xo, int64_t, int64_t) { sum += static_cast<double>(xc[xo]); });
      const double mean = sum / static_cast<double>(count);
      for_each_strided(in->rank, sizes, in->strides, nullptr, nullptr, [&](int64_t xo, int64_t, int64_t) {
        const double dx = static_cast<double>(xc[xo]) - mean;
        squares += dx * dx;
      });
      const double var = squares / static_cast<double>(count);
      const double invstd = 1.0 / std::sqrt(var + eps);
      const T scale = static_cast<T>(invstd) * w.at<T>(ch, 1), shift = b.at<T>(ch, 0);
      T* oc = o + ch * out->strides[1];
      for_each_strided(in->rank, sizes, out->strides, in->strides, nullptr, [&](int64_t oo, int64_t xo, int64_t) {
        oc[oo] = (xc[xo] - static_cast<T>(mean)) * scale + shift;
      });
      static_cast<T*>(save_mean->data)[ch * save_mean->strides[0]] = static_cast<T>(mean);
      static_cast<T*>(save_invstd->data)[ch * save_invstd->strides[0]] = static_cast<T>(invstd);
      if (running_mean != nullptr) {
        T& rm = static_cast<T*>(running_mean->data)[ch * running_mean->strides[0]];
        rm = static_cast<T>((1 - momentum) * static_cast<double>(rm) + momentum * mean);
      }
      if (running_var != nullptr) {
        const double unbiased = count > 1 ? squares / static_cast<double>(count - 1) : var;
        T& rv = static_cast<T*>(running_var->data)[ch * running_var->strides[0]];
        rv = static_cast<T>((1 - momentum) * static_cast<double>(rv) + momentum * unbiased);
      }
    }
    return ETP_OK;
  });
}

// aten::_native_batch_norm_legit.out(Tensor input, Tensor? weight, Tensor? bias, Tensor(a!) running_mean,
//     Tensor(b!) running_var, bool training, float momentum, float eps, *, Tensor(d!) out,
//     Tensor(e!) save_mean, Tensor(f!) save_invstd): training=False is inference with the running
// statistics (as ExecuTorch's portable kernel); training=True normalizes with the batch's and
// updates the running statistics (which ExecuTorch's portable kernel refuses).
ETP_PORTABLE_KERNEL(batch_norm_legit_out, "aten::_native_batch_norm_legit.out") {
  etp_tensor *in, *weight, *bias, *mean, *var, *out, *save_mean, *save_invstd;
  bool training = false;
  double momentum = 0, eps = 0;
  if (etp_status s = expect_args(c, 12)) return s;
  if (!tensor_arg(c, 0, &in) || !optional_tensor_arg(c, 1, &weight) || !optional_tensor_arg(c, 2, &bias) ||
      !tensor_arg(c, 3, &mean) || !tensor_arg(c, 4, &var) || !bool_arg(c, 5, &training) ||
      !scalar_arg(c, 6, &momentum) || !scalar_arg(c, 7, &eps) || !tensor_arg(c, 8, &out) ||
      !tensor_arg(c, 9, &save_mean) || !tensor_arg(c, 10, &save_invstd)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (!training) return batch_norm_inference(c, in, weight, bias, mean, var, eps, out, save_mean, save_invstd);
  return batch_norm_training(c, in, weight, bias, mean, var, momentum, eps, out, save_mean, save_invstd);
}

// aten::_native_batch_norm_legit.no_stats_out(Tensor input, Tensor? weight, Tensor? bias, bool training,
//     float momentum, float eps, *, Tensor(a!) out, Tensor(b!) save_mean, Tensor(c!) save_invstd):
// always the batch's statistics (there are no running ones), whatever `training` says, as ExecuTorch.
ETP_PORTABLE_KERNEL(batch_norm_legit_no_stats_out, "aten::_native_batch_norm_legit.no_stats_out") {
  etp_tensor *in, *weight, *bias, *out, *save_mean, *save_invstd;
  bool training = false;
  double momentum = 0, eps = 0;
  if (etp_status s = expect_args(c, 10)) return s;
  if (!tensor_arg(c, 0, &in) || !optional_tensor_arg(c, 1, &weight) || !optional_tensor_arg(c, 2, &bias) ||
      !bool_arg(c, 3, &training) || !scalar_arg(c, 4, &momentum) || !scalar_arg(c, 5, &eps) ||
      !tensor_arg(c, 6, &out) || !tensor_arg(c, 7, &save_mean) || !tensor_arg(c, 8, &save_invstd)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  (void)training;
  return batch_norm_training(c, in, weight, bias, nullptr, nullptr, momentum, eps, out, save_mean, save_invstd);
}

// aten::native_layer_norm.out(Tensor input, SymInt[] normalized_shape, Tensor? weight,
//     Tensor? bias, float eps, *, Tensor(a!) out0, Tensor(b!) out1, Tensor(c!) out2)
// Normalizes over the trailing normalized_shape dims; out1/out2 (mean, rstd) have the input's
// shape with those dims set to 1.
ETP_PORTABLE_KERNEL(native_layer_norm_out, "aten::native_layer_norm.out") {
  etp_tensor *in, *weight, *bias, *out, *mean_out, *rstd_out;
  const int64_t* shape;
  uint64_t count;
  double eps = 0;
  if (etp_status s = expect_args(c, 9)) return s;
  if (!tensor_arg(c, 0, &in) || !int_list_arg(c, 1, &shape, &count) || !optional_tensor_arg(c, 2, &weight) ||
      !optional_tensor_arg(c, 3, &bias) || !scalar_arg(c, 4, &eps) || !tensor_arg(c, 5, &out) ||
      !tensor_arg(c, 6, &mean_out) || !tensor_arg(c, 7, &rstd_out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  const int32_t nd = static_cast<int32_t>(count);
  if (count == 0 || count > static_cast<uint64_t>(in->rank)) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: normalized_shape of %llu dims for an input of rank %d", c.op,
                static_cast<unsigned long long>(count), in->rank);
  }
  const int32_t lead = in->rank - nd;
  for (int32_t k = 0; k < nd; ++k) {
    if (shape[k] != in->sizes[lead + k]) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: normalized_shape[%d] = %lld does not match input size %lld", c.op, k,
                  static_cast<long long>(shape[k]), static_cast<long long>(in->sizes[lead + k]));
    }
  }
  for (const etp_tensor* p : {static_cast<const etp_tensor*>(weight), static_cast<const etp_tensor*>(bias)}) {
    if (p == nullptr) continue;
    if (etp_status s = same_dtype(c, *p, in->dtype, p == weight ? "weight" : "bias")) return s;
    bool ok = p->rank == nd;
    for (int32_t k = 0; ok && k < nd; ++k) ok = p->sizes[k] == shape[k];
    if (!ok) return fail(c.host, ETP_ERR_SHAPE, "%s: weight and bias must have normalized_shape", c.op);
  }
  for (const etp_tensor* t : {static_cast<const etp_tensor*>(out), static_cast<const etp_tensor*>(mean_out),
                              static_cast<const etp_tensor*>(rstd_out)}) {
    if (etp_status s = same_dtype(c, *t, in->dtype, "an output")) return s;
  }
  int64_t stat_sizes[ETP_MAX_RANK] = {0};
  for (int32_t d = 0; d < in->rank; ++d) stat_sizes[d] = d < lead ? in->sizes[d] : 1;
  if (etp_status s = resize_out(c, out, in->rank, in->sizes)) return s;
  if (etp_status s = resize_out(c, mean_out, in->rank, stat_sizes, "out1 (mean)")) return s;
  if (etp_status s = resize_out(c, rstd_out, in->rank, stat_sizes, "out2 (rstd)")) return s;
  int64_t n = 1;
  for (int32_t k = 0; k < nd; ++k) n *= shape[k];
  static const int64_t kNoStrides[ETP_MAX_RANK] = {0};
  const int64_t* wstrides = weight ? weight->strides : kNoStrides;
  const int64_t* bstrides = bias ? bias->strides : kNoStrides;
  return dispatch_float(c, in->dtype, [&](auto tzero) {
    using T = decltype(tzero);
    const T* x = static_cast<const T*>(in->data);
    T* o = static_cast<T*>(out->data);
    T* mo = static_cast<T*>(mean_out->data);
    T* ro = static_cast<T*>(rstd_out->data);
    const T* w = weight ? static_cast<const T*>(weight->data) : nullptr;
    const T* b = bias ? static_cast<const T*>(bias->data) : nullptr;
    const int32_t rank = in->rank;
    // One normalized row per leading index; the four tensors are addressed by their strides.
    const int64_t* const row_strides[4] = {in->strides, out->strides, mean_out->strides, rstd_out->strides};
    const int64_t* const elem_strides[4] = {in->strides + lead, out->strides + lead, wstrides, bstrides};
    for_each_offsets<4>(lead, in->sizes, row_strides, [&](const int64_t* row) {
      const int64_t xb = row[0], ob = row[1], mb = row[2], rb = row[3];
      double sum = 0, sq = 0;
      for_each_strided(nd, in->sizes + lead, in->strides + lead, nullptr, nullptr,
                       [&](int64_t xo, int64_t, int64_t) { sum += static_cast<double>(x[xb + xo]); });
      const double mean = n > 0 ? sum / static_cast<double>(n) : 0.0;
      for_each_strided(nd, in->sizes + lead, in->strides + lead, nullptr, nullptr,
                       [&](int64_t xo, int64_t, int64_t) {
                         const double dv = static_cast<double>(x[xb + xo]) - mean;
                         sq += dv * dv;
                       });
      const double rstd = 1.0 / std::sqrt((n > 0 ? sq / static_cast<double>(n) : 0.0) + eps);
      mo[mb] = static_cast<T>(mean);
      ro[rb] = static_cast<T>(rstd);
      for_each_offsets<4>(rank - lead, in->sizes + lead, elem_strides, [&](const int64_t* e) {
        const int64_t xo = e[0], oo = e[1], wo = e[2], bo = e[3];
        double y = (static_cast<double>(x[xb + xo]) - mean) * rstd;
        if (w) y *= static_cast<double>(w[wo]);
        if (b) y += static_cast<double>(b[bo]);
        o[ob + oo] = static_cast<T>(y);
      });
    });
    return ETP_OK;
  });
}

// aten::native_group_norm.out(Tensor input, Tensor? weight, Tensor? bias, SymInt N, SymInt C,
//     SymInt HxW, int group, float eps, *, Tensor(a!) out0, Tensor(b!) out1, Tensor(c!) out2)
// input [N, C, *]; statistics per (n, group) over C/group channels and all spatial positions;
// out1/out2 (mean, rstd) have shape [N, group].
ETP_PORTABLE_KERNEL(native_group_norm_out, "aten::native_group_norm.out") {
  etp_tensor *in, *weight, *bias, *out, *mean_out, *rstd_out;
  int64_t N, C, HxW, group;
  double eps = 0;
  if (etp_status s = expect_args(c, 12)) return s;
  if (!tensor_arg(c, 0, &in) || !optional_tensor_arg(c, 1, &weight) || !optional_tensor_arg(c, 2, &bias) ||
      !int_arg(c, 3, &N) || !int_arg(c, 4, &C) || !int_arg(c, 5, &HxW) || !int_arg(c, 6, &group) ||
      !scalar_arg(c, 7, &eps) || !tensor_arg(c, 8, &out) || !tensor_arg(c, 9, &mean_out) ||
      !tensor_arg(c, 10, &rstd_out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (in->rank < 2) return fail(c.host, ETP_ERR_SHAPE, "%s: input must have rank >= 2", c.op);
  int64_t spatial = 1;  // the product of the dims after N and C (no division: N or C may be 0)
  for (int32_t d = 2; d < in->rank; ++d) spatial *= in->sizes[d];
  if (in->sizes[0] != N || in->sizes[1] != C || spatial != HxW) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: input shape does not match N=%lld, C=%lld, HxW=%lld", c.op,
                static_cast<long long>(N), static_cast<long long>(C), static_cast<long long>(HxW));
  }
  if (group <= 0 || C % group != 0) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: group %lld must divide C=%lld", c.op,
                static_cast<long long>(group), static_cast<long long>(C));
  }
  if (etp_status s = check_vector(c, weight, C, in->dtype, "weight")) return s;
  if (etp_status s = check_vector(c, bias, C, in->dtype, "bias")) return s;
  for (const etp_tensor* t : {static_cast<const etp_tensor*>(out), static_cast<const etp_tensor*>(mean_out),
                              static_cast<const etp_tensor*>(rstd_out)}) {
    if (etp_status s = same_dtype(c, *t, in->dtype, "an output")) return s;
  }
  const int64_t stat_sizes[2] = {N, group};
  if (etp_status s = resize_out(c, out, in->rank, in->sizes)) return s;
  if (etp_status s = resize_out(c, mean_out, 2, stat_sizes, "out1 (mean)")) return s;
  if (etp_status s = resize_out(c, rstd_out, 2, stat_sizes, "out2 (rstd)")) return s;
  const int64_t per_group = C / group, count = per_group * HxW;
  const int32_t srank = in->rank - 2;
  return dispatch_float(c, in->dtype, [&](auto tzero) {
    using T = decltype(tzero);
    const T* x = static_cast<const T*>(in->data);
    T* o = static_cast<T*>(out->data);
    T* mo = static_cast<T*>(mean_out->data);
    T* ro = static_cast<T*>(rstd_out->data);
    const Param w{weight}, b{bias};
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t g = 0; g < group; ++g) {
        double sum = 0, sq = 0;
        for (int64_t ch = g * per_group; ch < (g + 1) * per_group; ++ch) {
          const int64_t xb = n * in->strides[0] + ch * in->strides[1];
          for_each_strided(srank, in->sizes + 2, in->strides + 2, nullptr, nullptr,
                           [&](int64_t xo, int64_t, int64_t) { sum += static_cast<double>(x[xb + xo]); });
        }
        const double mean = count > 0 ? sum / static_cast<double>(count) : 0.0;
        for (int64_t ch = g * per_group; ch < (g + 1) * per_group; ++ch) {
          const int64_t xb = n * in->strides[0] + ch * in->strides[1];
          for_each_strided(srank, in->sizes + 2, in->strides + 2, nullptr, nullptr, [&](int64_t xo, int64_t, int64_t) {
            const double dv = static_cast<double>(x[xb + xo]) - mean;
            sq += dv * dv;
          });
        }
        const double rstd = 1.0 / std::sqrt((count > 0 ? sq / static_cast<double>(count) : 0.0) + eps);
        mo[n * mean_out->strides[0] + g * mean_out->strides[1]] = static_cast<T>(mean);
        ro[n * rstd_out->strides[0] + g * rstd_out->strides[1]] = static_cast<T>(rstd);
        for (int64_t ch = g * per_group; ch < (g + 1) * per_group; ++ch) {
          const int64_t xb = n * in->strides[0] + ch * in->strides[1];
          const int64_t ob = n * out->strides[0] + ch * out->strides[1];
          const double scale = rstd * static_cast<double>(w.at<T>(ch, 1));
          const double shift = static_cast<double>(b.at<T>(ch, 0)) - mean * scale;
          for_each_strided(srank, in->sizes + 2, in->strides + 2, out->strides + 2, nullptr,
                           [&](int64_t xo, int64_t oo, int64_t) {
                             o[ob + oo] = static_cast<T>(static_cast<double>(x[xb + xo]) * scale + shift);
                           });
        }
      }
    }
    return ETP_OK;
  });
}

}  // namespace

ETP_KERNEL_FAMILY(norm_kernels, ETP_ENTRY(batch_norm_no_training_out), ETP_ENTRY(native_layer_norm_out),
                  ETP_ENTRY(native_group_norm_out), ETP_ENTRY(batch_norm_legit_out),
                  ETP_ENTRY(batch_norm_legit_no_stats_out))

}  // namespace etp_portable
