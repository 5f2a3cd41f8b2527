// Old and new minors with this host (ABI 1.3): plugins built against the released ABI 1.1
// headers (tests/plugin_api/abi_1_1) load and serve, and the same sources built against this
// tree's headers use what 1.2 added. (The other direction, newer plugins under a 1.1 host, is
// tests/plugin_api/old_host_test.cpp.)
#include <gtest/gtest.h>

#include "support/status.h"

#include "runtime/runtime_support.h"
#include "support/fixtures.h"

namespace etp::test {
namespace {

// `first`, then the shipped plugins.
std::shared_ptr<plugins::Registry> with_shipped(const std::string& first) {
  std::vector<std::string> paths = {first};
  for (const std::string& p : shipped_plugin_paths()) paths.push_back(p);
  return registry_of(paths);
}

std::string served_by(const std::vector<runtime::Method::OperatorService>& services, const std::string& op) {
  std::string out;
  for (const auto& s : services) {
    if (s.op != op) continue;
    for (const auto& [plugin, calls] : s.plugins) out += (out.empty() ? "" : ",") + plugin;
  }
  return out;
}

TEST(AbiCompatTest, AMinor1KernelPluginServesThisHost) {
  auto registry = with_shipped(kTestPlugins + "/libetp_relu_counter_abi_1_1.so");
  const etp_plugin& table = registry->plugins().front()->table();
  EXPECT_EQ(table.header.minor, 1);
  EXPECT_EQ(table.header.struct_size, offsetof(etp_plugin, accept_kernel_call));  // a 1.1 table: 96 bytes
  std::vector<runtime::Method::OperatorService> services;
  expect_fixture_matches(fixture_named("mlp_portable"), registry, &services);
  EXPECT_EQ(served_by(services, "aten::relu.out"), "relu_counter");
}

// A 1.1 plugin cannot decline: it takes every call of its operator, so a bfloat16 relu reaches
// its float32-only kernel, which fails the run with its own message.
TEST(AbiCompatTest, AMinor1KernelTakesEveryCallOfItsOperator) {
  auto registry = with_shipped(kTestPlugins + "/libetp_relu_counter_abi_1_1.so");
  auto program = open_fixture(fixture_named("op_bf16_activations"), registry);
  ASSERT_TRUE(program.ok()) << program.status().message();
  auto method = (*program)->load_method("forward");
  ASSERT_TRUE(method.ok()) << method.status().message();
  const Status s = (*method)->execute();
  EXPECT_NE(s.message().find("aten::relu.out (plugin relu_counter) failed with status 2: relu_counter: "
                             "aten::relu.out handles float32 only, got bfloat16 -> bfloat16"),
            std::string::npos)
      << s.message();
}

// The same source built against 1.2 declines the bfloat16 relu at load, and it falls through.
TEST(AbiCompatTest, TheSameSourceBuiltFor1_2DeclinesWhatItDoesNotHandle) {
  auto registry = with_shipped(kTestPlugins + "/libetp_relu_counter.so");
  EXPECT_EQ(registry->plugins().front()->table().header.minor, ETP_ABI_MINOR);
  std::vector<runtime::Method::OperatorService> services;
  expect_fixture_matches(fixture_named("op_bf16_activations"), registry, &services);
  EXPECT_EQ(served_by(services, "aten::relu.out"), "portable");
  services.clear();
  expect_fixture_matches(fixture_named("mlp_portable"), registry, &services);
  EXPECT_EQ(served_by(services, "aten::relu.out"), "relu_counter");
}

TEST(AbiCompatTest, AMinor1BackendPluginServesThisHost) {
  auto registry = with_shipped(kTestPlugins + "/libetp_demo_backend_abi_1_1.so");
  EXPECT_EQ(registry->plugins().front()->table().header.minor, 1);
  auto backend = registry->find_backend("EtpDemoBackend");
  ASSERT_TRUE(backend.ok()) << backend.status().message();
  EXPECT_EQ(backend->plugin, registry->plugins().front());
  // demo_affine.pte runs through it in FallThroughTest.TheFirstPluginOfferingABackendIdServesIt.
}

}  // namespace
}  // namespace etp::test
