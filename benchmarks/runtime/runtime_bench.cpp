// Host runtime costs, each next to a reference measured in the same run:
//  - dispatch: a 200-instruction chain of aten::add.out through Method::execute versus the
//    same kernel called 200 times directly (the difference is the interpreter's cost);
//  - method load with a 1 MiB versus a 256 MiB data file (nothing is copied, so the load
//    time must not grow with the file);
//  - latency of real fixtures on the portable plugin;
//  - the portable operators an 8da4w LLM's decode step runs outside its delegates, at that
//    model's shapes (dim 1024, 16 heads of 64, FFN 2816), each next to a plain loop doing the
//    same work.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/npy.h"
#include "format/data_file.h"
#include "format/data_file_writer.h"
#include "plugins/plugin_log.h"
#include "plugins/registry.h"
#include "runtime/host_services.h"
#include "runtime/method.h"
#include "runtime/tensor_io.h"

namespace {

using namespace etp;

const std::string kFixtures = ETP_FIXTURES_DIR;
constexpr int kChainLength = 200;

std::shared_ptr<const plugins::Registry> registry() {
  static std::shared_ptr<plugins::Registry> r = [] {
    auto reg = std::make_shared<plugins::Registry>();
    auto plugin = plugins::PluginLibrary::load(ETP_PORTABLE_PLUGIN_PATH, *runtime::HostServices::get().api());
    if (!plugin.ok() || !reg->add(*plugin).ok()) std::abort();
    return reg;
  }();
  return r;
}

std::vector<runtime::DataSource> data_sources(const std::vector<std::string>& paths) {
  std::vector<runtime::DataSource> out;
  uint64_t id = 1;
  for (const std::string& p : paths) {
    auto file = format::DataFile::open(p);
    if (!file.ok()) std::abort();
    out.push_back({std::make_shared<const format::DataFile>(std::move(*file)), id++, ""});
  }
  return out;
}

// A loaded method with its fixture inputs set.
struct Loaded {
  std::shared_ptr<runtime::Program> program;
  std::unique_ptr<runtime::Method> method;
  std::vector<NpyArray> inputs;
};

Loaded load_fixture(benchmark::State& state, const std::string& name, const std::vector<std::string>& data,
                    int num_inputs) {
  Loaded l;
  std::vector<std::string> data_paths;
  for (const std::string& d : data) data_paths.push_back(kFixtures + "/" + d);
  auto program = runtime::Program::open(kFixtures + "/" + name + ".pte", data_sources(data_paths), registry());
  if (!program.ok()) {
    state.SkipWithError(program.status().message().c_str());
    return l;
  }
  l.program = *program;
  auto method = l.program->load_method("forward");
  if (!method.ok()) {
    state.SkipWithError(method.status().message().c_str());
    return l;
  }
  l.method = std::move(*method);
  for (int i = 0; i < num_inputs; ++i) {
    l.inputs.push_back(*read_npy(kFixtures + "/" + name + ".run0.in" + std::to_string(i) + ".npy"));
    if (!l.method->set_input(i, runtime::as_input(l.inputs.back())).ok()) state.SkipWithError("set_input failed");
  }
  return l;
}

// A kernel called directly, as the interpreter calls it: float32 tensors holding values in
// [-8, 8), ints and tensor lists as arguments, the out tensor repeated as the return slot.
class KernelCall {
 public:
  etp_value* tensor(std::vector<int32_t> sizes) {
    runtime::HostTensor& t = tensors_.emplace_back();
    const uint8_t order[ETP_MAX_RANK] = {0, 1, 2, 3, 4, 5, 6, 7};
    t.init(ETP_DTYPE_FLOAT32, static_cast<int32_t>(sizes.size()), sizes.data(), order, ETP_DYNAMISM_DYNAMIC_BOUND);
    std::vector<float>& data = storage_.emplace_back(static_cast<size_t>(t.numel()));
    // Scattered over [-8, 8) (the golden-ratio sequence), so no branch learns the signs.
    for (size_t i = 0; i < data.size(); ++i) {
      const double u = static_cast<double>(i) * 0.6180339887498949;
      data[i] = static_cast<float>(-8.0 + 16.0 * (u - std::floor(u)));
    }
    t.raw.data = data.data();
    etp_value& v = values_.emplace_back();
    v.tag = ETP_VALUE_TENSOR;
    v.u.tensor = &t.raw;
    return &v;
  }
  etp_value* integer(int64_t i) {
    etp_value& v = values_.emplace_back();
    v.tag = ETP_VALUE_INT;
    v.u.i = i;
    return &v;
  }
  etp_value* list(std::vector<etp_value*> items) {
    std::vector<etp_tensor*>& l = lists_.emplace_back();
    for (etp_value* item : items) l.push_back(item->u.tensor);
    etp_value& v = values_.emplace_back();
    v.tag = ETP_VALUE_TENSOR_LIST;
    v.u.tensor_list.items = l.data();
    v.u.tensor_list.count = l.size();
    return &v;
  }
  static const float* data(const etp_value* v) { return static_cast<const float*>(v->u.tensor->data); }
  static float* data(etp_value* v) { return static_cast<float*>(v->u.tensor->data); }

  // Runs `op` on `args` plus the return slot (the last argument), `calls` times per benchmark
  // iteration.
  void run(benchmark::State& state, const char* op, std::vector<etp_value*> args, int calls = 1) {
    const auto candidates = registry()->kernel_candidates(op);
    if (candidates.empty()) return state.SkipWithError((std::string("no ") + op).c_str());
    const plugins::ResolvedKernel& k = candidates.front();
    args.push_back(args.back());
    const etp_host_api* host = runtime::HostServices::get().api();
    const uint32_t n = static_cast<uint32_t>(args.size());
    for (auto _ : state) {
      for (int i = 0; i < calls; ++i) {
        if (k.kernel.fn(k.kernel.self, host, args.data(), n) != ETP_OK) state.SkipWithError("kernel failed");
      }
      benchmark::ClobberMemory();
    }
  }

 private:
  std::deque<runtime::HostTensor> tensors_;  // deques: pointers into them stay valid
  std::deque<std::vector<float>> storage_;
  std::deque<etp_value> values_;
  std::deque<std::vector<etp_tensor*>> lists_;
};

void BM_DispatchChainThroughInterpreter(benchmark::State& state) {
  Loaded l = load_fixture(state, "chain", {}, 2);
  if (!l.method) return;
  for (auto _ : state) {
    if (!l.method->execute().ok()) state.SkipWithError("execute failed");
  }
  state.SetItemsProcessed(state.iterations() * kChainLength);
  state.SetLabel("items = instructions");
}
BENCHMARK(BM_DispatchChainThroughInterpreter);

void BM_DispatchDirectKernelCallsReference(benchmark::State& state) {
  KernelCall k;
  k.run(state, "aten::add.out", {k.tensor({1}), k.tensor({1}), k.integer(1), k.tensor({1})}, kChainLength);
  state.SetItemsProcessed(state.iterations() * kChainLength);
  state.SetLabel("items = kernel calls");
}
BENCHMARK(BM_DispatchDirectKernelCallsReference);

// linear_portable.pte needs 'weight' f32[4, 8] and 'bias' f32[4]; the filler makes the file big.
std::string make_data_file(size_t filler_mib) {
  const std::string path = "/tmp/etp_bench_" + std::to_string(filler_mib) + "mib.ptd";
  std::vector<float> weight(32, 0.5f), bias(4, 0.25f);
  std::vector<uint8_t> filler(filler_mib << 20, 7);
  if (!format::write_data_file(
           path, {{"weight", ETP_DTYPE_FLOAT32, {4, 8}, {}, weight.data(), 128},
                  {"bias", ETP_DTYPE_FLOAT32, {4}, {}, bias.data(), 16},
                  {"filler", ETP_DTYPE_UINT8, {static_cast<int32_t>(filler.size())}, {}, filler.data(), filler.size()}})
           .ok()) {
    std::abort();
  }
  return path;
}

void BM_MethodLoadWithDataFile(benchmark::State& state) {
  const size_t mib = static_cast<size_t>(state.range(0));
  const std::string path = make_data_file(mib);
  for (auto _ : state) {
    // Open the data file, open the program, load the method: what a user pays per model.
    auto program = runtime::Program::open(kFixtures + "/linear_portable.pte", data_sources({path}), registry());
    auto method = (*program)->load_method("forward");
    if (!method.ok()) state.SkipWithError(method.status().message().c_str());
    benchmark::DoNotOptimize(method.ok());
  }
  state.SetLabel(std::to_string(mib) + " MiB data file");
  std::remove(path.c_str());
}
BENCHMARK(BM_MethodLoadWithDataFile)->Arg(1)->Arg(256)->Unit(benchmark::kMicrosecond);

void latency(benchmark::State& state, const std::string& name, const std::vector<std::string>& data, int inputs) {
  Loaded l = load_fixture(state, name, data, inputs);
  if (!l.method) return;
  for (auto _ : state) {
    for (int i = 0; i < inputs; ++i) (void)l.method->set_input(i, runtime::as_input(l.inputs[i]));  // checked in setup
    if (!l.method->execute().ok()) state.SkipWithError("execute failed");
  }
}
void BM_LatencyMlpPortable(benchmark::State& s) { latency(s, "mlp_portable", {}, 1); }
void BM_LatencyCnnPortable(benchmark::State& s) { latency(s, "cnn_portable", {}, 1); }
void BM_LatencyTinyLlamaPortable(benchmark::State& s) {
  latency(s, "tiny_llama_portable", {"tiny_llama_foundation_portable.ptd"}, 2);
}
BENCHMARK(BM_LatencyMlpPortable)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LatencyCnnPortable)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LatencyTinyLlamaPortable)->Unit(benchmark::kMicrosecond);

// ----- single portable kernels at an 8da4w LLM's decode shapes (KernelCall) -------------------

constexpr int32_t kFfn = 2816, kHeads = 16, kHeadDim = 64;

// SiLU's sigmoid over the FFN's hidden row.
void BM_DecodeSigmoid(benchmark::State& state) {
  KernelCall k;
  etp_value* in = k.tensor({1, 1, kFfn});
  k.run(state, "aten::sigmoid.out", {in, k.tensor({1, 1, kFfn})});
}
BENCHMARK(BM_DecodeSigmoid)->Unit(benchmark::kMicrosecond);

// The reference: the same row through libm's expf in a plain loop (ExecuTorch's portable formula).
void BM_DecodeSigmoidLibmLoopReference(benchmark::State& state) {
  KernelCall k;
  const float* in = KernelCall::data(k.tensor({kFfn}));
  float* out = KernelCall::data(k.tensor({kFfn}));
  for (auto _ : state) {
    for (int32_t i = 0; i < kFfn; ++i) out[i] = 1.0f / (1.0f + std::exp(-in[i]));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_DecodeSigmoidLibmLoopReference)->Unit(benchmark::kMicrosecond);

// RoPE as ExecuTorch's Llama export writes it: a token's [1, 1, 16, 32, 2] queries (interleaved
// real and imaginary halves) split with slice_copy on the last dim, and joined back with cat.
constexpr int32_t kPairs = kHeadDim / 2;
void BM_DecodeSlicePairs(benchmark::State& state) {
  KernelCall k;
  etp_value* q = k.tensor({1, 1, kHeads, kPairs, 2});
  k.run(state, "aten::slice_copy.Tensor_out",
        {q, k.integer(4), k.integer(1), k.integer(2), k.integer(1), k.tensor({1, 1, kHeads, kPairs, 1})});
}
BENCHMARK(BM_DecodeSlicePairs)->Unit(benchmark::kMicrosecond);

void BM_DecodeCatPairs(benchmark::State& state) {
  KernelCall k;
  etp_value* real = k.tensor({1, 1, kHeads, kPairs, 1});
  etp_value* imag = k.tensor({1, 1, kHeads, kPairs, 1});
  k.run(state, "aten::cat.out", {k.list({real, imag}), k.integer(-1), k.tensor({1, 1, kHeads, kPairs, 2})});
}
BENCHMARK(BM_DecodeCatPairs)->Unit(benchmark::kMicrosecond);

// The reference for both: the slice's 512 strided floats moved by a plain loop.
void BM_DecodePairsLoopReference(benchmark::State& state) {
  KernelCall k;
  const float* q = KernelCall::data(k.tensor({kHeads * kPairs * 2}));
  float* out = KernelCall::data(k.tensor({kHeads * kPairs}));
  for (auto _ : state) {
    for (int32_t i = 0; i < kHeads * kPairs; ++i) out[i] = q[2 * i + 1];
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_DecodePairsLoopReference)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
