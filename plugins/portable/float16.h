// float16 (IEEE binary16) and bfloat16 storage types with the arithmetic of PyTorch's c10::Half
// and c10::BFloat16, which ExecuTorch's kernels use: values convert exactly to float; a float
// converts back with round-to-nearest-even (NaN becomes the quiet NaN 0x7E00, keeping the sign, for
// float16, and 0x7FC0 for bfloat16); an operator on two values of one of these types computes in
// float and rounds the result back to the type, while an operator with a float or double operand
// gives a float or double. Matching this rounding step by step is what makes a Half kernel
// bit-exact against ExecuTorch's.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace etp_portable {

inline uint32_t float_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof(x));
  return x;
}
inline float bits_float(uint32_t x) {
  float f;
  std::memcpy(&f, &x, sizeof(f));
  return f;
}

// Rounds the unsigned value v >> shift to nearest, ties to even (shift in 1..31).
inline uint32_t shift_round_even(uint32_t v, uint32_t shift) {
  const uint32_t q = v >> shift, rem = v & ((1u << shift) - 1), half = 1u << (shift - 1);
  return q + ((rem > half || (rem == half && (q & 1))) ? 1 : 0);
}

inline uint16_t float_to_half_bits(float f) {
  const uint32_t x = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t a = x & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00;   // NaN
  if (a >= 0x477ff000) return sign | 0x7c00;  // >= 65520 rounds to infinity
  const uint32_t e = a >> 23;
  if (e >= 113) {  // a normal half: rebias the exponent and round 13 mantissa bits away
    return sign | static_cast<uint16_t>(shift_round_even(((e - 112) << 23) | (a & 0x7fffff), 13));
  }
  // A subnormal half (or zero): the value in units of 2^-24, rounded; may round up to 2^-14.
  const uint32_t shift = 126 - e;  // >= 14
  if (e == 0 || shift > 25) return sign;
  return sign | static_cast<uint16_t>(shift_round_even((a & 0x7fffff) | 0x800000, shift));
}

inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e == 0x1f) return bits_float(sign | 0x7f800000 | (m << 13));  // inf, NaN (payload kept)
  if (e != 0) return bits_float(sign | ((e + 112) << 23) | (m << 13));
  if (m == 0) return bits_float(sign);
  // Subnormal: m * 2^-24, exact in float.
  const float v = static_cast<float>(m) * (1.0f / 16777216.0f);
  return sign ? -v : v;
}

inline uint16_t float_to_bfloat16_bits(float f) {
  const uint32_t x = float_bits(f);
  if ((x & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return static_cast<uint16_t>((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}
inline float bfloat16_bits_to_float(uint16_t b) { return bits_float(static_cast<uint32_t>(b) << 16); }

// The two types share one template; Traits gives the conversions.
struct HalfTraits {
  static uint16_t from(float f) { return float_to_half_bits(f); }
  static float to(uint16_t b) { return half_bits_to_float(b); }
};
struct BFloat16Traits {
  static uint16_t from(float f) { return float_to_bfloat16_bits(f); }
  static float to(uint16_t b) { return bfloat16_bits_to_float(b); }
};

template <typename Traits>
struct Float16Type {
  uint16_t bits = 0;

  Float16Type() = default;
  // From float (rounded once); other arithmetic types go through float, as c10's constructors do.
  Float16Type(float f) : bits(Traits::from(f)) {}  // NOLINT(google-explicit-constructor)
  template <typename V, typename = std::enable_if_t<std::is_arithmetic_v<V> && !std::is_same_v<V, float>>>
  Float16Type(V v) : bits(Traits::from(static_cast<float>(v))) {}  // NOLINT(google-explicit-constructor)
  operator float() const { return Traits::to(bits); }  // NOLINT(google-explicit-constructor)

  static Float16Type from_bits(uint16_t b) {
    Float16Type t;
    t.bits = b;
    return t;
  }

// Each arithmetic operator, in c10's overload set: two values of the type compute in float and
// round back; with float or double the other operand's type wins; with an integer the value is
// first converted to this type.
#define ETP_FLOAT16_OPERATOR(op)                                                                        \
  friend Float16Type operator op(Float16Type a, Float16Type b) { return float(a) op float(b); }        \
  friend float operator op(Float16Type a, float b) { return float(a) op b; }                            \
  friend float operator op(float a, Float16Type b) { return a op float(b); }                            \
  friend double operator op(Float16Type a, double b) { return static_cast<double>(float(a)) op b; }     \
  friend double operator op(double a, Float16Type b) { return a op static_cast<double>(float(b)); }     \
  friend Float16Type operator op(Float16Type a, int b) { return a op Float16Type(b); }                  \
  friend Float16Type operator op(int a, Float16Type b) { return Float16Type(a) op b; }                  \
  friend Float16Type operator op(Float16Type a, int64_t b) { return a op Float16Type(b); }              \
  friend Float16Type operator op(int64_t a, Float16Type b) { return Float16Type(a) op b; }              \
  Float16Type& operator op##=(Float16Type b) { return *this = *this op b; }
  ETP_FLOAT16_OPERATOR(+)
  ETP_FLOAT16_OPERATOR(-)
  ETP_FLOAT16_OPERATOR(*)
  ETP_FLOAT16_OPERATOR(/)
#undef ETP_FLOAT16_OPERATOR
  friend Float16Type operator-(Float16Type a) { return -float(a); }
};

using Half = Float16Type<HalfTraits>;
using BFloat16 = Float16Type<BFloat16Traits>;
static_assert(sizeof(Half) == 2 && sizeof(BFloat16) == 2, "16-bit storage types");

template <typename T>
inline constexpr bool is_float16_type_v = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;
// Floating-point types including these two (std::is_floating_point must not be specialized).
template <typename T>
inline constexpr bool is_floating_v = std::is_floating_point_v<T> || is_float16_type_v<T>;

}  // namespace etp_portable

// numeric_limits for the two types, so kernels templated on the element type get the right
// infinities and extremes (the primary template would silently give zeros).
template <typename Traits>
class std::numeric_limits<etp_portable::Float16Type<Traits>> {
  using T = etp_portable::Float16Type<Traits>;
  static constexpr bool kHalf = std::is_same_v<Traits, etp_portable::HalfTraits>;

 public:
  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = true;
  static constexpr bool is_integer = false;
  static constexpr bool is_exact = false;
  static constexpr bool has_infinity = true;
  static constexpr bool has_quiet_NaN = true;
  static constexpr int digits = kHalf ? 11 : 8;
  static T min() { return T::from_bits(kHalf ? 0x0400 : 0x0080); }
  static T max() { return T::from_bits(kHalf ? 0x7bff : 0x7f7f); }
  static T lowest() { return T::from_bits(kHalf ? 0xfbff : 0xff7f); }
  static T epsilon() { return T::from_bits(kHalf ? 0x1400 : 0x3c00); }
  static T infinity() { return T::from_bits(kHalf ? 0x7c00 : 0x7f80); }
  static T quiet_NaN() { return T::from_bits(kHalf ? 0x7e00 : 0x7fc0); }
  static T denorm_min() { return T::from_bits(0x0001); }
};
