// `etp generate` as a user types it: token ids streamed, --json, and usage errors.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "cli/cli_test_support.h"
#include "support/sanitizers.h"

namespace etp::test {
namespace {

TEST(GenerateCommandTest, PrintsExecuTorchsGreedyTokensAndAJsonReport) {
  const nlohmann::json f = fixture_named("llama_et_xnnpack");
  std::string prompt;
  for (const auto& t : f["generate"]["prompt"]) prompt += (prompt.empty() ? "" : ",") + std::to_string(t.get<int>());
  std::string out;
  ASSERT_EQ(etp("generate " + fixture_path("llama_et_xnnpack.pte") + " --prompt-tokens " + prompt +
                    " --max-new-tokens 12 --json",
                &out),
            0)
      << out;
  const nlohmann::json doc = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(doc["generated_tokens"], f["generate"]["tokens"]);
  EXPECT_EQ(doc["stop_reason"], "max_new_tokens");
  for (const char* key : {"ttft_ms", "prefill_tokens_per_s", "decode_tokens_per_s"}) EXPECT_TRUE(doc.contains(key));
  EXPECT_TRUE(doc["rss_mib"].contains("after_prefill"));
  out.clear();
  ASSERT_EQ(etp("generate " + fixture_path("llama_et_portable.pte") + " --prompt-tokens 1,5 --max-new-tokens 3", &out),
            0)
      << out;
  EXPECT_NE(out.find("3 generated (stop: max_new_tokens)"), std::string::npos) << out;
}

// A text prompt through the manifest's tokenizer: BOS first, and the completion as text.
TEST(GenerateCommandTest, ATextPromptUsesTheModelsTokenizer) {
  std::string out;
  ASSERT_EQ(
      etp("generate " ETP_FIXTURES_MANIFEST " --model llama_et_xnnpack --prompt 12+7= --max-new-tokens 4 --json", &out),
      0)
      << out;
  const nlohmann::json doc = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(doc["prompt"], "12+7=");
  ASSERT_FALSE(doc["prompt_tokens"].empty());
  EXPECT_EQ(doc["prompt_tokens"][0], 1) << "the tokenizer's BOS id";
  EXPECT_TRUE(doc.contains("text"));
  out.clear();
  EXPECT_EQ(etp("generate " + fixture_path("llama_et_portable.pte") + " --prompt hi", &out), 1);
  EXPECT_NE(out.find("names no tokenizer"), std::string::npos) << out;
  EXPECT_EQ(
      etp("generate " + fixture_path("llama_et_portable.pte") + " --prompt hi --tokenizer " + fixture_path("add.pte"),
          &out),
      1);
  EXPECT_NE(out.find("not a SentencePiece model"), std::string::npos) << out;
}

// The main job's demo (scripts/run): every model of the demo bundle on each prompt, then the
// memory table; and the same as one JSON document.
TEST(GenerateCommandTest, TheDemoBundleCompletesEachPromptAsEachModelWasTrained) {
  std::string out;
  ASSERT_EQ(etp("generate " ETP_DEMO_MANIFEST " --prompt '7 8=' --prompt '3 9=' --memory-report", &out), 0) << out;
  for (const char* line :
       {"[base] 7 8=15\n", "[base] 3 9=12\n", "[lora_mul] 7 8=56\n", "[lora_mul] 3 9=27\n", "[lora_rev] 7 8=8 7\n",
        "[lora_rev] 3 9=9 3\n", "lora_rev: 2 prompts", "memory: what each model added to RSS", "shared foundation"}) {
    EXPECT_NE(out.find(line), std::string::npos) << line << " in\n" << out;
  }
#if !ETP_TEST_ASAN  // ASan's allocator inflates RSS; the budget holds for normal builds
  EXPECT_EQ(out.find("!"), std::string::npos) << "no model over its budget:\n" << out;
#endif
  out.clear();
  ASSERT_EQ(
      etp("generate " ETP_DEMO_MANIFEST " --model lora_mul --model base --prompt '6 7=' --json --memory-report", &out),
      0)
      << out;
  const nlohmann::json doc = nlohmann::json::parse(out.substr(out.find('{')));
  ASSERT_EQ(doc["generations"].size(), 2u);
  EXPECT_EQ(doc["generations"][0]["model"], "lora_mul");
  EXPECT_EQ(doc["generations"][0]["text"], "42");
  EXPECT_EQ(doc["generations"][1]["text"], "13");
  EXPECT_EQ(doc["memory"]["models"][0]["name"], "lora_mul");
  EXPECT_EQ(doc["memory"]["models"][1]["name"], "base");
}

TEST(GenerateCommandTest, UsageErrorsExitTwo) {
  std::string out;
  const std::string program = fixture_path("llama_et_portable.pte");
  EXPECT_EQ(etp("generate " + program, &out), 2) << "no prompt";
  EXPECT_NE(out.find("give --prompt or --prompt-tokens (not both)"), std::string::npos) << out;
  EXPECT_EQ(etp("generate " + program + " --prompt-tokens 1,x", &out), 2);
  EXPECT_EQ(etp("generate " + program + " --prompt-tokens 1 --top-p 2", &out), 2);
  EXPECT_EQ(etp("generate " + program + " --prompt-tokens 1 --temperature -1", &out), 2);
  EXPECT_EQ(etp("generate --help", &out), 0);
  out.clear();
  EXPECT_EQ(etp("generate " + fixture_path("add.pte") + " --prompt-tokens 1", &out), 1);
  EXPECT_NE(out.find("must take (tokens int64 [1, n], input_pos int64 [1])"), std::string::npos) << out;
}

}  // namespace
}  // namespace etp::test
