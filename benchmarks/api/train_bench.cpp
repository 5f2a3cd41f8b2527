// Training speed: one training step (etp::TrainingSession::forward_backward + etp::Sgd::step) on the
// training fixtures, and writing a checkpoint (format::write_data_file: temporary file, fsync,
// rename, fsync of the folder) against the bytes written. The side-by-side step time against
// ExecuTorch's own training module is benchmarks/side_by_side/train_step.py.
#include <benchmark/benchmark.h>

#include <unistd.h>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/npy.h"
#include "etp/train.h"
#include "format/data_file_writer.h"

namespace {

const std::string kFixtures = ETP_FIXTURES_DIR;

struct Loaded {
  etp::Bundle bundle;
  etp::TrainingSession session;
  std::vector<etp::Tensor> inputs;
};

Loaded* load(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Loaded>> cache;
  std::unique_ptr<Loaded>& slot = cache[name];
  if (slot) return slot.get();
  auto bundle = etp::Bundle::open(etp::BundleSpec::for_program(kFixtures + "/" + name + ".pte", {}, {"portable"}),
                                  {{ETP_PLUGIN_DIR}, /*use_environment=*/false, {}});
  if (!bundle.ok()) return nullptr;
  auto session = etp::TrainingSession::load(*bundle, "model");
  if (!session.ok()) return nullptr;
  std::vector<etp::Tensor> inputs;
  for (int i = 0; i < 2; ++i) {  // the joint method's batch: run 2 of the fixture
    auto a = etp::read_npy(kFixtures + "/" + name + ".run2.in" + std::to_string(i) + ".npy");
    if (!a.ok()) return nullptr;
    inputs.push_back({static_cast<etp::DType>(a->dtype), a->shape, a->data});
  }
  slot.reset(new Loaded{std::move(*bundle), std::move(*session), std::move(inputs)});
  return slot.get();
}

void BM_TrainStep(benchmark::State& state, const char* fixture) {
  Loaded* l = load(fixture);
  if (l == nullptr) return state.SkipWithError("cannot load the fixture");
  std::vector<etp::TensorRef> refs;
  for (const etp::Tensor& t : l->inputs) refs.push_back(t.ref());
  etp::Sgd sgd(etp::SgdOptions{0.01, 0.9, 0, 0, false});
  for (auto _ : state) {
    if (!l->session.forward_backward(refs).ok() || !sgd.step(l->session).ok()) {
      return state.SkipWithError("step failed");
    }
  }
}
BENCHMARK_CAPTURE(BM_TrainStep, xor_train, "xor_train");
BENCHMARK_CAPTURE(BM_TrainStep, blobs_mlp_train, "blobs_mlp_train");

// A checkpoint of `range(0)` MiB of float32 parameters in 8 tensors, written crash-safely.
void BM_CheckpointWrite(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0)) << 20;
  std::vector<float> data(bytes / sizeof(float), 0.5f);
  const std::string path = "/tmp/etp_bench_checkpoint_" + std::to_string(::getpid()) + ".ptd";
  for (auto _ : state) {
    std::vector<etp::format::TensorToWrite> tensors;
    const size_t part = data.size() / 8;
    for (size_t i = 0; i < 8; ++i) {
      tensors.push_back({"layer" + std::to_string(i) + ".weight",
                         6,
                         {static_cast<int32_t>(part)},
                         {},
                         data.data() + i * part,
                         part * sizeof(float)});
    }
    if (!etp::format::write_data_file(path, std::move(tensors)).ok()) return state.SkipWithError("write failed");
  }
  ::unlink(path.c_str());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}
BENCHMARK(BM_CheckpointWrite)->ArgName("MiB")->Arg(1)->Arg(16)->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
