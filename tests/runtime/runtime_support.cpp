#include "runtime/runtime_support.h"

#include <gtest/gtest.h>

#include "format/data_file.h"
#include "runtime/host_services.h"
#include "support/fixtures.h"
#include "support/status.h"

namespace etp::test {

std::shared_ptr<const plugins::Registry> portable_registry() {
  auto registry = std::make_shared<plugins::Registry>();
  auto plugin = plugins::PluginLibrary::load(ETP_PORTABLE_PLUGIN_PATH, *runtime::HostServices::get().api());
  if (!plugin.ok()) {
    ADD_FAILURE() << plugin.status().message();
    return registry;
  }
  EXPECT_OK(registry->add(std::move(*plugin)));
  return registry;
}

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

}  // namespace etp::test
