// Cost of opening (mapping + verifying) real fixture files, against the cost of the mmap
// alone in the same run: the ratio is what verification adds on top of mapping.
#include <benchmark/benchmark.h>

#include <string>

#include "core/mapped_file.h"
#include "format/data_file.h"
#include "format/program_file.h"

namespace {

const std::string kDir = ETP_FIXTURES_DIR;
const char* kPrograms[] = {"add.pte", "mlp_portable.pte", "tiny_llama_portable.pte", "tiny_llama_xnnpack.pte"};

void BM_MapOnlyReference(benchmark::State& state) {
  const std::string path = kDir + "/" + kPrograms[state.range(0)];
  for (auto _ : state) benchmark::DoNotOptimize(etp::MappedFile::open(path).ok());
  state.SetLabel(kPrograms[state.range(0)]);
}
BENCHMARK(BM_MapOnlyReference)->DenseRange(0, 3)->Unit(benchmark::kMicrosecond);

void BM_ProgramOpen(benchmark::State& state) {
  const std::string path = kDir + "/" + kPrograms[state.range(0)];
  for (auto _ : state) {
    auto program = etp::format::ProgramFile::open(path);
    if (!program.ok()) state.SkipWithError(program.status().message().c_str());
    benchmark::DoNotOptimize(program.ok());
  }
  state.SetLabel(kPrograms[state.range(0)]);
}
BENCHMARK(BM_ProgramOpen)->DenseRange(0, 3)->Unit(benchmark::kMicrosecond);

void BM_DataFileOpenFoundation(benchmark::State& state) {
  const std::string path = kDir + "/tiny_llama_foundation_portable.ptd";
  for (auto _ : state) {
    auto data = etp::format::DataFile::open(path);
    if (!data.ok()) state.SkipWithError(data.status().message().c_str());
    benchmark::DoNotOptimize(data.ok());
  }
}
BENCHMARK(BM_DataFileOpenFoundation)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
