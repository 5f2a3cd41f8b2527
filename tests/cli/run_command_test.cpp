// `etp run` as a user types it: exit codes, usage errors, and a program run without a manifest.
#include <gtest/gtest.h>

#include <string>

#include "support/fixtures.h"

namespace etp::test {
namespace {

// Runs `etp <args>` (stderr joined to stdout); returns the exit status and fills *out.
int etp(const std::string& args, std::string* out) { return run_command(ETP_CLI_PATH " " + args, out); }

TEST(RunCommandTest, AProgramRunsWithoutAManifestOnRandomInputs) {
  std::string out;
  ASSERT_EQ(etp("run " + fixture_path("add.pte"), &out), 0) << out;
  EXPECT_NE(out.find("(inputs: random (seed 0))"), std::string::npos) << out;
  out.clear();
  ASSERT_EQ(etp("run " + fixture_path("linear_portable.pte") + " --data=" + fixture_path("linear_portable.ptd") +
                    " --plugin portable --json",
                &out),
            0)
      << out;
  EXPECT_NE(out.find("\"program\""), std::string::npos) << out;
}

TEST(RunCommandTest, AManifestRunsAndChecksAsBefore) {
  std::string out;
  ASSERT_EQ(etp("run " ETP_DEMO_MANIFEST " --check --model base", &out), 0) << out;
  EXPECT_NE(out.find("check: all outputs match"), std::string::npos) << out;
}

TEST(RunCommandTest, UsageErrorsExitWithTwo) {
  std::string out;
  EXPECT_EQ(etp("run " ETP_DEMO_MANIFEST " --model base --model lora_qvo_r8", &out), 2);
  EXPECT_NE(out.find("--model given twice ('base' and 'lora_qvo_r8')"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("run " ETP_DEMO_MANIFEST " --iterations 99999999999999999999", &out), 2);
  EXPECT_NE(out.find("--iterations needs a positive integer"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("run " ETP_DEMO_MANIFEST " --data x.ptd", &out), 2);
  EXPECT_NE(out.find("--data applies to a program"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("run " ETP_DEMO_MANIFEST " --check=yes", &out), 2);
  EXPECT_NE(out.find("--check takes no value"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("run " ETP_DEMO_MANIFEST " --model=", &out), 2);
  EXPECT_NE(out.find("--model needs a non-empty value"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("run --no-such-option", &out), 2);
  out.clear();
  EXPECT_EQ(etp("--help", &out), 0);
  EXPECT_NE(out.find("--version"), std::string::npos) << out;
}

TEST(RunCommandTest, FailuresExitWithOneAndSayWhatWasExpected) {
  std::string out;
  EXPECT_EQ(etp("run " ETP_DEMO_MANIFEST " --model nope", &out), 1);
  EXPECT_NE(out.find("no model 'nope' (models: base, lora_qvo_r8, lora_k_ffn_r4)"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("run " + fixture_path("linear_portable.ptd"), &out), 1);
  EXPECT_NE(out.find("is an ExecuTorch data file (.ptd), not a manifest"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("run " + fixture_path("add.pte") + " --input /nonexistent/x.npy --input /nonexistent/y.npy", &out), 1);
  EXPECT_NE(out.find("/nonexistent/x.npy: cannot open: No such file or directory"), std::string::npos) << out;
}

}  // namespace
}  // namespace etp::test
