// The sample runner behind `etp run` (include/etp/runner.h).
#include "etp/runner.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "api/api_internal.h"
#include "bundle/memory_report.h"
#include "core/clock.h"
#include "core/npy.h"
#include "runtime/tensor_io.h"

namespace etp {
namespace {

using nlohmann::json;

uint64_t physical_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : UINT64_MAX;
}

std::string preview(const Tensor& t) {
  std::string out = dtype_name(t.dtype) + std::string("[");
  for (size_t i = 0; i < t.sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(t.sizes[i]);
  out += "] {";
  const size_t size = dtype_size(t.dtype);
  const size_t count = size ? t.data.size() / size : 0;
  for (size_t i = 0; i < count && i < 4; ++i) {
    char text[32];
    std::snprintf(text, sizeof(text), "%s%.6g", i ? ", " : "", t.value(static_cast<int64_t>(i)));
    out += text;
  }
  return out + (count > 4 ? ", ...}" : "}");
}

NpyArray to_npy(const Tensor& t) { return {static_cast<int32_t>(t.dtype), t.sizes, t.data}; }

// The inputs of one run, and where they came from.
struct RunInputs {
  std::string method;
  std::vector<Tensor> tensors;
  std::vector<std::string> expected;  // .npy paths
  std::string source;
};

// The runs to do for `model`: the given files, else the manifest's sample runs (of
// options.method, if set), else one run of the default method on random inputs.
Result<std::vector<RunInputs>> plan_runs(const Bundle& bundle, const bundle::ModelSpec& model,
                                         const RunOptions& options) {
  std::vector<RunInputs> runs;
  const std::string default_method = options.method.empty() ? model.method : options.method;
  auto read_all = [](const std::vector<std::string>& files, std::vector<Tensor>* out) -> Status {
    for (const std::string& path : files) {
      ETP_TRY(NpyArray array, read_npy(path));
      out->push_back({static_cast<DType>(array.dtype), std::move(array.shape), std::move(array.data)});
    }
    return Status::success();
  };
  if (!options.input_files.empty()) {
    RunInputs run{default_method, {}, {}, "files"};
    ETP_CHECK_OK(read_all(options.input_files, &run.tensors));
    runs.push_back(std::move(run));
    return runs;
  }
  for (const bundle::RunSpec& spec : model.runs) {
    const std::string method = spec.method.empty() ? model.method : spec.method;
    if (!options.method.empty() && method != options.method) continue;
    RunInputs run{method, {}, spec.expected, "manifest"};
    ETP_CHECK_OK(read_all(spec.inputs, &run.tensors));
    runs.push_back(std::move(run));
  }
  if (!runs.empty() || !model.runs.empty()) {
    if (runs.empty()) {
      return Status(StatusCode::kNotFound,
                    "model '" + model.name + "' has no sample runs of method '" + options.method + "'; pass --input");
    }
    return runs;
  }
  // No sample runs: one run on seeded random inputs of the method's declared dtypes and shapes.
  ETP_TRY(ModelInfo info, bundle.model(model.name));
  const MethodInfo* method = info.find_method(default_method);
  if (method == nullptr) {
    return Status(StatusCode::kNotFound, info.program + ": no method '" + default_method + "'");
  }
  RunInputs run{default_method, {}, {}, "random (seed " + std::to_string(options.seed) + ")"};
  for (size_t i = 0; i < method->inputs.size(); ++i) {
    const ValueInfo& input = method->inputs[i];
    if (input.kind != ValueKind::kTensor) {
      return Status(StatusCode::kNotSupported, info.program + ": method '" + default_method + "' input " +
                                                   std::to_string(i) + " is a " + value_kind_name(input.kind) +
                                                   "; random inputs are made only for tensors (pass --input)");
    }
    auto tensor = random_tensor(input.tensor, options.seed + i);
    if (!tensor.ok()) return std::move(tensor).status().with_context(info.program + ": method '" + default_method + "' input " + std::to_string(i));
    run.tensors.push_back(std::move(*tensor));
  }
  runs.push_back(std::move(run));
  return runs;
}

struct ModelRun {
  ModelReport report;
  std::vector<std::unique_ptr<Method>> methods;  // kept until the whole bundle has run
  bundle::LoadedModel memory;
};

// Outputs of one run: previews, files, comparisons.
Status report_outputs(const Method& method, const RunInputs& run, const bundle::ModelSpec& model,
                      const RunOptions& options, size_t run_index, RunReport* out) {
  for (size_t j = 0; j < method.num_outputs(); ++j) {
    OutputReport o;
    o.index = j;
    auto tensor = method.output(j).to_tensor();
    if (!tensor.ok()) {
      o.error = tensor.status().message();
      out->outputs.push_back(std::move(o));
      continue;
    }
    o.dtype = tensor->dtype;
    o.shape = tensor->sizes;
    o.preview = preview(*tensor);
    if (!options.output_dir.empty()) {
      o.file = options.output_dir + "/" + model.name + ".run" + std::to_string(run_index) + ".out" + std::to_string(j) +
               ".npy";
      ETP_CHECK_OK(write_npy(o.file, to_npy(*tensor)));
    }
    if (options.check && j < run.expected.size()) {
      ETP_TRY(NpyArray expected, read_npy(run.expected[j]));
      const runtime::Comparison c =
          runtime::compare(method.impl()->method->output(j), expected, model.rtol, model.atol);
      o.check = c.ok ? CheckResult::kPass : CheckResult::kFail;
      o.mismatch = c.mismatch;
      o.max_abs_error = c.max_abs_error;
    }
    out->outputs.push_back(std::move(o));
  }
  if (options.check && !run.expected.empty() && run.expected.size() != method.num_outputs()) {
    out->problem = "the manifest lists " + std::to_string(run.expected.size()) + " expected outputs, the method has " +
                   std::to_string(method.num_outputs());
  }
  return Status::success();
}

// Loads the methods `model`'s runs need, then does the runs. Failures go into the report.
void run_model(const Bundle& bundle, const bundle::ModelSpec& model, const RunOptions& options, ModelRun* out) {
  ModelReport& report = out->report;
  report.model = model.name;
  auto runs = plan_runs(bundle, model, options);
  if (!runs.ok()) {
    report.error = runs.status().message();
    return;
  }
  // Every method is loaded before any run, so the load (and what it adds to memory) is
  // measured apart from the runs.
  out->memory = {model.name, {}, bundle::measure_process(), {}, {}};
  const auto load_start = Clock::now();
  std::map<std::string, Method*> methods;
  for (const RunInputs& run : *runs) {
    if (methods.count(run.method)) continue;
    auto method = bundle.load_method(model.name, run.method);
    if (!method.ok()) {
      report.error = method.status().message();
      return;
    }
    out->methods.push_back(std::make_unique<Method>(std::move(*method)));
    methods[run.method] = out->methods.back().get();
    out->memory.methods.push_back(out->methods.back()->impl()->method.get());
    if (options.kernel_providers) {
      for (const auto& [op, plugin] : out->methods.back()->kernel_providers()) {
        report.kernel_providers.emplace_back(run.method + ": " + op, plugin);
      }
    }
  }
  report.load_ms = ms_since(load_start);
  out->memory.after = bundle::measure_process();
  bool ok = true;
  for (size_t r = 0; r < runs->size(); ++r) {
    const RunInputs& run = (*runs)[r];
    Method& method = *methods[run.method];
    RunReport run_report{run.method, run.source, 0, {}, {}};
    std::vector<TensorRef> inputs;
    for (const Tensor& t : run.tensors) inputs.push_back(t.ref());
    double total_ms = 0;
    for (int64_t it = 0; it < options.iterations; ++it) {
      Status s = method.set_inputs(inputs);
      const auto start = Clock::now();
      if (s.ok()) s = method.execute();
      total_ms += ms_since(start);
      if (!s.ok()) {
        report.error = model.name + " run " + std::to_string(r) + ": " + s.message();
        out->memory.after_runs = bundle::measure_process();
        return;
      }
    }
    run_report.run_ms = total_ms / static_cast<double>(options.iterations);
    if (Status s = report_outputs(method, run, model, options, r, &run_report); !s.ok()) {
      report.error = s.message();
      report.runs.push_back(std::move(run_report));
      return;
    }
    for (const OutputReport& o : run_report.outputs) {
      report.checked = report.checked || o.check != CheckResult::kNotChecked;
      ok = ok && o.check != CheckResult::kFail;
    }
    ok = ok && run_report.problem.empty();
    report.runs.push_back(std::move(run_report));
  }
  out->memory.after_runs = bundle::measure_process();
  report.ok = ok;
}

const char* check_name(CheckResult c) {
  return c == CheckResult::kPass ? "pass" : c == CheckResult::kFail ? "FAIL" : "not checked";
}

}  // namespace

Result<Tensor> random_tensor(const TensorInfo& info, uint64_t seed) {
  const size_t bytes = info.nbytes();
  if (bytes > physical_memory()) {
    return Status(StatusCode::kOutOfMemory, std::string("a random ") + dtype_name(info.dtype) + " input of " +
                                                (bytes == SIZE_MAX ? std::string("more than 2^64") : std::to_string(bytes)) +
                                                " bytes is larger than this machine's memory");
  }
  Tensor t{info.dtype, info.sizes, {}};
  try {
    t.data.resize(bytes);
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "cannot allocate a random input of " + std::to_string(bytes) + " bytes");
  }
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> real(-1.0, 1.0);
  const int64_t n = t.numel();
  auto store = [&](auto value, int64_t i) { std::memcpy(t.data.data() + i * sizeof(value), &value, sizeof(value)); };
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t bits = rng();
    switch (info.dtype) {
      case DType::kFloat32: store(static_cast<float>(real(rng)), i); break;
      case DType::kFloat64: store(real(rng), i); break;
      case DType::kFloat16: {  // a binary16 in [-1, 1): sign, exponent 5..14, random mantissa
        const auto h =
            static_cast<uint16_t>(((bits & 1) << 15) | ((5 + (bits >> 1) % 10) << 10) | ((bits >> 8) & 0x3ff));
        store(h, i);
        break;
      }
      case DType::kBFloat16: {  // the upper half of a float in [-1, 1)
        const float f = static_cast<float>(real(rng));
        uint32_t u;
        std::memcpy(&u, &f, 4);
        store(static_cast<uint16_t>(u >> 16), i);
        break;
      }
      case DType::kBool: store(static_cast<uint8_t>(bits & 1), i); break;
      case DType::kInt64: store(static_cast<int64_t>(bits % 10), i); break;
      case DType::kInt32: store(static_cast<int32_t>(bits % 10), i); break;
      case DType::kInt16: store(static_cast<int16_t>(bits % 10), i); break;
      case DType::kUInt16: store(static_cast<uint16_t>(bits % 10), i); break;
      case DType::kUInt32: store(static_cast<uint32_t>(bits % 10), i); break;
      case DType::kUInt64: store(static_cast<uint64_t>(bits % 10), i); break;
      case DType::kComplex64: {  // real and imaginary parts in [-1, 1)
        const float parts[2] = {static_cast<float>(real(rng)), static_cast<float>(real(rng))};
        std::memcpy(t.data.data() + i * sizeof(parts), parts, sizeof(parts));
        break;
      }
      case DType::kComplex128: {
        const double parts[2] = {real(rng), real(rng)};
        std::memcpy(t.data.data() + i * sizeof(parts), parts, sizeof(parts));
        break;
      }
      default: {  // one-byte types (uint8, int8, quantized) and complex32: small byte values
        const size_t size = dtype_size(info.dtype);
        for (size_t b = 0; b < size; ++b) t.data[static_cast<size_t>(i) * size + b] = static_cast<uint8_t>(bits % 10);
        break;
      }
    }
  }
  return t;
}

Result<BundleReport> run_bundle(const Bundle& bundle, const RunOptions& options) {
  const bundle::Bundle& inner = *bundle.impl()->bundle;
  BundleReport report;
  report.source = bundle.path();
  if (report.source.empty() && inner.manifest().models.size() == 1) {
    report.source = inner.manifest().models[0].program;
    report.from_program = true;
  }
  report.check_requested = options.check;
  if (options.iterations < 1) return Status(StatusCode::kInvalidArgument, "iterations must be at least 1");
  std::vector<const bundle::ModelSpec*> models;
  for (const std::string& name : options.models) {
    Status missing;
    const bundle::ModelSpec* spec = inner.find_model(name, &missing);
    if (spec == nullptr) return missing;
    models.push_back(spec);
  }
  if (options.models.empty()) {
    for (const bundle::ModelSpec& m : inner.manifest().models) models.push_back(&m);
  }
  if (!options.input_files.empty() && models.size() != 1) {
    return Status(StatusCode::kInvalidArgument, "input files belong to one model; choose it (the bundle has " +
                                                    std::to_string(models.size()) + " models)");
  }
  if (!options.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.output_dir, ec);
    if (ec) return Status(StatusCode::kIo, "cannot create " + options.output_dir + ": " + ec.message());
  }
  std::vector<ModelRun> runs(models.size());
  std::vector<bundle::LoadedModel> loaded;
  bool ok = true, checked = false;
  for (size_t i = 0; i < models.size(); ++i) {
    if (options.progress) options.progress(i, models.size(), models[i]->name);
    run_model(bundle, *models[i], options, &runs[i]);
    ok = ok && runs[i].report.ok;
    checked = checked || runs[i].report.checked;
    if (!runs[i].memory.methods.empty()) loaded.push_back(runs[i].memory);
  }
  // What each plugin's weight cache holds now that every model is loaded.
  for (const auto& plugin : inner.registry().plugins()) {
    for (const plugins::CacheEntry& e : plugin->cache_report(&runtime::Method::label_of)) {
      if (e.shared) report.weight_caches.push_back({plugin->name(), e.key, e.file_id, e.packed_bytes, e.users});
    }
  }
  if (options.memory_report) report.memory_json = bundle::memory_report(inner, loaded).dump();
  for (ModelRun& r : runs) report.models.push_back(std::move(r.report));
  report.ok = ok && (!options.check || checked);
  return report;
}

std::string BundleReport::to_json() const {
  json models_json = json::array();
  for (const ModelReport& m : models) {
    json model = {{"model", m.model}};
    if (!m.error.empty()) model["error"] = m.error;
    model["load_ms"] = m.load_ms;
    json runs_json = json::array();
    for (const RunReport& r : m.runs) {
      json outputs = json::array();
      for (const OutputReport& o : r.outputs) {
        json out = {{"index", o.index}};
        if (!o.error.empty()) {
          out["error"] = o.error;
          outputs.push_back(out);
          continue;
        }
        out["dtype"] = dtype_name(o.dtype);
        out["shape"] = o.shape;
        out["preview"] = o.preview;
        if (!o.file.empty()) out["file"] = o.file;
        if (o.check != CheckResult::kNotChecked) {
          out["check"] = o.check == CheckResult::kPass ? "pass" : "FAIL: " + o.mismatch;
          out["max_abs_error"] = o.max_abs_error;
        }
        outputs.push_back(out);
      }
      json run = {{"method", r.method}, {"inputs", r.inputs}, {"run_ms", r.run_ms}, {"outputs", outputs}};
      if (!r.problem.empty()) run["problem"] = r.problem;
      runs_json.push_back(run);
    }
    model["runs"] = runs_json;
    if (!m.kernel_providers.empty()) {
      json providers = json::object();
      for (const auto& [op, plugin] : m.kernel_providers) providers[op] = plugin;
      model["kernel_providers"] = providers;
    }
    model["ok"] = m.ok;
    models_json.push_back(model);
  }
  json caches = json::array();
  for (const CacheEntryReport& c : weight_caches) {
    caches.push_back({{"plugin", c.plugin},
                      {"key", c.key},
                      {"file_id", c.file_id},
                      {"packed_bytes", c.packed_bytes},
                      {"users", c.users}});
  }
  const json memory = memory_json.empty() ? json(nullptr) : json::parse(memory_json);
  return json{{from_program ? "program" : "manifest", source},
              {"bundle_open_ms", open_ms},
              {"models", models_json},
              {"weight_caches", caches},
              {"memory", memory},
              {"ok", ok}}
      .dump(2, ' ', false, json::error_handler_t::replace);  // names from files may be any bytes
}

std::string BundleReport::to_text(bool verbose) const {
  std::ostringstream out;
  char line[64];
  for (const ModelReport& m : models) {
    if (!m.error.empty() && m.runs.empty()) {
      out << m.model << ": FAILED: " << m.error << "\n";
      continue;
    }
    std::snprintf(line, sizeof(line), "%.2f", m.load_ms);
    out << m.model << ": loaded in " << line << " ms\n";
    if (verbose) {
      for (const auto& [op, plugin] : m.kernel_providers) out << "  " << op << " <- " << plugin << "\n";
    }
    for (size_t r = 0; r < m.runs.size(); ++r) {
      const RunReport& run = m.runs[r];
      std::snprintf(line, sizeof(line), "%.3f", run.run_ms);
      out << "  run " << r << " " << run.method << ": " << line << " ms";
      if (run.inputs != "manifest") out << " (inputs: " << run.inputs << ")";
      out << "\n";
      for (const OutputReport& o : run.outputs) {
        out << "    out " << o.index << ": " << (o.error.empty() ? o.preview : o.error);
        if (o.check != CheckResult::kNotChecked) {
          out << "  check " << check_name(o.check) << (o.check == CheckResult::kFail ? ": " + o.mismatch : "");
        }
        out << "\n";
      }
      if (!run.problem.empty()) out << "    " << run.problem << "\n";
    }
    if (!m.error.empty()) out << m.model << ": FAILED: " << m.error << "\n";
  }
  if (verbose) {
    uint64_t bytes = 0;
    for (const CacheEntryReport& c : weight_caches) bytes += c.packed_bytes;
    std::snprintf(line, sizeof(line), "%.1f", static_cast<double>(bytes) / 1024.0);
    out << "weight caches: " << weight_caches.size() << " shared entries, " << line << " KiB packed\n";
    for (const CacheEntryReport& c : weight_caches) {
      out << "  " << c.plugin << " " << c.key << ": " << c.packed_bytes << " bytes, used by " << c.users.size() << ":";
      for (const std::string& u : c.users) out << " " << u;
      out << "\n";
    }
  }
  if (!memory_json.empty()) out << bundle::render_memory_report(json::parse(memory_json));
  if (check_requested) {
    size_t failed = 0, unchecked = 0, mismatched = 0;
    for (const ModelReport& m : models) {
      failed += !m.error.empty();
      unchecked += m.error.empty() && !m.checked;
      for (const RunReport& r : m.runs) {
        for (const OutputReport& o : r.outputs) mismatched += o.check == CheckResult::kFail;
        mismatched += !r.problem.empty();
      }
    }
    out << "check: ";
    if (mismatched > 0) {
      out << "MISMATCH (see above)";
    } else if (failed > 0) {
      out << "outputs compared match; " << failed << " model(s) failed before their check (see above)";
    } else if (unchecked == models.size()) {
      out << "nothing to compare: no expected outputs for these runs";
    } else {
      out << "all outputs match";
      if (unchecked > 0) out << " (" << unchecked << " model(s) without expected outputs)";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace etp
