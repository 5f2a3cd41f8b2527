// The float16 and bfloat16 storage types (plugins/portable/float16.h): exhaustive round trips,
// round-to-nearest-even at every boundary that matters (ties, overflow, subnormals), NaN, and
// c10's rule that arithmetic on two such values rounds its float result back.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "float16.h"

namespace etp_portable {
namespace {

float f(uint32_t bits) { return bits_float(bits); }

TEST(Float16Test, EveryHalfRoundTripsThroughFloat) {
  for (uint32_t b = 0; b <= 0xffff; ++b) {
    const float v = half_bits_to_float(static_cast<uint16_t>(b));
    if (std::isnan(v)) {
      EXPECT_EQ(float_to_half_bits(v) & 0x7fff, 0x7e00u) << b;
      continue;
    }
    EXPECT_EQ(float_to_half_bits(v), b) << std::hex << b;
  }
}

TEST(Float16Test, HalfRoundsToNearestEven) {
  EXPECT_EQ(float_to_half_bits(1.0f), 0x3c00);
  // Between 1 and the next half (1 + 2^-10): the midpoint goes to even (1), just above it up.
  EXPECT_EQ(float_to_half_bits(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(float_to_half_bits(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3c01);
  EXPECT_EQ(float_to_half_bits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie, odd below: up
  EXPECT_EQ(float_to_half_bits(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half_bits(65519.99f), 0x7bff);
  EXPECT_EQ(float_to_half_bits(65520.0f), 0x7c00);  // the tie above the largest half: infinity
  EXPECT_EQ(float_to_half_bits(-1e30f), 0xfc00);
  EXPECT_EQ(float_to_half_bits(INFINITY), 0x7c00);
  // Subnormals: 2^-24 is the smallest; 2^-25 ties to zero; just above it rounds up.
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(float_to_half_bits(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(float_to_half_bits(3 * std::ldexp(1.0f, -25)), 0x0002);  // 1.5 units: tie to even
  EXPECT_EQ(float_to_half_bits(-std::ldexp(1.0f, -26)), 0x8000);
  EXPECT_EQ(float_to_half_bits(f(0x00000001)), 0x0000);  // float subnormal
  // The largest subnormal rounds up into the smallest normal.
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -26)), 0x0400);
  EXPECT_EQ(float_to_half_bits(-NAN) , 0xfe00);
  EXPECT_EQ(float_to_half_bits(NAN), 0x7e00);
}

TEST(Float16Test, EveryBFloat16RoundTripsAndFloatsRoundToNearestEven) {
  for (uint32_t b = 0; b <= 0xffff; ++b) {
    const float v = bfloat16_bits_to_float(static_cast<uint16_t>(b));
    EXPECT_EQ(float_to_bfloat16_bits(v), std::isnan(v) ? 0x7fc0u : b) << std::hex << b;
  }
  EXPECT_EQ(float_to_bfloat16_bits(f(0x3f808000)), 0x3f80);  // tie, even below
  EXPECT_EQ(float_to_bfloat16_bits(f(0x3f818000)), 0x3f82);  // tie, odd below: up
  EXPECT_EQ(float_to_bfloat16_bits(f(0x3f808001)), 0x3f81);
  EXPECT_EQ(float_to_bfloat16_bits(f(0x7f7fffff)), 0x7f80);  // FLT_MAX rounds to infinity
}

TEST(Float16Test, ArithmeticOnTwoValuesRoundsBackLikeC10) {
  const Half a = 1.0f, b = std::ldexp(1.0f, -11);  // b is exact in half (a subnormal-free small value)
  // In float 1 + 2^-11 is exact; rounded back to half it is 1 (tie to even).
  EXPECT_EQ((a + b).bits, 0x3c00);
  const float wide = a + 0.00048828125f;  // with a float operand the result stays float
  EXPECT_EQ(wide, 1.00048828125f);
  Half sum = 0;
  for (int i = 0; i < 4; ++i) sum += b;  // each step rounds: 4 * 2^-11 is exact anyway
  EXPECT_EQ(static_cast<float>(sum), std::ldexp(1.0f, -9));
  EXPECT_EQ(static_cast<float>(Half(3) * Half(0.5f)), 1.5f);
  EXPECT_EQ((Half(2049) - 0).bits, float_to_half_bits(2048.0f)) << "2049 is not a half; int converts first";
  const BFloat16 x = 1.0f;
  EXPECT_EQ((x + BFloat16(std::ldexp(1.0f, -8))).bits, 0x3f80);  // 1 + 2^-8 ties to 1
}

// Kernels templated on the element type take extremes from numeric_limits (max pooling starts
// at -infinity); the primary template would give zeros.
TEST(Float16Test, NumericLimitsAreSpecialized) {
  EXPECT_EQ(std::numeric_limits<Half>::infinity().bits, 0x7c00);
  EXPECT_EQ(-static_cast<float>(std::numeric_limits<Half>::infinity()), -INFINITY);
  EXPECT_EQ(static_cast<float>(std::numeric_limits<Half>::max()), 65504.0f);
  EXPECT_EQ(static_cast<float>(std::numeric_limits<Half>::lowest()), -65504.0f);
  EXPECT_EQ(static_cast<float>(std::numeric_limits<Half>::epsilon()), std::ldexp(1.0f, -10));
  EXPECT_TRUE(std::isnan(static_cast<float>(std::numeric_limits<BFloat16>::quiet_NaN())));
  EXPECT_EQ(static_cast<float>(std::numeric_limits<BFloat16>::epsilon()), std::ldexp(1.0f, -7));
  EXPECT_EQ(static_cast<float>(std::numeric_limits<BFloat16>::max()), bits_float(0x7f7f0000));
}

}  // namespace
}  // namespace etp_portable
