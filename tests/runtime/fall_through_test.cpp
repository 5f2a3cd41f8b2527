// ABI 1.2 fall-through: a kernel declines calls it does not handle at load, and the host gives
// each such call to the next plugin offering the operator; a backend id offered twice is served
// by the first plugin in order.
#include <gtest/gtest.h>

#include "support/status.h"

#include "format/data_file.h"
#include "runtime/runtime_support.h"
#include "runtime/tensor_io.h"
#include "support/fixtures.h"

namespace etp::test {
namespace {

// Every fixture, with a partial fast aten::add.out first: the calls it takes and the calls it
// declines (broadcasts, other dtypes, dynamic shapes, alpha) both occur, and every output
// still matches ExecuTorch's.
TEST(FallThroughTest, EveryFixtureRunsWithAPartialFastAddFirst) {
  std::vector<std::string> paths = {kTestPlugins + "/libetp_fast_add.so"};
  for (const std::string& p : shipped_plugin_paths()) paths.push_back(p);
  const auto registry = registry_of(paths);
  uint32_t fast = 0, fallen = 0;
  size_t fixtures = 0;
  for (const nlohmann::json& f : all_fixtures()) {
    SCOPED_TRACE(f["name"].get<std::string>());
    std::vector<runtime::Method::OperatorService> services;
    expect_fixture_matches(f, registry, &services);
    for (const auto& s : services) {
      if (s.op != "aten::add.out") continue;
      for (const auto& [plugin, calls] : s.plugins) (plugin == "fast_add" ? fast : fallen) += calls;
    }
    ++fixtures;
  }
  EXPECT_GT(fixtures, 100u);
  EXPECT_GT(fast, 0u) << "fast_add served no call";
  EXPECT_GT(fallen, 0u) << "no aten::add.out call fell through";
  std::printf("aten::add.out calls over %zu fixtures: %u served by fast_add, %u fell through\n", fixtures, fast,
              fallen);
}

// A fixture whose add runs in channels-last order: with fast_add alone, the call has nowhere to
// fall, and the load fails naming the instruction, the decliners and the arguments.
TEST(FallThroughTest, ACallEveryPluginDeclinesFailsTheLoadNamingIt) {
  const nlohmann::json f = fixture_named("cf_add_channels_last");
  ASSERT_FALSE(f.is_null()) << "fixture cf_add_channels_last";
  auto program = open_fixture(f, registry_of({kTestPlugins + "/libetp_fast_add.so"}));
  ASSERT_TRUE(program.ok()) << program.status().message();
  auto method = (*program)->load_method("forward");
  ASSERT_FALSE(method.ok());
  EXPECT_EQ(method.status().code(), StatusCode::kNotFound);
  EXPECT_NE(method.status().message().find(
                "aten::add.out: every plugin providing the operator declined the call (fast_add); arguments: float32["),
            std::string::npos)
      << method.status().message();
  EXPECT_NE(method.status().message().find("(dim order 0, 2, 3, 1)"), std::string::npos) << method.status().message();
}

// A plugin that fails where it should decline fails the load, with its message; a kernel that
// declines when called (too late: the choice was made at load) fails the run, saying so.
TEST(FallThroughTest, DecliningWrongIsAnErrorAtLoadOrAtRun) {
  const std::string misbehaving = kTestPlugins + "/libetp_misbehaving_add.so";
  auto channels_last = open_fixture(fixture_named("cf_add_channels_last"), registry_of({misbehaving, ETP_PORTABLE_PLUGIN_PATH}));
  ASSERT_TRUE(channels_last.ok()) << channels_last.status().message();
  auto refused = (*channels_last)->load_method("forward");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("aten::add.out: plugin misbehaving_add failed to consider the call "
                                            "(status 301): misbehaving_add: cannot judge this call"),
            std::string::npos)
      << refused.status().message();
  auto dense = open_fixture(fixture_named("add"), registry_of({misbehaving, ETP_PORTABLE_PLUGIN_PATH}));
  ASSERT_TRUE(dense.ok()) << dense.status().message();
  auto method = (*dense)->load_method("forward");
  ASSERT_TRUE(method.ok()) << method.status().message();
  const Status s = (*method)->execute();
  EXPECT_NE(s.message().find("aten::add.out (plugin misbehaving_add) failed with status 104: a kernel cannot decline "
                             "when called: it declines at load, in accept_kernel_call"),
            std::string::npos)
      << s.message();
}

// Both orders of two plugins offering the backend id EtpDemoBackend: the earlier one serves it,
// the other is recorded as also offering it, and the program runs either way.
TEST(FallThroughTest, TheFirstPluginOfferingABackendIdServesIt) {
  const std::string current = kTestPlugins + "/libetp_demo_backend.so";
  const std::string old = kTestPlugins + "/libetp_demo_backend_abi_1_1.so";
  const std::string examples = ETP_EXAMPLES_DIR;
  auto input = read_npy(examples + "/plugins/demo_backend/input.npy");
  auto expected = read_npy(examples + "/plugins/demo_backend/expected.npy");
  ASSERT_TRUE(input.ok() && expected.ok());
  for (const auto& order : {std::vector<std::string>{current, old}, std::vector<std::string>{old, current}}) {
    std::vector<std::string> paths = order;
    paths.push_back(ETP_PORTABLE_PLUGIN_PATH);
    const auto registry = registry_of(paths);
    auto backend = registry->find_backend("EtpDemoBackend");
    ASSERT_TRUE(backend.ok()) << backend.status().message();
    EXPECT_EQ(backend->plugin->path(), order[0]);
    EXPECT_EQ(backend->also_offered_by, std::vector<std::string>{"demo_backend"});
    auto program = runtime::Program::open(examples + "/plugins/demo_backend/demo_affine.pte", {}, registry);
    ASSERT_TRUE(program.ok()) << program.status().message();
    auto method = (*program)->load_method("forward");
    ASSERT_TRUE(method.ok()) << method.status().message();
    ASSERT_OK((*method)->set_input(0, runtime::as_input(*input)));
    ASSERT_OK((*method)->execute());
    const runtime::Comparison c = runtime::compare((*method)->output(0), *expected, 1e-5, 1e-6);
    EXPECT_TRUE(c.ok) << c.mismatch;
  }
}

}  // namespace
}  // namespace etp::test
