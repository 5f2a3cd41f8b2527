// The bench loop (include/etp/bench.h) on real fixtures: statistics, configurations, the
// output check that exposes a fast wrong plugin, profiles, renderings and baselines.
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "etp/bench.h"
#include "support/fixtures.h"
#include "support/status.h"

namespace etp::test {
namespace {

using nlohmann::json;

// Fast settings: the tests check what is measured, not how well.
BenchOptions quick() {
  BenchOptions o;
  o.warmup = 1;
  o.repetitions = 3;
  o.min_time_s = 0;
  o.bundle = {{ETP_PLUGIN_DIR, ETP_TEST_PLUGIN_DIR}, /*use_environment=*/false, {}};
  return o;
}

const BenchResult* find(const BenchReport& report, const std::string& model, const std::string& config, int threads) {
  for (const BenchResult& r : report.results) {
    if (r.model == model && r.config == config && r.threads == threads) return &r;
  }
  return nullptr;
}

TEST(BenchStatsTest, PercentilesInterpolateAndStddevIsTheSampleOne) {
  const BenchStats s = compute_stats({10, 9, 8, 7, 6, 5, 4, 3, 2, 1});
  EXPECT_EQ(s.count, 10u);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 10);
  EXPECT_DOUBLE_EQ(s.mean, 5.5);
  EXPECT_DOUBLE_EQ(s.median, 5.5);
  EXPECT_NEAR(s.p10, 1.9, 1e-12);  // numpy.percentile(range(1, 11), 10)
  EXPECT_NEAR(s.p90, 9.1, 1e-12);
  EXPECT_NEAR(s.p99, 9.91, 1e-12);
  EXPECT_NEAR(s.stddev, std::sqrt(55.0 / 6.0), 1e-12);  // ddof=1
  EXPECT_NEAR(s.cv, s.stddev / 5.5, 1e-12);
  EXPECT_NEAR(s.p25, 3.25, 1e-12);
  EXPECT_NEAR(s.p75, 7.75, 1e-12);
  EXPECT_NEAR(s.robust_cv, 4.5 / 1.349 / 5.5, 1e-12);
  // One delayed run in a hundred inflates the classic cv, not the robust one.
  std::vector<double> runs(99, 1.0);
  for (size_t i = 0; i < runs.size(); ++i) runs[i] += 0.001 * static_cast<double>(i % 10);
  runs.push_back(100.0);
  const BenchStats outlier = compute_stats(runs);
  EXPECT_GT(outlier.cv, 1.0);
  EXPECT_LT(outlier.robust_cv, 0.01);
}

TEST(BenchStatsTest, EmptyAndSingleSamples) {
  EXPECT_EQ(compute_stats({}).count, 0u);
  const BenchStats one = compute_stats({2.5});
  EXPECT_DOUBLE_EQ(one.median, 2.5);
  EXPECT_DOUBLE_EQ(one.p99, 2.5);
  EXPECT_DOUBLE_EQ(one.stddev, 0);
  EXPECT_DOUBLE_EQ(compute_stats({1, 3}).median, 2);
}

TEST(BenchConfigTest, ParsesNamePluginsAndOptions) {
  auto c = parse_bench_config("fast=xnnpack+portable:threads=2,x=y");
  ASSERT_OK(c.status());
  EXPECT_EQ(c->name, "fast");
  ASSERT_EQ(c->plugins.size(), 2u);
  EXPECT_EQ(c->plugins[0].library, "xnnpack");
  EXPECT_EQ(c->plugins[1].library, "portable");
  ASSERT_EQ(c->options.size(), 2u);
  EXPECT_EQ(c->options[0], std::make_pair(std::string("threads"), std::string("2")));
  auto unnamed = parse_bench_config("./libetp_portable.so");
  ASSERT_OK(unnamed.status());
  EXPECT_EQ(unnamed->name, "./libetp_portable.so");
  for (const char* bad : {"=portable", "a=", "a=x++y", "a=x:", "a=x:threads", "a=x:=2", "a=x+"}) {
    EXPECT_EQ(parse_bench_config(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

// The example: portable and XNNPACK exports of one CNN at 1 and 2 threads.
TEST(BenchTest, DefaultConfigurationsAreThePluginSetsThatRunEachModel) {
  BenchOptions o = quick();
  o.models = {"cnn_portable", "cnn_xnnpack"};
  o.threads = {1, 2};
  auto report = run_bench(ETP_FIXTURES_MANIFEST, o);
  ASSERT_OK(report.status());
  // Every configuration runs at both counts: --threads sizes the host's pool, which portable's
  // kernels use (ABI 1.2), and XNNPACK's own pool through its option.
  ASSERT_EQ(report->results.size(), 4u);
  const BenchResult* portable = find(*report, "cnn_portable", "portable", 1);
  const BenchResult* portable2 = find(*report, "cnn_portable", "portable", 2);
  const BenchResult* one = find(*report, "cnn_xnnpack", "portable+xnnpack", 1);
  const BenchResult* two = find(*report, "cnn_xnnpack", "portable+xnnpack", 2);
  ASSERT_TRUE(portable && portable2 && one && two);
  for (const BenchResult* r : {portable, portable2, one, two}) {
    EXPECT_EQ(r->error, "");
    EXPECT_TRUE(r->outputs_match) << r->match_detail;
    EXPECT_GE(r->stats.count, 3u);
    EXPECT_GT(r->stats.median, 0);
    EXPECT_LE(r->stats.min, r->stats.median);
    EXPECT_LE(r->stats.median, r->stats.p90);
    EXPECT_LE(r->stats.p90, r->stats.p99);
    EXPECT_GT(r->load_ms, 0);
    EXPECT_GT(r->first_run_ms, 0);
    EXPECT_EQ(r->inputs, "manifest");
  }
  EXPECT_EQ(two->match_detail, "matches expected outputs");
  EXPECT_TRUE(report->ok());
  EXPECT_FALSE(report->machine.cpu.empty());
  EXPECT_GT(report->machine.logical_cores, 0);
  EXPECT_EQ(report->files.size(), 2u);
  EXPECT_EQ(report->plugins.size(), 4u);  // the manifest's portable, xnnpack, quantized and llm
}

TEST(BenchTest, TheJsonDocumentHasTheMachineAndEveryResultField) {
  BenchOptions o = quick();
  o.models = {"add"};
  auto report = run_bench(ETP_FIXTURES_MANIFEST, o);
  ASSERT_OK(report.status());
  const json doc = json::parse(report->to_json());
  for (const char* key : {"etp_version", "machine", "settings", "files", "plugins", "results", "started"}) {
    EXPECT_TRUE(doc.contains(key)) << key;
  }
  for (const char* key : {"cpu", "logical_cores", "isa", "os", "load_average"}) {
    EXPECT_TRUE(doc["machine"].contains(key)) << key;
  }
  ASSERT_EQ(doc["files"].size(), 1u);
  EXPECT_EQ(doc["files"][0]["sha256"].get<std::string>().size(), 64u);
  EXPECT_FALSE(doc["plugins"][0]["version"].get<std::string>().empty());
  EXPECT_EQ(doc["plugins"][0]["sha256"].get<std::string>().size(), 64u);
  ASSERT_EQ(doc["results"].size(), 1u);
  const json& r = doc["results"][0];
  for (const char* key :
       {"model", "config", "threads", "load_ms", "first_run_ms", "min_ms", "median_ms", "mean_ms", "p90_ms", "p99_ms",
        "stddev_ms", "cv", "robust_cv", "noisy", "rss_added_mib", "outputs_match"}) {
    EXPECT_TRUE(r.contains(key)) << key;
  }
  EXPECT_EQ(r["model"], "add");
  EXPECT_EQ(r["outputs_match"], true);
  // The other renderings carry the same result.
  EXPECT_NE(report->to_text().find("add"), std::string::npos);
  EXPECT_NE(report->to_markdown().find("| add | portable |"), std::string::npos);
  const std::string csv = report->to_csv();
  EXPECT_EQ(csv.rfind("model,config,threads,", 0), 0u);
  EXPECT_NE(csv.find("\nadd,portable,0,"), std::string::npos);
  const std::string svg = report->to_svg();
  EXPECT_EQ(svg.rfind("<?xml", 0) == 0 || svg.rfind("<svg", 0) == 0, true);
  EXPECT_NE(svg.find(">add<"), std::string::npos);
}

// A plugin that is fast and wrong (its add subtracts) shows as wrong, against the expected
// outputs and against the reference configuration.
TEST(BenchTest, AFastWrongPluginIsFlagged) {
  BenchOptions o = quick();
  o.models = {"add"};
  o.configs = {*parse_bench_config("right=portable"), *parse_bench_config("bad=wrong+portable")};
  auto report = run_bench(ETP_FIXTURES_MANIFEST, o);
  ASSERT_OK(report.status());
  ASSERT_EQ(report->results.size(), 2u);
  EXPECT_TRUE(report->results[0].outputs_match) << report->results[0].match_detail;
  EXPECT_FALSE(report->results[1].outputs_match);
  EXPECT_NE(report->results[1].match_detail.find("output 0 differs from the expected output"), std::string::npos)
      << report->results[1].match_detail;
  EXPECT_FALSE(report->ok());
  EXPECT_NE(report->to_text().find("DIFFER"), std::string::npos);
  bool listed = false;  // the JSON's plugins include those a configuration added
  for (const BenchPlugin& p : report->plugins) listed = listed || p.name == "wrong";
  EXPECT_TRUE(listed);

  // With expected outputs, the order of the configurations does not matter.
  o.configs = {*parse_bench_config("bad=wrong+portable"), *parse_bench_config("right=portable")};
  auto reversed = run_bench(ETP_FIXTURES_MANIFEST, o);
  ASSERT_OK(reversed.status());
  ASSERT_EQ(reversed->results.size(), 2u);
  EXPECT_FALSE(reversed->results[0].outputs_match);
  EXPECT_TRUE(reversed->results[1].outputs_match) << reversed->results[1].match_detail;
  o.configs = {*parse_bench_config("right=portable"), *parse_bench_config("bad=wrong+portable")};

  // A program without expected outputs is compared with the first configuration.
  o.models.clear();
  auto bare = run_bench(BundleSpec::for_program(fixture_path("add.pte")), o);
  ASSERT_OK(bare.status());
  ASSERT_EQ(bare->results.size(), 2u);
  EXPECT_EQ(bare->results[0].inputs, "random (seed 0)");
  EXPECT_TRUE(bare->results[0].outputs_match);
  EXPECT_FALSE(bare->results[1].outputs_match);
  EXPECT_NE(bare->results[1].match_detail.find("differs from configuration 'right'"), std::string::npos)
      << bare->results[1].match_detail;
  EXPECT_EQ(bare->results[0].match_detail, "reference (no expected outputs to compare)");
}

// A bare program without configurations: the plugin sets of the default plugins that run it.
TEST(BenchTest, ABareProgramGetsTheDefaultPluginSets) {
  BenchOptions o = quick();
  auto report = run_bench(BundleSpec::for_program(fixture_path("mlp_portable.pte")), o);
  ASSERT_OK(report.status());
  ASSERT_EQ(report->results.size(), 1u);
  EXPECT_EQ(report->results[0].config, "portable");
  EXPECT_EQ(report->results[0].model, "model");
  EXPECT_TRUE(report->results[0].outputs_match);
  auto delegated = run_bench(BundleSpec::for_program(fixture_path("mlp_xnnpack.pte")), o);
  ASSERT_OK(delegated.status());
  ASSERT_EQ(delegated->results.size(), 1u);
  EXPECT_EQ(delegated->results[0].config, "xnnpack");  // one delegate: portable serves nothing
}

// Each result runs until it has its repetitions and its minimum time.
TEST(BenchTest, ResultsRunForTheirMinimumTime) {
  BenchOptions o = quick();
  o.models = {"mlp_portable", "add"};
  o.min_time_s = 0.03;
  auto report = run_bench(ETP_FIXTURES_MANIFEST, o);
  ASSERT_OK(report.status());
  ASSERT_EQ(report->results.size(), 2u);
  for (const BenchResult& r : report->results) {
    EXPECT_GE(r.stats.mean * static_cast<double>(r.stats.count), 30.0 * 0.999) << r.model;
    EXPECT_GE(r.stats.count, 3u);
    EXPECT_EQ(r.noisy, r.stats.robust_cv > report->noise_threshold);
  }
}

TEST(BenchTest, AConfigurationThatCannotRunTheModelReportsWhy) {
  BenchOptions o = quick();
  o.configs = {*parse_bench_config("a=xnnpack+portable"), *parse_bench_config("b=portable")};
  auto report = run_bench(BundleSpec::for_program(fixture_path("mlp_xnnpack.pte")), o);
  ASSERT_OK(report.status());
  ASSERT_EQ(report->results.size(), 2u);
  EXPECT_EQ(report->results[0].error, "");
  EXPECT_NE(report->results[1].error.find("no loaded plugin provides backend 'XnnpackBackend'"), std::string::npos)
      << report->results[1].error;
  EXPECT_FALSE(report->ok());
}

TEST(BenchTest, ProfilesListEveryKernelAndDelegateMostExpensiveFirst) {
  BenchOptions o = quick();
  o.models = {"tiny_llama_xnnpack"};
  o.profile = true;
  auto report = run_bench(ETP_FIXTURES_MANIFEST, o);
  ASSERT_OK(report.status());
  ASSERT_FALSE(report->results.empty());
  const BenchResult& r = report->results[0];
  ASSERT_FALSE(r.profile.empty()) << r.error;
  double share = 0;
  bool delegate = false;
  for (size_t i = 0; i < r.profile.size(); ++i) {
    if (i > 0) {
      EXPECT_GE(r.profile[i - 1].ms_per_run, r.profile[i].ms_per_run);
    }
    share += r.profile[i].share;
    delegate = delegate || (r.profile[i].kind == "delegate" && r.profile[i].plugin == "xnnpack");
  }
  EXPECT_TRUE(delegate);
  EXPECT_GT(share, 0);
  EXPECT_LE(share, 1.0 + 1e-9);
  EXPECT_NE(report->to_text().find("profile of tiny_llama_xnnpack"), std::string::npos);
}

TEST(BenchTest, BadRequestsSayWhatIsWrong) {
  BenchOptions o = quick();
  o.models = {"nope"};
  EXPECT_EQ(run_bench(ETP_FIXTURES_MANIFEST, o).status().code(), StatusCode::kNotFound);
  o = quick();
  o.models = {"add"};
  o.configs = {*parse_bench_config("p=portable:speed=11")};
  auto refused = run_bench(ETP_FIXTURES_MANIFEST, o);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("no plugin accepts option speed=11"), std::string::npos)
      << refused.status().message();
  o.configs = {*parse_bench_config("p=no_such_plugin")};
  EXPECT_EQ(run_bench(ETP_FIXTURES_MANIFEST, o).status().code(), StatusCode::kNotFound);
  o.configs = {*parse_bench_config("p=portable"), *parse_bench_config("p=xnnpack")};
  EXPECT_EQ(run_bench(ETP_FIXTURES_MANIFEST, o).status().code(), StatusCode::kInvalidArgument);
  o.configs = {*parse_bench_config("p=portable+portable")};
  EXPECT_NE(run_bench(ETP_FIXTURES_MANIFEST, o).status().message().find("names plugin 'portable' twice"),
            std::string::npos);
  o = quick();
  o.threads = {2, 2};
  EXPECT_EQ(check_bench_options(o).message(), "thread count 2 given twice");
  o = quick();
  o.threads = {0};
  EXPECT_EQ(run_bench(ETP_FIXTURES_MANIFEST, o).status().code(), StatusCode::kInvalidArgument);
  o = quick();
  o.repetitions = 0;
  EXPECT_EQ(run_bench(ETP_FIXTURES_MANIFEST, o).status().code(), StatusCode::kInvalidArgument);
}

// A hand-made report, so the baseline verdicts do not depend on this machine's noise.
BenchReport report_with(double median, double p10, double p90) {
  BenchReport r;
  BenchResult result;
  result.model = "m";
  result.config = "c";
  result.threads = 2;
  result.stats.count = 10;
  result.stats.median = median;
  result.stats.p10 = p10;
  result.stats.p90 = p90;
  result.outputs_match = true;
  r.results.push_back(result);
  return r;
}

TEST(BenchBaselineTest, AnInjectedRegressionIsFlaggedAndNoiseIsNot) {
  const std::string baseline = report_with(1.0, 0.9, 1.1).to_json();
  BenchReport slower = report_with(1.5, 1.4, 1.6);  // 50% slower, clear of both spreads
  ASSERT_OK(compare_with_baseline(&slower, baseline, "old.json", 0.10));
  ASSERT_EQ(slower.deltas.size(), 1u);
  EXPECT_EQ(slower.deltas[0].verdict, "regression");
  EXPECT_NEAR(slower.deltas[0].ratio, 1.5, 1e-12);
  EXPECT_TRUE(slower.regressed());
  EXPECT_NE(slower.to_text().find("regression"), std::string::npos);
  EXPECT_EQ(json::parse(slower.to_json())["baseline"]["deltas"][0]["verdict"], "regression");

  BenchReport noisy = report_with(1.5, 0.5, 3.0);  // slower median, but within the run's own spread
  ASSERT_OK(compare_with_baseline(&noisy, baseline, "old.json", 0.10));
  EXPECT_EQ(noisy.deltas[0].verdict, "same");
  BenchReport small = report_with(1.05, 1.04, 1.06);  // beyond the spread, below the threshold
  ASSERT_OK(compare_with_baseline(&small, baseline, "old.json", 0.10));
  EXPECT_EQ(small.deltas[0].verdict, "same");
  BenchReport faster = report_with(0.5, 0.45, 0.55);
  ASSERT_OK(compare_with_baseline(&faster, baseline, "old.json", 0.10));
  EXPECT_EQ(faster.deltas[0].verdict, "improvement");
  EXPECT_FALSE(faster.regressed());
}

TEST(BenchBaselineTest, NewMissingAndMalformedBaselines) {
  BenchReport other = report_with(1, 1, 1);
  other.results[0].threads = 1;
  ASSERT_OK(compare_with_baseline(&other, report_with(1, 1, 1).to_json(), "old.json", 0.1));
  ASSERT_EQ(other.deltas.size(), 2u);
  EXPECT_EQ(other.deltas[0].verdict, "new");
  EXPECT_EQ(other.deltas[1].verdict, "missing");
  BenchReport r = report_with(1, 1, 1);
  EXPECT_EQ(compare_with_baseline(&r, "{", "b.json", 0.1).code(), StatusCode::kMalformed);
  EXPECT_EQ(compare_with_baseline(&r, "{\"results\": [{\"model\": \"m\"}]}", "b.json", 0.1).code(),
            StatusCode::kMalformed);
  const Status missing = compare_with_baseline(
      &r, "{\"results\": [{\"model\": \"m\", \"config\": \"c\", \"threads\": 2, \"median_ms\": 1}]}", "b.json", 0.1);
  EXPECT_EQ(missing.code(), StatusCode::kMalformed);
  EXPECT_NE(missing.message().find("b.json: results[0] has no number 'p10_ms'"), std::string::npos)
      << missing.message();
}

}  // namespace
}  // namespace etp::test
