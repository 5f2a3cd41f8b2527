#include "runtime/tensor_io.h"

#include <cmath>
#include <cstring>

#include "format/scalar_type.h"

namespace etp::runtime {
namespace {

double element(const void* data, int32_t dtype, int64_t i) {
  switch (dtype) {
    case ETP_DTYPE_FLOAT32: return static_cast<const float*>(data)[i];
    case ETP_DTYPE_FLOAT64: return static_cast<const double*>(data)[i];
    case ETP_DTYPE_INT64: return static_cast<double>(static_cast<const int64_t*>(data)[i]);
    case ETP_DTYPE_INT32: return static_cast<const int32_t*>(data)[i];
    case ETP_DTYPE_INT16: return static_cast<const int16_t*>(data)[i];
    case ETP_DTYPE_INT8: return static_cast<const int8_t*>(data)[i];
    case ETP_DTYPE_UINT8: return static_cast<const uint8_t*>(data)[i];
    case ETP_DTYPE_BOOL: return static_cast<const bool*>(data)[i] ? 1 : 0;
    default: return std::nan("");
  }
}

}  // namespace

TensorInput as_input(const NpyArray& array) { return {array.dtype, array.shape, array.data.data(), array.data.size()}; }

Result<NpyArray> to_npy(const etp_value& value) {
  NpyArray out;
  auto scalar = [&](int32_t dtype, const void* bytes, size_t size) {
    out.dtype = dtype;
    out.data.assign(static_cast<const uint8_t*>(bytes), static_cast<const uint8_t*>(bytes) + size);
  };
  switch (value.tag) {
    case ETP_VALUE_INT: scalar(ETP_DTYPE_INT64, &value.u.i, 8); return out;
    case ETP_VALUE_DOUBLE: scalar(ETP_DTYPE_FLOAT64, &value.u.d, 8); return out;
    case ETP_VALUE_BOOL: scalar(ETP_DTYPE_BOOL, &value.u.b, 1); return out;
    case ETP_VALUE_TENSOR: break;
    default:
      return Error(ErrorCode::kNotSupported, "output of kind " + std::to_string(value.tag) + " cannot be an array");
  }
  const etp_tensor& t = *value.u.tensor;
  out.dtype = t.dtype;
  out.shape.assign(t.sizes, t.sizes + t.rank);
  out.data.resize(t.nbytes);
  if (t.nbytes > 0 && t.data == nullptr) return Error(ErrorCode::kInvalidArgument, "output tensor has no data");
  copy_logical(t, static_cast<const uint8_t*>(t.data), out.data.data(), /*to_tensor=*/false);
  return out;
}

Comparison compare(const etp_value& got, const NpyArray& expected, double rtol, double atol) {
  Comparison result;
  auto check = [&](int64_t n, double g, double w) {
    const bool same = (std::isnan(g) && std::isnan(w)) || std::fabs(g - w) <= atol + rtol * std::fabs(w);
    if (!std::isnan(g - w)) result.max_abs_error = std::max(result.max_abs_error, std::fabs(g - w));
    if (!same && result.ok) {
      result.ok = false;
      result.mismatch = "element " + std::to_string(n) + ": got " + std::to_string(g) + ", expected " +
                        std::to_string(w) + " (rtol " + std::to_string(rtol) + ", atol " + std::to_string(atol) + ")";
    }
  };
  if (got.tag != ETP_VALUE_TENSOR) {
    auto array = to_npy(got);
    if (!array.ok() || expected.data.empty()) return {false, 0, "output is not comparable with the expected array"};
    check(0, element(array->data.data(), array->dtype, 0), element(expected.data.data(), expected.dtype, 0));
    return result;
  }
  const etp_tensor& t = *got.u.tensor;
  if (t.dtype != expected.dtype) {
    return {false, 0, std::string("dtype ") + format::scalar_type_name(t.dtype) + ", expected " +
                          format::scalar_type_name(expected.dtype)};
  }
  if (std::vector<int64_t>(t.sizes, t.sizes + t.rank) != expected.shape) return {false, 0, "shape differs from expected"};
  for_each_element(t, [&](int64_t n, int64_t offset) {
    check(n, element(t.data, t.dtype, offset), element(expected.data.data(), expected.dtype, n));
  });
  return result;
}

}  // namespace etp::runtime
