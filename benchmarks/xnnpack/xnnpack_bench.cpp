// The XNNPACK backend plugin against references measured in the same run:
//  - fully-connected and convolution: a delegate through etp + the plugin versus the raw
//    XNNPACK operator on the same shape (the ratio of the two times is the figure; the goal is
//    >= 0.95 of raw throughput). The convolution runs the exported NCHW graph, so it includes
//    the graph's two layout transposes, which the raw NHWC operator does not need;
//  - model latency on the XNNPACK plugin versus the portable plugin;
//  - heap (glibc mallinfo2) added by loading two programs sharing a foundation file, with and
//    without the manifest giving that file's weights to the plugin's cache.
#include <benchmark/benchmark.h>
#include <pthreadpool.h>
#include <xnnpack.h>

#include <malloc.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/npy.h"
#include "format/data_file.h"
#include "plugins/registry.h"
#include "runtime/host_services.h"
#include "runtime/method.h"
#include "runtime/tensor_io.h"

namespace {

using namespace etp;

const std::string kFixtures = ETP_FIXTURES_DIR;

std::shared_ptr<const plugins::Registry> registry() {
  static std::shared_ptr<plugins::Registry> r = [] {
    auto reg = std::make_shared<plugins::Registry>();
    for (auto [path, options] : {std::make_pair(std::string(ETP_PORTABLE_PLUGIN_PATH), plugins::Options{}),
                                 std::make_pair(std::string(ETP_XNNPACK_PLUGIN_PATH), plugins::Options{{"threads", "1"}})}) {
      auto plugin = plugins::PluginLibrary::load(path, *runtime::HostServices::get().api(), options);
      if (!plugin.ok() || !reg->add(*plugin).ok()) std::abort();
    }
    return reg;
  }();
  return r;
}

struct Loaded {
  std::shared_ptr<runtime::Program> program;
  std::unique_ptr<runtime::Method> method;
  std::vector<NpyArray> inputs;
};

Loaded load(const std::string& fixture, std::vector<runtime::DataSource> data, int num_inputs) {
  Loaded l;
  auto program = runtime::Program::open(kFixtures + "/" + fixture + ".pte", std::move(data), registry());
  if (!program.ok()) return l;
  l.program = *program;
  auto method = l.program->load_method("forward");
  if (!method.ok()) return l;
  l.method = std::move(*method);
  for (int i = 0; i < num_inputs; ++i) {
    l.inputs.push_back(*read_npy(kFixtures + "/" + fixture + ".run0.in" + std::to_string(i) + ".npy"));
    if (!l.method->set_input(i, runtime::as_input(l.inputs.back())).ok()) l.method.reset();
  }
  return l;
}

std::shared_ptr<const format::DataFile> data_file(const std::string& name) {
  return std::make_shared<const format::DataFile>(std::move(*format::DataFile::open(kFixtures + "/" + name)));
}

// Executes the method per iteration. `reset_inputs`: set the inputs again each time (the
// memory planner may reuse an input's memory once it is consumed; single-delegate programs
// do not, so their timing can exclude the input copy). The last output is checked against the
// ExecuTorch runtime's, so a benchmark of wrong results cannot pass.
void run_method(benchmark::State& state, Loaded& l, const std::string& fixture, double flops, bool reset_inputs) {
  if (!l.method) return state.SkipWithError("cannot load the fixture");
  for (auto _ : state) {
    for (size_t i = 0; reset_inputs && i < l.inputs.size(); ++i)
      (void)l.method->set_input(i, runtime::as_input(l.inputs[i]));  // checked in setup
    if (Status s = l.method->execute(); !s.ok()) return state.SkipWithError(s.message().c_str());
  }
  const NpyArray expected = *read_npy(kFixtures + "/" + fixture + ".run0.out0.npy");
  if (!runtime::compare(l.method->output(0), expected, 1e-4, 1e-4).ok) state.SkipWithError("wrong output");
  if (flops > 0) state.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

std::vector<float> random_floats(size_t n) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> v(n + XNN_EXTRA_BYTES / sizeof(float));
  for (float& x : v) x = dist(rng);
  return v;
}

constexpr size_t kBatch = 64, kChannels = 512;
constexpr double kFcFlops = 2.0 * kBatch * kChannels * kChannels;

void BM_PluginFullyConnected(benchmark::State& state) {
  Loaded l = load("fc_bench_xnnpack", {}, 1);
  run_method(state, l, "fc_bench_xnnpack", kFcFlops, /*reset_inputs=*/false);
}
BENCHMARK(BM_PluginFullyConnected)->Unit(benchmark::kMicrosecond);

void BM_RawXnnpackFullyConnectedReference(benchmark::State& state) {
  xnn_initialize(nullptr);
  const std::vector<float> w = random_floats(kChannels * kChannels), b = random_floats(kChannels),
                           x = random_floats(kBatch * kChannels);
  std::vector<float> y(kBatch * kChannels);
  xnn_operator_t op = nullptr;
  if (xnn_create_fully_connected_nc_f32(kChannels, kChannels, kChannels, kChannels, w.data(), b.data(), -INFINITY,
                                        INFINITY, 0, &op) != xnn_status_success) {
    return state.SkipWithError("xnn_create_fully_connected_nc_f32 failed");
  }
  for (auto _ : state) {
    xnn_setup_fully_connected_nc_f32(op, kBatch, x.data(), y.data(), nullptr);
    xnn_run_operator(op, nullptr);
  }
  xnn_delete_operator(op);
  state.counters["GFLOPS"] = benchmark::Counter(kFcFlops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_RawXnnpackFullyConnectedReference)->Unit(benchmark::kMicrosecond);

constexpr size_t kConvIn = 32, kConvOut = 64, kSize = 32;
constexpr double kConvFlops = 2.0 * kConvOut * kSize * kSize * kConvIn * 9;

void BM_PluginConvolution(benchmark::State& state) {
  Loaded l = load("conv_bench_xnnpack", {}, 1);
  run_method(state, l, "conv_bench_xnnpack", kConvFlops, /*reset_inputs=*/false);
  state.SetLabel("NCHW in/out: includes the delegate's layout transposes");
}
BENCHMARK(BM_PluginConvolution)->Unit(benchmark::kMicrosecond);

void BM_RawXnnpackConvolutionReference(benchmark::State& state) {
  xnn_initialize(nullptr);
  const std::vector<float> w = random_floats(kConvOut * 9 * kConvIn), b = random_floats(kConvOut),
                           x = random_floats(kSize * kSize * kConvIn);
  std::vector<float> y(kSize * kSize * kConvOut);
  xnn_operator_t op = nullptr;
  if (xnn_create_convolution2d_nhwc_f32(1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, kConvIn, kConvOut, kConvIn, kConvOut, w.data(),
                                        b.data(), -INFINITY, INFINITY, 0, &op) != xnn_status_success) {
    return state.SkipWithError("xnn_create_convolution2d_nhwc_f32 failed");
  }
  for (auto _ : state) {
    xnn_setup_convolution2d_nhwc_f32(op, 1, kSize, kSize, x.data(), y.data(), nullptr);
    xnn_run_operator(op, nullptr);
  }
  xnn_delete_operator(op);
  state.counters["GFLOPS"] = benchmark::Counter(kConvFlops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_RawXnnpackConvolutionReference)->Unit(benchmark::kMicrosecond);

void latency(benchmark::State& state, const std::string& fixture, const std::string& data, int inputs) {
  std::vector<runtime::DataSource> sources;
  if (!data.empty()) sources.push_back({data_file(data), 1, ""});
  Loaded l = load(fixture, sources, inputs);
  run_method(state, l, fixture, 0, /*reset_inputs=*/true);
}
void BM_LatencyMlpXnnpack(benchmark::State& s) { latency(s, "mlp_xnnpack", "", 1); }
void BM_LatencyMlpPortableReference(benchmark::State& s) { latency(s, "mlp_portable", "", 1); }
void BM_LatencyCnnXnnpack(benchmark::State& s) { latency(s, "cnn_xnnpack", "", 1); }
void BM_LatencyCnnPortableReference(benchmark::State& s) { latency(s, "cnn_portable", "", 1); }
void BM_LatencyTinyLlamaXnnpack(benchmark::State& s) {
  latency(s, "tiny_llama_xnnpack", "tiny_llama_foundation_xnnpack.ptd", 2);
}
void BM_LatencyTinyLlamaPortableReference(benchmark::State& s) {
  latency(s, "tiny_llama_portable", "tiny_llama_foundation_portable.ptd", 2);
}
BENCHMARK(BM_LatencyMlpXnnpack)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LatencyMlpPortableReference)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LatencyCnnXnnpack)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LatencyCnnPortableReference)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LatencyTinyLlamaXnnpack)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LatencyTinyLlamaPortableReference)->Unit(benchmark::kMicrosecond);

// Heap bytes in use (glibc): at this toy size RSS moves in pages and reuses freed memory, so
// the heap is the precise measure of what loading added.
double heap_bytes() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<double>(info.uordblks + info.hblkhd);
}

// Loads the tiny Llama base and its LoRA variant over one foundation file and reports how
// much heap they added. Arg 1: the xnnpack plugin's cache owns the foundation; 0: it does not.
void BM_RssTwoProgramsSharingFoundation(benchmark::State& state) {
  const bool owned = state.range(0) == 1;
  double delta = 0, packed_shared = 0;
  for (auto _ : state) {
    auto foundation = data_file("tiny_llama_foundation_xnnpack.ptd");
    const double before = heap_bytes();
    Loaded base = load("tiny_llama_xnnpack", {{foundation, 1, owned ? "xnnpack" : ""}}, 2);
    Loaded lora = load("tiny_llama_lora_xnnpack", {{foundation, 1, owned ? "xnnpack" : ""}}, 2);
    if (!base.method || !lora.method) return state.SkipWithError("cannot load");
    delta = heap_bytes() - before;
    packed_shared = 0;
    for (const auto& e : registry()->plugins().back()->cache_report()) {
      if (e.shared) packed_shared += static_cast<double>(e.packed_bytes);
    }
  }
  state.counters["heap_added_KiB"] = delta / 1024;
  state.counters["shared_packed_KiB"] = packed_shared / 1024;
  state.SetLabel(owned ? "weight_cache: xnnpack" : "no cache owner");
}
BENCHMARK(BM_RssTwoProgramsSharingFoundation)->Arg(0)->Arg(1)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
