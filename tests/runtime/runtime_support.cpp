#include "runtime/runtime_support.h"

#include <gtest/gtest.h>

#include <map>

#include "format/data_file.h"
#include "runtime/host_services.h"
#include "runtime/tensor_io.h"
#include "support/fixtures.h"
#include "support/status.h"

namespace etp::test {

std::shared_ptr<plugins::Registry> registry_of(const std::vector<std::string>& paths) {
  auto registry = std::make_shared<plugins::Registry>();
  for (const std::string& path : paths) {
    auto plugin = plugins::PluginLibrary::load(path, *runtime::HostServices::get().api());
    if (!plugin.ok()) {
      ADD_FAILURE() << plugin.status().message();
      continue;
    }
    EXPECT_OK(registry->add(std::move(*plugin)));
  }
  return registry;
}

std::vector<std::string> shipped_plugin_paths() {
  return {ETP_PORTABLE_PLUGIN_PATH, ETP_QUANTIZED_PLUGIN_PATH, ETP_LLM_PLUGIN_PATH, ETP_XNNPACK_PLUGIN_PATH};
}

std::shared_ptr<const plugins::Registry> portable_registry() { return registry_of({ETP_PORTABLE_PLUGIN_PATH}); }

std::shared_ptr<const plugins::Registry> full_registry(const std::string& threads) {
  auto registry = std::make_shared<plugins::Registry>();
  // XNNPACK last: tests reach its cache through plugins().back().
  for (auto [path, options] : {std::make_pair(std::string(ETP_PORTABLE_PLUGIN_PATH), plugins::Options{}),
                               std::make_pair(std::string(ETP_QUANTIZED_PLUGIN_PATH), plugins::Options{}),
                               std::make_pair(std::string(ETP_LLM_PLUGIN_PATH), plugins::Options{}),
                               std::make_pair(std::string(ETP_XNNPACK_PLUGIN_PATH), plugins::Options{{"threads", threads}})}) {
    auto plugin = plugins::PluginLibrary::load(path, *runtime::HostServices::get().api(), options);
    if (!plugin.ok()) {
      ADD_FAILURE() << plugin.status().message();
      continue;
    }
    EXPECT_OK(registry->add(std::move(*plugin)));
  }
  return registry;
}

Result<std::shared_ptr<runtime::Program>> open_fixture(const nlohmann::json& fixture,
                                                       std::shared_ptr<const plugins::Registry> registry) {
  std::vector<runtime::DataSource> data;
  uint64_t id = 1;
  for (const auto& name : fixture["data_files"]) {
    ETP_TRY(auto file, format::DataFile::open(fixture_path(name)));
    data.push_back({std::make_shared<const format::DataFile>(std::move(file)), id++, ""});
  }
  return runtime::Program::open(fixture_path(fixture["program"]), std::move(data), std::move(registry));
}

void expect_fixture_matches(const nlohmann::json& f, std::shared_ptr<const plugins::Registry> registry,
                            std::vector<runtime::Method::OperatorService>* services) {
  auto program = open_fixture(f, std::move(registry));
  ASSERT_TRUE(program.ok()) << program.status().message();
  std::map<std::string, std::unique_ptr<runtime::Method>> methods;  // one load per method; state carries over
  size_t run_index = 0;
  for (const auto& run : f["runs"]) {
    const std::string name = run["method"];
    if (!methods.count(name)) {
      auto method = (*program)->load_method(name);
      ASSERT_TRUE(method.ok()) << method.status().message();
      methods[name] = std::move(*method);
      if (services != nullptr) {
        for (auto& s : methods[name]->operator_services()) services->push_back(std::move(s));
      }
    }
    runtime::Method& method = *methods[name];
    std::vector<NpyArray> inputs;
    for (const auto& in : run["inputs"]) {
      auto array = read_npy(fixture_path(in["file"]));
      ASSERT_TRUE(array.ok()) << array.status().message();
      inputs.push_back(std::move(*array));
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      Status s = method.set_input(i, runtime::as_input(inputs[i]));
      ASSERT_OK(s);
    }
    Status s = method.execute();
    ASSERT_OK(s) << "run " << run_index;
    ASSERT_EQ(method.num_outputs(), run["outputs"].size());
    for (size_t o = 0; o < method.num_outputs(); ++o) {
      auto expected = read_npy(fixture_path(run["outputs"][o]["file"]));
      ASSERT_TRUE(expected.ok()) << expected.status().message();
      const runtime::Comparison c = runtime::compare(method.output(o), *expected, f["rtol"], f["atol"]);
      EXPECT_TRUE(c.ok) << f["name"] << " run " << run_index << " output " << o << ": " << c.mismatch;
    }
    ++run_index;
  }
}

}  // namespace etp::test
