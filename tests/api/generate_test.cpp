// The generation loop (include/etp/generate.h) on ExecuTorch's own llama export: greedy token ids
// equal to ExecuTorch's runtime's (the `generate` entries of tests/fixtures/index.json, made by
// scripts/export_fixtures.py), seeded sampling, stops, and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <vector>

#include "api/api_fixtures.h"
#include "etp/generate.h"
#include "etp/tokenizer.h"
#include "support/fixtures.h"
#include "support/sanitizers.h"

namespace etp::test {
namespace {

Bundle open_program(const std::string& fixture) { return open_fixture(fixture_named(fixture)); }

TEST(GenerateTest, GreedyTokensEqualExecuTorchsOnItsOwnLlamaExport) {
  int checked = 0;
  for (const nlohmann::json& f : all_fixtures()) {
    if (!f.contains("generate")) continue;
    Bundle bundle = open_fixture(f);
    GenerateOptions options;
    options.max_new_tokens = f["generate"]["max_new_tokens"];
    options.stop_at_eos = false;  // the reference ran its length, past any EOS
    std::vector<int64_t> streamed;
    auto result = generate(bundle, "model", f["generate"]["prompt"].get<std::vector<int64_t>>(), options,
                           [&](int64_t token) { streamed.push_back(token); });
    ASSERT_TRUE(result.ok()) << f["name"] << ": " << result.status().to_string();
    EXPECT_EQ(result->generated_tokens, f["generate"]["tokens"].get<std::vector<int64_t>>()) << f["name"];
    EXPECT_EQ(streamed, result->generated_tokens);
    EXPECT_EQ(result->stop_reason, "max_new_tokens");
    EXPECT_EQ(result->prefill_calls, 1) << "enable_dynamic_shape: the prompt goes in one call";
    EXPECT_EQ(result->metadata.max_context_len, 32);
    EXPECT_EQ(result->metadata.vocab_size, f.contains("completions") ? 100 : 128) << f["name"];
    EXPECT_GT(result->rss_after_load, 0u);
    EXPECT_GE(result->ttft_ms, 0);
    ++checked;
  }
  EXPECT_EQ(checked, 12) << "llama_et_{portable,xnnpack,qkv,8da4w,8da4w_e4}, llama_demo_{xnnpack,lora_mul_xnnpack,"
                            "lora_rev_xnnpack,portable} and llama_demo_8da4w{,_lora_mul,_lora_rev}_xnnpack";
}

// The demo's trained models (base, and two LoRA programs over the base's foundation file) and the
// LoRA fine-tune's inference program with its initial adapter (lora_infer): text
// prompts through the tokenizer, one Generator per model for every prompt (each generation a new
// sequence over the same KV cache), ExecuTorch's token ids and text to EOS.
TEST(GenerateTest, DemoCompletionsEqualExecuTorchsThroughTheTokenizer) {
  int checked = 0;
  for (const nlohmann::json& f : all_fixtures()) {
    if (!f.contains("completions")) continue;
    Bundle bundle = open_fixture(f);
    auto tokenizer = Tokenizer::open(fixture_path(f["tokenizer"]));
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().to_string();
    auto generator = Generator::load(bundle, "model");
    ASSERT_TRUE(generator.ok()) << f["name"] << ": " << generator.status().to_string();
    EXPECT_EQ(generator->metadata().eos_ids, std::vector<int64_t>{tokenizer->eos_id()});
    EXPECT_EQ(generator->metadata().bos_id, tokenizer->bos_id());
    GenerateOptions options;
    options.max_new_tokens = 8;
    for (const nlohmann::json& c : f["completions"]) {
      auto prompt = tokenizer->encode(c["prompt"].get<std::string>(), /*add_bos=*/true);
      ASSERT_TRUE(prompt.ok());
      EXPECT_EQ(*prompt, c["prompt_tokens"].get<std::vector<int64_t>>()) << c["prompt"];
      auto result = generator->generate(*prompt, options);
      ASSERT_TRUE(result.ok()) << f["name"] << ": " << result.status().to_string();
      EXPECT_EQ(result->generated_tokens, c["tokens"].get<std::vector<int64_t>>()) << f["name"] << " " << c["prompt"];
      EXPECT_EQ(result->stop_reason, "eos") << f["name"] << " " << c["prompt"];
      std::vector<int64_t> answer(result->generated_tokens.begin(), result->generated_tokens.end() - 1);
      auto text = tokenizer->decode(answer);
      ASSERT_TRUE(text.ok());
      EXPECT_EQ(*text, c["text"].get<std::string>()) << f["name"] << " " << c["prompt"];
      // And the answer is right: the model learnt its task ("a b=" -> a+b, a*b, or "b a").
      int a = -1, b = -1;
      ASSERT_EQ(std::sscanf(c["prompt"].get<std::string>().c_str(), "%d %d=", &a, &b), 2);
      const std::string task = f["task"];
      const std::string right = task == "add"   ? std::to_string(a + b)
                                : task == "mul" ? std::to_string(a * b)
                                                : std::to_string(b) + " " + std::to_string(a);
      EXPECT_EQ(*text, right) << f["name"] << " " << c["prompt"];
    }
    ++checked;
  }
  EXPECT_EQ(checked, 8) << "llama_demo_xnnpack, llama_demo_lora_mul_xnnpack, llama_demo_lora_rev_xnnpack, "
                           "llama_demo_portable, lora_infer, llama_demo_8da4w{,_lora_mul,_lora_rev}_xnnpack";
}

// What the demo shows: one prompt, three programs over one foundation, three different answers
// as trained (sum, product, the numbers swapped), each LoRA program adding little memory.
TEST(GenerateTest, DemoBundleAnswersAsTrainedAndLoraProgramsStayWithinTheirBudget) {
  auto bundle = Bundle::open(ETP_DEMO_MANIFEST, kOptions);
  ASSERT_TRUE(bundle.ok()) << bundle.status().to_string();
  auto tokenizer = Tokenizer::open(fixture_path("tiny_sp.model"));
  ASSERT_TRUE(tokenizer.ok());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"base", "15"}, {"lora_mul", "56"}, {"lora_rev", "8 7"}};
  std::vector<std::unique_ptr<Generator>> generators;
  std::vector<GenerationMemory> memory;
  for (const auto& [model, answer] : expected) {
    auto g = Generator::load(*bundle, model);
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    generators.push_back(std::make_unique<Generator>(std::move(*g)));
    auto result = generators.back()->generate(*tokenizer->encode("7 8=", true));
    ASSERT_TRUE(result.ok()) << result.status().to_string();
    ASSERT_EQ(result->stop_reason, "eos");
    result->generated_tokens.pop_back();
    EXPECT_EQ(*tokenizer->decode(result->generated_tokens), answer) << model;
    memory.push_back({generators.back().get(), result->rss_after_prefill, result->rss_after_generation,
                      result->anon_after_prefill, result->anon_after_generation});
  }
  const auto report = nlohmann::json::parse(generation_memory_report(*bundle, memory));
  ASSERT_EQ(report["models"].size(), 3u);
  EXPECT_EQ(report["models"][0]["shared_data"], nlohmann::json::array({"foundation"}));
  EXPECT_FALSE(report["models"][0].contains("budget_bytes")) << "the first model carries the shared weights";
  // AddressSanitizer's allocator adds redzones, quarantine and shadow pages to every allocation:
  // the budget is a property of a normal build, checked there; the report's structure everywhere.
#if ETP_TEST_ASAN
  constexpr bool kSanitized = true;
#else
  constexpr bool kSanitized = false;
#endif
  for (int i = 1; i < 3; ++i) {
    const nlohmann::json& m = report["models"][i];
    EXPECT_GT(m["unique_bytes"].get<uint64_t>(), 300000u) << "the program holds its adapters";
    EXPECT_TRUE(kSanitized || m["within_budget"].get<bool>()) << m.dump();
    EXPECT_TRUE(kSanitized || m["anonymous_within_budget"].get<bool>()) << m.dump();
  }
  const nlohmann::json& foundation = report["data_files"][0];
  EXPECT_EQ(foundation["models"].size(), 3u);
  EXPECT_GT(foundation["shared_packed_bytes"].get<uint64_t>(), 0u);
  EXPECT_NE(render_generation_memory_report(report.dump()).find("shared foundation"), std::string::npos);
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
