// Moving values between methods and .npy arrays: inputs in, outputs out (in logical
// row-major order whatever the dim order), and comparison against expected arrays.
#pragma once

#include <string>

#include "core/npy.h"
#include "etp_plugin.h"
#include "runtime/method.h"

namespace etp::runtime {

// A view of `array` as a method input (borrowed; keep the array alive while it is used).
TensorInput as_input(const NpyArray& array);

// Copies an output value to an array: tensors in logical order, Int/Double/Bool as 0-d arrays.
Result<NpyArray> to_npy(const etp_value& value);

// Element i of `data` (dtype `dtype`) as a double; NaN for dtypes without a numeric value
// (has_numeric_value false: quantized and complex types).
double element_value(const void* data, int32_t dtype, int64_t i);
bool has_numeric_value(int32_t dtype);

struct Comparison {
  bool ok = true;
  double max_abs_error = 0;
  std::string mismatch;  // first failing element, shape or dtype problem, for messages
};

// Compares a method output with an expected array: same dtype and shape, then every element
// |got - want| <= atol + rtol * |want| (NaN equals only NaN).
Comparison compare(const etp_value& got, const NpyArray& expected, double rtol, double atol);

}  // namespace etp::runtime
