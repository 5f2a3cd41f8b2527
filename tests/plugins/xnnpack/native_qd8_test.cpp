// The dynamically quantized fully-connected kernels (plugins/xnnpack/native_qd8.h): the row
// quantization on hand-computed rows, and each weight type against a plain implementation of
// XNNPACK's arithmetic written here from its definition (one output at a time, weights unpacked
// from the file's layout), bit for bit, on every kernel (the default, AVX2, portable, and the
// VNNI one on an emulation of its intrinsics, which any CPU runs), over calls split by rows and
// panels. Compiled with -ffp-contract=off: each fp32 step below is one rounding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "native_qd8.h"
#include "native_qd8_vnni_emulated.h"

namespace etp_xnnpack::native {
namespace {

TEST(NativeQd8Test, RowQuantizationFollowsXnnpacksParameters) {
  const std::vector<float> x = {0, 0, 0, 0, -1, 1, 0.5f, 0, 0.5f, 2, 2, 0};  // rows of 4... see below
  // Row 0 all zero: multiplier 1, zero point 127 (127 - 0 wins the tie-break), every q = 127.
  // Row 1 [-1, 1, 0.5, 0]: multiplier 255/2; the zero point -0.5 rounds to even 0; -127.5 -> -128,
  //   127.5 -> 128 saturates to 127, 63.75 -> 64.
  // Row 2 [0.5, 2, 2, 0]: all >= 0, so rmin = 0: zero point -128; 2 * 127.5 = 255 -> 127.
  std::vector<uint8_t> a(12);
  Qd8Params params[3];
  qd8_quantize(x.data(), 3, 4, a.data(), params);
  std::vector<int8_t> q;  // stored offset to u8
  for (uint8_t v : a) q.push_back(static_cast<int8_t>(v - 128));
  EXPECT_EQ(params[0].zero_point, 127);
  EXPECT_EQ(params[0].inv_scale, 1.0f);
  EXPECT_EQ(std::vector<int8_t>(q.begin(), q.begin() + 4), (std::vector<int8_t>{127, 127, 127, 127}));
  EXPECT_EQ(params[1].zero_point, 0);
  EXPECT_EQ(params[1].inv_scale, 1.0f / (255.0f / 2.0f));
  EXPECT_EQ(std::vector<int8_t>(q.begin() + 4, q.begin() + 8), (std::vector<int8_t>{-128, 127, 64, 0}));
  EXPECT_EQ(params[2].zero_point, -128);
  EXPECT_EQ(std::vector<int8_t>(q.begin() + 8, q.end()), (std::vector<int8_t>{-64, 127, 127, -128}));
}

TEST(NativeQd8Test, NonFiniteRowsGiveDefinedValues) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {inf, -inf, nan, 1};
  std::vector<uint8_t> a(4);
  Qd8Params params[1];
  qd8_quantize(x.data(), 1, 4, a.data(), params);  // no undefined conversion (the sanitizer pass checks)
  EXPECT_GE(params[0].zero_point, -128);
  EXPECT_LE(params[0].zero_point, 127);
}

TEST(NativeQd8Test, TheSimdRowQuantizationGivesThePortableBytes) {
  // Every length around the 8- and 32-value steps, ranges from tiny to huge, and rows with
  // non-finite values, signed zeros, denormals, exact halves (rounding ties) or every third value NaN.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float specials[] = {nan, inf, -inf, -0.0f, 1e-40f, -1e-40f, 1e30f, -1e30f, 0.5f, -2.5f};
  std::mt19937 rng(99);
  std::normal_distribution<float> normal;
  for (size_t k : {1, 5, 8, 9, 31, 32, 33, 63, 64, 100, 1024}) {
    for (int variant = 0; variant < 7; ++variant) {
      SCOPED_TRACE("k " + std::to_string(k) + " variant " + std::to_string(variant));
      const size_t rows = 3;
      std::vector<float> x(rows * k);
      const float range = variant == 1 ? 1e-30f : variant == 2 ? 1e20f : 3.0f;
      for (float& v : x) v = normal(rng) * range;
      if (variant == 3) {
        for (float& v : x) v = std::abs(v);  // all >= 0: zero point -128
      } else if (variant == 4) {
        for (size_t i = 0; i < x.size(); i += 3) x[i] = specials[rng() % 10];
      } else if (variant == 5) {
        for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(static_cast<int>(rng() % 511) - 255) / 2;
      } else if (variant == 6) {
        for (size_t i = 1; i < x.size(); i += 3) x[i] = nan;  // a NaN must never take a lane's place
      }
      std::vector<uint8_t> simd(rows * k), portable(rows * k);
      Qd8Params simd_params[rows], portable_params[rows];
      qd8_quantize(x.data(), rows, k, simd.data(), simd_params);
      qd8_quantize_portable(x.data(), rows, k, portable.data(), portable_params);
      EXPECT_EQ(simd, portable);
      EXPECT_EQ(std::memcmp(simd_params, portable_params, sizeof(simd_params)), 0);
    }
  }
}

struct Case {
  Qd8Weights kind;
  size_t k, n, block, rows;
  bool bias;
  float lo, hi;
  bool skewed = false;  // weights >= 0 and rows > 0: block sums past 2^16, whose products with a
                        // bf16 scale round (so a multiply-then-add would differ from the fused one)
};

// Weights in the file's layout, with scales, for `c`.
struct Layer {
  std::vector<uint8_t> bytes;
  std::vector<uint16_t> bf16;
  std::vector<float> f32, bias;
  std::vector<int32_t> w;  // unpacked [n][k]
};

Layer make_layer(const Case& c, std::mt19937& rng) {
  Layer l;
  const bool four = c.kind != Qd8Weights::kQC8;
  l.w.resize(c.n * c.k);
  for (int32_t& v : l.w) {
    v = four ? static_cast<int32_t>(rng() % 16) - 8 : static_cast<int32_t>(rng() % 255) - 127;
    if (c.skewed) v = std::abs(v) % (four ? 8 : 128);
  }
  if (four) {
    const size_t row = (c.k + 1) / 2;
    l.bytes.assign(c.n * row, 0x88);  // an odd k's last high nibble: weight 0
    for (size_t i = 0; i < c.n; ++i) {
      for (size_t j = 0; j < c.k; ++j) {
        const uint8_t nibble = static_cast<uint8_t>(l.w[i * c.k + j] + 8);
        uint8_t& b = l.bytes[i * row + j / 2];
        b = j % 2 == 0 ? static_cast<uint8_t>((b & 0xF0) | nibble) : static_cast<uint8_t>((b & 0x0F) | nibble << 4);
      }
    }
  } else {
    for (int32_t v : l.w) l.bytes.push_back(static_cast<uint8_t>(static_cast<int8_t>(v)));
  }
  std::uniform_real_distribution<float> scale(0.001f, 0.05f), bias(-3.0f, 3.0f);
  if (c.kind == Qd8Weights::kQB4) {
    for (size_t i = 0; i < c.n * (c.k / c.block); ++i) {
      const float s = scale(rng);
      uint32_t bits;
      std::memcpy(&bits, &s, 4);
      l.bf16.push_back(static_cast<uint16_t>(bits >> 16));
    }
  } else {
    for (size_t i = 0; i < c.n; ++i) l.f32.push_back(scale(rng));
  }
  if (c.bias) {
    for (size_t i = 0; i < c.n; ++i) l.bias.push_back(bias(rng));
  }
  return l;
}

// XNNPACK's result for output (r, col), from the definition (see native_qd8.cpp).
float reference(const Case& c, const Layer& l, const uint8_t* a, const Qd8Params& p, size_t col) {
  float v;
  const float b = c.bias ? l.bias[col] : 0.0f;
  if (c.kind == Qd8Weights::kQB4) {
    const size_t blocks = c.k / c.block;
    float ksum = 0.0f;
    for (size_t k0 = 0; k0 < c.k; k0 += 16) {
      int32_t chunk = 0;
      for (size_t k = k0; k < k0 + 16; ++k) chunk += l.w[col * c.k + k];
      const float product = static_cast<float>(chunk) * bf16_to_float(l.bf16[col * blocks + k0 / c.block]);
      ksum = ksum - product;
    }
    v = ksum * static_cast<float>(p.zero_point + 128);
    for (size_t blk = 0; blk < blocks; ++blk) {
      int32_t acc = 0;
      for (size_t k = blk * c.block; k < (blk + 1) * c.block; ++k) acc += a[k] * l.w[col * c.k + k];
      v = std::fma(static_cast<float>(acc), bf16_to_float(l.bf16[col * blocks + blk]), v);
    }
    v = v * p.inv_scale;
    v = v + b;
  } else {
    int32_t acc = 0;
    for (size_t k = 0; k < c.k; ++k) acc += (a[k] - 128 - p.zero_point) * l.w[col * c.k + k];
    v = static_cast<float>(acc) * p.inv_scale;
    v = std::fma(v, l.f32[col], b);
  }
  return std::min(std::max(v, c.lo), c.hi);
}

// The AVX2 kernel, or the portable loop on a CPU without AVX2.
void avx2_or_portable(const Qd8Layer& l, const uint8_t* packed, const uint8_t* q, const Qd8Params* p, float lo,
                      float hi, float* out, size_t r0, size_t r1, size_t p0, size_t p1) {
  if (!qd8_fully_connected_avx2(l, packed, q, p, lo, hi, out, r0, r1, p0, p1)) {
    qd8_fully_connected_portable(l, packed, q, p, lo, hi, out, r0, r1, p0, p1);
  }
}

TEST(NativeQd8Test, EveryWeightTypeMatchesTheDefinitionBitForBit) {
  const float inf = std::numeric_limits<float>::infinity();
  const Case cases[] = {
      {Qd8Weights::kQB4, 64, 32, 32, 5, true, -inf, inf},     // 8da4w, groups of 32
      {Qd8Weights::kQB4, 256, 40, 64, 7, false, 0.0f, inf},   // ragged last panel, fused ReLU, no bias
      {Qd8Weights::kQB4, 2048, 17, 256, 9, true, -inf, inf},  // long sums, 2 row tiles + 1
      {Qd8Weights::kQB4, 96, 16, 96, 1, true, -1.0f, 1.0f},   // one group per row, decode (1 row)
      {Qd8Weights::kQB4, 1024, 32, 512, 3, true, -inf, inf, true},
      {Qd8Weights::kQB4, 4096, 16, 2048, 2, false, -inf, inf, true},  // 16 x block sums past 2^24: fp32 rounds them
      {Qd8Weights::kQB4, 16416, 16, 32, 5, true, -inf, inf},          // 513 blocks: the AVX2 row sums on the heap
      {Qd8Weights::kQC4, 63, 33, 0, 6, true, -inf, inf},              // odd k: a padded nibble
      {Qd8Weights::kQC4, 1000, 48, 0, 4, false, -2.0f, inf},
      {Qd8Weights::kQC8, 61, 20, 0, 3, true, -inf, inf},  // k not a multiple of 4
      {Qd8Weights::kQC8, 512, 64, 0, 8, true, -inf, 5.0f},
  };
  std::mt19937 rng(1234);
  for (const Case& c : cases) {
    SCOPED_TRACE("kind " + std::to_string(static_cast<int>(c.kind)) + " k " + std::to_string(c.k) + " n " +
                 std::to_string(c.n));
    const Layer l = make_layer(c, rng);
    // Rows of different ranges, one all zero, quantized as the Convert step does.
    std::normal_distribution<float> normal(0.0f, 2.0f);
    std::vector<float> x(c.rows * c.k);
    for (size_t i = 0; i < x.size(); ++i) x[i] = normal(rng) * (i / c.k == 1 ? 100.0f : 1.0f);
    if (c.skewed) {
      for (float& v : x) v = std::abs(v) + 1.0f;
    } else if (c.rows > 2)
      std::fill(x.begin() + 2 * static_cast<std::ptrdiff_t>(c.k), x.begin() + 3 * static_cast<std::ptrdiff_t>(c.k),
                0.0f);
    std::vector<uint8_t> q(c.rows * c.k + 16);
    std::vector<Qd8Params> params(c.rows);
    qd8_quantize(x.data(), c.rows, c.k, q.data(), params.data());

    std::vector<float> want(c.rows * c.n);
    for (size_t r = 0; r < c.rows; ++r) {
      for (size_t col = 0; col < c.n; ++col) want[r * c.n + col] = reference(c, l, &q[r * c.k], params[r], col);
    }
    const size_t panels = (c.n + kQd8Panel - 1) / kQd8Panel;
    Qd8Layer layer{c.kind, c.k, c.n, c.block};
    std::vector<uint8_t> storage(qd8_packed_bytes(layer) + 64);
    uint8_t* packed = storage.data() + (64 - reinterpret_cast<uintptr_t>(storage.data()) % 64) % 64;
    qd8_pack(layer, l.bytes.data(), c.kind == Qd8Weights::kQB4 ? static_cast<const void*>(l.bf16.data()) : l.f32.data(),
             c.bias ? l.bias.data() : nullptr, packed);
    const char* names[] = {"default (AVX512-VNNI when the CPU has it)", "AVX2", "portable",
                           "AVX512-VNNI kernel on the emulation"};
    decltype(&qd8_fully_connected) paths[] = {qd8_fully_connected, avx2_or_portable, qd8_fully_connected_portable,
                                              vnni_emulated::fully_connected};
    for (int path = 0; path < 4; ++path) {
      SCOPED_TRACE(names[path]);
      std::vector<float> got(c.rows * c.n, std::nanf(""));
      // Split as the pool does: rows and panels in pieces, each output written once.
      paths[path](layer, packed, q.data(), params.data(), c.lo, c.hi, got.data(), 0, c.rows / 2, 0, panels);
      paths[path](layer, packed, q.data(), params.data(), c.lo, c.hi, got.data(), c.rows / 2, c.rows, 0, panels / 2);
      paths[path](layer, packed, q.data(), params.data(), c.lo, c.hi, got.data(), c.rows / 2, c.rows, panels / 2,
                  panels);
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0) << "output " << i << ": " << got[i] << " vs " << want[i];
      }
    }
  }
}

}  // namespace
}  // namespace etp_xnnpack::native
