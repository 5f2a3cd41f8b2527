// The generation loop (etp/generate.h): metadata methods, prefill, decode with the KV cache the
// method keeps as state, greedy or seeded top-p sampling, timing and resident memory.
#include "etp/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "api/api_internal.h"
#include "bundle/memory_report.h"
#include "core/clock.h"
#include "core/error.h"

namespace etp {
namespace {

// Resident bytes of the process from /proc/self/statm: one small read, cheap enough to take
// inside the timed loop's pauses (smaps_rollup, which the memory report uses, walks every mapping).
struct Resident {
  uint64_t rss = 0, anonymous = 0;
};
Resident sample() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return {};
  unsigned long long size = 0, resident = 0, file = 0;  // statm's "shared": file-backed resident pages
  const int read = std::fscanf(f, "%llu %llu %llu", &size, &resident, &file);
  std::fclose(f);
  static const long page = ::sysconf(_SC_PAGESIZE);
  if (read != 3 || page <= 0 || file > resident) return {};
  return {resident * static_cast<uint64_t>(page), (resident - file) * static_cast<uint64_t>(page)};
}
uint64_t resident_bytes() { return sample().rss; }

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

// The last position's logits as floats: read in place when they are row-major float32 (every
// decode step of the usual export), else through a copy of the whole output.
Status last_logits(const std::string& model, const Value& out, std::vector<float>* row) {
  const TensorView& t = out.tensor();
  if (t.rank() < 1 || t.sizes()[t.rank() - 1] <= 0) {
    return model_error(model, StatusCode::kShape, "logits have no vocabulary dimension");
  }
  const int64_t vocab = t.sizes()[t.rank() - 1];
  row->resize(static_cast<size_t>(vocab));
  if (t.dtype() == DType::kFloat32 && t.is_row_major() && t.data() != nullptr) {
    const float* last = static_cast<const float*>(t.data()) + (t.numel() - vocab);
    std::copy(last, last + vocab, row->begin());
    return Status::success();
  }
  const Tensor all = t.to_tensor();
  const int64_t offset = all.numel() - vocab;
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
    if (values.empty())
      return model_error(model, StatusCode::kInvalidArgument, std::string(name) + " returned nothing");
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
  if (std::isinf(max) && max > 0) {                                   // an infinite logit takes all the mass
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

Generator::Generator(std::string model, GenerationMetadata metadata, Method method, int64_t chunk)
    : model_(std::move(model)), metadata_(std::move(metadata)), method_(std::move(method)), chunk_(chunk) {}

Result<Generator> Generator::load(const Bundle& bundle, const std::string& model, const std::string& method_name) {
  const Resident before = sample();
  ETP_TRY(GenerationMetadata metadata, read_generation_metadata(bundle, model));
  ETP_TRY(Method method, bundle.load_method(model, method_name));
  int64_t max_chunk = 0;
  ETP_CHECK_OK(check_signature(model, method.info(), &max_chunk));
  if (metadata.vocab_size <= 0 && !method.info().outputs[0].tensor.sizes.empty()) {
    metadata.vocab_size = method.info().outputs[0].tensor.sizes.back();  // from the logits' shape
  }
  const bool dynamic = method.info().inputs[0].tensor.dynamic;
  if (metadata.max_seq_len > 0) max_chunk = std::min(max_chunk, metadata.max_seq_len);
  if (!dynamic && max_chunk != 1) {
    return model_error(
        model, StatusCode::kInvalidArgument,
        "a static token input must take one token per call, this one takes " + std::to_string(max_chunk));
  }
  const int64_t chunk = dynamic && metadata.enable_dynamic_shape ? std::max<int64_t>(max_chunk, 1) : 1;
  Generator g(model, std::move(metadata), std::move(method), chunk);
  const Resident after = sample();
  g.rss_before_load_ = before.rss;
  g.anon_before_load_ = before.anonymous;
  g.rss_after_load_ = after.rss;
  g.anon_after_load_ = after.anonymous;
  return g;
}

Result<GenerateResult> Generator::generate(const std::vector<int64_t>& prompt, const GenerateOptions& options,
                                           const std::function<void(int64_t token)>& on_token) {
  const std::string& model = model_;
  if (prompt.empty()) return model_error(model, StatusCode::kInvalidArgument, "the prompt has no tokens");
  if (options.max_new_tokens < 0) {
    return model_error(model, StatusCode::kInvalidArgument, "max_new_tokens must not be negative");
  }
  if (options.temperature < 0 || !(options.top_p > 0 && options.top_p <= 1)) {
    return model_error(model, StatusCode::kInvalidArgument, "temperature must be >= 0 and top_p in (0, 1]");
  }
  GenerateResult r;
  r.prompt_tokens = prompt;
  r.metadata = metadata_;
  const int64_t context = r.metadata.max_context_len;
  if (context > 0 && static_cast<int64_t>(prompt.size()) > context) {
    return model_error(
        model, StatusCode::kInvalidArgument,
        "the prompt has " + std::to_string(prompt.size()) + " tokens, the context holds " + std::to_string(context));
  }
  const std::vector<int64_t> eos = options.eos_ids.empty() ? r.metadata.eos_ids : options.eos_ids;
  r.rss_after_load = rss_after_load_;
  r.anon_after_load = anon_after_load_;

  std::vector<float> logits;
  int64_t pos = 0;  // a new sequence: the cache's older entries lie beyond what attention reads
  // One call: `count` tokens at position `pos`; leaves the last position's logits.
  auto step = [&](const int64_t* tokens, int64_t count) -> Status {
    const TensorRef t{DType::kInt64, {1, count}, tokens, static_cast<size_t>(count) * sizeof(int64_t)};
    const int64_t at = pos;
    const TensorRef p{DType::kInt64, {1}, &at, sizeof(at)};
    ETP_CHECK_OK(method_.set_inputs({t, p}));
    ETP_CHECK_OK(method_.execute());
    ETP_CHECK_OK(last_logits(model, method_.output(0), &logits));
    pos += count;
    return Status::success();
  };
  for (int64_t token : prompt) {
    if (token < 0 || (r.metadata.vocab_size > 0 && token >= r.metadata.vocab_size)) {
      return model_error(
          model, StatusCode::kInvalidArgument,
          "token " + std::to_string(token) + " is outside the vocabulary of " + std::to_string(r.metadata.vocab_size));
    }
  }

  Sampler sampler(options);
  const auto start = Clock::now();
  for (size_t begin = 0; begin < prompt.size(); begin += static_cast<size_t>(chunk_)) {
    const int64_t count = std::min<int64_t>(chunk_, static_cast<int64_t>(prompt.size() - begin));
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
      const Resident now = sample();
      r.rss_after_prefill = now.rss;
      r.anon_after_prefill = now.anonymous;
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
  const Resident end = sample();
  if (r.generated_tokens.empty()) r.rss_after_prefill = end.rss, r.anon_after_prefill = end.anonymous;
  r.rss_after_generation = end.rss;
  r.anon_after_generation = end.anonymous;
  if (r.prefill_ms > 0) r.prefill_tokens_per_s = static_cast<double>(prompt.size()) * 1000.0 / r.prefill_ms;
  const size_t decoded = r.generated_tokens.empty() ? 0 : r.generated_tokens.size() - 1;  // calls after prefill
  if (r.decode_ms > 0 && decoded > 0) r.decode_tokens_per_s = static_cast<double>(decoded) * 1000.0 / r.decode_ms;
  return r;
}

Result<GenerateResult> generate(const Bundle& bundle, const std::string& model, const std::vector<int64_t>& prompt,
                                const GenerateOptions& options, const std::function<void(int64_t token)>& on_token) {
  ETP_TRY(Generator generator, Generator::load(bundle, model, options.method));
  return generator.generate(prompt, options, on_token);
}

std::string generation_memory_report(const Bundle& bundle, const std::vector<GenerationMemory>& models) {
  using nlohmann::json;
  const bundle::Bundle& inner = *bundle.impl()->bundle;
  const bundle::Manifest& manifest = inner.manifest();
  auto file_bytes = [](const std::string& path) -> uint64_t {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    return ec ? 0 : static_cast<uint64_t>(size);
  };
  // Which models of the bundle use each data file (by resolved path: two names may share a file).
  std::map<std::string, std::vector<std::string>> users;
  for (const bundle::ModelSpec& m : manifest.models) {
    for (const std::string& d : m.data) {
      if (const bundle::DataSpec* spec = manifest.find_data(d)) users[spec->path].push_back(m.name);
    }
  }
  const json base = bundle::memory_report(inner, {});  // data files: sizes, packed bytes, cache owners
  json files = json::array();
  for (const json& f : base["data_files"]) {
    files.push_back({{"name", f["name"]},
                     {"file", f["file"]},
                     {"bytes", f["mapped_bytes"]},
                     {"weight_cache", f["weight_cache"]},
                     {"shared_packed_bytes", f["shared_packed_bytes"]},
                     {"models", f["models"]}});
  }
  json list = json::array();
  constexpr uint64_t kMiB = 1024 * 1024;
  for (size_t i = 0; i < models.size(); ++i) {
    const Generator& g = *models[i].generator;
    const bundle::ModelSpec* spec = manifest.find_model(g.model());
    uint64_t unique = 0, program = 0;
    json shared = json::array(), private_files = json::array();
    if (spec != nullptr) {
      program = file_bytes(spec->program);
      unique = program;
      for (const std::string& d : spec->data) {
        const bundle::DataSpec* data = manifest.find_data(d);
        if (data == nullptr) continue;
        if (users[data->path].size() > 1) {
          shared.push_back(d);
        } else {
          private_files.push_back(d);
          unique += file_bytes(data->path);
        }
      }
    }
    auto added = [&](uint64_t rss) { return static_cast<int64_t>(rss) - static_cast<int64_t>(g.rss_before_load()); };
    auto anon_added = [&](uint64_t anon) {
      return static_cast<int64_t>(anon) - static_cast<int64_t>(g.anon_before_load());
    };
    json m = {{"name", g.model()},
              {"program_bytes", program},
              {"unique_bytes", unique},
              {"private_data", private_files},
              {"shared_data", shared},
              {"planned_bytes", g.method().planned_bytes()},
              {"rss_added",
               {{"after_load", added(g.rss_after_load())},
                {"after_prefill", added(models[i].rss_after_prefill)},
                {"after_generation", added(models[i].rss_after_generation)}}},
              {"anonymous_added",
               {{"after_load", anon_added(g.anon_after_load())},
                {"after_prefill", anon_added(models[i].anon_after_prefill)},
                {"after_generation", anon_added(models[i].anon_after_generation)}}}};
    if (i > 0) {  // what a program over already-loaded shared weights may add: its own bytes, and slack
      const uint64_t budget = unique + unique / 10 + 2 * kMiB;
      const int64_t worst = std::max(
          {added(g.rss_after_load()), added(models[i].rss_after_prefill), added(models[i].rss_after_generation)});
      const int64_t worst_anonymous =
          std::max({anon_added(g.anon_after_load()), anon_added(models[i].anon_after_prefill),
                    anon_added(models[i].anon_after_generation)});
      m["budget_bytes"] = budget;
      m["within_budget"] = worst <= static_cast<int64_t>(budget);
      m["anonymous_within_budget"] = worst_anonymous <= static_cast<int64_t>(budget);
    }
    list.push_back(std::move(m));
  }
  const json doc = {
      {"models", list},
      {"data_files", files},
      {"process_rss_bytes", resident_bytes()},
      {"how_measured",
       {{"rss_added",
         "process RSS (/proc/self/statm) after the model's load, its first prefill and its last "
         "generation, minus the RSS before its load; models load one after another and stay loaded"},
        {"anonymous_added",
         "as rss_added, for RSS minus file-backed pages (statm's shared): memory of the process's "
         "own, not pages of mapped programs and data files; the kernel maps a large file's page "
         "cache in folios, so a token's embedding row can bring neighbouring rows of a shared "
         "file into RSS"},
        {"unique_bytes", "size of the model's program and of the data files no other model of the bundle uses"},
        {"budget_bytes", "1.1 x unique_bytes + 2 MiB, for each model after the first"},
        {"shared_packed_bytes", "bytes the cache owner's plugin allocated packing the file's weights, once"}}}};
  return doc.dump();
}

std::string render_generation_memory_report(const std::string& report_json) {
  using nlohmann::json;
  const json r = json::parse(report_json, nullptr, /*allow_exceptions=*/false);
  if (r.is_discarded()) return "";
  auto mib = [](double bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", bytes / (1024.0 * 1024.0));
    return std::string(text);
  };
  std::ostringstream out;
  out << "memory: what each model added to RSS (its anonymous part in parentheses), MiB; loaded one after "
         "another, all kept loaded\n";
  char line[320];
  std::snprintf(line, sizeof line, "  %-14s %7s %7s %15s %15s %15s %8s  %s\n", "model", "unique", "planned",
                "after load", "after prefill", "after gen.", "budget", "shared data");
  out << line;
  auto cell = [&](const json& m, const char* point) {
    return mib(m["rss_added"][point].get<double>()) + " (" + mib(m["anonymous_added"][point].get<double>()) + ")";
  };
  for (const json& m : r["models"]) {
    std::string shared;
    for (const json& d : m["shared_data"]) shared += (shared.empty() ? "" : ", ") + d.get<std::string>();
    const std::string budget = m.contains("budget_bytes")
                                   ? mib(m["budget_bytes"].get<double>()) + (m["within_budget"].get<bool>() ? "" : "!")
                                   : "-";
    std::snprintf(line, sizeof line, "  %-14s %7s %7s %15s %15s %15s %8s  %s\n", m["name"].get<std::string>().c_str(),
                  mib(m["unique_bytes"].get<double>()).c_str(), mib(m["planned_bytes"].get<double>()).c_str(),
                  cell(m, "after_load").c_str(), cell(m, "after_prefill").c_str(), cell(m, "after_generation").c_str(),
                  budget.c_str(), shared.empty() ? "-" : shared.c_str());
    out << line;
  }
  for (const json& f : r["data_files"]) {
    if (f["models"].size() < 2) continue;
    out << "  shared " << f["name"].get<std::string>() << ": " << mib(f["bytes"].get<double>()) << " MiB on disk";
    if (!f["weight_cache"].get<std::string>().empty()) {
      out << ", packed once in " << f["weight_cache"].get<std::string>() << "'s cache ("
          << mib(f["shared_packed_bytes"].get<double>()) << " MiB)";
    }
    out << ", used by";
    for (const json& m : f["models"]) out << " " << m.get<std::string>();
    out << "\n";
  }
  out << "  unique: its program and private data files; planned: its activations and KV cache, resident as "
         "touched\n  budget: 1.1 x unique + 2 MiB for each model after the first (flagged when exceeded); process RSS "
      << mib(r["process_rss_bytes"].get<double>()) << " MiB\n";
  return out.str();
}

}  // namespace etp
