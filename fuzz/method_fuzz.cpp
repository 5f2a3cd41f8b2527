// Fuzz target: a mutated .pte loaded and run through the real plugins (portable, xnnpack,
// quantized, llm), with every fixture .ptd available for its EXTERNAL weights and delegate
// data. Each method of the program (the first few) is loaded, given seeded inputs of its
// declared dtypes and shapes (floats in [-1, 1), integers in [0, 10), as `etp run` does), and
// executed once. The seeds are the small fixtures only. Each program's methods are charged to a
// memory budget of kMaxPlannedBytes (planned buffers and unplanned inputs, as a bundle's are),
// so a load that would plan more fails cleanly and one input stays fast; the executor's
// instruction budget bounds the rest.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>

#include "fuzz_support.h"
#include "plugins/plugin_log.h"
#include "runtime/method.h"
#include "runtime/program.h"

namespace {

using namespace etp;

constexpr int64_t kMaxPlannedBytes = 64 << 20;
constexpr size_t kMaxMethods = 3;

// Seeded values of `dtype` in `bytes`; dtypes without a simple value stay zero.
void fill(int32_t dtype, std::vector<uint8_t>* bytes, std::mt19937* rng) {
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  auto fill_as = [&](auto value_of) {
    using T = decltype(value_of());
    for (size_t i = 0; i + sizeof(T) <= bytes->size(); i += sizeof(T)) {
      const T value = value_of();
      std::memcpy(bytes->data() + i, &value, sizeof(T));
    }
  };
  switch (dtype) {
    case ETP_DTYPE_FLOAT32: fill_as([&] { return real(*rng); }); break;
    case ETP_DTYPE_FLOAT64: fill_as([&] { return static_cast<double>(real(*rng)); }); break;
    case ETP_DTYPE_FLOAT16:
      fill_as([&] { return static_cast<uint16_t>((*rng)() % 2 ? 0x3800 : 0xB400); });
      break;  // ±0.5, ±0.25
    case ETP_DTYPE_BFLOAT16: fill_as([&] { return static_cast<uint16_t>((*rng)() % 2 ? 0x3F00 : 0xBE80); }); break;
    case ETP_DTYPE_BOOL: fill_as([&] { return static_cast<uint8_t>((*rng)() % 2); }); break;
    case ETP_DTYPE_UINT8:
    case ETP_DTYPE_INT8: fill_as([&] { return static_cast<uint8_t>((*rng)() % 10); }); break;
    case ETP_DTYPE_INT16:
    case ETP_DTYPE_UINT16: fill_as([&] { return static_cast<uint16_t>((*rng)() % 10); }); break;
    case ETP_DTYPE_INT32:
    case ETP_DTYPE_UINT32: fill_as([&] { return static_cast<uint32_t>((*rng)() % 10); }); break;
    case ETP_DTYPE_INT64:
    case ETP_DTYPE_UINT64: fill_as([&] { return static_cast<uint64_t>((*rng)() % 10); }); break;
    default: break;
  }
}

void load_and_run(const runtime::Program& program, const std::string& name) {
  auto method = program.load_method(name);
  if (!method.ok()) return;
  std::mt19937 rng(0);
  std::vector<std::vector<uint8_t>> storage((*method)->num_inputs());
  for (size_t i = 0; i < (*method)->num_inputs(); ++i) {
    const etp_value& value = (*method)->input(i);
    if (value.tag != ETP_VALUE_TENSOR) continue;  // Int, Bool, ... inputs keep the program's value
    const etp_tensor& declared = *value.u.tensor;
    if (declared.nbytes > static_cast<uint64_t>(kMaxPlannedBytes)) return;  // the harness's own copy, bounded too
    runtime::TensorInput input;
    input.dtype = declared.dtype;
    input.sizes.assign(declared.sizes, declared.sizes + declared.rank);
    storage[i].resize(declared.nbytes);
    fill(declared.dtype, &storage[i], &rng);
    input.data = storage[i].data();
    input.nbytes = storage[i].size();
    if (!(*method)->set_input(i, input).ok()) return;
  }
  (void)(*method)->execute();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto registry = fuzz::shipped_registry();
  static const auto& files = fuzz::fixture_data_files();
  auto program = runtime::Program::open(MappedFile::copy_of("fuzz.pte", data, size), files, registry);
  if (program.ok()) {
    (*program)->set_memory_budget(std::make_shared<runtime::MemoryBudget>(kMaxPlannedBytes));
    for (size_t p = 0; p < (*program)->file().num_plans() && p < kMaxMethods; ++p) {
      const auto* name = (*program)->file().plan(p).name();
      if (name != nullptr) load_and_run(**program, name->str());
    }
  }
  (void)plugins::PluginLog::take_last_error();
  return 0;
}
