// `etp bench` as a user types it: the examples, the JSON document, the chart, a baseline
// with an injected regression (exit 3), and usage errors (exit 2).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "cli/cli_test_support.h"

namespace etp::test {
namespace {

using nlohmann::json;

// Quick settings: these tests check the command, not the machine.
constexpr const char* kQuick = " --warmup 1 --repetitions 3 --min-time 0";

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "etp_bench_" + name; }

std::string read_text(const std::string& path) {
  const std::vector<uint8_t> bytes = read_bytes(path);
  return std::string(bytes.begin(), bytes.end());
}

TEST(BenchCommandTest, PortableAndXnnpackCnnsAtOneAndTwoThreadsAsJson) {
  const std::string file = temp_path("cnn.json");
  std::string out;
  ASSERT_EQ(etp("bench " ETP_FIXTURES_MANIFEST " --model cnn_portable --model cnn_xnnpack --threads 1,2 --format json"
                " --output " +
                    file + kQuick,
                &out),
            0)
      << out;
  const json doc = json::parse(read_text(file));
  ASSERT_TRUE(doc.contains("machine") && doc.contains("results")) << doc.dump();
  ASSERT_EQ(doc["results"].size(), 4u);  // both configurations at 1 and 2 threads
  for (const json& r : doc["results"]) {
    EXPECT_EQ(r["outputs_match"], true) << r.dump();
    EXPECT_GT(r["median_ms"].get<double>(), 0) << r.dump();
  }
  EXPECT_EQ(doc["results"][0]["config"], "portable");
  EXPECT_EQ(doc["results"][0]["threads"], 1);
  EXPECT_EQ(doc["results"][1]["threads"], 2);
  EXPECT_EQ(doc["results"][2]["config"], "portable+xnnpack");
  EXPECT_EQ(doc["results"][2]["threads"], 1);
  EXPECT_EQ(doc["results"][3]["threads"], 2);
  std::remove(file.c_str());
}

TEST(BenchCommandTest, TwoPluginSetsOnOneProgramWithAChart) {
  const std::string svg = temp_path("mlp.svg");
  std::string out;
  // The program is one XNNPACK delegate: portable alone cannot run it, and says so (exit 1).
  EXPECT_EQ(etp("bench " + fixture_path("mlp_xnnpack.pte") + " --config a=xnnpack+portable --config b=portable --svg " +
                    svg + kQuick,
                &out),
            1)
      << out;
  EXPECT_NE(out.find("no loaded plugin provides backend 'XnnpackBackend'"), std::string::npos) << out;
  const std::string chart = read_text(svg);
  EXPECT_NE(chart.find("<svg"), std::string::npos);
  EXPECT_NE(chart.find("</svg>"), std::string::npos);
  std::remove(svg.c_str());
  out.clear();
  EXPECT_EQ(etp("bench " + fixture_path("linear_portable.pte") + " --data " + fixture_path("linear_portable.ptd") +
                    " --config portable --format csv" + kQuick,
                &out),
            0)
      << out;
  EXPECT_NE(out.find("model,config,threads,"), std::string::npos) << out;
}

TEST(BenchCommandTest, AnInjectedRegressionExitsWithThree) {
  const std::string file = temp_path("add.json");
  std::string out;
  ASSERT_EQ(etp("bench " ETP_FIXTURES_MANIFEST " --model add --json --output " + file + kQuick, &out), 0) << out;
  json doc = json::parse(read_text(file));
  // The baseline ran 100 times faster: today's run is a regression by any threshold and noise.
  for (json& r : doc["results"]) {
    for (const char* key : {"min_ms", "median_ms", "mean_ms", "p10_ms", "p90_ms", "p99_ms", "max_ms"}) {
      r[key] = r[key].get<double>() / 100;
    }
  }
  std::ofstream(file) << doc.dump();
  out.clear();
  EXPECT_EQ(etp("bench " ETP_FIXTURES_MANIFEST " --model add --baseline " + file + kQuick, &out), 3) << out;
  EXPECT_NE(out.find("regression"), std::string::npos) << out;
  std::remove(file.c_str());
}

TEST(BenchCommandTest, UsageErrorsExitWithTwoAndSayWhy) {
  const std::pair<std::string, std::string> cases[] = {
      {"--threads 0", "--threads needs distinct counts from 1 to 256"},
      {"--threads 1,1", "--threads needs distinct counts"},
      {"--threads 1,", "--threads needs distinct counts"},
      {"--repetitions 0", "--repetitions needs an integer of at least 1"},
      {"--warmup -1", "--warmup needs an integer of at least 0"},
      {"--min-time x", "--min-time needs seconds"},
      {"--format xml", "--format needs text, md, csv or json"},
      {"--json --format csv", "--json and --format csv disagree"},
      {"--config a=", "--config: configuration 'a=' has an empty plugin name"},
      {"--config a=portable --config a=xnnpack", "configuration name 'a' given twice"},
      {"--plugin portable", "--plugin applies to a program"},
      {"--data x.ptd", "--data with a manifest takes NAME=FILE"},
      {"--profile=yes", "--profile takes no value"},
      {"--bogus", "unknown option '--bogus'"},
      {"--threshold -5", "--threshold needs a percentage"},
  };
  for (const auto& [args, expected] : cases) {
    std::string out;
    EXPECT_EQ(etp("bench " ETP_FIXTURES_MANIFEST " --model add " + args, &out), 2) << args << ": " << out;
    EXPECT_NE(out.find(expected), std::string::npos) << args << ": " << out;
  }
  std::string out;
  EXPECT_EQ(etp("bench", &out), 2);
  EXPECT_NE(out.find("missing MANIFEST or PROGRAM.pte"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("bench --help", &out), 0);
  EXPECT_NE(out.find("--baseline FILE.json"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("bench " ETP_FIXTURES_MANIFEST " --model nope", &out), 1);
  EXPECT_NE(out.find("no model 'nope'"), std::string::npos) << out;
}

TEST(BenchCommandTest, FailuresExitWithOneBeforeTimingWhereTheyCan) {
  std::string out;
  EXPECT_EQ(etp("bench " ETP_FIXTURES_MANIFEST " --model add --config p=portable:speed=2" + std::string(kQuick), &out),
            1);
  EXPECT_NE(out.find("no plugin accepts option speed=2"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("bench " ETP_FIXTURES_MANIFEST " --model add --baseline /nonexistent.json", &out), 1);
  EXPECT_NE(out.find("cannot read the baseline /nonexistent.json"), std::string::npos) << out;
  const std::string empty = temp_path("empty.json");
  std::ofstream(empty).close();
  out.clear();
  EXPECT_EQ(etp("bench " ETP_FIXTURES_MANIFEST " --model add --baseline " + empty, &out), 1);
  EXPECT_NE(out.find("not an etp bench JSON document"), std::string::npos) << out;
  EXPECT_EQ(out.find("bench: loading"), std::string::npos) << "the baseline is checked before the bench: " << out;
  std::remove(empty.c_str());
  out.clear();
  EXPECT_EQ(
      etp("bench " ETP_FIXTURES_MANIFEST " --model add --output /nonexistent/dir/report.txt" + std::string(kQuick),
          &out),
      1);
  EXPECT_NE(out.find("cannot write /nonexistent/dir/report.txt"), std::string::npos) << out;
}

TEST(BenchCommandTest, ProfilesInMarkdown) {
  std::string out;
  ASSERT_EQ(etp("bench " ETP_FIXTURES_MANIFEST " --model tiny_llama_xnnpack --threads 1 --profile --format md" +
                    std::string(kQuick),
                &out),
            0)
      << out;
  EXPECT_NE(out.find("| tiny_llama_xnnpack | portable+xnnpack | 1 |"), std::string::npos) << out;
  EXPECT_NE(out.find("profile of tiny_llama_xnnpack [portable+xnnpack, 1 thread]"), std::string::npos) << out;
  EXPECT_NE(out.find("| name | kind | plugin | share | ms/run | instruction |"), std::string::npos) << out;
  // The top 10 of 46 instructions: delegates in optimised builds, portable kernels unoptimised.
  EXPECT_TRUE(out.find(" | delegate | xnnpack | ") != std::string::npos ||
              out.find(" | operator | portable | ") != std::string::npos)
      << out;
}

// A data file truncated on disk while etp runs: with the file mapped, the run ends at the next
// read of it with a message naming the file and exit 1 (not a bare SIGBUS); with --read-files
// it finishes, its outputs still matching.
TEST(BenchCommandTest, ADataFileTruncatedWhileInUseEndsTheRunNamingItUnlessReadIntoMemory) {
  const std::string dir = temp_path("changing");
  std::string out;
  ASSERT_EQ(run_command("rm -rf " + dir + " && mkdir -p " + dir + " && cp " + fixture_path("tiny_llama_portable.pte") +
                            " " + dir + "/m.pte",
                        &out),
            0)
      << out;
  std::ofstream(dir + "/m.yaml") << "etp: 1\nplugins:\n  portable: { library: libetp_portable.so }\n"
                                    "data:\n  w: { file: w.ptd }\nmodels:\n  m: { program: m.pte, data: [w] }\n";
  for (const bool read_files : {false, true}) {
    // Truncated once the timing rounds run (the bench prints them), long after the load.
    const std::string script = "cd " + dir + " && cp " + fixture_path("tiny_llama_foundation_portable.ptd") +
                               " w.ptd && rm -f err.txt || exit 9; (" + ETP_CLI_PATH + " bench m.yaml --min-time 3" +
                               (read_files ? " --read-files" : "") +
                               " >out.txt 2>err.txt; echo \"rc=$?\" >rc.txt) & i=0; "
                               "while ! grep -q round " +
                               dir +
                               "/err.txt 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; "
                               "truncate -s 0 " +
                               dir + "/w.ptd; wait; cat " + dir + "/rc.txt " + dir + "/out.txt " + dir + "/err.txt";
    out.clear();
    ASSERT_EQ(run_command(script, &out), 0) << out;
    if (read_files) {
      EXPECT_NE(out.find("rc=0"), std::string::npos) << out;
      EXPECT_NE(out.find("match"), std::string::npos) << out;
    } else {
      EXPECT_NE(out.find("rc=1"), std::string::npos) << out;
      EXPECT_NE(out.find("etp: w.ptd changed on disk while mapped: reading its byte "), std::string::npos) << out;
    }
  }
}

}  // namespace
}  // namespace etp::test
