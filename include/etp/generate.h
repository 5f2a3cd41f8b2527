// Text generation over an LLM program with a KV cache, as ExecuTorch's llama export writes them:
// method `forward(tokens int64 [1, n], input_pos int64 [1]) -> logits` ([1, vocab] for the last
// position, or [1, n, vocab]), with the caches as state that carries from call to call, and
// metadata methods (get_max_seq_len, get_max_context_len, get_vocab_size, get_bos_id,
// get_eos_ids, use_kv_cache, enable_dynamic_shape) that say how to drive it.
//
//   auto bundle = etp::Bundle::open("manifests/fixtures.yaml");
//   etp::GenerateOptions options;
//   options.max_new_tokens = 16;
//   auto result = etp::generate(*bundle, "llama_et_portable", {1, 5, 7}, options,
//                               [](int64_t token) { std::cout << token << " " << std::flush; });
//
// Token ids in, token ids out: a tokenizer is the caller's (and the CLI's) business.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "etp/etp.h"
#include "etp/status.h"

namespace etp {

// What the program's metadata methods say (absent methods leave the defaults).
struct GenerationMetadata {
  int64_t max_seq_len = 0;       // longest chunk one call takes (get_max_seq_len)
  int64_t max_context_len = 0;   // positions the KV cache holds (get_max_context_len, else max_seq_len)
  int64_t vocab_size = 0;        // get_vocab_size (0: taken from the logits)
  int64_t bos_id = -1;           // get_bos_id, -1 when absent
  std::vector<int64_t> eos_ids;  // get_eos_ids (or get_eos_id), empty when absent
  bool use_kv_cache = true;
  bool enable_dynamic_shape = false;  // the prompt goes in one call (else token by token)
  std::vector<std::string> found;     // the metadata methods the program has
};

// Runs the model's metadata methods (each once, on a fresh method).
Result<GenerationMetadata> read_generation_metadata(const Bundle& bundle, const std::string& model);

struct GenerateOptions {
  int64_t max_new_tokens = 32;
  // 0: greedy (the first largest logit). Otherwise logits / temperature, softmax, then top-p.
  double temperature = 0;
  double top_p = 1.0;            // keep the smallest set of most likely tokens whose mass reaches p
  uint64_t seed = 0;             // of the sampler's std::mt19937_64
  std::vector<int64_t> eos_ids;  // stop tokens; empty: the program's get_eos_ids
  bool stop_at_eos = true;
  std::string method = "forward";
};

struct GenerateResult {
  std::vector<int64_t> prompt_tokens;
  std::vector<int64_t> generated_tokens;  // including a final EOS token when one stopped it
  std::string stop_reason;                // "eos", "max_new_tokens" or "context" (the cache is full)
  GenerationMetadata metadata;
  int64_t prefill_calls = 0;  // 1 when the prompt went in one call
  double ttft_ms = 0;         // from the start of prefill to the first token
  double prefill_ms = 0, decode_ms = 0;
  double prefill_tokens_per_s = 0, decode_tokens_per_s = 0;
  // Resident memory of the process (bytes) after the method was loaded, after prefill, and after
  // generation: the points ExecuTorch's LoRA demo logs.
  uint64_t rss_after_load = 0, rss_after_prefill = 0, rss_after_generation = 0;
  // The anonymous part of each (RSS minus file-backed pages): heap, packed weights, caches; not
  // the pages of mapped programs and data files, which the kernel may share and drop.
  uint64_t anon_after_load = 0, anon_after_prefill = 0, anon_after_generation = 0;
};

// A model's generation method, loaded once with its metadata read and its signature checked, for
// any number of generations. Each generate() starts a new sequence at position 0: the KV cache
// keeps old entries past the new prompt, but attention reads only positions up to the current
// one, so they never count (ExecuTorch's runner reuses its caches the same way). Move-only; one
// generation at a time.
class Generator {
 public:
  static Result<Generator> load(const Bundle& bundle, const std::string& model, const std::string& method = "forward");

  // As the free generate() below, on this generator's method (options.method is ignored).
  Result<GenerateResult> generate(const std::vector<int64_t>& prompt, const GenerateOptions& options = {},
                                  const std::function<void(int64_t token)>& on_token = {});

  const std::string& model() const { return model_; }
  const GenerationMetadata& metadata() const { return metadata_; }
  const Method& method() const { return method_; }
  // Resident memory of the process (bytes, /proc/self/statm) before and after load() loaded it.
  uint64_t rss_before_load() const { return rss_before_load_; }
  uint64_t rss_after_load() const { return rss_after_load_; }
  uint64_t anon_before_load() const { return anon_before_load_; }  // the anonymous part, as in GenerateResult
  uint64_t anon_after_load() const { return anon_after_load_; }

 private:
  Generator(std::string model, GenerationMetadata metadata, Method method, int64_t chunk);
  std::string model_;
  GenerationMetadata metadata_;
  Method method_;
  int64_t chunk_ = 1;  // tokens per prefill call
  uint64_t rss_before_load_ = 0, rss_after_load_ = 0, anon_before_load_ = 0, anon_after_load_ = 0;
};

// What each of several generators, loaded one after another in one process and kept loaded, added
// to resident memory: the LoRA demo's table. rss_* and anon_* are the process's RSS and its
// anonymous part after the generator's first prefill and after its last generation
// (GenerateResult's). The JSON document lists per
// model its unique bytes (program + data files no other model of the bundle uses), planned
// memory, the data files it shares, and the RSS it added after load, prefill and generation
// (each minus the RSS before its load); per data file its size, users and packed bytes.
struct GenerationMemory {
  const Generator* generator = nullptr;
  uint64_t rss_after_prefill = 0, rss_after_generation = 0;
  uint64_t anon_after_prefill = 0, anon_after_generation = 0;
};
std::string generation_memory_report(const Bundle& bundle, const std::vector<GenerationMemory>& models);
// The table for people, from generation_memory_report's document.
std::string render_generation_memory_report(const std::string& report_json);

// Loads the model's method, feeds the prompt (in one call where the program allows a dynamic
// sequence length, in chunks of at most max_seq_len; else token by token), then decodes one token
// per call with the KV cache until an EOS id, max_new_tokens or the end of the context.
// `on_token` sees each generated token as soon as it is chosen. Errors name the model and what
// was expected (an empty prompt, a token outside the vocabulary, a prompt longer than the context,
// an unexpected input or output signature).
Result<GenerateResult> generate(const Bundle& bundle, const std::string& model, const std::vector<int64_t>& prompt,
                                const GenerateOptions& options = {},
                                const std::function<void(int64_t token)>& on_token = {});

// Picks each next token from a row of logits (what generate uses; public for tests and callers
// with their own loop): greedy when temperature is 0, else a draw from the softmax of
// logits / temperature restricted to the top-p set, from a std::mt19937_64 seeded once.
class Sampler {
 public:
  explicit Sampler(const GenerateOptions& options);
  int64_t next(const float* logits, size_t count);

 private:
  double temperature_, top_p_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int64_t>> scratch_;
};

}  // namespace etp
