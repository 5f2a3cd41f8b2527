// Loading the real built plugins and running fixtures for runtime tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/npy.h"
#include "plugins/registry.h"
#include "runtime/method.h"

namespace etp::test {

#ifdef ETP_TEST_PLUGIN_DIR
// The test-only plugins in the build tree (tests/plugins/test_plugins, the example plugins).
inline const std::string kTestPlugins = ETP_TEST_PLUGIN_DIR;
#endif

// A registry of the plugin files `paths`, in order, with the process's default host (a plugin
// that fails to load fails the test).
std::shared_ptr<plugins::Registry> registry_of(const std::vector<std::string>& paths);
// The shipped plugins' files in the build tree: portable, quantized, llm, xnnpack.
std::vector<std::string> shipped_plugin_paths();
// A registry with the portable plugin loaded from the build tree (fails the test otherwise).
std::shared_ptr<const plugins::Registry> portable_registry();
// Portable, then XNNPACK (with `threads` threads).
std::shared_ptr<const plugins::Registry> full_registry(const std::string& threads = "2");

// Opens a fixture's program with its data files.
Result<std::shared_ptr<runtime::Program>> open_fixture(const nlohmann::json& fixture,
                                                       std::shared_ptr<const plugins::Registry> registry);

// Runs every recorded run of fixture `f` (one load per method; state carries over) and expects
// the outputs ExecuTorch gave, within the fixture's tolerance. With `services`, appends which
// plugins served each operator of each method loaded.
void expect_fixture_matches(const nlohmann::json& f, std::shared_ptr<const plugins::Registry> registry,
                            std::vector<runtime::Method::OperatorService>* services = nullptr);

}  // namespace etp::test
