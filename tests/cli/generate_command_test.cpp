// `etp generate` as a user types it: token ids streamed, --json, and usage errors.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "support/fixtures.h"

namespace etp::test {
namespace {

int etp(const std::string& args, std::string* out) { return run_command(ETP_CLI_PATH " " + args, out); }

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
  ASSERT_EQ(etp("generate " + fixture_path("llama_et_portable.pte") + " --prompt-tokens 1,5 --max-new-tokens 3", &out), 0)
      << out;
  EXPECT_NE(out.find("3 generated (stop: max_new_tokens)"), std::string::npos) << out;
}

// A text prompt through the manifest's tokenizer: BOS first, and the completion as text.
TEST(GenerateCommandTest, ATextPromptUsesTheModelsTokenizer) {
  std::string out;
  ASSERT_EQ(etp("generate " ETP_FIXTURES_MANIFEST " --model llama_et_xnnpack --prompt 12+7= --max-new-tokens 4 --json",
                &out),
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
  EXPECT_EQ(etp("generate " + fixture_path("llama_et_portable.pte") + " --prompt hi --tokenizer " +
                    fixture_path("add.pte"),
                &out),
            1);
  EXPECT_NE(out.find("not a SentencePiece model"), std::string::npos) << out;
}

TEST(GenerateCommandTest, UsageErrorsExitTwo) {
  std::string out;
  const std::string program = fixture_path("llama_et_portable.pte");
  EXPECT_EQ(etp("generate " + program, &out), 2) << "no prompt";
  EXPECT_NE(out.find("give one of --prompt and --prompt-tokens"), std::string::npos) << out;
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
