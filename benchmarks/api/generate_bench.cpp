// Text generation speed through etp::Generator: prefill and decode tokens/s of the LoRA demo's
// programs (manifests/demo.yaml's files) with the xnnpack plugin on 1 and 2 threads, and, when
// ETP_SCALE_LLM names the folder scripts/export_scale_llm.py writes, of a 142M-parameter Llama,
// whose decode reads every linear weight once per token: its `weight_bytes_per_s` counter is the
// memory bandwidth decode reaches, to set against BM_StreamRead's bytes_per_second, this
// machine's streaming-read bandwidth measured in the same run.
//
//   build/release/benchmarks/etp_bench_generate
//   ETP_SCALE_LLM=/tmp/etp_scale_llm build/release/benchmarks/etp_bench_generate --benchmark_filter='Scale|Stream'
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "etp/generate.h"

namespace {

const std::string kFixtures = ETP_FIXTURES_DIR;

struct Loaded {
  etp::Bundle bundle;
  etp::Generator generator;
  uint64_t weight_bytes_per_token = 0;  // linear weights every decode step reads
};

// A program over a foundation file whose weights the xnnpack plugin's cache owns, on `threads`.
Loaded* load(const std::string& program, const std::string& foundation, int threads, uint64_t embedding_bytes) {
  static std::map<std::string, std::unique_ptr<Loaded>> loaded;  // one per program and thread count
  std::unique_ptr<Loaded>& slot = loaded[program + "@" + std::to_string(threads)];
  if (slot) return slot.get();
  etp::BundleSpec spec;
  spec.plugins = {{"", "portable", {}}, {"", "xnnpack", {{"threads", std::to_string(threads)}}}, {"", "llm", {}}};
  spec.data = {{"foundation", foundation, "", "xnnpack"}};
  spec.models = {{"model", program, {"foundation"}, "forward", ""}};
  auto bundle = etp::Bundle::open(spec, {{ETP_PLUGIN_DIR}, /*use_environment=*/false, {}});
  if (!bundle.ok()) return nullptr;
  auto generator = etp::Generator::load(*bundle, "model");
  if (!generator.ok()) return nullptr;
  std::error_code ec;
  const uint64_t file = std::filesystem::file_size(foundation, ec);
  // Every weight of the foundation but the embedding table (one row of it per token), and the
  // program's own (LoRA) weights, which are small and left out. Only where the table's size is
  // known (0: no bandwidth counters).
  const uint64_t weights = ec || embedding_bytes == 0 || file < embedding_bytes ? 0 : file - embedding_bytes;
  slot.reset(new Loaded{std::move(*bundle), std::move(*generator), weights});
  return slot.get();
}

// Prefill: the prompt in one call, timed by the generator (manual time); tokens/s as a rate.
void prefill(benchmark::State& state, Loaded* l, const std::vector<int64_t>& prompt) {
  if (l == nullptr) return state.SkipWithError("cannot load the program (for the scale bundle: ETP_SCALE_LLM)");
  etp::GenerateOptions options;
  options.max_new_tokens = 1;
  for (auto _ : state) {
    auto r = l->generator.generate(prompt, options);
    if (!r.ok()) return state.SkipWithError(r.status().to_string().c_str());
    state.SetIterationTime(r->prefill_ms / 1000.0);
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(prompt.size() * state.iterations()), benchmark::Counter::kIsRate);
}

// Decode: `steps` tokens after the prompt, one call each (EOS ignored), timed by the generator.
void decode(benchmark::State& state, Loaded* l, const std::vector<int64_t>& prompt, int64_t steps) {
  if (l == nullptr) return state.SkipWithError("cannot load the program (for the scale bundle: ETP_SCALE_LLM)");
  etp::GenerateOptions options;
  options.max_new_tokens = steps + 1;
  options.stop_at_eos = false;
  double tokens = 0;
  for (auto _ : state) {
    auto r = l->generator.generate(prompt, options);
    if (!r.ok()) return state.SkipWithError(r.status().to_string().c_str());
    state.SetIterationTime(r->decode_ms / 1000.0);
    tokens += static_cast<double>(r->generated_tokens.size() - 1);
  }
  state.counters["tokens/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsRate);
  if (l->weight_bytes_per_token > 0) {
    state.counters["weight_bytes_per_s"] = benchmark::Counter(tokens * static_cast<double>(l->weight_bytes_per_token),
                                                              benchmark::Counter::kIsRate, benchmark::Counter::kIs1024);
    state.counters["weight_MiB_per_token"] = static_cast<double>(l->weight_bytes_per_token) / (1024.0 * 1024.0);
  }
}

// The demo's prompt "7 8=" with BOS in tiny_sp.model's ids; its context holds 32 positions.
const std::vector<int64_t> kDemoPrompt = {1, 68, 87, 68, 93, 77};

Loaded* demo(const std::string& program, int threads) {
  return load(kFixtures + "/" + program + ".pte", kFixtures + "/llama_demo_foundation.ptd", threads, 0);
}

void BM_DemoPrefill(benchmark::State& state, const char* program) {
  prefill(state, demo(program, static_cast<int>(state.range(0))), kDemoPrompt);
}
void BM_DemoDecode(benchmark::State& state, const char* program) {
  decode(state, demo(program, static_cast<int>(state.range(0))), kDemoPrompt, 24);
}
BENCHMARK_CAPTURE(BM_DemoPrefill, base, "llama_demo_xnnpack")->ArgName("threads")->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK_CAPTURE(BM_DemoPrefill, lora_mul, "llama_demo_lora_mul_xnnpack")
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseManualTime();
BENCHMARK_CAPTURE(BM_DemoDecode, base, "llama_demo_xnnpack")->ArgName("threads")->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK_CAPTURE(BM_DemoDecode, lora_mul, "llama_demo_lora_mul_xnnpack")
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseManualTime();

// The scale bundle (scripts/export_scale_llm.py): vocab 32000 x dim 1024 fp32 embedding table.
constexpr uint64_t kScaleEmbeddingBytes = 32000ull * 1024 * 4;

Loaded* scale(const std::string& program, int threads) {
  const char* folder = std::getenv("ETP_SCALE_LLM");
  if (folder == nullptr) return nullptr;
  return load(std::string(folder) + "/" + program + ".pte", std::string(folder) + "/scale_foundation.ptd", threads,
              kScaleEmbeddingBytes);
}

std::vector<int64_t> scale_prompt() {
  std::vector<int64_t> p(32);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<int64_t>(1 + (i * 37) % 99);
  return p;
}

void BM_ScalePrefill(benchmark::State& state, const char* program) {
  prefill(state, scale(program, static_cast<int>(state.range(0))), scale_prompt());
}
void BM_ScaleDecode(benchmark::State& state, const char* program) {
  decode(state, scale(program, static_cast<int>(state.range(0))), scale_prompt(), 32);
}
BENCHMARK_CAPTURE(BM_ScalePrefill, base, "scale_base")->ArgName("threads")->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK_CAPTURE(BM_ScaleDecode, base, "scale_base")->ArgName("threads")->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK_CAPTURE(BM_ScaleDecode, lora, "scale_lora")->ArgName("threads")->Arg(1)->Arg(2)->UseManualTime();

// Streaming read of a 1 GiB buffer (far past any cache): the bandwidth bound of a decode that
// reads its weights once per token. With 2 threads each reads its own half.
void BM_StreamRead(benchmark::State& state) {
  static std::vector<uint64_t> buffer = [] {
    std::vector<uint64_t> b((1ull << 30) / sizeof(uint64_t));
    std::iota(b.begin(), b.end(), 0);  // touched: resident before timing
    return b;
  }();
  const size_t part = buffer.size() / static_cast<size_t>(state.threads());
  const uint64_t* begin = buffer.data() + part * static_cast<size_t>(state.thread_index());
  for (auto _ : state) {
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i + 4 <= part; i += 4) {
      a += begin[i];
      b += begin[i + 1];
      c += begin[i + 2];
      d += begin[i + 3];
    }
    uint64_t sum = a + b + c + d;
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(part * sizeof(uint64_t)));
}
BENCHMARK(BM_StreamRead)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
