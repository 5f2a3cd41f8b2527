// quantized_decomposed::mixed_mm and mixed_linear: float (or float16) activations times int8
// weights with per-row (mm) or per-output-channel-group (linear) scales, in ExecuTorch's order of
// operations and accumulation types (so float16 runs round where its kernels round):
//   mixed_mm:     out[i][j] = sum_k (x[i][k] * T(w[k][j])) * s[k]             (w is [n, p])
//   mixed_linear: out[i][j] = sum_groups (sum_k x[i][k] * T(w[j][k])) * s[j][group]  (w is [p, n])
// Zero points are refused, as ExecuTorch does ("not supported yet").
#include <array>

#include "kernel_util.h"
#include "quantized.h"

namespace etp_quantized {
namespace {

using namespace etp_portable;

etp_status check_2d(const Ctx& c, const etp_tensor& t, const char* which) {
  if (t.rank != 2) return fail(c.host, ETP_ERR_SHAPE, "%s: %s must be 2-D, got rank %d", c.op, which, t.rank);
  return check_row_major(c, t, which);
}

// Shared checks: input [m, n] float32 or float16, int8 weight, scales of the input's dtype, no
// zero points.
etp_status check_common(const Ctx& c, const etp_tensor& in, const etp_tensor& weight, const etp_tensor& scales,
                        const etp_tensor* zero_points) {
  if (etp_status s = check_2d(c, in, "input")) return s;
  if (etp_status s = check_2d(c, weight, "weight")) return s;
  if (weight.dtype != ETP_DTYPE_INT8) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: weight has dtype %s, expected int8", c.op, etp_sdk::dtype_name(weight.dtype));
  }
  if (in.dtype != ETP_DTYPE_FLOAT32 && in.dtype != ETP_DTYPE_FLOAT16) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: input has dtype %s, expected float32 or float16", c.op,
                etp_sdk::dtype_name(in.dtype));
  }
  if (scales.dtype != in.dtype) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: weight_scales has dtype %s, expected the input's %s", c.op,
                etp_sdk::dtype_name(scales.dtype), etp_sdk::dtype_name(in.dtype));
  }
  if (zero_points != nullptr) {
    return fail(c.host, ETP_ERR_NOT_SUPPORTED, "%s: weight_zero_points are not supported (as in ExecuTorch)", c.op);
  }
  return check_row_major(c, scales, "weight_scales");
}

// quantized_decomposed::mixed_mm.out(Tensor input, Tensor weight, Tensor weight_scales,
//     Tensor? weight_zero_points, *, Tensor(a!) out): weight [n, p], scales [n], out of the input's dtype.
ETP_PORTABLE_KERNEL(mixed_mm_out, "quantized_decomposed::mixed_mm.out") {
  etp_tensor *in, *weight, *scales, *zero_points, *out;
  if (etp_status s = expect_args(c, 6)) return s;
  if (!tensor_arg(c, 0, &in) || !tensor_arg(c, 1, &weight) || !tensor_arg(c, 2, &scales) ||
      !optional_tensor_arg(c, 3, &zero_points) || !tensor_arg(c, 4, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_status s = check_common(c, *in, *weight, *scales, zero_points)) return s;
  const int64_t m = in->sizes[0], n = in->sizes[1], p = weight->sizes[1];
  if (weight->sizes[0] != n || scales->rank != 1 || scales->sizes[0] != n) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: expected weight [%lld, p] and weight_scales [%lld]", c.op,
                static_cast<long long>(n), static_cast<long long>(n));
  }
  if (out->dtype != in->dtype) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: out has dtype %s, expected the input's %s", c.op,
                etp_sdk::dtype_name(out->dtype), etp_sdk::dtype_name(in->dtype));
  }
  if (etp_status s = resize_out(c, out, 2, std::array<int64_t, 2>{m, p}.data())) return s;
  if (etp_status s = check_2d(c, *out, "out")) return s;
  return dispatch_low_float<false>(c, in->dtype, "input", [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(in->data);
    const int8_t* w = static_cast<const int8_t*>(weight->data);
    const T* s = static_cast<const T*>(scales->data);
    T* z = static_cast<T*>(out->data);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < p; ++j) {
        T sum = 0;
        for (int64_t k = 0; k < n; ++k) sum += x[i * n + k] * static_cast<T>(w[k * p + j]) * s[k];
        z[i * p + j] = sum;
      }
    }
    return ETP_OK;
  });
}

// quantized_decomposed::mixed_linear.out(Tensor input, Tensor weight, Tensor weight_scales,
//     Tensor? weight_zero_points, ScalarType? dtype=None, *, Tensor(a!) out): weight [p, n], scales [p] or
//     [p, groups]; out float32, float64 or float16 (accumulated in its type).
ETP_PORTABLE_KERNEL(mixed_linear_out, "quantized_decomposed::mixed_linear.out") {
  etp_tensor *in, *weight, *scales, *zero_points, *out;
  bool has_dtype = false;
  int64_t dtype = 0;
  if (etp_status s = expect_args(c, 7)) return s;
  if (!tensor_arg(c, 0, &in) || !tensor_arg(c, 1, &weight) || !tensor_arg(c, 2, &scales) ||
      !optional_tensor_arg(c, 3, &zero_points) || !optional_int_arg(c, 4, &has_dtype, &dtype) ||
      !tensor_arg(c, 5, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_status s = check_common(c, *in, *weight, *scales, zero_points)) return s;
  const int64_t m = in->sizes[0], n = in->sizes[1], p = weight->sizes[0];
  if (weight->sizes[1] != n || (scales->rank != 1 && scales->rank != 2) || scales->sizes[0] != p ||
      (scales->rank == 2 && scales->sizes[1] <= 0)) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: expected weight [p, %lld] and weight_scales [p] or [p, groups]", c.op,
                static_cast<long long>(n));
  }
  if (has_dtype && (dtype != out->dtype || (dtype != ETP_DTYPE_FLOAT32 && dtype != ETP_DTYPE_FLOAT16))) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: dtype %s must be float32 or float16 and match out's %s", c.op,
                etp_sdk::dtype_name(static_cast<int32_t>(dtype)), etp_sdk::dtype_name(out->dtype));
  }
  if (out->dtype != ETP_DTYPE_FLOAT32 && out->dtype != ETP_DTYPE_FLOAT64 && out->dtype != ETP_DTYPE_FLOAT16) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: out has dtype %s, expected float32, float64 or float16", c.op,
                etp_sdk::dtype_name(out->dtype));
  }
  if (etp_status s = resize_out(c, out, 2, std::array<int64_t, 2>{m, p}.data())) return s;
  if (etp_status s = check_2d(c, *out, "out")) return s;
  // ExecuTorch's group size g and groups per row (the last group may be short). Rows of scales
  // are read `per_row` apart, as ExecuTorch's vec_quantized_matmul_transb_int8 does, even where
  // that is fewer than the scales' second dim (n 10 over 6 groups: g 2, 5 per row); it stays in
  // bounds, and matching it keeps results identical.
  const int64_t g = scales->rank == 2 ? (n + scales->sizes[1] - 1) / scales->sizes[1] : n;
  const int64_t per_row = g == 0 ? 0 : (n + g - 1) / g;
  return dispatch_low_float<false>(c, in->dtype, "input", [&](auto in_zero) {
    using U = decltype(in_zero);
    auto run = [&](auto out_zero) {
      using T = decltype(out_zero);
      const U* x = static_cast<const U*>(in->data);
      const int8_t* w = static_cast<const int8_t*>(weight->data);
      const U* s = static_cast<const U*>(scales->data);
      T* z = static_cast<T*>(out->data);
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < p; ++j) {
          T sum = 0;
          for (int64_t k = 0; k < n; k += g) {
            T partial = 0;
            for (int64_t k2 = k; k2 < std::min(k + g, n); ++k2) partial += x[i * n + k2] * static_cast<U>(w[j * n + k2]);
            sum += partial * s[j * per_row + k / g];
          }
          z[i * p + j] = sum;
        }
      }
      return ETP_OK;
    };
    switch (out->dtype) {
      case ETP_DTYPE_FLOAT64: return run(double{});
      case ETP_DTYPE_FLOAT16: return run(Half{});
      default: return run(float{});
    }
  });
}

}  // namespace

ETP_KERNEL_FAMILY(mixed_kernels, ETP_ENTRY(mixed_mm_out), ETP_ENTRY(mixed_linear_out))

}  // namespace etp_quantized
