// The XNNPACK plugin's dynamically quantized fully-connected kernel (plugins/xnnpack/native_qd8.h)
// against this machine's ceilings, measured in the same run, one thread:
//  - BM_Qd8FullyConnected: 8da4w layers of the 142M-parameter Llama (scripts/export_scale_llm.py:
//    dim 1024, FFN 2816) at decode (1 row) and prefill (16 rows), and 8-bit per-channel weights,
//    with the weights in cache or read from memory, in one call or a few panels a call as the
//    plugin's pool calls it; counters: int8 multiply-adds per second
//    (GMAC/s) and packed-weight bytes read per second; the label names the kernel this CPU runs;
//  - BM_Qd8Quantize: the per-row activation quantization before each such layer;
//  - BM_Int8PeakVnni / BM_Int8PeakAvx2: vpdpbusd / vpmaddubsw on registers only (no memory), the
//    int8 multiply-add peak one core reaches with the instruction the kernel is built on;
//  - BM_ReadBandwidth: summing a buffer as large as the 8da4w model's packed weights, the
//    memory-bound ceiling for decode (which reads every weight once per token).
// Quote the ratios (kernel GMAC/s over the peak; kernel bytes/s over the read bandwidth).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "native_qd8.h"

namespace {

using etp_xnnpack::native::Qd8Layer;
using etp_xnnpack::native::Qd8Params;
using etp_xnnpack::native::Qd8Weights;

struct Setup {
  Qd8Layer layer;
  std::vector<uint8_t> storage;
  uint8_t* packed = nullptr;
  size_t bytes = 0, copies = 1;
  std::vector<uint8_t> q;
  std::vector<Qd8Params> params;
  std::vector<float> out;
};

// `copies` copies of the packed layer, run in turn: enough of them to overflow the caches make
// every call read its weights from memory, as decode does (each weight once per token).
Setup make(Qd8Weights kind, size_t rows, size_t k, size_t n, size_t copies = 1) {
  Setup s;
  s.layer = {kind, k, n, kind == Qd8Weights::kQB4 ? size_t{32} : size_t{0}};
  std::mt19937 rng(7);
  const bool four = kind != Qd8Weights::kQC8;
  std::vector<uint8_t> weights(four ? n * ((k + 1) / 2) : n * k);
  for (uint8_t& b : weights) b = static_cast<uint8_t>(rng());
  std::vector<uint16_t> bf16(n * (k / 32), 0x3c00);  // bf16 0.0078125
  std::vector<float> scales(n, 0.01f), bias(n, 0.5f);
  s.bytes = etp_xnnpack::native::qd8_packed_bytes(s.layer);  // a multiple of 64
  s.copies = copies;
  s.storage.resize(s.bytes * copies + 64);
  s.packed = s.storage.data() + (64 - reinterpret_cast<uintptr_t>(s.storage.data()) % 64) % 64;
  etp_xnnpack::native::qd8_pack(s.layer, weights.data(),
                                kind == Qd8Weights::kQB4 ? static_cast<const void*>(bf16.data()) : scales.data(),
                                bias.data(), s.packed);
  for (size_t c = 1; c < copies; ++c) std::memcpy(s.packed + c * s.bytes, s.packed, s.bytes);
  std::vector<float> x(rows * k);
  std::normal_distribution<float> normal;
  for (float& v : x) v = normal(rng);
  s.q.resize(rows * k + 16);
  s.params.resize(rows);
  etp_xnnpack::native::qd8_quantize(x.data(), rows, k, s.q.data(), s.params.data());
  s.out.resize(rows * n);
  return s;
}

// Which kernel qd8_fully_connected runs here.
const char* kernel_label() {
  if (etp_xnnpack::native::qd8_vnni_available()) return "AVX512-VNNI";
  return etp_xnnpack::native::qd8_avx2_available() ? "AVX2" : "portable loop";
}

void BM_Qd8FullyConnected(benchmark::State& state) {
  const auto kind = static_cast<Qd8Weights>(state.range(0));
  const size_t rows = static_cast<size_t>(state.range(1)), k = static_cast<size_t>(state.range(2)),
               n = static_cast<size_t>(state.range(3));
  state.SetLabel(kernel_label());
  const size_t copies = state.range(4) != 0 ? static_cast<size_t>(state.range(4)) : 1;
  Setup s = make(kind, rows, k, n, copies);
  size_t next = 0;
  const size_t panels = (n + etp_xnnpack::native::kQd8Panel - 1) / etp_xnnpack::native::kQd8Panel;
  const size_t per_call = state.range(5) != 0 ? static_cast<size_t>(state.range(5)) : panels;
  for (auto _ : state) {
    const uint8_t* packed = s.packed + next * s.bytes;
    next = next + 1 == copies ? 0 : next + 1;
    for (size_t p = 0; p < panels; p += per_call) {
      etp_xnnpack::native::qd8_fully_connected(s.layer, packed, s.q.data(), s.params.data(), -1e30f, 1e30f,
                                               s.out.data(), 0, rows, p, std::min(panels, p + per_call));
    }
    benchmark::DoNotOptimize(s.out.data());
    benchmark::ClobberMemory();
  }
  const double macs = static_cast<double>(rows * k * n);
  state.counters["GMAC/s"] = benchmark::Counter(macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["weights_GB/s"] =
      benchmark::Counter(static_cast<double>(etp_xnnpack::native::qd8_packed_bytes(s.layer)) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate);
}
// kind (0 qb4, 2 qc8), rows, k, n, copies (0: one, its weights in cache; 64: about 115 MB
// of weights read from memory in turn, as decode reads them), panels per kernel call (0: all in
// one call; the plugin's pool calls it on a few panels at a time)
BENCHMARK(BM_Qd8FullyConnected)
    ->Args({0, 1, 1024, 2816, 0, 0})
    ->Args({0, 1, 1024, 2816, 0, 2})
    ->Args({0, 1, 1024, 2816, 0, 8})
    ->Args({0, 1, 1024, 2816, 64, 0})
    ->Args({0, 1, 2816, 1024, 0, 0})
    ->Args({0, 16, 1024, 2816, 0, 0})
    ->Args({0, 16, 1024, 2816, 64, 0})
    ->Args({2, 1, 1024, 2816, 0, 0})
    ->Args({2, 1, 1024, 2816, 64, 0})
    ->Args({2, 16, 1024, 2816, 0, 0})
    ->Unit(benchmark::kMicrosecond);

// The Convert step before each such layer: one row (decode) or 16 of the layer's k floats to
// qdint8, on the SIMD path this CPU takes (arg 1) or the portable loop (arg 0).
void BM_Qd8Quantize(benchmark::State& state) {
  const bool simd = state.range(0) != 0;
  const size_t rows = static_cast<size_t>(state.range(1)), k = static_cast<size_t>(state.range(2));
  std::vector<float> x(rows * k);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (float& v : x) v = normal(rng);
  std::vector<uint8_t> a(rows * k);
  std::vector<Qd8Params> params(rows);
  for (auto _ : state) {
    (simd ? etp_xnnpack::native::qd8_quantize : etp_xnnpack::native::qd8_quantize_portable)(x.data(), rows, k, a.data(),
                                                                                            params.data());
    benchmark::DoNotOptimize(a.data());
    benchmark::ClobberMemory();
  }
  state.counters["values/s"] =
      benchmark::Counter(static_cast<double>(rows * k), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Qd8Quantize)->ArgsProduct({{0, 1}, {1, 16}, {1024, 2816}})->Unit(benchmark::kMicrosecond);

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void vnni_loop(benchmark::State& state) {
  __m512i acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  constexpr int kSteps = 4096;
  for (auto _ : state) {
    for (int step = 0; step < kSteps; ++step) {
      for (int i = 0; i < 8; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);  // 8 independent chains
    }
    for (int i = 0; i < 8; ++i) benchmark::DoNotOptimize(acc[i]);
  }
  state.counters["GMAC/s"] =
      benchmark::Counter(kSteps * 8.0 * 64 * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
#endif

void BM_Int8PeakVnni(benchmark::State& state) {
#if defined(__x86_64__)
  if (etp_xnnpack::native::qd8_vnni_available()) return vnni_loop(state);
#endif
  state.SkipWithError("no AVX512-VNNI on this CPU");
}
BENCHMARK(BM_Int8PeakVnni)->Unit(benchmark::kMicrosecond);

#if defined(__x86_64__)
__attribute__((target("avx2"))) void avx2_loop(benchmark::State& state) {
  __m256i acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = _mm256_set1_epi16(static_cast<int16_t>(i));
  const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2);
  constexpr int kSteps = 4096;
  for (auto _ : state) {
    for (int step = 0; step < kSteps; ++step) {
      for (int i = 0; i < 8; ++i) acc[i] = _mm256_add_epi16(acc[i], _mm256_maddubs_epi16(a, b));
    }
    for (int i = 0; i < 8; ++i) benchmark::DoNotOptimize(acc[i]);
  }
  state.counters["GMAC/s"] =
      benchmark::Counter(kSteps * 8.0 * 32 * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
#endif

void BM_Int8PeakAvx2(benchmark::State& state) {
#if defined(__x86_64__)
  if (etp_xnnpack::native::qd8_avx2_available()) return avx2_loop(state);
#endif
  state.SkipWithError("no AVX2 on this CPU");
}
BENCHMARK(BM_Int8PeakAvx2)->Unit(benchmark::kMicrosecond);

void BM_ReadBandwidth(benchmark::State& state) {
  // About the 8da4w model's packed linear weights (6 layers, 4 projections of 1024^2 and 3 of
  // 1024 x 2816, plus the 32000 x 1024 output layer, at ~0.6 bytes per weight).
  std::vector<uint64_t> buffer(static_cast<size_t>(state.range(0)) / sizeof(uint64_t), 1);
  for (auto _ : state) {
    uint64_t sum = 0;
    for (uint64_t v : buffer) sum += v;
    benchmark::DoNotOptimize(sum);
  }
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(state.range(0)) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ReadBandwidth)->Arg(int64_t{80} << 20)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
