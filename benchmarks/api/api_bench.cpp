// What the public API (include/etp) costs over the runtime it wraps, each next to the runtime
// reference in the same run: set inputs and execute a real fixture through runtime::Method
// directly, through etp::Method::set_input (copy), etp::Method::bind_input (zero copy where the
// program allows it), and etp::Method::run (which also copies every output out); and what
// per-instruction profiling (Method::set_profiling, behind `etp bench --profile`) adds to
// set_input + execute when on.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "api/api_internal.h"
#include "core/npy.h"
#include "etp/etp.h"
#include "runtime/tensor_io.h"

namespace {

const std::string kFixtures = ETP_FIXTURES_DIR;

struct Case {
  etp::Method method;
  std::vector<etp::Tensor> inputs;
  std::vector<etp::TensorRef> refs;
};

// The fixture `name` (with its data files) loaded through the public API, with run 0's inputs.
Case* load(const std::string& name, const std::vector<std::string>& data, int num_inputs) {
  std::vector<std::string> paths;
  for (const std::string& d : data) paths.push_back(kFixtures + "/" + d);
  auto bundle = etp::Bundle::open(etp::BundleSpec::for_program(kFixtures + "/" + name + ".pte", paths),
                                  {{ETP_PLUGIN_DIR}, /*use_environment=*/false, {}});
  if (!bundle.ok()) return nullptr;
  auto method = bundle->load_method("model");
  if (!method.ok()) return nullptr;
  auto* c = new Case{std::move(*method), {}, {}};
  for (int i = 0; i < num_inputs; ++i) {
    auto array = etp::read_npy(kFixtures + "/" + name + ".run0.in" + std::to_string(i) + ".npy");
    if (!array.ok()) return nullptr;
    c->inputs.push_back({static_cast<etp::DType>(array->dtype), array->shape, array->data});
  }
  for (const etp::Tensor& t : c->inputs) c->refs.push_back(t.ref());
  return c;
}

enum class Path { kRuntime, kSetInput, kBindInput, kRun, kProfiled };

void run_case(benchmark::State& state, const std::string& name, const std::vector<std::string>& data, int inputs,
              Path path) {
  static std::map<std::string, Case*> cases;  // loaded once per fixture, shared by the paths
  Case*& c = cases[name];
  if (c == nullptr) c = load(name, data, inputs);
  if (c == nullptr) return state.SkipWithError("cannot load the fixture");
  etp::runtime::Method& raw = *c->method.impl()->method;
  std::vector<etp::runtime::TensorInput> raw_inputs;
  for (const etp::TensorRef& r : c->refs)
    raw_inputs.push_back({static_cast<int32_t>(r.dtype), r.sizes, r.data, r.nbytes});
  bool ok = true;
  c->method.set_profiling(path == Path::kProfiled);
  for (auto _ : state) {
    switch (path) {
      case Path::kRuntime:
        for (size_t i = 0; i < raw_inputs.size(); ++i) ok &= raw.set_input(i, raw_inputs[i]).ok();
        ok &= raw.execute().ok();
        break;
      case Path::kSetInput:
      case Path::kProfiled:
        for (size_t i = 0; i < c->refs.size(); ++i) ok &= c->method.set_input(i, c->refs[i]).ok();
        ok &= c->method.execute().ok();
        break;
      case Path::kBindInput:
        for (size_t i = 0; i < c->refs.size(); ++i) ok &= c->method.bind_input(i, c->refs[i]).ok();
        ok &= c->method.execute().ok();
        break;
      case Path::kRun: {
        auto out = c->method.run(c->refs);
        ok &= out.ok();
        benchmark::DoNotOptimize(out);
        break;
      }
    }
  }
  c->method.set_profiling(false);
  if (!ok) state.SkipWithError("a call failed");
  size_t borrowed = 0;
  for (size_t i = 0; i < c->refs.size(); ++i) borrowed += c->method.input_borrowed(i);
  if (path == Path::kBindInput)
    state.SetLabel(std::to_string(borrowed) + " of " + std::to_string(c->refs.size()) + " inputs borrowed");
}

#define ETP_API_CASES(Fixture, name, data, inputs)                                                            \
  void BM_RuntimeReference##Fixture(benchmark::State& s) { run_case(s, name, data, inputs, Path::kRuntime); } \
  void BM_ApiSetInput##Fixture(benchmark::State& s) { run_case(s, name, data, inputs, Path::kSetInput); }     \
  void BM_ApiBindInput##Fixture(benchmark::State& s) { run_case(s, name, data, inputs, Path::kBindInput); }   \
  void BM_ApiRun##Fixture(benchmark::State& s) { run_case(s, name, data, inputs, Path::kRun); }               \
  void BM_ApiProfiled##Fixture(benchmark::State& s) { run_case(s, name, data, inputs, Path::kProfiled); }     \
  BENCHMARK(BM_RuntimeReference##Fixture)->Unit(benchmark::kMicrosecond);                                     \
  BENCHMARK(BM_ApiSetInput##Fixture)->Unit(benchmark::kMicrosecond);                                          \
  BENCHMARK(BM_ApiBindInput##Fixture)->Unit(benchmark::kMicrosecond);                                         \
  BENCHMARK(BM_ApiRun##Fixture)->Unit(benchmark::kMicrosecond);                                              \
  BENCHMARK(BM_ApiProfiled##Fixture)->Unit(benchmark::kMicrosecond)

ETP_API_CASES(AddPortable, "add", std::vector<std::string>{}, 2);
ETP_API_CASES(MlpPortable, "mlp_portable", std::vector<std::string>{}, 1);
ETP_API_CASES(TinyLlamaXnnpack, "tiny_llama_xnnpack", std::vector<std::string>{"tiny_llama_foundation_xnnpack.ptd"}, 2);

}  // namespace

BENCHMARK_MAIN();
