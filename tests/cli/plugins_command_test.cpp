// `etp plugins`, `etp plugin check` and `etp inspect --coverage` as a user types them.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli_test_support.h"

namespace etp::test {
namespace {

TEST(PluginsCommandTest, ListsTheBuiltPluginsWithTheirKernelsAndBackends) {
  std::string out;
  ASSERT_EQ(etp("plugins --json", &out), 0) << out;
  const nlohmann::json doc = nlohmann::json::parse(out);
  bool portable = false, xnnpack = false;
  for (const auto& p : doc["plugins"]) {
    if (p.value("name", "") == "portable") {
      portable = true;
      EXPECT_EQ(p["abi"], "1.3");
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
  EXPECT_NE(out.find("xnnpack 0.1.0 (ABI 1.3)"), std::string::npos) << out;
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

// `etp plugin check LIB --json`: the checks that did not pass, by name and status.
std::map<std::string, std::string> plugin_check_defects(const std::string& library, int* exit_code,
                                                        std::string* detail = nullptr, int timeout_s = 60) {
  std::string out;
  *exit_code = etp("plugin check " + library + " --json --timeout " + std::to_string(timeout_s), &out);
  const nlohmann::json doc = nlohmann::json::parse(out);
  std::map<std::string, std::string> defects;
  for (const auto& c : doc["checks"]) {
    if (c["status"] != "pass" && c["status"] != "skip") {
      defects[c["name"]] = c["status"];
      if (detail != nullptr) *detail += c["detail"].get<std::string>() + "\n";
    }
  }
  EXPECT_EQ(doc["passed"], defects.empty()) << out;
  return defects;
}

TEST(PluginCheckTest, TheShippedPluginsHonourTheContract) {
  for (const char* name : {"portable", "xnnpack", "quantized", "llm"}) {
    int code = -1;
    std::string detail;
    const auto defects =
        plugin_check_defects(std::string(ETP_PLUGIN_BUILD_DIR "/libetp_") + name + ".so", &code, &detail);
    EXPECT_TRUE(defects.empty()) << name << ":\n" << detail;
    EXPECT_EQ(code, 0) << name;
  }
}

// --program: the backend life cycle on real delegates (init, destroy without execute, repeated
// init, execute), with the programs' data files; a program without its delegates is named.
TEST(PluginCheckTest, BackendsRunTheirDelegatesInPrograms) {
  std::string out;
  ASSERT_EQ(etp("plugin check " ETP_PLUGIN_BUILD_DIR "/libetp_xnnpack.so --json --program " +
                    fixture_path("mlp_xnnpack.pte") + " --program " + fixture_path("llama_demo_lora_mul_xnnpack.pte") +
                    " --data " + fixture_path("llama_demo_foundation.ptd"),
                &out),
            0)
      << out;
  const nlohmann::json doc = nlohmann::json::parse(out);
  int programs = 0;
  for (const auto& c : doc["checks"]) {
    if (c["name"] != "backend_program") continue;
    ++programs;
    EXPECT_EQ(c["status"], "pass") << c.dump();
    EXPECT_NE(c["detail"].get<std::string>().find("XnnpackBackend in 1 method(s): init, destroy without execute, "
                                                  "repeated init, execute on zero inputs"),
              std::string::npos)
        << c.dump();
  }
  EXPECT_EQ(programs, 2) << out;
  // The pthreadpool functions the plugin takes over from libXNNPACK are named, not refused.
  for (const auto& c : doc["checks"]) {
    if (c["name"] != "symbols") continue;
    EXPECT_EQ(c["status"], "pass") << c.dump();
    EXPECT_NE(c["detail"].get<std::string>().find("its dependencies call, taking those calls over: "
                                                  "pthreadpool_get_threads_count, pthreadpool_parallelize_1d"),
              std::string::npos)
        << c.dump();
  }
  out.clear();
  EXPECT_EQ(etp("plugin check " ETP_PLUGIN_BUILD_DIR "/libetp_xnnpack.so --program " + fixture_path("add.pte"), &out),
            1);
  EXPECT_NE(out.find("FAIL  backend_program " + fixture_path("add.pte") + " has no delegate of the plugin's backends"),
            std::string::npos)
      << out;
  out.clear();
  // The external weights are needed: without --data the failure names the missing tensor.
  EXPECT_EQ(etp("plugin check " ETP_PLUGIN_BUILD_DIR "/libetp_xnnpack.so --program " +
                    fixture_path("llama_demo_lora_mul_xnnpack.pte"),
                &out),
            1);
  EXPECT_NE(out.find("no data file has it"), std::string::npos) << out;
}

// Each broken test plugin is reported with its one defect (checks that need what it broke are
// skipped), a crash, a hang and a wrong kernel result included, and the checker itself survives
// them all.
TEST(PluginCheckTest, EachBrokenPluginIsReportedWithItsDefect) {
  const std::vector<std::pair<std::string, std::map<std::string, std::string>>> cases = {
      {"libetp_broken_wrong_major.so", {{"query", "fail"}}},
      {"libetp_broken_short_struct.so", {{"query", "fail"}}},
      {"libetp_broken_no_name.so", {{"query", "fail"}}},
      {"libetp_broken_missing_symbol.so", {{"symbols", "fail"}}},
      {"libetp_broken_extra_symbol.so", {{"symbols", "fail"}}},
      {"libetp_broken_query_null.so", {{"query", "fail"}, {"null_host", "crash"}}},
      {"libetp_broken_null_slot.so", {{"backends", "fail"}}},
      {"libetp_broken_init_fails.so", {{"init", "fail"}}},
      {"libetp_broken_accepts_any_option.so", {{"unknown_option", "fail"}}},
      {"libetp_broken_unresolvable_kernel.so", {{"kernels", "fail"}}},
      {"libhangs_in_init_plugin.so", {{"init", "hang"}}},
      {"libetp_wrong.so", {{"kernel_results", "fail"}}},  // its aten::add.out subtracts
  };
  for (const auto& [library, expected] : cases) {
    int code = -1;
    std::string detail;
    // Only the plugin whose init never returns waits for its timeout.
    const int timeout_s = library.find("hangs") != std::string::npos ? 3 : 60;
    EXPECT_EQ(plugin_check_defects(std::string(ETP_TEST_PLUGIN_DIR "/") + library, &code, &detail, timeout_s), expected)
        << library << ":\n"
        << detail;
    EXPECT_EQ(code, 1) << library;
  }
  std::string out;
  EXPECT_EQ(etp("plugin check " ETP_TEST_PLUGIN_DIR "/libetp_broken_extra_symbol.so", &out), 1);
  EXPECT_NE(out.find("FAIL  symbols         exports 1 symbol(s) besides etp_plugin_query: etp_broken_extra_export"),
            std::string::npos)
      << out;
  out.clear();
  EXPECT_EQ(etp("plugin check " ETP_TEST_PLUGIN_DIR "/libetp_wrong.so", &out), 1);
  EXPECT_NE(out.find("FAIL  kernel_results  aten::add.out float32 [2,3]: element 0 is"), std::string::npos) << out;
  out.clear();
  // A kernel that refuses what the portable plugin serves passes, with a warning.
  EXPECT_EQ(etp("plugin check " ETP_TEST_PLUGIN_DIR "/libetp_shadow.so", &out), 0);
  EXPECT_NE(out.find("it refuses 12 case(s) the reference serves"), std::string::npos) << out;
  out.clear();
  // A partial kernel (ABI 1.2) declines, at load, what it does not handle: those cases fall
  // through to the next plugin, so they are no defect.
  EXPECT_EQ(etp("plugin check " ETP_TEST_PLUGIN_DIR "/libetp_fast_add.so", &out), 0);
  EXPECT_NE(out.find("case(s) at load, which fall through to the next plugin"), std::string::npos) << out;
  out.clear();
  // One that declines when called, or fails where it should decline, is a defect.
  EXPECT_EQ(etp("plugin check " ETP_TEST_PLUGIN_DIR "/libetp_misbehaving_add.so", &out), 1);
  EXPECT_NE(out.find("FAIL  kernel_results  aten::add.out float32 [2,3]: the kernel returned ETP_ERR_DECLINED when "
                     "called"),
            std::string::npos)
      << out;
  out.clear();
  EXPECT_EQ(etp("plugin check /nonexistent/libx.so", &out), 1);
  EXPECT_NE(out.find("FAIL  symbols         cannot open /nonexistent/libx.so"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("plugin check " ETP_TEST_PLUGIN_DIR "/libetp_wrong.so --timeout 0", &out), 2);
  EXPECT_NE(out.find("--timeout needs seconds in (0, 3600], got '0'"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("plugin inspect x.so", &out), 2);
  EXPECT_NE(out.find("expected 'check LIB.so'"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("plugin check a.so b.so", &out), 2);
  EXPECT_NE(out.find("'check' takes one plugin library"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("plugin check", &out), 2);
  EXPECT_EQ(etp("plugin check --help", &out), 0);
}

// ABI 1.2: which plugin serves each call is chosen per instruction at load. A partial fast add
// first takes the calls it accepts and the rest fall through, and coverage shows the split; a
// backend id offered twice is served by the first plugin, the other named as also offering it.
TEST(InspectCoverageTest, ShowsFallThroughAndTheFirstOfTwoBackendsOfferingAnId) {
  std::string out;
  ASSERT_EQ(etp("inspect --coverage --plugin " ETP_TEST_PLUGIN_DIR "/libetp_fast_add.so --plugin portable " +
                    fixture_path("transformer_portable.pte"),
                &out),
            0)
      << out;
  EXPECT_NE(out.find("portable (4 of 8 calls), fast_add (4 of 8)"), std::string::npos) << out;
  out.clear();
  ASSERT_EQ(etp("inspect --coverage --plugin " ETP_TEST_PLUGIN_DIR "/libetp_fast_add.so --plugin portable " +
                    fixture_path("cf_add_channels_last.pte"),
                &out),
            0)
      << out;
  EXPECT_NE(out.find("aten::add.out  portable  (also offered by fast_add)"), std::string::npos) << out;
  out.clear();
  ASSERT_EQ(etp("inspect --coverage --json --plugin " ETP_TEST_PLUGIN_DIR "/libetp_demo_backend_abi_1_1.so --plugin " ETP_TEST_PLUGIN_DIR
                "/libetp_demo_backend.so --plugin portable " ETP_EXAMPLES_DIR "/plugins/demo_backend/demo_affine.pte",
                &out),
            0)
      << out;
  const nlohmann::json doc = nlohmann::json::parse(out);
  bool backend = false;
  for (const auto& e : doc["entries"]) {
    if (e["kind"] != "backend") continue;
    backend = true;
    EXPECT_EQ(e["name"], "EtpDemoBackend");
    EXPECT_EQ(e["plugin"], "demo_backend");
    EXPECT_EQ(e["also_offered_by"], nlohmann::json::array({"demo_backend"})) << e.dump();
  }
  EXPECT_TRUE(backend) << out;
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
