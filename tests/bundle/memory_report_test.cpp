// The memory report of the LoRA demo bundle: its exact figures equal their sources (planned
// buffer sizes, the plugins' cache reports), and its itemised memory agrees with the process's.
#include <gtest/gtest.h>

#include "support/sanitizers.h"
#include "support/status.h"

#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bundle/bundle.h"
#include "bundle/memory_report.h"

namespace etp::bundle {
namespace {

TEST(MemoryReportTest, ItemisedMemoryAgreesWithTheProcessWithinTheStatedMargin) {
  // AddressSanitizer's allocator adds redzones, quarantine and shadow pages to every
  // allocation, so process memory says nothing about etp's own accounting there; the exact
  // figures are still checked.
#if ETP_TEST_ASAN
  constexpr bool kSanitized = true;
#else
  constexpr bool kSanitized = false;
#endif
  auto manifest = parse_manifest(ETP_LORA_MANIFEST);
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  auto bundle = Bundle::open(*manifest, {{ETP_PLUGIN_DIR}});
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  std::vector<std::unique_ptr<runtime::Method>> methods;
  std::vector<LoadedModel> loaded;
  const ProcessMemory start = measure_process();
  for (const ModelSpec& spec : (*bundle)->manifest().models) {
    LoadedModel model{spec.name, {}, measure_process(), {}, {}};
    auto program = (*bundle)->program(spec.name);
    ASSERT_TRUE(program.ok()) << program.status().message();
    auto method = (*program)->load_method("forward");
    ASSERT_TRUE(method.ok()) << method.status().message();
    model.methods.push_back(method->get());
    methods.push_back(std::move(*method));
    model.after = measure_process();
    // Planned buffers come from zero pages and count once touched: run once (on the zeroed
    // inputs) so that the process has paid for everything the report itemises.
    ASSERT_OK(methods.back()->execute());
    model.after_runs = measure_process();
    loaded.push_back(model);
  }
  const ProcessMemory end = measure_process();
  const nlohmann::json report = memory_report(**bundle, loaded);
  ASSERT_EQ(report["models"].size(), 3u);

  // What the report itemises as anonymous memory: planned buffers and packed weights.
  uint64_t itemised = 0;
  for (const auto& m : report["models"]) itemised += m["planned_bytes"].get<uint64_t>() + m["private_packed_bytes"].get<uint64_t>();
  for (const auto& f : report["data_files"]) itemised += f["shared_packed_bytes"].get<uint64_t>();
  const double grown = static_cast<double>(end.anonymous) - static_cast<double>(start.anonymous);
  // Margin: 2 MiB plus 25% for what the report does not itemise (delegate arenas, containers,
  // heap bookkeeping) and for pages the allocator reuses.
  const double margin = 2.0 * (1 << 20) + 0.25 * static_cast<double>(itemised);
  if (!kSanitized) {
    EXPECT_LE(std::abs(grown - static_cast<double>(itemised)), margin)
        << "itemised " << itemised << " bytes, anonymous memory grew by " << grown;
  }

  const auto& f = report["data_files"][0];
  EXPECT_EQ(f["models"].size(), 3u);
  // The exact figures against independent sources: each program's planned buffer sizes, and
  // the plugins' own cache reports.
  for (size_t i = 0; i < loaded.size(); ++i) {
    auto program = (*bundle)->program(loaded[i].name);
    ASSERT_TRUE(program.ok());
    auto plan = (*program)->file().find_plan("forward");
    ASSERT_TRUE(plan.ok());
    uint64_t planned = 0;
    const auto* sizes = (*plan)->non_const_buffer_sizes();
    for (flatbuffers::uoffset_t b = 1; sizes && b < sizes->size(); ++b) planned += static_cast<uint64_t>(sizes->Get(b));
    EXPECT_GT(planned, 0u);
    EXPECT_EQ(report["models"][i]["planned_bytes"].get<uint64_t>(), planned) << loaded[i].name;
  }
  uint64_t shared_packed = 0;
  for (const auto& plugin : (*bundle)->registry().plugins()) {
    for (const plugins::CacheEntry& e : plugin->cache_report()) {
      if (e.shared && e.file_id == (*bundle)->data(manifest->data[0].name)->file_id) shared_packed += e.packed_bytes;
    }
  }
  EXPECT_GT(shared_packed, 0u);
  EXPECT_EQ(f["shared_packed_bytes"].get<uint64_t>(), shared_packed);
  EXPECT_LE(f["resident_bytes"].get<uint64_t>(), f["mapped_bytes"].get<uint64_t>());
  EXPECT_GT(f["shared_packed_entries"].get<uint64_t>(), 0u);
  const auto& p = report["process"];
  EXPECT_EQ(p["rss"].get<uint64_t>(), p["anonymous"].get<uint64_t>() + p["file_backed"].get<uint64_t>());
  EXPECT_GE(p["peak_rss"].get<uint64_t>(), p["rss"].get<uint64_t>());
  // The adapters share the base's packed foundation: each packs only its own few weights.
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_LT(report["models"][i]["private_packed_bytes"].get<uint64_t>(), f["shared_packed_bytes"].get<uint64_t>() / 2);
  }
}

// A bundle over a manifest written to the test's temp folder as `file`: the plugins named by
// `plugins` (each "name: { library: name }"), one data file `foundation` of the fixtures given to
// the XNNPACK cache, and `models` (name -> fixture program reading it).
Result<std::unique_ptr<Bundle>> open_over_foundation(const std::string& file, const std::vector<std::string>& plugins,
                                                     const std::string& foundation,
                                                     const std::vector<std::pair<std::string, std::string>>& models) {
  const std::string fixtures = ETP_FIXTURES_DIR;
  const std::string path = ::testing::TempDir() + "/" + file;
  std::ofstream yaml(path);
  yaml << "etp: 1\nplugins:\n";
  for (const std::string& p : plugins) yaml << "  " << p << ": { library: " << p << " }\n";
  yaml << "data:\n  foundation: { file: " << fixtures << "/" << foundation << ", weight_cache: xnnpack }\nmodels:\n";
  for (const auto& [name, program] : models) {
    yaml << "  " << name << ": { program: " << fixtures << "/" << program << ", data: [foundation] }\n";
  }
  yaml.close();
  auto manifest = parse_manifest(path);
  if (!manifest.ok()) return manifest.status();
  return Bundle::open(*manifest, {{ETP_PLUGIN_DIR}});
}

// Entries and bytes the plugins' caches hold shared for the bundle's data file `foundation`.
std::pair<uint64_t, uint64_t> shared_packed(const Bundle& bundle) {
  const uint64_t file_id = bundle.data("foundation")->file_id;
  std::pair<uint64_t, uint64_t> entries_bytes{0, 0};
  for (const auto& plugin : bundle.registry().plugins()) {
    for (const plugins::CacheEntry& e : plugin->cache_report()) {
      if (e.shared && e.file_id == file_id) ++entries_bytes.first, entries_bytes.second += e.packed_bytes;
    }
  }
  return entries_bytes;
}

// Loads the forward method of each model in order, keeping it in `methods`, with the
// LoadedModel the report takes; `after_first` runs once the first is loaded.
void load_in_order(Bundle& bundle, const std::vector<std::string>& names,
                   std::vector<std::unique_ptr<runtime::Method>>* methods, std::vector<LoadedModel>* loaded,
                   const std::function<void()>& after_first) {
  for (const std::string& name : names) {
    auto program = bundle.program(name);
    ASSERT_TRUE(program.ok()) << program.status().message();
    auto method = (*program)->load_method("forward");
    ASSERT_TRUE(method.ok()) << method.status().message();
    methods->push_back(std::move(*method));
    loaded->push_back({name, {methods->back().get()}, measure_process(), measure_process(), {}});
    if (loaded->size() == 1) after_first();
  }
}

// Two LoRA programs over an 8da4w foundation file (ExecuTorch's LLM export with qmode 8da4w and a
// foundation_weights_file): the quantized foundation layers are packed once, by the first program
// to load, and the LoRA programs add no shared entry and no shared byte; each packs only its own
// adapter layers.
TEST(MemoryReportTest, LoraProgramsShareTheQuantizedFoundationsPackedWeights) {
  auto bundle = open_over_foundation("demo_8da4w.yaml", {"portable", "xnnpack", "llm"},
                                     "llama_demo_8da4w_foundation.ptd",
                                     {{"base", "llama_demo_8da4w_xnnpack.pte"},
                                      {"mul", "llama_demo_8da4w_lora_mul_xnnpack.pte"},
                                      {"rev", "llama_demo_8da4w_lora_rev_xnnpack.pte"}});
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  std::vector<std::unique_ptr<runtime::Method>> methods;
  std::vector<LoadedModel> loaded;
  std::pair<uint64_t, uint64_t> after_base;
  load_in_order(**bundle, {"base", "mul", "rev"}, &methods, &loaded, [&] { after_base = shared_packed(**bundle); });
  ASSERT_EQ(loaded.size(), 3u);
  // 4 layers x 7 quantized projections (wq, wk, wv, wo, w1, w2, w3) and the output layer.
  EXPECT_EQ(after_base.first, 29u);
  EXPECT_EQ(shared_packed(**bundle), after_base) << "a LoRA program packed quantized foundation weights again";
  const nlohmann::json report = memory_report(**bundle, loaded);
  const auto& f = report["data_files"][0];
  EXPECT_EQ(f["shared_packed_entries"].get<uint64_t>(), after_base.first) << f.dump();
  EXPECT_EQ(f["shared_packed_bytes"].get<uint64_t>(), after_base.second);
  EXPECT_EQ(report["models"][0]["private_packed_bytes"].get<uint64_t>(), 0u);
  // Each LoRA program packs only its adapters, which the export leaves in fp32: exactly what the
  // same adapters cost over the fp32 foundation (llama_demo_lora_mul_xnnpack, the same shapes).
  auto fp32 = open_over_foundation("demo_fp32_mul.yaml", {"portable", "xnnpack", "llm"}, "llama_demo_foundation.ptd",
                                   {{"mul", "llama_demo_lora_mul_xnnpack.pte"}});
  ASSERT_TRUE(fp32.ok()) << fp32.status().message();
  std::vector<std::unique_ptr<runtime::Method>> fp32_methods;
  std::vector<LoadedModel> fp32_loaded;
  load_in_order(**fp32, {"mul"}, &fp32_methods, &fp32_loaded, [] {});
  ASSERT_EQ(fp32_loaded.size(), 1u);
  const uint64_t adapters = memory_report(**fp32, fp32_loaded)["models"][0]["private_packed_bytes"];
  EXPECT_GT(adapters, 0u);
  for (size_t i = 1; i < 3; ++i) EXPECT_EQ(report["models"][i]["private_packed_bytes"].get<uint64_t>(), adapters);
}

// A layer whose ReLU XNNPACK fuses in the base program but not in the LoRA program (its adapter's
// add comes first) is packed once for both: the report counts exactly the base's two shared
// entries and bytes after the LoRA program loads, and only the adapter is private.
TEST(MemoryReportTest, ALayerIsPackedOnceWhateverActivationIsFusedIntoIt) {
  auto bundle = open_over_foundation("fused_relu.yaml", {"portable", "xnnpack"}, "fused_relu_foundation.ptd",
                                     {{"base", "fused_relu_xnnpack.pte"}, {"lora", "fused_relu_lora_xnnpack.pte"}});
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  std::vector<std::unique_ptr<runtime::Method>> methods;
  std::vector<LoadedModel> loaded;
  uint64_t base_bytes = 0;
  load_in_order(**bundle, {"base", "lora"}, &methods, &loaded, [&] { base_bytes = shared_packed(**bundle).second; });
  ASSERT_EQ(loaded.size(), 2u);
  const nlohmann::json report = memory_report(**bundle, loaded);
  const auto& f = report["data_files"][0];
  EXPECT_EQ(f["shared_packed_entries"].get<uint64_t>(), 2u) << f.dump();  // fc1 and fc2, once each
  EXPECT_GT(base_bytes, 0u);
  EXPECT_EQ(f["shared_packed_bytes"].get<uint64_t>(), base_bytes) << "the LoRA program packed foundation weights again";
  EXPECT_EQ(report["models"][0]["private_packed_bytes"].get<uint64_t>(), 0u);
  EXPECT_GT(report["models"][1]["private_packed_bytes"].get<uint64_t>(), 0u);  // its adapter's two layers
}

}  // namespace
}  // namespace etp::bundle
