// The generation loop (include/etp/generate.h) on ExecuTorch's own llama export: greedy token ids
// equal to ExecuTorch's runtime's (the `generate` entries of tests/fixtures/index.json, made by
// scripts/export_fixtures.py), seeded sampling, stops, and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "etp/generate.h"
#include "support/fixtures.h"

namespace etp::test {
namespace {

const BundleOptions kOptions{{ETP_PLUGIN_DIR}, /*use_environment=*/false};

Bundle open_program(const std::string& fixture) {
  auto bundle = Bundle::open(BundleSpec::for_program(fixture_path(fixture + ".pte")), kOptions);
  EXPECT_TRUE(bundle.ok()) << bundle.status().to_string();
  return std::move(*bundle);
}

TEST(GenerateTest, GreedyTokensEqualExecuTorchsOnItsOwnLlamaExport) {
  int checked = 0;
  for (const nlohmann::json& f : all_fixtures()) {
    if (!f.contains("generate")) continue;
    Bundle bundle = open_program(f["name"]);
    GenerateOptions options;
    options.max_new_tokens = f["generate"]["max_new_tokens"];
    std::vector<int64_t> streamed;
    auto result = generate(bundle, "model", f["generate"]["prompt"].get<std::vector<int64_t>>(), options,
                           [&](int64_t token) { streamed.push_back(token); });
    ASSERT_TRUE(result.ok()) << f["name"] << ": " << result.status().to_string();
    EXPECT_EQ(result->generated_tokens, f["generate"]["tokens"].get<std::vector<int64_t>>()) << f["name"];
    EXPECT_EQ(streamed, result->generated_tokens);
    EXPECT_EQ(result->stop_reason, "max_new_tokens");
    EXPECT_EQ(result->prefill_calls, 1) << "enable_dynamic_shape: the prompt goes in one call";
    EXPECT_EQ(result->metadata.max_context_len, 32);
    EXPECT_EQ(result->metadata.vocab_size, 128);
    EXPECT_GT(result->rss_after_load, 0u);
    EXPECT_GE(result->ttft_ms, 0);
    ++checked;
  }
  EXPECT_EQ(checked, 3) << "llama_et_portable, llama_et_xnnpack and llama_et_qkv";
}

TEST(GenerateTest, SamplingIsSeededAndTopPNarrowsToGreedy) {
  Bundle bundle = open_program("llama_et_portable");
  const std::vector<int64_t> prompt = {1, 5, 7};
  GenerateOptions greedy;
  greedy.max_new_tokens = 8;
  auto g = generate(bundle, "model", prompt, greedy);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  GenerateOptions sampled = greedy;
  sampled.temperature = 1.5;
  sampled.seed = 7;
  auto a = generate(bundle, "model", prompt, sampled), b = generate(bundle, "model", prompt, sampled);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->generated_tokens, b->generated_tokens) << "one seed, one sequence";
  bool differs = false;
  for (uint64_t seed = 1; seed <= 4 && !differs; ++seed) {
    sampled.seed = seed;
    auto s = generate(bundle, "model", prompt, sampled);
    ASSERT_TRUE(s.ok());
    differs = s->generated_tokens != g->generated_tokens;
  }
  EXPECT_TRUE(differs) << "temperature 1.5 over 128 tokens should leave the greedy path for some seed";
  sampled.top_p = 1e-9;  // only the most likely token remains
  auto narrow = generate(bundle, "model", prompt, sampled);
  ASSERT_TRUE(narrow.ok());
  EXPECT_EQ(narrow->generated_tokens, g->generated_tokens);
}

TEST(GenerateTest, StopsAtAnEosIdOrTheEndOfTheContext) {
  Bundle bundle = open_program("llama_et_portable");
  GenerateOptions options;
  options.max_new_tokens = 8;
  auto g = generate(bundle, "model", {1, 5, 7}, options);
  ASSERT_TRUE(g.ok());
  options.eos_ids = {g->generated_tokens[2]};
  auto e = generate(bundle, "model", {1, 5, 7}, options);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->stop_reason, "eos");
  EXPECT_EQ(e->generated_tokens, std::vector<int64_t>(g->generated_tokens.begin(), g->generated_tokens.begin() + 3));
  options.eos_ids.clear();
  options.max_new_tokens = 100;  // the context holds 32 positions
  auto c = generate(bundle, "model", std::vector<int64_t>(30, 3), options);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->stop_reason, "context");
  EXPECT_EQ(c->generated_tokens.size(), 3u) << "positions 30 and 31 are fed back; the third token has no room";
}

TEST(GenerateTest, BadPromptsAndProgramsAreNamed) {
  Bundle bundle = open_program("llama_et_portable");
  auto empty = generate(bundle, "model", {});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("the prompt has no tokens"), std::string::npos);
  auto outside = generate(bundle, "model", {1, 128});
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.status().message().find("token 128 is outside the vocabulary of 128"), std::string::npos)
      << outside.status().message();
  auto too_long = generate(bundle, "model", std::vector<int64_t>(33, 1));
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.status().message().find("the context holds 32"), std::string::npos);
  GenerateOptions bad;
  bad.top_p = 0;
  EXPECT_FALSE(generate(bundle, "model", {1}, bad).ok());
  Bundle add = open_program("add");
  auto not_llm = generate(add, "model", {1});
  ASSERT_FALSE(not_llm.ok());
  EXPECT_NE(not_llm.status().message().find("must take (tokens int64 [1, n], input_pos int64 [1])"), std::string::npos)
      << not_llm.status().message();
}

TEST(GenerateTest, GreedyTakesTheFirstLargestLogitAndNeverNaN) {
  Sampler greedy{GenerateOptions{}};
  const float logits[] = {std::numeric_limits<float>::quiet_NaN(), 1, 3, 3, -2};
  EXPECT_EQ(greedy.next(logits, 5), 2);
  const float ties[] = {0.5f, 0.5f};
  EXPECT_EQ(greedy.next(ties, 2), 0);
  GenerateOptions hot;
  hot.temperature = 1;
  Sampler sampler(hot);
  const float infinite[] = {0, std::numeric_limits<float>::infinity(), 0};
  EXPECT_EQ(sampler.next(infinite, 3), 1) << "an infinite logit takes all the mass";
  const float nans[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::quiet_NaN()};
  const int64_t picked = sampler.next(nans, 2);
  EXPECT_TRUE(picked == 0 || picked == 1);
}

}  // namespace
}  // namespace etp::test
