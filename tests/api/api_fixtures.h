// Opening a fixture of tests/fixtures/index.json through the public API (the etp_api_tests).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "etp/etp.h"
#include "support/fixtures.h"

namespace etp::test {

// The plugins of this build only (no ETP_PLUGIN_PATH).
inline const BundleOptions kOptions{{ETP_PLUGIN_DIR}, /*use_environment=*/false, {}};

// The fixture's program and data files as model "model", on the default plugins.
inline Bundle open_fixture(const nlohmann::json& f) {
  std::vector<std::string> data;
  for (const auto& d : f["data_files"]) data.push_back(fixture_path(d));
  auto bundle = Bundle::open(BundleSpec::for_program(fixture_path(f["program"]), data), kOptions);
  EXPECT_TRUE(bundle.ok()) << f["name"] << ": " << bundle.status().to_string();
  return std::move(*bundle);
}

}  // namespace etp::test
