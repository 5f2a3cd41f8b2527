// `etp generate`: the generation loop of include/etp/generate.h on a model of a bundle (or a
// program alone), token ids in and out, streamed as they come; --json prints one document.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "etp/etp.h"
#include "etp/generate.h"
#include "etp/tokenizer.h"
#include "format/file_kind.h"

namespace etp::cli {
namespace {

constexpr const char* kGenerateUsage =
    "usage: etp generate MANIFEST --model NAME (--prompt TEXT | --prompt-tokens IDS) [options]\n"
    "       etp generate PROGRAM.pte (--prompt TEXT --tokenizer FILE | --prompt-tokens IDS) [options]\n"
    "\n"
    "Generates tokens with an LLM program that keeps a KV cache, as ExecuTorch's llama export\n"
    "writes them: forward(tokens [1, n], input_pos [1]) -> logits. Reads the program's metadata\n"
    "methods (get_max_seq_len, get_max_context_len, get_eos_ids, enable_dynamic_shape, ...), feeds\n"
    "the prompt in one call where the program allows it (else token by token), then decodes one\n"
    "token per call until an EOS id, --max-new-tokens or the end of the context. Text is printed\n"
    "as it comes (token ids with --prompt-tokens).\n"
    "\n"
    "options:\n"
    "  --model NAME          the model (required with a manifest of several models)\n"
    "  --prompt TEXT         the prompt, encoded with the model's tokenizer (BOS first)\n"
    "  --tokenizer FILE      a SentencePiece .model (default: the manifest's `tokenizer:`)\n"
    "  --no-bos              do not put the tokenizer's BOS id before the prompt\n"
    "  --prompt-tokens IDS   the prompt as comma-separated token ids, e.g. 1,5,7\n"
    "  --max-new-tokens N    tokens to generate at most (default 32)\n"
    "  --temperature T       0 (default) is greedy; above 0 samples from softmax(logits / T)\n"
    "  --top-p P             with sampling, keep the most likely tokens up to mass P (default 1)\n"
    "  --seed N              seed of the sampler (default 0)\n"
    "  --eos-ids IDS         stop tokens (default: the program's get_eos_ids, else the\n"
    "                        tokenizer's EOS)\n"
    "  --method NAME         the method to drive (default forward)\n"
    "  --data FILE.ptd       a data file of PROGRAM.pte (repeat)\n"
    "  --plugin NAME|LIB     a plugin for PROGRAM.pte (repeat; default: portable, xnnpack, quantized, llm)\n"
    "  --plugin-path DIR     also look for plugin libraries in DIR (repeat)\n"
    "  --json                print one JSON document instead of the streamed text\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

int usage_error(const std::string& message) { return cli::usage_error("generate", message); }

bool parse_ids(const std::string& text, std::vector<int64_t>* out) {
  out->clear();
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    int64_t id = 0;
    if (!parse_count(item, &id)) return false;
    out->push_back(id);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return !out->empty();
}

bool parse_real(const std::string& text, double* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  *out = std::strtod(text.c_str(), &end);
  return *end == '\0' && errno != ERANGE && std::isfinite(*out);
}

}  // namespace

int run_generate(const std::vector<std::string>& args) {
  using Kind = OptionSpec::Kind;
  static const std::vector<OptionSpec> kSpecs = {
      {Kind::kOnce, "--model"},       {Kind::kOnce, "--prompt-tokens"}, {Kind::kOnce, "--max-new-tokens"},
      {Kind::kOnce, "--temperature"}, {Kind::kOnce, "--top-p"},         {Kind::kOnce, "--seed"},
      {Kind::kOnce, "--eos-ids"},     {Kind::kOnce, "--method"},        {Kind::kRepeat, "--data"},
      {Kind::kRepeat, "--plugin"},    {Kind::kRepeat, "--plugin-path"}, {Kind::kFlag, "--json"},
      {Kind::kOnce, "--prompt"},      {Kind::kOnce, "--tokenizer"},     {Kind::kFlag, "--no-bos"}};
  ParsedArgs parsed;
  if (std::string error = parse_args(args, kSpecs, &parsed); !error.empty()) return usage_error(error);
  if (parsed.help) {
    std::fputs(kGenerateUsage, stdout);
    return 0;
  }
  if (parsed.positional.size() != 1) return usage_error("expected one MANIFEST or PROGRAM.pte");
  const std::string target = parsed.positional[0];
  std::vector<int64_t> prompt;
  const bool text_prompt = parsed.has("--prompt");
  if (text_prompt == parsed.has("--prompt-tokens")) return usage_error("give one of --prompt and --prompt-tokens");
  if (!text_prompt && !parse_ids(parsed.value("--prompt-tokens"), &prompt)) {
    return usage_error("--prompt-tokens needs comma-separated non-negative token ids, got '" +
                       parsed.value("--prompt-tokens") + "'");
  }
  GenerateOptions options;
  if (parsed.has("--max-new-tokens") && !parse_count(parsed.value("--max-new-tokens"), &options.max_new_tokens)) {
    return usage_error("--max-new-tokens needs a non-negative integer, got '" + parsed.value("--max-new-tokens") + "'");
  }
  if (parsed.has("--temperature") && (!parse_real(parsed.value("--temperature"), &options.temperature) ||
                                      options.temperature < 0)) {
    return usage_error("--temperature needs a number >= 0, got '" + parsed.value("--temperature") + "'");
  }
  if (parsed.has("--top-p") &&
      (!parse_real(parsed.value("--top-p"), &options.top_p) || !(options.top_p > 0 && options.top_p <= 1))) {
    return usage_error("--top-p needs a number in (0, 1], got '" + parsed.value("--top-p") + "'");
  }
  int64_t seed = 0;
  if (parsed.has("--seed") && !parse_count(parsed.value("--seed"), &seed)) {
    return usage_error("--seed needs a non-negative integer, got '" + parsed.value("--seed") + "'");
  }
  options.seed = static_cast<uint64_t>(seed);
  if (parsed.has("--eos-ids") && !parse_ids(parsed.value("--eos-ids"), &options.eos_ids)) {
    return usage_error("--eos-ids needs comma-separated token ids, got '" + parsed.value("--eos-ids") + "'");
  }
  if (parsed.has("--method")) options.method = parsed.value("--method");
  const bool json = parsed.has("--json");

  const bool program = format::file_kind(target) == format::FileKind::kProgram;
  if (!program && (parsed.has("--data") || parsed.has("--plugin"))) {
    return usage_error("--data and --plugin apply to a program; a manifest names its own");
  }
  const BundleOptions bundle_options{parsed.all("--plugin-path"), /*use_environment=*/true};
  std::vector<std::string> plugins = parsed.all("--plugin");
  if (plugins.empty()) plugins = default_plugins();
  auto bundle = program ? Bundle::open(BundleSpec::for_program(target, parsed.all("--data"), plugins), bundle_options)
                        : Bundle::open(target, bundle_options);
  if (!bundle.ok()) {
    std::fprintf(stderr, "etp generate: %s\n", bundle.status().message().c_str());
    return 1;
  }
  std::string model = parsed.value("--model");
  if (model.empty()) {
    const std::vector<std::string> models = bundle->models();
    if (models.size() != 1) return usage_error("the bundle has " + std::to_string(models.size()) + " models: name one with --model");
    model = models[0];
  }
  // The tokenizer: --tokenizer, else the model's; needed for a text prompt, used for text output.
  std::string tokenizer_path = parsed.value("--tokenizer");
  if (tokenizer_path.empty()) {
    auto info = bundle->model(model);
    if (!info.ok()) {
      std::fprintf(stderr, "etp generate: %s\n", info.status().message().c_str());
      return 1;
    }
    tokenizer_path = info->tokenizer;
  }
  std::optional<Tokenizer> tokenizer;
  if (!tokenizer_path.empty()) {
    auto opened = Tokenizer::open(tokenizer_path);
    if (!opened.ok()) {
      std::fprintf(stderr, "etp generate: %s\n", opened.status().message().c_str());
      return 1;
    }
    tokenizer.emplace(std::move(*opened));
  }
  if (text_prompt) {
    if (!tokenizer) {
      std::fprintf(stderr, "etp generate: model '%s' names no tokenizer: add `tokenizer: FILE` to its manifest entry, "
                           "or pass --tokenizer\n", model.c_str());
      return 1;
    }
    auto ids = tokenizer->encode(parsed.value("--prompt"), !parsed.has("--no-bos"));
    if (!ids.ok()) {
      std::fprintf(stderr, "etp generate: %s\n", ids.status().message().c_str());
      return 1;
    }
    prompt = std::move(*ids);
  }
  if (tokenizer && options.eos_ids.empty() && tokenizer->eos_id() >= 0) {
    auto metadata = read_generation_metadata(*bundle, model);
    if (metadata.ok() && metadata->eos_ids.empty()) options.eos_ids = {tokenizer->eos_id()};
  }
  // Streams text as it grows (a token may end inside a character, so only whole prefixes print).
  std::vector<int64_t> so_far;
  std::string printed;
  auto result = generate(*bundle, model, prompt, options, [&](int64_t token) {
    if (json) return;
    if (!tokenizer) {
      std::printf("%lld ", static_cast<long long>(token));
    } else if (token >= tokenizer->vocab_size()) {
      std::printf("[%lld]", static_cast<long long>(token));  // the model's vocabulary outgrows the tokenizer's
    } else {
      so_far.push_back(token);
      auto text = tokenizer->decode(so_far);
      if (text.ok() && text->compare(0, printed.size(), printed) == 0) {
        std::fputs(text->c_str() + printed.size(), stdout);
        printed = *text;
      }
    }
    std::fflush(stdout);
  });
  if (!result.ok()) {
    if (!json) std::printf("\n");
    std::fprintf(stderr, "etp generate: %s\n", result.status().message().c_str());
    return 1;
  }
  const double mib = 1024.0 * 1024.0;
  if (json) {
    nlohmann::json doc = {
        {"model", model},
        {"prompt_tokens", result->prompt_tokens},
        {"generated_tokens", result->generated_tokens},
        {"stop_reason", result->stop_reason},
        {"prefill_calls", result->prefill_calls},
        {"ttft_ms", result->ttft_ms},
        {"prefill_tokens_per_s", result->prefill_tokens_per_s},
        {"decode_tokens_per_s", result->decode_tokens_per_s},
        {"rss_mib",
         {{"after_load", result->rss_after_load / mib},
          {"after_prefill", result->rss_after_prefill / mib},
          {"after_generation", result->rss_after_generation / mib}}},
    };
    if (tokenizer) {
      auto text = tokenizer->decode(result->generated_tokens);
      doc["text"] = text.ok() ? *text : std::string();
      if (text_prompt) doc["prompt"] = parsed.value("--prompt");
    }
    // Text that is not UTF-8 (a prompt, or a decoded byte piece) is replaced, not thrown over.
    std::printf("%s\n", doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf("\n%s: %zu prompt tokens (%lld call%s), %zu generated (stop: %s); first token after %.2f ms; prefill "
              "%.0f tokens/s, decode %.0f tokens/s; RSS %.1f MiB after load, %.1f after prefill, %.1f after generation\n",
              model.c_str(), result->prompt_tokens.size(), static_cast<long long>(result->prefill_calls),
              result->prefill_calls == 1 ? "" : "s", result->generated_tokens.size(), result->stop_reason.c_str(),
              result->ttft_ms, result->prefill_tokens_per_s, result->decode_tokens_per_s,
              result->rss_after_load / mib, result->rss_after_prefill / mib, result->rss_after_generation / mib);
  return 0;
}

}  // namespace etp::cli
