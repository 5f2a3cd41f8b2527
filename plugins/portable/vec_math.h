// Float math written so that GCC and clang vectorize the loops that call it: no calls into libm,
// no branches, bit moves through memcpy, always inlined (a call in the loop keeps it scalar).
// The plugin is compiled with -fno-trapping-math, which lets the compiler turn the selects below
// into vector blends; it changes no result.
// Header-only, plugin-private.
#pragma once

#include <cmath>
#include <cstdint>

#include "float16.h"  // float_bits, bits_float

namespace etp_portable {

// exp(t) for t <= 0 (or NaN), within 1.3 ulp of the exact value (PortableVecMathTest checks every
// 509th float bit pattern against double exp). Subnormal results are rounded once, as libm does.
//
// t = n*ln2 + f with |f| <= ln2/2 (Cody-Waite: ln2 split so that n*ln2_hi is exact for n up to
// 2^8), exp(f) by its Taylor series to f^7 (truncation below 0.05 ulp on that interval), and
// 2^n applied as two factors 2^(n/2) * 2^(n-n/2) so that n down to -150 needs no subnormal
// exponent field.
[[gnu::always_inline]] inline float exp_nonpositive(float t) {
  t = t < -104.0f ? -104.0f : t;         // exp(-104) is below half the least subnormal: 0. NaN stays.
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float r = t * 1.44269504088896341f + kRound;
  const float n = r - kRound;
  const int32_t ni = static_cast<int32_t>(float_bits(r) - float_bits(kRound));
  float f = t - n * 0.693145751953125f;    // ln2's leading 16 bits
  f = f - n * 1.42860682030941723212e-6f;  // the rest of ln2
  float p = 1.0f / 5040.0f;
  p = p * f + 1.0f / 720.0f;
  p = p * f + 1.0f / 120.0f;
  p = p * f + 1.0f / 24.0f;
  p = p * f + 1.0f / 6.0f;
  p = p * f + 0.5f;
  p = p * f + 1.0f;
  p = p * f + 1.0f;
  const int32_t n1 = ni / 2, n2 = ni - n1;  // both in [-75, 0]
  return p * bits_float(static_cast<uint32_t>(n1 + 127) << 23) * bits_float(static_cast<uint32_t>(n2 + 127) << 23);
}

// 1 / (1 + exp(-x)) through exp(-|x|), so large |x| neither overflows nor loses its tail:
// e / (1 + e) for negative x. Same formula as the double path; the exp differs from libm's
// by at most an ulp, the result by at most 2.5 ulp from the exact value as libm's does.
[[gnu::always_inline]] inline float sigmoid_float(float x) {
  const float e = exp_nonpositive(-std::fabs(x));
  return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

}  // namespace etp_portable
