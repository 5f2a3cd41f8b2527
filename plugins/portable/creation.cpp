// Tensor creation: full/zeros/ones (and their _like forms), scalar_tensor, fill and arange.
// The output's dtype and dim order are the planned ones; *_like copies only the shape, so a
// memory_format argument is accepted and ignored.
#include <cmath>

#include "kernels.h"
#include "pointwise_util.h"

namespace etp_portable {
namespace {

// Checks that `value` can be stored in `dtype` without silently changing kind or range
// (ExecuTorch refuses a floating fill for an integer tensor and out-of-range integers).
etp_status check_fill(const Ctx& c, const Scalar& value, int32_t dtype) {
  if (!is_supported_dtype(dtype)) return dtype_error(c, "output", dtype);
  if (!is_integral_dtype(dtype)) return ETP_OK;
  if (value.tag == ETP_VALUE_DOUBLE) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: a floating-point fill value needs a floating-point output, not %s", c.op,
                etp_sdk::dtype_name(dtype));
  }
  const int64_t v = value.as<int64_t>();
  int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  switch (dtype) {
    case ETP_DTYPE_UINT8: lo = 0, hi = 255; break;
    case ETP_DTYPE_INT8: lo = -128, hi = 127; break;
    case ETP_DTYPE_INT16: lo = -32768, hi = 32767; break;
    case ETP_DTYPE_INT32: lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max(); break;
    default: break;
  }
  if (v < lo || v > hi) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: fill value %lld is out of range for %s", c.op,
                static_cast<long long>(v), etp_sdk::dtype_name(dtype));
  }
  return ETP_OK;
}

// Stores `value` into every element of `out` (dense storage, so any dim order).
void fill_all(etp_tensor* out, const Scalar& value) {
  const int64_t n = etp_sdk::numel(*out);
  if (is_float_dtype(out->dtype) || out->dtype == ETP_DTYPE_BOOL) {
    const double v = value.as_double();  // bool: any nonzero value is true
    for (int64_t i = 0; i < n; ++i) store(*out, i, v);
  } else {
    const int64_t v = value.as<int64_t>();
    for (int64_t i = 0; i < n; ++i) store(*out, i, v);
  }
}

// Resizes `out` to `sizes` (rejecting negative sizes) and fills it.
etp_status fill_shape(const Ctx& c, etp_tensor* out, int32_t rank, const int64_t* sizes, const Scalar& value) {
  if (rank > ETP_MAX_RANK) return fail(c.host, ETP_ERR_SHAPE, "%s: rank %d exceeds %d", c.op, rank, ETP_MAX_RANK);
  for (int32_t d = 0; d < rank; ++d) {
    if (sizes[d] < 0) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: size %lld at dim %d is negative", c.op,
                  static_cast<long long>(sizes[d]), d);
    }
  }
  if (etp_status s = check_fill(c, value, out->dtype)) return s;
  if (etp_status s = resize_out(c, out, rank, sizes)) return s;
  fill_all(out, value);
  return ETP_OK;
}

Scalar int_scalar(int64_t v) {
  Scalar s;
  s.tag = ETP_VALUE_INT;
  s.i = v;
  return s;
}

// (SymInt[] size, [Scalar fill_value,] *, Tensor(a!) out)
etp_status sized(const Ctx& c, uint32_t n, const Scalar* constant) {
  const int64_t* sizes = nullptr;
  uint64_t rank = 0;
  Scalar value;
  etp_tensor* out;
  if (etp_status s = expect_args(c, n)) return s;
  if (!int_list_arg(c, 0, &sizes, &rank) || !tensor_arg(c, n - 2, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (constant) value = *constant;
  else if (!read_scalar(c, 1, &value)) return ETP_ERR_INVALID_ARGUMENT;
  if (rank > ETP_MAX_RANK) return fail(c.host, ETP_ERR_SHAPE, "%s: rank %llu exceeds %d", c.op,
                                       static_cast<unsigned long long>(rank), ETP_MAX_RANK);
  return fill_shape(c, out, static_cast<int32_t>(rank), sizes, value);
}

// (Tensor self, [Scalar fill_value,] *, MemoryFormat? memory_format=None, Tensor(a!) out), or
// fill.Scalar_out's (Tensor self, Scalar value, *, Tensor(a!) out).
etp_status like(const Ctx& c, uint32_t n, const Scalar* constant) {
  etp_tensor *self, *out;
  Scalar value;
  if (etp_status s = expect_args(c, n)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, n - 2, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (constant) value = *constant;
  else if (!read_scalar(c, 1, &value)) return ETP_ERR_INVALID_ARGUMENT;
  return fill_shape(c, out, self->rank, self->sizes, value);
}

const Scalar kZero = int_scalar(0), kOne = int_scalar(1);

// aten::full.out(SymInt[] size, Scalar fill_value, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(full_out, "aten::full.out") { return sized(c, 4, nullptr); }
// aten::zeros.out(SymInt[] size, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(zeros_out, "aten::zeros.out") { return sized(c, 3, &kZero); }
// aten::ones.out(SymInt[] size, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(ones_out, "aten::ones.out") { return sized(c, 3, &kOne); }
// aten::full_like.out(Tensor self, Scalar fill_value, *, MemoryFormat? memory_format=None, Tensor(a!) out)
ETP_PORTABLE_KERNEL(full_like_out, "aten::full_like.out") { return like(c, 5, nullptr); }
// aten::zeros_like.out(Tensor self, *, MemoryFormat? memory_format=None, Tensor(a!) out)
ETP_PORTABLE_KERNEL(zeros_like_out, "aten::zeros_like.out") { return like(c, 4, &kZero); }
// aten::ones_like.out(Tensor self, *, MemoryFormat? memory_format=None, Tensor(a!) out)
ETP_PORTABLE_KERNEL(ones_like_out, "aten::ones_like.out") { return like(c, 4, &kOne); }
// aten::fill.Scalar_out(Tensor self, Scalar value, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(fill_scalar_out, "aten::fill.Scalar_out") { return like(c, 4, nullptr); }

// aten::scalar_tensor.out(Scalar s, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(scalar_tensor_out, "aten::scalar_tensor.out") {
  etp_tensor* out;
  Scalar value;
  if (etp_status s = expect_args(c, 3)) return s;
  if (!read_scalar(c, 0, &value) || !tensor_arg(c, 1, &out)) return ETP_ERR_INVALID_ARGUMENT;
  return fill_shape(c, out, 0, nullptr, value);
}

// start, start + step, ... up to but excluding end, computed in double and stored in out's
// dtype; the length is ceil((end - start) / step).
etp_status arange(const Ctx& c, double start, double end, double step, etp_tensor* out) {
  if (!is_supported_dtype(out->dtype) || out->dtype == ETP_DTYPE_BOOL) return dtype_error(c, "output", out->dtype);
  if (step == 0 || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step)) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: start, end and step must be finite and step nonzero", c.op);
  }
  const double length = std::ceil((end - start) / step);
  if (length < 0) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: the range [%g, %g) is inconsistent with step %g", c.op, start,
                end, step);
  }
  if (length > 9.0e18) return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: the range is too long", c.op);
  const int64_t n = static_cast<int64_t>(length);
  if (etp_status s = resize_out(c, out, 1, &n)) return s;
  for (int64_t i = 0; i < n; ++i) store(*out, i * out->strides[0], start + static_cast<double>(i) * step);
  return ETP_OK;
}

// aten::arange.out(Scalar end, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(arange_out, "aten::arange.out") {
  etp_tensor* out;
  double end = 0;
  if (etp_status s = expect_args(c, 3)) return s;
  if (!scalar_arg(c, 0, &end) || !tensor_arg(c, 1, &out)) return ETP_ERR_INVALID_ARGUMENT;
  return arange(c, 0, end, 1, out);
}

// aten::arange.start_out(Scalar start, Scalar end, Scalar step=1, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(arange_start_out, "aten::arange.start_out") {
  etp_tensor* out;
  double start = 0, end = 0, step = 1;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!scalar_arg(c, 0, &start) || !scalar_arg(c, 1, &end) || !scalar_arg(c, 2, &step) || !tensor_arg(c, 3, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  return arange(c, start, end, step, out);
}

}  // namespace

ETP_KERNEL_FAMILY(creation_kernels, ETP_ENTRY(full_out), ETP_ENTRY(full_like_out), ETP_ENTRY(zeros_out),
                  ETP_ENTRY(ones_out), ETP_ENTRY(zeros_like_out), ETP_ENTRY(ones_like_out),
                  ETP_ENTRY(scalar_tensor_out), ETP_ENTRY(arange_out), ETP_ENTRY(arange_start_out),
                  ETP_ENTRY(fill_scalar_out))

}  // namespace etp_portable
