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

// A registry with the portable plugin loaded from the build tree (fails the test otherwise).
std::shared_ptr<const plugins::Registry> portable_registry();
// Portable, then XNNPACK (with `threads` threads).
std::shared_ptr<const plugins::Registry> full_registry(const std::string& threads = "2");

// Opens a fixture's program with its data files.
Result<std::shared_ptr<runtime::Program>> open_fixture(const nlohmann::json& fixture,
                                                       std::shared_ptr<const plugins::Registry> registry);


}  // namespace etp::test
