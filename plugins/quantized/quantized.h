// Kernel families and shared arithmetic of the quantized plugin (ExecuTorch's quantized_decomposed
// operators). Plugin-private; built on portable's header-only helpers.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "float16.h"
#include "kernels.h"  // portable's ETP_PORTABLE_KERNEL, ETP_ENTRY and KernelFamily (its kernels are not linked)

namespace etp_quantized {

using etp_portable::KernelFamily;

KernelFamily quantize_kernels();   // quantize/dequantize per tensor, channel and token; add (quantize.cpp)
KernelFamily qparams_kernels();    // choose_qparams per tensor and per token (qparams.cpp)
KernelFamily embedding_kernels();  // embedding_byte, embedding_2bit, embedding_4bit (embedding.cpp)
KernelFamily mixed_kernels();      // mixed_mm, mixed_linear (mixed.cpp)

inline bool quantized_dtype(int32_t dtype) {
  return dtype == ETP_DTYPE_UINT8 || dtype == ETP_DTYPE_INT8 || dtype == ETP_DTYPE_UINT16 || dtype == ETP_DTYPE_INT16 ||
         dtype == ETP_DTYPE_INT32;
}

// Calls f(T{}) with the C++ type of a quantized dtype (quantized_dtype(dtype) must hold).
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

// Calls f(T{}) for float32, float16 or (when WithBFloat16) bfloat16: the parameter and output types
// of the embedding and mixed-precision operators. Other dtypes fail, naming `which`.
template <bool WithBFloat16, typename F>
etp_status dispatch_low_float(const etp_portable::Ctx& c, int32_t dtype, const char* which, F&& f) {
  if (dtype == ETP_DTYPE_FLOAT32) return f(float{});
  if (dtype == ETP_DTYPE_FLOAT16) return f(etp_portable::Half{});
  if constexpr (WithBFloat16) {
    if (dtype == ETP_DTYPE_BFLOAT16) return f(etp_portable::BFloat16{});
  }
  return etp_sdk::fail(c.host, ETP_ERR_DTYPE, "%s: %s has dtype %s, expected float32, float16%s", c.op, which,
                       etp_sdk::dtype_name(dtype), WithBFloat16 ? " or bfloat16" : "");
}

// The quantized value of `x`, as ExecuTorch's quantize_val: inv_scale = 1.0f / float(scale),
// q = clamp(int32(zero_point) + nearbyint(float(inv_scale * x)), quant_min, quant_max), the sum
// taken in float as ExecuTorch's int32 + float is. Sums beyond int64 saturate and NaN gives
// quant_min (what ExecuTorch's conversion yields on x86), so no conversion is undefined.
template <typename Q, typename X>
Q quantize_value(double scale, int64_t zero_point, X x, int64_t quant_min, int64_t quant_max) {
  const float inv_scale = 1.0f / static_cast<float>(scale);
  const float sum = static_cast<float>(static_cast<int32_t>(zero_point)) +
                    std::nearbyint(static_cast<float>(inv_scale * x));
  int64_t q = 0;
  if (sum >= 9.2e18f) {
    q = quant_max;
  } else if (sum <= -9.2e18f || sum != sum) {
    q = quant_min;
  } else {
    q = static_cast<int64_t>(sum);
  }
  q = std::max<int64_t>(q, quant_min);
  q = std::min<int64_t>(q, quant_max);
  return static_cast<Q>(q);
}

// A float parameter tensor's element `i` (contiguous storage), as float.
inline float float_param(const etp_tensor& t, int64_t i) {
  switch (t.dtype) {
    case ETP_DTYPE_FLOAT64: return static_cast<float>(static_cast<const double*>(t.data)[i]);
    case ETP_DTYPE_FLOAT16: return static_cast<const etp_portable::Half*>(t.data)[i];
    case ETP_DTYPE_BFLOAT16: return static_cast<const etp_portable::BFloat16*>(t.data)[i];
    default: return static_cast<const float*>(t.data)[i];
  }
}

// Fails unless `t` is stored densely in the default (row-major) order: parameters of these
// operators are indexed linearly.
inline etp_status check_row_major(const etp_portable::Ctx& c, const etp_tensor& t, const char* which) {
  int64_t expected = 1;
  for (int32_t d = t.rank - 1; d >= 0; --d) {
    if (t.sizes[d] != 1 && t.strides[d] != expected) {
      return etp_sdk::fail(c.host, ETP_ERR_SHAPE, "%s: %s must be contiguous in row-major order", c.op, which);
    }
    expected *= t.sizes[d];
  }
  return ETP_OK;
}

}  // namespace etp_quantized
