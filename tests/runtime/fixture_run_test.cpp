// Every fixture runs through the real plugins (portable kernels, XNNPACK backend) and matches
// the outputs the real ExecuTorch runtime gave, within the tolerance index.json records.
#include <gtest/gtest.h>

#include "support/status.h"

#include "runtime/runtime_support.h"
#include "support/fixtures.h"

namespace etp::test {
namespace {

class FixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureTest, MatchesTheExecuTorchRuntime) {
  const nlohmann::json f = fixture_named(GetParam());
  ASSERT_FALSE(f.is_null());
  static const auto registry = full_registry();
  expect_fixture_matches(f, registry);
}

std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  for (const auto& f : all_fixtures()) names.push_back(f["name"]);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest, ::testing::ValuesIn(fixture_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace etp::test
