// `etp generate`: the generation loop of include/etp/generate.h on a model of a bundle (or a
// program alone), token ids in and out, streamed as they come; --json prints one document.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "etp/etp.h"
#include "etp/generate.h"
#include "etp/tokenizer.h"
#include "format/file_kind.h"

namespace etp::cli {
namespace {

constexpr const char* kGenerateUsage =
    "usage: etp generate MANIFEST [--model NAME]... (--prompt TEXT | --prompt-tokens IDS)... [options]\n"
    "       etp generate PROGRAM.pte (--prompt TEXT --tokenizer FILE | --prompt-tokens IDS)... [options]\n"
    "\n"
    "Generates tokens with an LLM program that keeps a KV cache, as ExecuTorch's llama export\n"
    "writes them: forward(tokens [1, n], input_pos [1]) -> logits. Reads the program's metadata\n"
    "methods (get_max_seq_len, get_max_context_len, get_eos_ids, enable_dynamic_shape, ...), feeds\n"
    "the prompt in one call where the program allows it (else token by token), then decodes one\n"
    "token per call until an EOS id, --max-new-tokens or the end of the context. Text is printed\n"
    "as it comes (token ids with --prompt-tokens). Each model loads once, in the order given, and\n"
    "stays loaded while it completes every prompt; with several models or prompts each completion\n"
    "is printed as `[model] prompt` and the text it generated.\n"
    "\n"
    "options:\n"
    "  --model NAME          a model of the manifest (repeat; default: every model, in manifest order)\n"
    "  --prompt TEXT         a prompt, encoded with the model's tokenizer (BOS first; repeat)\n"
    "  --tokenizer FILE      a SentencePiece .model (default: the manifest's `tokenizer:`)\n"
    "  --no-bos              do not put the tokenizer's BOS id before the prompt\n"
    "  --prompt-tokens IDS   a prompt as comma-separated token ids, e.g. 1,5,7 (repeat)\n"
    "  --max-new-tokens N    tokens to generate at most (default 32)\n"
    "  --temperature T       0 (default) is greedy; above 0 samples from softmax(logits / T)\n"
    "  --top-p P             with sampling, keep the most likely tokens up to mass P (default 1)\n"
    "  --seed N              seed of the sampler (default 0)\n"
    "  --eos-ids IDS         stop tokens (default: the program's get_eos_ids, else the\n"
    "                        tokenizer's EOS)\n"
    "  --method NAME         the method to drive (default forward)\n"
    "  --data FILE.ptd       a data file of PROGRAM.pte (repeat)\n"
    "  --data NAME=FILE      with a MANIFEST: read its data entry NAME from FILE instead, e.g. a\n"
    "                        trained adapter (repeat; its sha256 is not checked)\n"
    "  --plugin NAME|LIB     a plugin for PROGRAM.pte (repeat; default: portable, xnnpack, quantized, llm)\n"
    "  --plugin-path DIR     also look for plugin libraries in DIR (repeat)\n"
    "  --max-instructions N  the most instructions one execute may run before it fails (default\n"
    "                        the model's max_instructions, else 10000000): stops a looping program\n"
    "  --memory-budget SIZE  bytes all loaded methods may plan, e.g. 2GiB (default: the\n"
    "                        manifest's memory_budget, else 3/4 of physical memory)\n"
    "  --read-files          read programs and data files into memory instead of mapping them\n"
    "  --memory-report       after the completions, the RSS each model added after its load, its\n"
    "                        first prefill and its generation, against its unique bytes\n"
    "  --json                print JSON instead of the streamed text: one generation's document,\n"
    "                        or {\"generations\": [...]} for several (with \"memory\" when asked)\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

int generate_usage_error(const std::string& message) { return cli::usage_error("generate", message); }

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

}  // namespace

namespace {

// One model's tokenizer: --tokenizer, else the manifest's `tokenizer:` (none: token ids only).
// Each file is read once, however many models name it (`opened` keeps them by path).
Result<const std::optional<Tokenizer>*> tokenizer_of(const Bundle& bundle, const std::string& model,
                                                     const std::string& override_path,
                                                     std::map<std::string, std::optional<Tokenizer>>* opened) {
  std::string path = override_path;
  if (path.empty()) {
    ETP_TRY(ModelInfo info, bundle.model(model));
    path = info.tokenizer;
  }
  auto it = opened->find(path);
  if (it == opened->end()) {
    std::optional<Tokenizer> tokenizer;
    if (!path.empty()) {
      ETP_TRY(Tokenizer t, Tokenizer::open(path));
      tokenizer.emplace(std::move(t));
    }
    it = opened->emplace(path, std::move(tokenizer)).first;
  }
  return &it->second;
}

// Prints generated text as it grows (a token may end inside a character, so only whole prefixes
// print); token ids without a tokenizer.
class TextStream {
 public:
  explicit TextStream(const std::optional<Tokenizer>& tokenizer) : tokenizer_(tokenizer) {}
  void operator()(int64_t token) {
    if (!tokenizer_) {
      std::printf("%lld ", static_cast<long long>(token));
    } else if (token >= tokenizer_->vocab_size()) {
      std::printf("[%lld]", static_cast<long long>(token));  // the model's vocabulary outgrows the tokenizer's
    } else {
      so_far_.push_back(token);
      auto text = tokenizer_->decode(so_far_);
      if (text.ok() && text->compare(0, printed_.size(), printed_) == 0) {
        std::fputs(text->c_str() + printed_.size(), stdout);
        printed_ = *text;
      }
    }
    std::fflush(stdout);
  }

 private:
  const std::optional<Tokenizer>& tokenizer_;
  std::vector<int64_t> so_far_;
  std::string printed_;
};

constexpr double kMiB = 1024.0 * 1024.0;

nlohmann::json generation_json(const std::string& model, const GenerateResult& r,
                               const std::optional<Tokenizer>& tokenizer, const std::string* prompt_text) {
  nlohmann::json doc = {
      {"model", model},
      {"prompt_tokens", r.prompt_tokens},
      {"generated_tokens", r.generated_tokens},
      {"stop_reason", r.stop_reason},
      {"prefill_calls", r.prefill_calls},
      {"ttft_ms", r.ttft_ms},
      {"prefill_tokens_per_s", r.prefill_tokens_per_s},
      {"decode_tokens_per_s", r.decode_tokens_per_s},
      {"rss_mib",
       {{"after_load", r.rss_after_load / kMiB},
        {"after_prefill", r.rss_after_prefill / kMiB},
        {"after_generation", r.rss_after_generation / kMiB}}},
  };
  if (tokenizer) {
    auto text = tokenizer->decode(r.generated_tokens);
    doc["text"] = text.ok() ? *text : std::string();
    if (prompt_text != nullptr) doc["prompt"] = *prompt_text;
  }
  return doc;
}

int fail(const Status& status) {
  std::fprintf(stderr, "etp generate: %s\n", status.message().c_str());
  return 1;
}

}  // namespace

int run_generate(const std::vector<std::string>& args) {
  using Kind = OptionSpec::Kind;
  static const std::vector<OptionSpec> kSpecs = {{Kind::kRepeat, "--model"},
                                                 {Kind::kRepeat, "--prompt-tokens"},
                                                 {Kind::kOnce, "--max-new-tokens"},
                                                 {Kind::kOnce, "--temperature"},
                                                 {Kind::kOnce, "--top-p"},
                                                 {Kind::kOnce, "--seed"},
                                                 {Kind::kOnce, "--eos-ids"},
                                                 {Kind::kOnce, "--method"},
                                                 {Kind::kRepeat, "--data"},
                                                 {Kind::kRepeat, "--plugin"},
                                                 {Kind::kRepeat, "--plugin-path"},
                                                 {Kind::kFlag, "--json"},
                                                 {Kind::kRepeat, "--prompt"},
                                                 {Kind::kOnce, "--tokenizer"},
                                                 {Kind::kFlag, "--no-bos"},
                                                 {Kind::kFlag, "--memory-report"},
                                                 {Kind::kOnce, "--max-instructions"},
                                                 {Kind::kFlag, "--read-files"},
                                                 {Kind::kOnce, "--memory-budget"}};
  ParsedArgs parsed;
  if (std::string error = parse_args(args, kSpecs, &parsed); !error.empty()) return generate_usage_error(error);
  if (parsed.help) {
    std::fputs(kGenerateUsage, stdout);
    return 0;
  }
  if (parsed.positional.size() != 1) return generate_usage_error("expected one MANIFEST or PROGRAM.pte");
  const std::string target = parsed.positional[0];
  const bool text_prompt = parsed.has("--prompt");
  if (text_prompt == parsed.has("--prompt-tokens"))
    return generate_usage_error("give --prompt or --prompt-tokens (not both)");
  const std::vector<std::string> prompt_texts = parsed.all(text_prompt ? "--prompt" : "--prompt-tokens");
  std::vector<std::vector<int64_t>> id_prompts;
  for (const std::string& ids : text_prompt ? std::vector<std::string>{} : prompt_texts) {
    id_prompts.emplace_back();
    if (!parse_ids(ids, &id_prompts.back())) {
      return generate_usage_error("--prompt-tokens needs comma-separated non-negative token ids, got '" + ids + "'");
    }
  }
  GenerateOptions options;
  if (parsed.has("--max-new-tokens") && !parse_count(parsed.value("--max-new-tokens"), &options.max_new_tokens)) {
    return generate_usage_error("--max-new-tokens needs a non-negative integer, got '" +
                                parsed.value("--max-new-tokens") + "'");
  }
  if (parsed.has("--temperature") &&
      (!parse_real(parsed.value("--temperature"), &options.temperature) || options.temperature < 0)) {
    return generate_usage_error("--temperature needs a number >= 0, got '" + parsed.value("--temperature") + "'");
  }
  if (parsed.has("--top-p") &&
      (!parse_real(parsed.value("--top-p"), &options.top_p) || !(options.top_p > 0 && options.top_p <= 1))) {
    return generate_usage_error("--top-p needs a number in (0, 1], got '" + parsed.value("--top-p") + "'");
  }
  int64_t seed = 0;
  if (parsed.has("--seed") && !parse_count(parsed.value("--seed"), &seed)) {
    return generate_usage_error("--seed needs a non-negative integer, got '" + parsed.value("--seed") + "'");
  }
  options.seed = static_cast<uint64_t>(seed);
  if (parsed.has("--eos-ids") && !parse_ids(parsed.value("--eos-ids"), &options.eos_ids)) {
    return generate_usage_error("--eos-ids needs comma-separated token ids, got '" + parsed.value("--eos-ids") + "'");
  }
  if (parsed.has("--method")) options.method = parsed.value("--method");
  const bool json = parsed.has("--json");

  const bool program = format::file_kind(target) == format::FileKind::kProgram;
  if (!program && parsed.has("--plugin"))
    return generate_usage_error("--plugin applies to a program; a manifest names its own");
  BundleOptions bundle_options{parsed.all("--plugin-path"), /*use_environment=*/true, {}};
  if (std::string e = parse_max_instructions(parsed, &bundle_options.max_instructions); !e.empty()) {
    return generate_usage_error(e);
  }
  bundle_options.read_files = parsed.has("--read-files");
  if (std::string e = parse_memory_budget(parsed, &bundle_options.memory_budget); !e.empty())
    return generate_usage_error(e);
  if (!program) {
    if (std::string e = parse_data_files(parsed.all("--data"), &bundle_options.data_files); !e.empty()) {
      return generate_usage_error(e);
    }
  }
  std::vector<std::string> plugins = parsed.all("--plugin");
  if (plugins.empty()) plugins = default_plugins();
  auto bundle = program ? Bundle::open(BundleSpec::for_program(target, parsed.all("--data"), plugins), bundle_options)
                        : Bundle::open(target, bundle_options);
  if (!bundle.ok()) return fail(bundle.status());
  std::vector<std::string> models = parsed.all("--model");
  if (models.empty()) models = bundle->models();
  const bool several = models.size() > 1 || prompt_texts.size() > 1;

  // Models load one after another and stay loaded, so the memory table sees what each one adds.
  std::vector<std::unique_ptr<Generator>> generators;
  std::vector<GenerationMemory> memory;
  nlohmann::json documents = nlohmann::json::array();
  std::map<std::string, std::optional<Tokenizer>> tokenizers;
  for (const std::string& model : models) {
    auto found = tokenizer_of(*bundle, model, parsed.value("--tokenizer"), &tokenizers);
    if (!found.ok()) return fail(found.status());
    const std::optional<Tokenizer>& tokenizer = **found;
    if (text_prompt && !tokenizer) {
      std::fprintf(stderr,
                   "etp generate: model '%s' names no tokenizer: add `tokenizer: FILE` to its manifest entry, "
                   "or pass --tokenizer\n",
                   model.c_str());
      return 1;
    }
    auto generator = Generator::load(*bundle, model, options.method);
    if (!generator.ok()) return fail(generator.status());
    generators.push_back(std::make_unique<Generator>(std::move(*generator)));
    Generator& g = *generators.back();
    GenerateOptions model_options = options;
    if (tokenizer && model_options.eos_ids.empty() && g.metadata().eos_ids.empty() && tokenizer->eos_id() >= 0) {
      model_options.eos_ids = {tokenizer->eos_id()};
    }
    GenerationMemory points{&g, 0, 0, 0, 0};
    double prefill_ms = 0, decode_ms = 0, first_ttft = 0;
    size_t prompt_tokens = 0, generated = 0, decoded = 0;
    for (size_t i = 0; i < prompt_texts.size(); ++i) {
      std::vector<int64_t> prompt;
      if (text_prompt) {
        auto ids = tokenizer->encode(prompt_texts[i], !parsed.has("--no-bos"));
        if (!ids.ok()) return fail(ids.status());
        prompt = std::move(*ids);
      } else {
        prompt = id_prompts[i];
      }
      if (several && !json) std::printf("[%s] %s", model.c_str(), text_prompt ? prompt_texts[i].c_str() : "");
      TextStream stream(tokenizer);
      auto result = g.generate(prompt, model_options, [&](int64_t token) {
        if (!json) stream(token);
      });
      if (!result.ok()) {
        if (!json) std::printf("\n");
        return fail(result.status());
      }
      if (i == 0) {
        points.rss_after_prefill = result->rss_after_prefill;
        points.anon_after_prefill = result->anon_after_prefill;
        first_ttft = result->ttft_ms;
      }
      points.rss_after_generation = result->rss_after_generation;
      points.anon_after_generation = result->anon_after_generation;
      prefill_ms += result->prefill_ms;
      decode_ms += result->decode_ms;
      prompt_tokens += result->prompt_tokens.size();
      generated += result->generated_tokens.size();
      decoded += result->generated_tokens.empty() ? 0 : result->generated_tokens.size() - 1;
      if (json) {
        documents.push_back(generation_json(model, *result, tokenizer, text_prompt ? &prompt_texts[i] : nullptr));
      } else if (!several) {
        std::printf(
            "\n%s: %zu prompt tokens (%lld call%s), %zu generated (stop: %s); first token after %.2f ms; "
            "prefill %.0f tokens/s, decode %.0f tokens/s; RSS %.1f MiB after load, %.1f after prefill, %.1f "
            "after generation\n",
            model.c_str(), result->prompt_tokens.size(), static_cast<long long>(result->prefill_calls),
            result->prefill_calls == 1 ? "" : "s", result->generated_tokens.size(), result->stop_reason.c_str(),
            result->ttft_ms, result->prefill_tokens_per_s, result->decode_tokens_per_s, result->rss_after_load / kMiB,
            result->rss_after_prefill / kMiB, result->rss_after_generation / kMiB);
      } else {
        std::printf("\n");
      }
    }
    memory.push_back(points);
    if (several && !json) {
      std::printf(
          "%s: %zu prompt%s, %zu prompt tokens, %zu generated; first token after %.2f ms; prefill %.0f "
          "tokens/s, decode %.0f tokens/s\n",
          model.c_str(), prompt_texts.size(), prompt_texts.size() == 1 ? "" : "s", prompt_tokens, generated, first_ttft,
          prefill_ms > 0 ? prompt_tokens * 1000.0 / prefill_ms : 0.0,
          decode_ms > 0 && decoded > 0 ? decoded * 1000.0 / decode_ms : 0.0);
    }
  }
  const std::string report = parsed.has("--memory-report") ? generation_memory_report(*bundle, memory) : "";
  if (json) {
    nlohmann::json doc = several ? nlohmann::json{{"generations", documents}} : documents[0];
    if (!report.empty()) doc["memory"] = nlohmann::json::parse(report);
    // Text that is not UTF-8 (a prompt, or a decoded byte piece) is replaced, not thrown over.
    std::printf("%s\n", doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  if (!report.empty()) std::fputs(render_generation_memory_report(report).c_str(), stdout);
  return 0;
}

}  // namespace etp::cli
