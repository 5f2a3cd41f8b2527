// `etp inspect` reports exactly the operators and delegate ids the exporter recorded.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "inspect/inspect.h"
#include "support/fixtures.h"

namespace etp::inspect {
namespace {

using test::all_fixtures;
using test::fixture_path;

TEST(InspectTest, OperatorsAndDelegatesMatchTheFixtureIndex) {
  ASSERT_FALSE(all_fixtures().empty());
  for (const auto& f : all_fixtures()) {
    auto d = describe_file(fixture_path(f["program"]));
    ASSERT_TRUE(d.ok()) << d.status().message();
    EXPECT_EQ((*d)["operators"].get<std::set<std::string>>(), f["operators"].get<std::set<std::string>>())
        << f["name"];
    EXPECT_EQ((*d)["backends"].get<std::set<std::string>>(), f["delegates"].get<std::set<std::string>>())
        << f["name"];
    size_t delegate_calls = 0;
    for (const auto& m : (*d)["methods"]) delegate_calls += m["delegates"].size();
    EXPECT_EQ(delegate_calls, f["num_delegate_calls"].get<size_t>()) << f["name"];
  }
}

TEST(InspectTest, DataFilesListEveryKeyWithItsLayoutOrNone) {
  for (const auto& f : all_fixtures()) {
    for (const auto& name : f["data_files"]) {
      auto d = describe_file(fixture_path(name));
      ASSERT_TRUE(d.ok()) << d.status().message();
      EXPECT_EQ((*d)["kind"], "data");
      for (const auto& key : (*d)["keys"]) {
        EXPECT_TRUE(key["layout"].is_null() || key["layout"]["nbytes"].get<uint64_t>() <= key["bytes"].get<uint64_t>());
        EXPECT_GE(key["alignment"].get<uint64_t>(), 16u) << key["key"];  // both writers align to 16 at least
      }
    }
  }
}

TEST(InspectTest, XnnpackDelegatesReportNodeCounts) {
  size_t seen = 0;
  for (const auto& f : all_fixtures()) {
    if (f["backend"] != "xnnpack") continue;
    auto d = describe_file(fixture_path(f["program"]));
    ASSERT_TRUE(d.ok());
    for (const auto& m : (*d)["methods"]) {
      for (const auto& delegate : m["delegates"]) {
        ASSERT_TRUE(delegate.contains("xnnpack")) << f["name"];
        EXPECT_FALSE(delegate["xnnpack"].contains("error")) << delegate["xnnpack"];
        EXPECT_GT(delegate["xnnpack"]["num_nodes"].get<size_t>(), 0u);
        ++seen;
      }
    }
  }
  EXPECT_GT(seen, 0u);
}

TEST(InspectTest, MissingFileIsNamedInTheError) {
  auto d = describe_file("/nonexistent/model.pte");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kNotFound);
  EXPECT_NE(d.status().message().find("/nonexistent/model.pte"), std::string::npos);
}

// The command itself: exit codes and JSON output.
int run(const std::string& args, std::string* out) { return test::run_command(ETP_CLI_PATH " " + args, out); }

TEST(InspectCommandTest, JsonOutputParsesAndFailuresExitNonZero) {
  const auto f = all_fixtures().at(0);
  std::string out;
  ASSERT_EQ(run("inspect --json " + fixture_path(f["program"]), &out), 0) << out;
  const auto doc = nlohmann::json::parse(out);
  EXPECT_EQ(doc["files"].size(), 1u);
  std::string err;
  EXPECT_EQ(run("inspect /nonexistent.pte", &err), 1);
  EXPECT_NE(err.find("/nonexistent.pte"), std::string::npos);
  std::string help;
  EXPECT_EQ(run("inspect --help", &help), 0);
  EXPECT_NE(help.find("usage: etp inspect"), std::string::npos);
  std::string bad;
  EXPECT_EQ(run("inspect --bogus", &bad), 2);
}

}  // namespace
}  // namespace etp::inspect
