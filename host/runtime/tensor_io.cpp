#include "runtime/tensor_io.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "format/scalar_type.h"

namespace etp::runtime {
namespace {

// IEEE binary16 / bfloat16 bits as a double.
double half_value(uint16_t h) {
  const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31) return mantissa ? std::nan("") : sign * HUGE_VAL;
  return sign * std::ldexp(mantissa + 1024, exponent - 25);
}

double bfloat16_value(uint16_t b) {
  const uint32_t bits = uint32_t{b} << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

}  // namespace

bool has_numeric_value(int32_t dtype) {
  switch (dtype) {
    case ETP_DTYPE_FLOAT16: case ETP_DTYPE_BFLOAT16: case ETP_DTYPE_FLOAT32: case ETP_DTYPE_FLOAT64:
    case ETP_DTYPE_INT64: case ETP_DTYPE_INT32: case ETP_DTYPE_INT16: case ETP_DTYPE_INT8: case ETP_DTYPE_UINT8:
    case ETP_DTYPE_UINT16: case ETP_DTYPE_UINT32: case ETP_DTYPE_UINT64: case ETP_DTYPE_BOOL:
      return true;
    default:
      return false;
  }
}

double element_value(const void* data, int32_t dtype, int64_t i) {
  switch (dtype) {
    case ETP_DTYPE_FLOAT16: return half_value(static_cast<const uint16_t*>(data)[i]);
    case ETP_DTYPE_BFLOAT16: return bfloat16_value(static_cast<const uint16_t*>(data)[i]);
    case ETP_DTYPE_FLOAT32: return static_cast<const float*>(data)[i];
    case ETP_DTYPE_FLOAT64: return static_cast<const double*>(data)[i];
    case ETP_DTYPE_INT64: return static_cast<double>(static_cast<const int64_t*>(data)[i]);
    case ETP_DTYPE_INT32: return static_cast<const int32_t*>(data)[i];
    case ETP_DTYPE_INT16: return static_cast<const int16_t*>(data)[i];
    case ETP_DTYPE_INT8: return static_cast<const int8_t*>(data)[i];
    case ETP_DTYPE_UINT8: return static_cast<const uint8_t*>(data)[i];
    case ETP_DTYPE_UINT16: return static_cast<const uint16_t*>(data)[i];
    case ETP_DTYPE_UINT32: return static_cast<const uint32_t*>(data)[i];
    case ETP_DTYPE_UINT64: return static_cast<double>(static_cast<const uint64_t*>(data)[i]);
    case ETP_DTYPE_BOOL: return static_cast<const uint8_t*>(data)[i] ? 1 : 0;
    default: return std::nan("");
  }
}

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
      return Status(StatusCode::kNotSupported, "output of kind " + std::to_string(value.tag) + " cannot be an array");
  }
  const etp_tensor& t = *value.u.tensor;
  out.dtype = t.dtype;
  out.shape.assign(t.sizes, t.sizes + t.rank);
  out.data.resize(t.nbytes);
  if (t.nbytes > 0 && t.data == nullptr) return Status(StatusCode::kInvalidArgument, "output tensor has no data");
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
      char text[160];
      std::snprintf(text, sizeof(text), "element %lld: got %.9g, expected %.9g (rtol %g, atol %g)",
                    static_cast<long long>(n), g, w, rtol, atol);
      result.mismatch = text;
    }
  };
  if (got.tag != ETP_VALUE_TENSOR) {
    auto array = to_npy(got);
    if (!array.ok() || expected.data.empty() || !has_numeric_value(array->dtype) || !has_numeric_value(expected.dtype)) return {false, 0, "output is not comparable with the expected array"};
    check(0, element_value(array->data.data(), array->dtype, 0), element_value(expected.data.data(), expected.dtype, 0));
    return result;
  }
  const etp_tensor& t = *got.u.tensor;
  if (t.dtype != expected.dtype) {
    return {false, 0, std::string("dtype ") + format::scalar_type_name(t.dtype) + ", expected " +
                          format::scalar_type_name(expected.dtype)};
  }
  if (std::vector<int64_t>(t.sizes, t.sizes + t.rank) != expected.shape) return {false, 0, "shape differs from expected"};
  if (!has_numeric_value(t.dtype)) {
    return {false, 0, std::string("cannot compare dtype ") + format::scalar_type_name(t.dtype)};
  }
  for_each_element(t, [&](int64_t n, int64_t offset) {
    check(n, element_value(t.data, t.dtype, offset), element_value(expected.data.data(), expected.dtype, n));
  });
  return result;
}

}  // namespace etp::runtime
