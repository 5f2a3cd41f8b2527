// `etp plugins` and `etp inspect --coverage` as a user types them.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "support/fixtures.h"

namespace etp::test {
namespace {

int etp(const std::string& args, std::string* out) { return run_command(ETP_CLI_PATH " " + args, out); }

TEST(PluginsCommandTest, ListsTheBuiltPluginsWithTheirKernelsAndBackends) {
  std::string out;
  ASSERT_EQ(etp("plugins --json", &out), 0) << out;
  const nlohmann::json doc = nlohmann::json::parse(out);
  bool portable = false, xnnpack = false;
  for (const auto& p : doc["plugins"]) {
    if (p.value("name", "") == "portable") {
      portable = true;
      EXPECT_EQ(p["abi"], "1.1");
      const auto& kernels = p["kernels"];
      EXPECT_NE(std::find(kernels.begin(), kernels.end(), "aten::any.out"), kernels.end());
      EXPECT_TRUE(p["backends"].empty());
    }
    if (p.value("name", "") == "xnnpack") {
      xnnpack = true;
      EXPECT_EQ(p["backends"], nlohmann::json::array({"XnnpackBackend"}));
    }
  }
  EXPECT_TRUE(portable && xnnpack) << out;
  out.clear();
  ASSERT_EQ(etp("plugins", &out), 0) << out;
  EXPECT_NE(out.find("xnnpack 0.1.0 (ABI 1.1)"), std::string::npos) << out;
  EXPECT_NE(out.find("XnnpackBackend"), std::string::npos) << out;
}

TEST(PluginsCommandTest, APluginThatCannotLoadIsListedWithTheReason) {
  std::string out;
  // The test plugins folder holds deliberately broken libraries next to working ones.
  EXPECT_EQ(etp("plugins --json --plugin-path " ETP_TEST_PLUGIN_DIR, &out), 1) << out;
  const nlohmann::json doc = nlohmann::json::parse(out);
  bool broken = false, wrong = false;
  for (const auto& p : doc["plugins"]) {
    const std::string library = p["library"];
    if (library.find("libetp_broken_wrong_major.so") != std::string::npos) {
      broken = p.contains("error") && p["error"].get<std::string>().find("ABI major") != std::string::npos;
    }
    wrong = wrong || p.value("name", "") == "wrong";
  }
  EXPECT_TRUE(broken) << out;
  EXPECT_TRUE(wrong) << out;
  out.clear();
  EXPECT_EQ(etp("plugins extra", &out), 2);
  EXPECT_NE(out.find("unexpected argument 'extra'"), std::string::npos) << out;
}

TEST(InspectCoverageTest, NamesThePluginOfEachOperatorAndBackendOrNone) {
  std::string out;
  ASSERT_EQ(etp("inspect --coverage --json " + fixture_path("cnn_xnnpack.pte"), &out), 0) << out;
  const nlohmann::json doc = nlohmann::json::parse(out);
  bool backend = false;
  for (const auto& e : doc["entries"]) {
    if (e["kind"] == "backend") backend = e["name"] == "XnnpackBackend" && e["plugin"] == "xnnpack";
    if (e["kind"] == "operator") {
      EXPECT_EQ(e["plugin"], "portable") << e.dump();
    }
  }
  EXPECT_TRUE(backend) << out;
  EXPECT_TRUE(doc["missing"].empty());
  out.clear();
  EXPECT_EQ(etp("inspect --coverage --plugin portable " + fixture_path("cnn_xnnpack.pte"), &out), 1);
  EXPECT_NE(out.find("missing: forward: XnnpackBackend"), std::string::npos) << out;
  out.clear();
  ASSERT_EQ(etp("inspect --coverage --plugin portable " + fixture_path("map_loop.pte"), &out), 0) << out;
  EXPECT_NE(out.find("executorch_prim::add.Scalar            host"), std::string::npos)
      << "prim operators are the host's: " << out;
  out.clear();
  EXPECT_EQ(etp("inspect --coverage a.pte b.pte", &out), 2);
  EXPECT_NE(out.find("--coverage takes one PROGRAM.pte"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("inspect --plugin portable " + fixture_path("add.pte"), &out), 2);
  EXPECT_NE(out.find("apply to --coverage"), std::string::npos) << out;
}

}  // namespace
}  // namespace etp::test
