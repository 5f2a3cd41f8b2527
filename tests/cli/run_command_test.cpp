// `etp run` as a user types it: exit codes, usage errors, and a program run without a manifest.
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "cli/cli_test_support.h"

namespace etp::test {
namespace {

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
  ASSERT_EQ(etp("run " ETP_LORA_MANIFEST " --check --model base", &out), 0) << out;
  EXPECT_NE(out.find("check: all outputs match"), std::string::npos) << out;
}

TEST(RunCommandTest, UsageErrorsExitWithTwoAndSayWhy) {
  const std::pair<std::string, std::string> cases[] = {
      {"--model base --model lora_qvo_r8", "--model given twice ('base' and 'lora_qvo_r8')"},
      {"--iterations 99999999999999999999", "--iterations needs a positive integer"},
      {"--seed -1", "--seed needs a non-negative integer"},
      {"--data x.ptd", "--data with a manifest takes NAME=FILE"},
      {"--check=yes", "--check takes no value"},
      {"--model=", "--model needs a non-empty value"},
      {"--input x.npy", "--input needs --model"},
      {"--no-such-option", "unknown option '--no-such-option'"},
      {"--max-instructions 0", "--max-instructions needs a positive integer"},
      {"--max-instructions 99999999999999999999", "--max-instructions needs a positive integer"},
  };
  for (const auto& [args, expected] : cases) {
    std::string out;
    EXPECT_EQ(etp("run " ETP_LORA_MANIFEST " " + args, &out), 2) << args;
    EXPECT_NE(out.find(expected), std::string::npos) << args << ": " << out;
  }
  std::string help;
  EXPECT_EQ(etp("--help", &help), 0);
  EXPECT_NE(help.find("--version"), std::string::npos) << help;
}

TEST(RunCommandTest, FailuresExitWithOneAndSayWhatWasExpected) {
  std::string out;
  EXPECT_EQ(etp("run " ETP_LORA_MANIFEST " --model nope", &out), 1);
  EXPECT_NE(out.find("no model 'nope' (models: base, lora_qvo_r8, lora_k_ffn_r4)"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("run " + fixture_path("linear_portable.ptd"), &out), 1);
  EXPECT_NE(out.find("is an ExecuTorch data file (.ptd), not a manifest"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("run " + fixture_path("add.pte") + " --input /nonexistent/x.npy --input /nonexistent/y.npy", &out), 1);
  EXPECT_NE(out.find("/nonexistent/x.npy: cannot open: No such file or directory"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("run " + fixture_path("map_loop.pte") + " --max-instructions 5", &out), 1);
  EXPECT_NE(out.find("method 'forward' ran 5 instructions without finishing"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("run " ETP_DEMO_MANIFEST " --model base --memory-budget 1KiB", &out), 1);
  EXPECT_NE(out.find("more than the bundle's memory budget has left (1024 of 1024 bytes; raise it with "
                     "memory_budget in the manifest or --memory-budget)"),
            std::string::npos)
      << out;
}

// Every numeric flag of every command refuses numbers that overflow, NaN and words with exit
// 2 and a message naming the flag; nothing is loaded or run first.
TEST(CliNumbersTest, EveryNumericFlagRefusesOverflowNanAndWords) {
  const std::string plugin = std::string(ETP_PLUGIN_BUILD_DIR) + "/libetp_llm.so";
  const std::pair<std::string, std::vector<std::string>> commands[] = {
      {"run " ETP_DEMO_MANIFEST, {"--seed", "--iterations", "--max-instructions", "--memory-budget"}},
      {"bench " ETP_DEMO_MANIFEST,
       {"--threads", "--warmup", "--repetitions", "--min-time", "--threshold", "--seed", "--max-instructions",
        "--memory-budget"}},
      {"generate " ETP_DEMO_MANIFEST " --prompt-tokens 1",
       {"--max-new-tokens", "--temperature", "--top-p", "--seed", "--eos-ids", "--max-instructions",
        "--memory-budget"}},
      {"generate " ETP_DEMO_MANIFEST, {"--prompt-tokens"}},
      {"train " ETP_FINETUNE_MANIFEST " --model train --steps 1",
       {"--lr", "--momentum", "--dampening", "--weight-decay", "--checkpoint-every", "--max-instructions",
        "--memory-budget"}},
      {"train " ETP_FINETUNE_MANIFEST " --model train", {"--steps"}},
      {"plugin check " + plugin, {"--timeout"}},
  };
  for (const auto& [command, flags] : commands) {
    for (const std::string& flag : flags) {
      for (const char* value : {"99999999999999999999", "1e999", "nan", "abc"}) {
        // These take any finite number (>= 0): 99999999999999999999 (1e20) is one.
        const bool real = flag == "--temperature" || flag == "--lr" || flag == "--momentum" || flag == "--dampening" ||
                          flag == "--weight-decay";
        if (real && std::string(value) == "99999999999999999999") continue;
        std::string out;
        EXPECT_EQ(etp(command + " " + flag + " " + value, &out), 2) << command << " " << flag << " " << value << out;
        EXPECT_NE(out.find(flag), std::string::npos) << command << " " << flag << " " << value << ": " << out;
      }
    }
  }
}

}  // namespace
}  // namespace etp::test
