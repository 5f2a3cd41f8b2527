// Every fixture runs through the real plugins (portable kernels, XNNPACK backend) and matches
// the outputs the real ExecuTorch runtime gave, within the tolerance index.json records.
#include <gtest/gtest.h>

#include "support/status.h"

#include "runtime/runtime_support.h"
#include "runtime/tensor_io.h"
#include "support/fixtures.h"

namespace etp::test {
namespace {

class FixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureTest, MatchesTheExecuTorchRuntime) {
  const nlohmann::json f = fixture_named(GetParam());
  ASSERT_FALSE(f.is_null());
  static const auto registry = full_registry();
  auto program = open_fixture(f, registry);
  ASSERT_TRUE(program.ok()) << program.status().message();
  std::map<std::string, std::unique_ptr<runtime::Method>> methods;  // one load per method; state carries over
  size_t run_index = 0;
  for (const auto& run : f["runs"]) {
    const std::string name = run["method"];
    if (!methods.count(name)) {
      auto method = (*program)->load_method(name);
      ASSERT_TRUE(method.ok()) << method.status().message();
      methods[name] = std::move(*method);
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

std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  for (const auto& f : all_fixtures()) names.push_back(f["name"]);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest, ::testing::ValuesIn(fixture_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace etp::test
