// The generation loop (etp/generate.h): metadata methods, prefill, decode with the KV cache the
// method keeps as state, greedy or seeded top-p sampling, timing and resident memory.
#include "etp/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include <unistd.h>

#include <cstdio>

#include "core/error.h"

namespace etp {
namespace {

using Clock = std::chrono::steady_clock;

// Resident bytes of the process from /proc/self/statm: one small read, cheap enough to take
// inside the timed loop's pauses (smaps_rollup, which the memory report uses, walks every mapping).
uint64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int read = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  static const long page = ::sysconf(_SC_PAGESIZE);
  return read == 2 && page > 0 ? static_cast<uint64_t>(resident) * static_cast<uint64_t>(page) : 0;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

Status model_error(const std::string& model, StatusCode code, const std::string& what) {
  return Status(code, "model '" + model + "': " + what);
}

// Runs a metadata method (no inputs) and returns its outputs as int64 values (bools as 0/1).
Result<std::vector<int64_t>> run_metadata(const Bundle& bundle, const std::string& model, const std::string& name) {
  ETP_TRY(Method method, bundle.load_method(model, name));
  if (method.num_inputs() != 0) {
    return model_error(model, StatusCode::kInvalidArgument, "metadata method '" + name + "' takes inputs");
  }
  ETP_CHECK_OK(method.execute());
  std::vector<int64_t> values;
  for (size_t i = 0; i < method.num_outputs(); ++i) {
    const Value v = method.output(i);
    if (v.kind() == ValueKind::kInt || v.kind() == ValueKind::kBool) {
      values.push_back(v.to_int());
    } else if (v.is_tensor() && (v.tensor().dtype() == DType::kInt64 || v.tensor().dtype() == DType::kInt32 ||
                                 v.tensor().dtype() == DType::kBool)) {  // a list of ids as a tensor
      const Tensor t = v.tensor().to_tensor();
      for (int64_t j = 0; j < t.numel(); ++j) values.push_back(static_cast<int64_t>(t.value(j)));  // exact: integers
    } else {
      return model_error(model, StatusCode::kDtype,
                         "metadata method '" + name + "' returns a " + value_kind_name(v.kind()) + ", expected ints");
    }
  }
  return values;
}

// The forward method's signature: (tokens int64 [1, n], input_pos int64 [1]) -> float logits.
Status check_signature(const std::string& model, const MethodInfo& info, int64_t* max_chunk) {
  const auto& in = info.inputs;
  const bool tokens_ok = in.size() == 2 && in[0].kind == ValueKind::kTensor && in[0].tensor.dtype == DType::kInt64 &&
                         in[0].tensor.sizes.size() == 2 && in[0].tensor.sizes[0] == 1;
  const bool pos_ok = in.size() == 2 && in[1].kind == ValueKind::kTensor && in[1].tensor.dtype == DType::kInt64 &&
                      in[1].tensor.sizes.size() == 1 && in[1].tensor.sizes[0] == 1;
  if (!tokens_ok || !pos_ok) {
    return model_error(model, StatusCode::kInvalidArgument,
                       "method '" + info.name +
                           "' must take (tokens int64 [1, n], input_pos int64 [1]) as ExecuTorch's llama export "
                           "writes it (a KV-cache program)");
  }
  if (info.outputs.empty() || info.outputs[0].kind != ValueKind::kTensor ||
      (info.outputs[0].tensor.dtype != DType::kFloat32 && info.outputs[0].tensor.dtype != DType::kFloat16 &&
       info.outputs[0].tensor.dtype != DType::kBFloat16)) {
    return model_error(model, StatusCode::kInvalidArgument,
                       "method '" + info.name + "' must return float logits as its first output");
  }
  *max_chunk = in[0].tensor.sizes[1];  // the bound of a dynamic length, or the one static length
  return Status::success();
}

// The last position's logits as floats.
Status last_logits(const std::string& model, const Value& out, std::vector<float>* row) {
  const TensorView& t = out.tensor();
  if (t.rank() < 1 || t.sizes()[t.rank() - 1] <= 0) {
    return model_error(model, StatusCode::kShape, "logits have no vocabulary dimension");
  }
  const int64_t vocab = t.sizes()[t.rank() - 1];
  const Tensor all = t.to_tensor();
  const int64_t offset = all.numel() - vocab;
  row->resize(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i) (*row)[static_cast<size_t>(i)] = static_cast<float>(all.value(offset + i));
  return Status::success();
}

}  // namespace

Result<GenerationMetadata> read_generation_metadata(const Bundle& bundle, const std::string& model) {
  ETP_TRY(ModelInfo info, bundle.model(model));
  GenerationMetadata m;
  auto one = [&](const char* name, auto apply) -> Status {
    if (info.find_method(name) == nullptr) return Status::success();
    ETP_TRY(std::vector<int64_t> values, run_metadata(bundle, model, name));
    if (values.empty()) return model_error(model, StatusCode::kInvalidArgument, std::string(name) + " returned nothing");
    apply(values);
    m.found.push_back(name);
    return Status::success();
  };
  ETP_CHECK_OK(one("get_max_seq_len", [&](const auto& v) { m.max_seq_len = v[0]; }));
  ETP_CHECK_OK(one("get_max_context_len", [&](const auto& v) { m.max_context_len = v[0]; }));
  ETP_CHECK_OK(one("get_vocab_size", [&](const auto& v) { m.vocab_size = v[0]; }));
  ETP_CHECK_OK(one("get_bos_id", [&](const auto& v) { m.bos_id = v[0]; }));
  ETP_CHECK_OK(one("get_eos_ids", [&](const auto& v) { m.eos_ids = v; }));
  if (m.eos_ids.empty()) ETP_CHECK_OK(one("get_eos_id", [&](const auto& v) { m.eos_ids = v; }));
  ETP_CHECK_OK(one("use_kv_cache", [&](const auto& v) { m.use_kv_cache = v[0] != 0; }));
  ETP_CHECK_OK(one("enable_dynamic_shape", [&](const auto& v) { m.enable_dynamic_shape = v[0] != 0; }));
  if (m.max_context_len == 0) m.max_context_len = m.max_seq_len;
  return m;
}

Sampler::Sampler(const GenerateOptions& options)
    : temperature_(options.temperature), top_p_(options.top_p), rng_(options.seed) {}

int64_t Sampler::next(const float* logits, size_t count) {
  if (count == 0) return -1;
  if (!(temperature_ > 0)) {  // greedy: the first largest (NaN never wins)
    size_t best = 0;
    for (size_t i = 1; i < count; ++i) {
      if (logits[i] > logits[best] || std::isnan(logits[best])) best = i;
    }
    return static_cast<int64_t>(best);
  }
  // Softmax of logits / T in double, most likely first; keep the top-p mass; draw.
  scratch_.resize(count);
  float max = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < count; ++i) max = std::max(max, logits[i]);  // NaN never wins
  if (std::isinf(max) && max > 0) {  // an infinite logit takes all the mass
    for (size_t i = 0; i < count; ++i) {
      if (logits[i] == max) return static_cast<int64_t>(i);
    }
  }
  double total = 0;
  for (size_t i = 0; i < count; ++i) {
    double p = std::exp((static_cast<double>(logits[i]) - max) / temperature_);
    if (!(p >= 0) || std::isinf(p)) p = 0;  // NaN logits, or an infinite temperature over -inf
    scratch_[i] = {static_cast<float>(p), static_cast<int64_t>(i)};
    total += p;
  }
  if (!(total > 0) || !std::isfinite(total)) {  // nothing to draw from: the greedy choice
    GenerateOptions greedy;
    return Sampler(greedy).next(logits, count);
  }
  std::stable_sort(scratch_.begin(), scratch_.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  const double p_mass = std::clamp(top_p_, 0.0, 1.0);
  size_t keep = 0;
  double kept = 0;
  while (keep < count && (keep == 0 || kept < p_mass * total)) kept += scratch_[keep++].first;
  const double draw = std::uniform_real_distribution<double>(0.0, kept)(rng_);
  double acc = 0;
  for (size_t i = 0; i < keep; ++i) {
    acc += scratch_[i].first;
    if (draw < acc) return scratch_[i].second;
  }
  return scratch_[keep - 1].second;
}

Result<GenerateResult> generate(const Bundle& bundle, const std::string& model, const std::vector<int64_t>& prompt,
                                const GenerateOptions& options, const std::function<void(int64_t token)>& on_token) {
  if (prompt.empty()) return model_error(model, StatusCode::kInvalidArgument, "the prompt has no tokens");
  if (options.max_new_tokens < 0) {
    return model_error(model, StatusCode::kInvalidArgument, "max_new_tokens must not be negative");
  }
  if (options.temperature < 0 || !(options.top_p > 0 && options.top_p <= 1)) {
    return model_error(model, StatusCode::kInvalidArgument, "temperature must be >= 0 and top_p in (0, 1]");
  }
  GenerateResult r;
  r.prompt_tokens = prompt;
  ETP_TRY(r.metadata, read_generation_metadata(bundle, model));
  ETP_TRY(Method method, bundle.load_method(model, options.method));
  int64_t max_chunk = 0;
  ETP_CHECK_OK(check_signature(model, method.info(), &max_chunk));
  if (r.metadata.vocab_size <= 0 && !method.info().outputs[0].tensor.sizes.empty()) {
    r.metadata.vocab_size = method.info().outputs[0].tensor.sizes.back();  // from the logits' shape
  }
  const bool dynamic = method.info().inputs[0].tensor.dynamic;
  if (r.metadata.max_seq_len > 0) max_chunk = std::min(max_chunk, r.metadata.max_seq_len);
  const int64_t chunk = dynamic && r.metadata.enable_dynamic_shape ? std::max<int64_t>(max_chunk, 1) : 1;
  if (!dynamic && max_chunk != 1) {
    return model_error(model, StatusCode::kInvalidArgument,
                       "a static token input must take one token per call, this one takes " + std::to_string(max_chunk));
  }
  const int64_t context = r.metadata.max_context_len;
  if (context > 0 && static_cast<int64_t>(prompt.size()) > context) {
    return model_error(model, StatusCode::kInvalidArgument,
                       "the prompt has " + std::to_string(prompt.size()) + " tokens, the context holds " +
                           std::to_string(context));
  }
  const std::vector<int64_t> eos = options.eos_ids.empty() ? r.metadata.eos_ids : options.eos_ids;
  r.rss_after_load = resident_bytes();

  std::vector<float> logits;
  int64_t pos = 0;
  // One call: tokens[begin, end) at position `pos`; leaves the last position's logits.
  auto step = [&](const int64_t* tokens, int64_t count) -> Status {
    const TensorRef t{DType::kInt64, {1, count}, tokens, static_cast<size_t>(count) * sizeof(int64_t)};
    const int64_t at = pos;
    const TensorRef p{DType::kInt64, {1}, &at, sizeof(at)};
    ETP_CHECK_OK(method.set_inputs({t, p}));
    ETP_CHECK_OK(method.execute());
    ETP_CHECK_OK(last_logits(model, method.output(0), &logits));
    pos += count;
    return Status::success();
  };
  auto check_vocab = [&](int64_t token) -> Status {
    const int64_t vocab = r.metadata.vocab_size > 0 ? r.metadata.vocab_size : static_cast<int64_t>(logits.size());
    if (token < 0 || (vocab > 0 && token >= vocab)) {
      return model_error(model, StatusCode::kInvalidArgument,
                         "token " + std::to_string(token) + " is outside the vocabulary of " + std::to_string(vocab));
    }
    return Status::success();
  };
  for (int64_t token : prompt) ETP_CHECK_OK(check_vocab(token));

  Sampler sampler(options);
  const auto start = Clock::now();
  for (size_t begin = 0; begin < prompt.size(); begin += static_cast<size_t>(chunk)) {
    const int64_t count = std::min<int64_t>(chunk, static_cast<int64_t>(prompt.size() - begin));
    ETP_CHECK_OK(step(prompt.data() + begin, count));
    ++r.prefill_calls;
  }
  r.prefill_ms = ms_since(start);
  r.stop_reason = "max_new_tokens";
  Clock::time_point decode_start = Clock::now();
  for (int64_t n = 0; n < options.max_new_tokens; ++n) {
    const int64_t token = sampler.next(logits.data(), logits.size());
    r.generated_tokens.push_back(token);
    if (n == 0) {  // memory is read after the first token's time is taken, and outside decode's
      r.ttft_ms = ms_since(start);
      r.rss_after_prefill = resident_bytes();
      decode_start = Clock::now();
    }
    if (on_token) on_token(token);
    if (options.stop_at_eos && std::find(eos.begin(), eos.end(), token) != eos.end()) {
      r.stop_reason = "eos";
      break;
    }
    if (n + 1 == options.max_new_tokens) break;  // no need to run the last token
    if (context > 0 && pos >= context) {
      r.stop_reason = "context";
      break;
    }
    ETP_CHECK_OK(step(&token, 1));
  }
  r.decode_ms = r.generated_tokens.empty() ? 0 : ms_since(decode_start);
  if (r.generated_tokens.empty()) r.rss_after_prefill = resident_bytes();
  r.rss_after_generation = resident_bytes();
  if (r.prefill_ms > 0) r.prefill_tokens_per_s = static_cast<double>(prompt.size()) * 1000.0 / r.prefill_ms;
  const size_t decoded = r.generated_tokens.empty() ? 0 : r.generated_tokens.size() - 1;  // calls after prefill
  if (r.decode_ms > 0 && decoded > 0) r.decode_tokens_per_s = static_cast<double>(decoded) * 1000.0 / r.decode_ms;
  return r;
}

}  // namespace etp
