// quantized_decomposed::choose_qparams (per tensor) and choose_qparams_per_token_asymmetric: the
// scale and zero point that map the range of float32 values [min(x, 0), max(x, 0)] onto
// [quant_min, quant_max], with ExecuTorch's arithmetic step for step (scale in double, a floor of
// 6.1e-5 on the scale that widens the range, the zero point taken from whichever end loses less
// and rounded half to even), so the dynamic-quantization programs are bit-exact. ExecuTorch aborts
// on a NaN or infinite input; here that is an error naming the operator.
#include <cmath>
#include <cstdlib>

#include "kernel_util.h"
#include "quantized.h"

namespace etp_quantized {
namespace {

using namespace etp_portable;

constexpr float kSmallScale = 6.1e-5f;

// min and max as std::min_element / std::max_element find them (the first extreme, compared
// with <), which is what ExecuTorch uses.
void min_max(const float* x, int64_t n, float* lo, float* hi) {
  *lo = *hi = x[0];
  for (int64_t i = 1; i < n; ++i) {
    if (x[i] < *lo) *lo = x[i];
    if (*hi < x[i]) *hi = x[i];
  }
}

etp_status scale_and_zero_point(const Ctx& c, float min, float max, int32_t qmin, int32_t qmax, double* scale_out,
                                int64_t* zero_point_out) {
  if (!std::isfinite(min) || !std::isfinite(max)) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: input holds a non-finite value (range [%g, %g])", c.op,
                static_cast<double>(min), static_cast<double>(max));
  }
  min = std::min(min, 0.f);
  max = std::max(max, 0.f);
  // The range in int64/double: ExecuTorch's int32 qmax - qmin overflows for the widest ranges.
  const int64_t levels = static_cast<int64_t>(qmax) - qmin;
  double scale = (static_cast<double>(max) - min) / static_cast<double>(levels);
  if (static_cast<float>(scale) == 0.0f || std::isinf(1.0f / static_cast<float>(scale))) scale = 0.1;
  if (scale < kSmallScale) {
    const float original = static_cast<float>(scale);
    scale = kSmallScale;
    if (min == 0.0f) {
      max = kSmallScale * static_cast<float>(levels);
    } else if (max == 0.0f) {
      min = -kSmallScale * static_cast<float>(levels);
    } else {
      const float amplifier = kSmallScale / original;
      min *= amplifier;
      max *= amplifier;
    }
  }
  const double from_min = qmin - min / scale, from_max = qmax - max / scale;
  const double error_min = std::abs(static_cast<double>(qmin)) - std::abs(min / scale),
               error_max = std::abs(static_cast<double>(qmax)) - std::abs(max / scale);
  const double initial = error_min < error_max ? from_min : from_max;
  int32_t zero_point = 0;
  if (initial < qmin) {
    zero_point = qmin;
  } else if (initial > qmax) {
    zero_point = qmax;
  } else {
    // Rounded in float as ExecuTorch does; float rounding can land just outside int32's range
    // (2147483647 becomes 2^31), so clamp before converting.
    const float rounded = std::nearbyint(static_cast<float>(initial));
    zero_point = rounded >= static_cast<float>(qmax) ? qmax
                 : rounded <= static_cast<float>(qmin) ? qmin
                                                       : static_cast<int32_t>(rounded);
  }
  *scale_out = scale;
  *zero_point_out = zero_point;
  return ETP_OK;
}

// Checks shared by both operators: a float32 input, float64 scales, int64 zero points.
etp_status check_args(const Ctx& c, const etp_tensor& in, int64_t qmin, int64_t qmax, const etp_tensor& scale,
                      const etp_tensor& zero_point) {
  if (qmin >= qmax || qmin < std::numeric_limits<int32_t>::min() || qmax > std::numeric_limits<int32_t>::max()) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: quant_min %lld must be below quant_max %lld (both int32)", c.op,
                static_cast<long long>(qmin), static_cast<long long>(qmax));
  }
  if (in.dtype != ETP_DTYPE_FLOAT32) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: input has dtype %s, expected float32", c.op, etp_sdk::dtype_name(in.dtype));
  }
  if (scale.dtype != ETP_DTYPE_FLOAT64 || zero_point.dtype != ETP_DTYPE_INT64) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: scale and zero point outputs must be float64 and int64, got %s and %s", c.op,
                etp_sdk::dtype_name(scale.dtype), etp_sdk::dtype_name(zero_point.dtype));
  }
  if (etp_sdk::numel(in) == 0) return fail(c.host, ETP_ERR_SHAPE, "%s: input is empty", c.op);
  return check_row_major(c, in, "input");
}

// quantized_decomposed::choose_qparams.Tensor_out(Tensor input, int quant_min, int quant_max, float eps,
//     ScalarType dtype, *, Tensor(a!) scale_out, Tensor(b!) zero_point_out); eps and dtype are unused,
//     as in ExecuTorch.
ETP_PORTABLE_KERNEL(choose_qparams_tensor_out, "quantized_decomposed::choose_qparams.Tensor_out") {
  etp_tensor *in, *scale, *zero_point;
  int64_t qmin = 0, qmax = 0;
  if (etp_status s = expect_args(c, 8)) return s;
  if (!tensor_arg(c, 0, &in) || !int_arg(c, 1, &qmin) || !int_arg(c, 2, &qmax) || !tensor_arg(c, 5, &scale) ||
      !tensor_arg(c, 6, &zero_point)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_status s = check_args(c, *in, qmin, qmax, *scale, *zero_point)) return s;
  if (etp_sdk::numel(*scale) != 1 || etp_sdk::numel(*zero_point) != 1) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: scale_out and zero_point_out must hold one element each", c.op);
  }
  float lo = 0, hi = 0;
  min_max(static_cast<const float*>(in->data), etp_sdk::numel(*in), &lo, &hi);
  return scale_and_zero_point(c, lo, hi, static_cast<int32_t>(qmin), static_cast<int32_t>(qmax),
                              static_cast<double*>(scale->data), static_cast<int64_t*>(zero_point->data));
}

// quantized_decomposed::choose_qparams_per_token_asymmetric.out(Tensor input, ScalarType dtype, *,
//     Tensor(a!) scale_out, Tensor(b!) zero_point_out): one scale and zero point per row over the last
//     dim, for [-128, 127] whatever `dtype` says (as in ExecuTorch); the outputs take the input's shape
//     with a last dim of 1.
ETP_PORTABLE_KERNEL(choose_qparams_per_token_out, "quantized_decomposed::choose_qparams_per_token_asymmetric.out") {
  etp_tensor *in, *scale, *zero_point;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &in) || !tensor_arg(c, 2, &scale) || !tensor_arg(c, 3, &zero_point)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  constexpr int32_t qmin = -128, qmax = 127;
  if (in->rank == 0) return fail(c.host, ETP_ERR_SHAPE, "%s: input must have at least one dim", c.op);
  if (etp_status s = check_args(c, *in, qmin, qmax, *scale, *zero_point)) return s;
  int64_t sizes[ETP_MAX_RANK];
  for (int32_t d = 0; d < in->rank; ++d) sizes[d] = in->sizes[d];
  sizes[in->rank - 1] = 1;
  if (etp_status s = resize_out(c, scale, in->rank, sizes, "scale_out")) return s;
  if (etp_status s = resize_out(c, zero_point, in->rank, sizes, "zero_point_out")) return s;
  if (etp_status s = check_row_major(c, *scale, "scale_out")) return s;
  if (etp_status s = check_row_major(c, *zero_point, "zero_point_out")) return s;
  const int64_t row = in->sizes[in->rank - 1], rows = etp_sdk::numel(*in) / row;
  const float* x = static_cast<const float*>(in->data);
  double* scales = static_cast<double*>(scale->data);
  int64_t* zero_points = static_cast<int64_t*>(zero_point->data);
  for (int64_t r = 0; r < rows; ++r) {
    float lo = 0, hi = 0;
    min_max(x + r * row, row, &lo, &hi);
    if (etp_status s = scale_and_zero_point(c, lo, hi, qmin, qmax, &scales[r], &zero_points[r])) return s;
  }
  return ETP_OK;
}

}  // namespace

ETP_KERNEL_FAMILY(qparams_kernels, ETP_ENTRY(choose_qparams_tensor_out), ETP_ENTRY(choose_qparams_per_token_out))

}  // namespace etp_quantized
