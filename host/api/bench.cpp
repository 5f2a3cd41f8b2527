// The loop behind `etp bench` (include/etp/bench.h): plan the (model, configuration, threads)
// results, load each configuration as its own bundle, check outputs, then time every result in
// interleaved rounds and optionally profile it. Rendering lives in bench_report.cpp and
// bench_svg.cpp.
#include "etp/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include "api/api_internal.h"
#include "bundle/memory_report.h"
#include "core/clock.h"
#include "core/mapped_file.h"
#include "core/npy.h"
#include "etp/runner.h"
#include "plugins/plugin_library.h"
#include "runtime/host_services.h"
#include "runtime/prim_ops.h"
#include "runtime/tensor_io.h"

namespace etp {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

Status bad_request(const std::string& message) { return Status(StatusCode::kInvalidArgument, message); }

BenchPlugin describe_plugin(const PluginInfo& p) {
  auto file = MappedFile::open(p.library);
  return {p.name, p.library, p.version, file.ok() ? bundle::sha256_hex((*file)->data(), (*file)->size()) : ""};
}

// ---------------------------------------------------------------------------------------------
// Planning: which plugin sets run which models.

// A plugin of a configuration, resolved: its manifest entry (library, options) and its name.
struct PluginChoice {
  bundle::PluginSpec spec;
  std::string path;  // resolved library
};

// A configuration at one thread count: one bundle.
struct Variant {
  std::string config;
  int threads = 0;
  std::vector<PluginChoice> plugins;
  std::vector<std::string> models;
};

std::string plugin_name_of(const std::string& library) {
  std::string name = library;
  const size_t slash = name.rfind('/');
  if (slash != std::string::npos) name = name.substr(slash + 1);
  name = name.substr(0, name.find(".so"));
  if (name.rfind("libetp_", 0) == 0) name = name.substr(7);
  return name;
}

// Whether the library at `path` accepts `options` (tried by loading it once with them); the
// refusal's message otherwise.
class OptionProbe {
 public:
  bool accepts(const std::string& path, const plugins::Options& options, std::string* why) {
    const auto key = std::make_pair(path, options);
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      auto loaded = plugins::PluginLibrary::load(path, *runtime::HostServices::get().api(), options);
      it = cache_.emplace(key, loaded.ok() ? std::string() : loaded.status().message()).first;
    }
    if (why != nullptr) *why = it->second;
    return it->second.empty();
  }

 private:
  std::map<std::pair<std::string, plugins::Options>, std::string> cache_;
};

void set_option(plugins::Options* options, const std::string& key, const std::string& value) {
  for (auto& [k, v] : *options) {
    if (k == key) {
      v = value;
      return;
    }
  }
  options->emplace_back(key, value);
}

std::string absolute(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::absolute(path, ec);
  return ec ? path : p.string();
}

// The plugins of an explicit configuration: a plugin named like one of the manifest's takes
// that entry (library and options); a path (with a '/') is relative to the working directory;
// any other name is a library looked up as in a manifest.
Result<std::vector<PluginChoice>> resolve_config(const BenchConfig& config, const bundle::Manifest& base,
                                                 const BundleOptions& options, OptionProbe* probe) {
  std::vector<PluginChoice> out;
  const bundle::BundleOptions lookup{options.plugin_paths, options.use_environment};
  for (const PluginSpec& p : config.plugins) {
    bundle::PluginSpec spec{p.name.empty() ? plugin_name_of(p.library) : p.name, p.library, p.options, {}};
    std::string folder = ".";
    for (const bundle::PluginSpec& m : base.plugins) {
      if (m.name != p.library) continue;
      spec.name = m.name;
      spec.library = m.library;
      folder = base.folder;
      for (const auto& option : m.options) {
        const std::string& key = option.first;
        if (std::none_of(p.options.begin(), p.options.end(), [&](const auto& o) { return o.first == key; })) {
          spec.options.push_back(option);
        }
      }
    }
    for (const PluginChoice& c : out) {
      if (c.spec.name == spec.name) {
        return bad_request("configuration '" + config.name + "' names plugin '" + spec.name + "' twice");
      }
    }
    auto path = bundle::resolve_library(spec.library, folder, lookup);
    if (!path.ok()) return std::move(path).status().with_context("configuration '" + config.name + "'");
    out.push_back({std::move(spec), absolute(*path)});
  }
  // Options of the configuration go to each plugin that accepts them; one nobody takes is an error.
  for (const auto& [key, value] : config.options) {
    std::string reasons;
    bool taken = false;
    for (PluginChoice& c : out) {
      plugins::Options trial = c.spec.options;
      set_option(&trial, key, value);
      std::string why;
      if (probe->accepts(c.path, trial, &why)) {
        c.spec.options = std::move(trial);
        taken = true;
      } else {
        reasons += "\n  " + why;
      }
    }
    if (!taken) {
      return bad_request("configuration '" + config.name + "': no plugin accepts option " + key + "=" + value +
                         reasons);
    }
  }
  for (const PluginChoice& c : out) {
    std::string why;
    if (!probe->accepts(c.path, c.spec.options, &why)) return Status(StatusCode::kUnavailable, why);
  }
  return out;
}

// What a model needs from its plugins: operator names and backend ids of the method it runs.
struct Needs {
  std::vector<std::string> operators, backends;
};

// The plugin sets (in the bundle's order) that can run a model and where every plugin serves
// something: with portable and xnnpack, "portable" for an undelegated model and
// "portable+xnnpack" (or "xnnpack" alone) for a delegated one.
std::vector<std::vector<size_t>> minimal_sets(const Needs& needs, const plugins::Registry& registry) {
  const auto& all = registry.plugins();
  std::vector<std::vector<size_t>> sets;
  const size_t n = std::min<size_t>(all.size(), 8);  // 255 subsets at most; a 9th plugin and later are never tried
  for (uint32_t mask = 1; mask < (1u << n); ++mask) {
    std::vector<bool> used(n, false);
    bool feasible = true;
    for (const std::string& op : needs.operators) {
      etp_kernel prim{};
      if (runtime::find_prim_op(op, &prim)) continue;
      bool served = false;
      for (size_t i = 0; i < n && !served; ++i) {
        const etp_plugin& t = all[i]->table();
        etp_kernel k{};
        if ((mask >> i & 1) && t.resolve_kernel != nullptr && t.resolve_kernel(t.self, op.c_str(), &k) == ETP_OK) {
          used[i] = served = true;
        }
      }
      feasible = feasible && served;
    }
    for (const std::string& id : needs.backends) {
      bool served = false;
      for (size_t i = 0; i < n && !served; ++i) {
        const etp_plugin& t = all[i]->table();
        for (uint32_t b = 0; (mask >> i & 1) && b < t.num_backends && !served; ++b) {
          if (id == t.backends[b]->id) used[i] = served = true;
        }
      }
      feasible = feasible && served;
    }
    std::vector<size_t> set;
    for (size_t i = 0; i < n; ++i) {
      if (mask >> i & 1) {
        feasible = feasible && used[i];
        set.push_back(i);
      }
    }
    if (feasible) sets.push_back(std::move(set));
  }
  // Fewer plugins first, then the bundle's order.
  std::stable_sort(sets.begin(), sets.end(), [](const auto& a, const auto& b) { return a.size() < b.size(); });
  return sets;
}

// ---------------------------------------------------------------------------------------------
// Measuring.

// The inputs a model runs on: its first sample run, or seeded random inputs.
struct ModelInputs {
  std::string method;
  std::vector<Tensor> tensors;
  std::vector<std::string> expected;  // .npy paths
  std::string source;
  std::string error;
};

ModelInputs plan_inputs(const Bundle& bundle, const bundle::ModelSpec& model, uint64_t seed) {
  ModelInputs in;
  if (!model.runs.empty()) {
    const bundle::RunSpec& run = model.runs[0];
    in.method = run.method.empty() ? model.method : run.method;
    in.expected = run.expected;
    in.source = "manifest";
    for (const std::string& path : run.inputs) {
      auto array = read_npy(path);
      if (!array.ok()) {
        in.error = array.status().message();
        return in;
      }
      in.tensors.push_back({static_cast<DType>(array->dtype), std::move(array->shape), std::move(array->data)});
    }
    return in;
  }
  in.method = model.method;
  in.source = "random (seed " + std::to_string(seed) + ")";
  auto info = bundle.model(model.name);
  const MethodInfo* method = info.ok() ? info->find_method(in.method) : nullptr;
  if (method == nullptr) {
    in.error = info.ok() ? info->program + ": no method '" + in.method + "'" : info.status().message();
    return in;
  }
  for (size_t i = 0; i < method->inputs.size(); ++i) {
    const ValueInfo& v = method->inputs[i];
    if (v.kind != ValueKind::kTensor) {
      in.error = info->program + ": input " + std::to_string(i) + " is a " + value_kind_name(v.kind) +
                 "; random inputs are made only for tensors (give the model a sample run in a manifest)";
      return in;
    }
    auto tensor = random_tensor(v.tensor, seed + i);
    if (!tensor.ok()) {
      in.error = tensor.status().message();
      return in;
    }
    in.tensors.push_back(std::move(*tensor));
  }
  return in;
}

// One result being measured.
struct Slot {
  BenchResult result;
  const bundle::ModelSpec* model = nullptr;
  const ModelInputs* inputs = nullptr;
  std::unique_ptr<Method> method;
  std::vector<TensorRef> refs;
  std::vector<double> samples;
  double timed_ms = 0;
  bool live = false;  // loaded and ran; still measured
  std::vector<Tensor> outputs;
};

// The process's peak RSS restarts from the current RSS (Linux 4.0+); false where unsupported.
bool reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  return static_cast<bool>(clear.flush());
}

// Runs once: inputs copied in (untimed), execute timed. NaN on failure (error set).
double run_once(Slot* slot) {
  Status s = slot->method->set_inputs(slot->refs);
  const auto start = Clock::now();
  if (s.ok()) s = slot->method->execute();
  const double ms = ms_since(start);
  if (!s.ok()) {
    slot->result.error = s.message();
    slot->live = false;
    return std::nan("");
  }
  return ms;
}

// Loads the slot's method, runs it once and records load, first run, memory and outputs.
void load_and_first_run(const Bundle& bundle, Slot* slot) {
  BenchResult& r = slot->result;
  if (!slot->inputs->error.empty()) {
    r.error = slot->inputs->error;
    return;
  }
  for (const Tensor& t : slot->inputs->tensors) slot->refs.push_back(t.ref());
  const bool peak_reset = reset_peak_rss();
  const bundle::ProcessMemory before = bundle::measure_process();
  const auto start = Clock::now();
  auto method = bundle.load_method(slot->model->name, slot->inputs->method);
  r.load_ms = ms_since(start);
  if (!method.ok()) {
    r.error = method.status().message();
    return;
  }
  slot->method = std::make_unique<Method>(std::move(*method));
  slot->live = true;
  r.first_run_ms = run_once(slot);
  if (!slot->live) {
    r.first_run_ms = 0;
    return;
  }
  const bundle::ProcessMemory after = bundle::measure_process();
  r.rss_added_mib = (static_cast<double>(after.rss) - static_cast<double>(before.rss)) / kMiB;
  r.anon_added_mib = (static_cast<double>(after.anonymous) - static_cast<double>(before.anonymous)) / kMiB;
  r.peak_rss_mib = peak_reset ? static_cast<double>(after.peak_rss) / kMiB : 0;
  for (size_t i = 0; i < slot->method->num_outputs(); ++i) {
    auto tensor = slot->method->output(i).to_tensor();
    if (!tensor.ok()) {
      r.error = "output " + std::to_string(i) + ": " + tensor.status().message();
      slot->live = false;
      return;
    }
    slot->outputs.push_back(std::move(*tensor));
  }
}

// Compares a slot's first-run outputs with the manifest's expected outputs and with the
// reference slot's (the model's first configuration that ran).
void check_outputs(Slot* slot, const Slot* reference) {
  BenchResult& r = slot->result;
  const bundle::ModelSpec& model = *slot->model;
  const runtime::Method& method = *slot->method->impl()->method;
  std::vector<std::string> basis;
  r.outputs_match = true;
  auto compare = [&](size_t i, const NpyArray& want, const std::string& against) {
    if (!r.outputs_match) return;
    const runtime::Comparison c = runtime::compare(method.output(i), want, model.rtol, model.atol);
    if (!c.ok) {
      r.outputs_match = false;
      r.match_detail = "output " + std::to_string(i) + " differs from " + against + ": " + c.mismatch;
    }
  };
  const std::vector<std::string>& expected = slot->inputs->expected;
  if (!expected.empty()) {
    if (expected.size() != slot->outputs.size()) {
      r.outputs_match = false;
      r.match_detail = "the manifest lists " + std::to_string(expected.size()) + " expected outputs, the method has " +
                       std::to_string(slot->outputs.size());
      return;
    }
    for (size_t i = 0; i < expected.size(); ++i) {
      auto want = read_npy(expected[i]);
      if (!want.ok()) {
        r.outputs_match = false;
        r.match_detail = want.status().message();
        return;
      }
      compare(i, *want, "the expected output");
    }
    basis.push_back("expected outputs");
  }
  // Without expected outputs, the model's first configuration is the reference.
  if (expected.empty() && reference != nullptr && reference != slot) {
    const std::string against =
        "configuration '" + reference->result.config + "'" +
        (reference->result.threads ? " at " + std::to_string(reference->result.threads) + " thread(s)" : "");
    if (reference->outputs.size() != slot->outputs.size()) {
      r.outputs_match = false;
      r.match_detail = std::to_string(slot->outputs.size()) + " outputs, " + against + " gave " +
                       std::to_string(reference->outputs.size());
      return;
    }
    for (size_t i = 0; i < slot->outputs.size(); ++i) {
      const Tensor& t = reference->outputs[i];
      compare(i, NpyArray{static_cast<int32_t>(t.dtype), t.sizes, t.data}, against);
    }
    basis.push_back(against);
  }
  if (!r.outputs_match) return;
  if (basis.empty()) {
    r.match_detail = "reference (no expected outputs to compare)";
  } else {
    r.match_detail = "matches ";
    for (size_t i = 0; i < basis.size(); ++i) r.match_detail += (i ? " and " : "") + basis[i];
  }
}

void profile_slot(Slot* slot, int64_t runs) {
  Method& method = *slot->method;
  method.set_profiling(true);
  method.clear_profile();
  double total_ms = 0;
  int64_t done = 0;
  for (; done < runs && slot->live; ++done) {
    const double ms = run_once(slot);
    if (std::isnan(ms)) break;
    total_ms += ms;
  }
  method.set_profiling(false);
  if (done == 0 || total_ms <= 0) return;
  for (const InstructionProfile& p : method.profile()) {
    if (p.calls == 0) continue;
    slot->result.profile.push_back({p.instruction, p.delegate ? "delegate" : "operator", p.name, p.plugin,
                                    p.total_ms / static_cast<double>(done), p.total_ms / total_ms});
  }
  std::stable_sort(slot->result.profile.begin(), slot->result.profile.end(),
                   [](const ProfileEntry& a, const ProfileEntry& b) { return a.ms_per_run > b.ms_per_run; });
  const double mean = total_ms / static_cast<double>(done);
  if (slot->result.stats.mean > 0) slot->result.profile_overhead = mean / slot->result.stats.mean - 1;
}

}  // namespace

Status check_bench_options(const BenchOptions& o) {
  if (o.warmup < 0) return bad_request("warmup must be at least 0");
  if (o.repetitions < 1) return bad_request("repetitions must be at least 1");
  if (!(o.min_time_s >= 0) || o.min_time_s > 3600) return bad_request("min time must be from 0 to 3600 seconds");
  if (o.max_repetitions < o.repetitions) return bad_request("max repetitions must be at least the repetitions");
  for (size_t i = 0; i < o.threads.size(); ++i) {
    const int t = o.threads[i];
    if (t < 1 || t > 256) return bad_request("thread counts must be from 1 to 256, got " + std::to_string(t));
    if (std::find(o.threads.begin(), o.threads.begin() + static_cast<std::ptrdiff_t>(i), t) !=
        o.threads.begin() + static_cast<std::ptrdiff_t>(i)) {
      return bad_request("thread count " + std::to_string(t) + " given twice");
    }
  }
  std::set<std::string> names;
  for (const BenchConfig& c : o.configs) {
    if (c.plugins.empty()) return bad_request("configuration '" + c.name + "' has no plugins");
    if (!names.insert(c.name).second) return bad_request("configuration name '" + c.name + "' given twice");
  }
  std::set<std::string> models;
  for (const std::string& m : o.models) {
    if (!models.insert(m).second) return bad_request("model '" + m + "' given twice");
  }
  return Status::success();
}

namespace {

Result<BenchReport> bench_manifest(bundle::Manifest base, const std::string& source, const BenchOptions& options) {
  ETP_CHECK_OK(check_bench_options(options));
  BenchReport report;
  report.source = source;
  report.etp_version = version();
  report.warmup = options.warmup;
  report.repetitions = options.repetitions;
  report.min_time_s = options.min_time_s;
  report.machine = api::describe_machine();
  report.started = api::utc_now();

  // The models, their inputs and needs, read through a bundle of the manifest as written.
  std::vector<const bundle::ModelSpec*> models;
  for (const std::string& name : options.models) {
    const bundle::ModelSpec* m = base.find_model(name);
    if (m == nullptr) {
      std::string known;
      for (const bundle::ModelSpec& spec : base.models) known += (known.empty() ? "" : ", ") + spec.name;
      return Status(StatusCode::kNotFound, "no model '" + name + "' (models: " + known + ")");
    }
    models.push_back(m);
  }
  if (models.empty()) {
    for (const bundle::ModelSpec& m : base.models) models.push_back(&m);
  }
  std::map<std::string, ModelInputs> inputs;
  std::map<std::string, std::vector<std::string>> model_sets;             // default configurations per model
  std::vector<std::pair<std::string, std::vector<size_t>>> default_sets;  // name -> plugin indices
  {
    // With configurations given, the bundle's own plugins need not even exist.
    bundle::Manifest probe_manifest = base;
    if (!options.configs.empty()) {
      probe_manifest.plugins.clear();
      for (bundle::DataSpec& d : probe_manifest.data) d.weight_cache.clear();
    }
    ETP_TRY(Bundle probe, api::open_bundle(std::move(probe_manifest), options.bundle, source));
    for (const PluginInfo& p : probe.plugins()) report.plugins.push_back(describe_plugin(p));
    std::set<std::string> hashed;
    auto hash = [&](const std::string& path) -> Status {
      if (!hashed.insert(path).second) return Status::success();
      ETP_TRY(auto file, MappedFile::open(path));
      report.files.push_back({path, bundle::sha256_hex(file->data(), file->size())});
      return Status::success();
    };
    for (const bundle::ModelSpec* m : models) {
      ETP_TRY(ModelInfo info, probe.model(m->name));
      ETP_CHECK_OK(hash(info.program));
      for (const std::string& d : info.data_files) ETP_CHECK_OK(hash(d));
      ModelInputs in = plan_inputs(probe, *m, options.seed);
      if (options.configs.empty()) {
        Needs needs;
        if (const MethodInfo* method = info.find_method(in.method)) {
          needs = {method->operators, method->backends};
        }
        const plugins::Registry& registry = probe.impl()->bundle->registry();
        std::vector<std::vector<size_t>> sets = minimal_sets(needs, registry);
        if (sets.empty()) {  // it needs no plugin, or none serves it: all of them, as `etp run` loads it
          sets.emplace_back();
          for (size_t i = 0; i < base.plugins.size(); ++i) sets.back().push_back(i);
        }
        for (const std::vector<size_t>& set : sets) {
          std::string name;
          for (size_t i : set) name += (name.empty() ? "" : "+") + base.plugins[i].name;
          if (name.empty()) name = "none";
          if (std::none_of(default_sets.begin(), default_sets.end(), [&](const auto& d) { return d.first == name; })) {
            default_sets.emplace_back(name, set);
          }
          model_sets[m->name].push_back(name);
        }
      }
      inputs.emplace(m->name, std::move(in));
    }
  }

  // The bundles: each configuration at each thread count, holding the models it runs.
  OptionProbe probe;
  std::vector<std::pair<BenchConfig, std::vector<PluginChoice>>> configs;
  if (options.configs.empty()) {
    for (const auto& [name, set] : default_sets) {
      BenchConfig config{name, {}, {}};
      std::vector<PluginChoice> choices;
      for (size_t i : set) {
        ETP_TRY(auto path, bundle::resolve_library(base.plugins[i].library, base.folder,
                                                   {options.bundle.plugin_paths, options.bundle.use_environment}));
        choices.push_back({base.plugins[i], absolute(path)});
      }
      configs.emplace_back(std::move(config), std::move(choices));
    }
  } else {
    for (const BenchConfig& c : options.configs) {
      ETP_TRY(auto choices, resolve_config(c, base, options.bundle, &probe));
      configs.emplace_back(c, std::move(choices));
    }
  }
  std::vector<Variant> variants;
  for (const auto& [config, choices] : configs) {
    std::vector<std::string> config_models;
    for (const bundle::ModelSpec* m : models) {
      const auto& sets = model_sets[m->name];
      if (options.configs.empty() && std::find(sets.begin(), sets.end(), config.name) == sets.end()) continue;
      config_models.push_back(m->name);
    }
    if (config_models.empty()) continue;
    // A plugin takes the thread counts if it accepts the first; then it must accept them all.
    std::vector<bool> takes_threads(choices.size(), false);
    for (size_t i = 0; i < choices.size() && !options.threads.empty(); ++i) {
      for (size_t k = 0; k < options.threads.size(); ++k) {
        plugins::Options trial = choices[i].spec.options;
        set_option(&trial, "threads", std::to_string(options.threads[k]));
        std::string why;
        const bool accepted = probe.accepts(choices[i].path, trial, &why);
        if (k == 0) takes_threads[i] = accepted;
        if (k > 0 && accepted != takes_threads[i]) {
          const std::string first = "threads=" + std::to_string(options.threads[0]);
          const std::string other = "threads=" + std::to_string(options.threads[k]);
          return bad_request("configuration '" + config.name + "': plugin '" + choices[i].spec.name + "' " +
                             (accepted ? "refuses " + first + " but takes " + other
                                       : "takes " + first + " but refuses " + other + ": " + why));
        }
      }
    }
    std::set<int> seen;
    const std::vector<int> threads = options.threads.empty() ? std::vector<int>{0} : options.threads;
    for (int t : threads) {
      Variant v{config.name, 0, choices, config_models};
      // --threads sizes the host's pool, which every plugin shares (ABI 1.2), and is passed as
      // option `threads` to the plugins that keep threads of their own (XNNPACK's pthreadpool).
      for (size_t i = 0; i < v.plugins.size() && t > 0; ++i) {
        if (takes_threads[i]) set_option(&v.plugins[i].spec.options, "threads", std::to_string(t));
      }
      v.threads = t > 0 ? t : static_cast<int>(base.threads);
      for (const PluginChoice& c : v.plugins) {  // no --threads: what the manifest sets, if anything
        for (const auto& [key, value] : c.spec.options) {
          if (v.threads == 0 && key == "threads") v.threads = std::atoi(value.c_str());
        }
      }
      if (seen.insert(v.threads).second) variants.push_back(std::move(v));
    }
  }

  // Open every bundle, then load and run each result once, one after another (memory deltas
  // are per result).
  std::vector<Bundle> bundles;
  std::vector<Slot> slots;
  for (const Variant& v : variants) {
    for (const std::string& m : v.models) {
      Slot slot;
      slot.result.model = m;
      slot.result.config = v.config;
      slot.result.threads = v.threads;
      slot.model = base.find_model(m);
      slot.inputs = &inputs.at(m);
      slot.result.inputs = slot.inputs->source;
      slots.push_back(std::move(slot));
    }
  }
  // Results in model order, then configuration order, then threads.
  std::stable_sort(slots.begin(), slots.end(), [&](const Slot& a, const Slot& b) {
    auto rank = [&](const Slot& s) {
      return std::find_if(models.begin(), models.end(), [&](const auto* m) { return m->name == s.result.model; }) -
             models.begin();
    };
    return rank(a) < rank(b);
  });
  size_t step = 0;
  for (const Variant& v : variants) {
    bundle::Manifest manifest = base;
    if (!options.threads.empty()) manifest.threads = static_cast<uint32_t>(v.threads);  // --threads sizes the pool
    manifest.plugins.clear();
    for (const PluginChoice& c : v.plugins) {
      manifest.plugins.push_back(c.spec);
      manifest.plugins.back().library = c.path;
    }
    for (bundle::DataSpec& d : manifest.data) {  // a cache owner outside this configuration: no sharing
      if (std::none_of(v.plugins.begin(), v.plugins.end(),
                       [&](const auto& c) { return c.spec.name == d.weight_cache; })) {
        d.weight_cache.clear();
      }
    }
    manifest.models.erase(std::remove_if(manifest.models.begin(), manifest.models.end(),
                                         [&](const bundle::ModelSpec& m) {
                                           return std::find(v.models.begin(), v.models.end(), m.name) == v.models.end();
                                         }),
                          manifest.models.end());
    auto opened = api::open_bundle(std::move(manifest), options.bundle, source);
    for (Slot& slot : slots) {
      if (slot.result.config != v.config || slot.result.threads != v.threads) continue;
      if (options.progress) {
        options.progress("loading " + slot.result.model + " [" + slot.result.config + "]", ++step, slots.size());
      }
      if (!opened.ok()) {
        slot.result.error = opened.status().message();
        continue;
      }
      load_and_first_run(*opened, &slot);
    }
    if (!opened.ok()) continue;
    for (const PluginInfo& p : opened->plugins()) {  // plugins a configuration added
      auto same = [&](const BenchPlugin& known) {
        std::error_code ec;
        return std::filesystem::weakly_canonical(known.library, ec) == std::filesystem::weakly_canonical(p.library, ec);
      };
      if (std::none_of(report.plugins.begin(), report.plugins.end(), same)) {
        report.plugins.push_back(describe_plugin(p));
      }
    }
    bundles.push_back(std::move(*opened));
  }
  std::map<std::string, const Slot*> references;
  for (Slot& slot : slots) {
    if (!slot.live) continue;
    const Slot*& reference = references[slot.result.model];
    if (reference == nullptr) reference = &slot;
    check_outputs(&slot, reference);
  }

  // Warmup, then timed rounds. A round gives every live result, in turn, a batch of about
  // kBatchMs of back-to-back runs (at least one), each timed on its own, until the result has
  // its repetitions and its minimum time. Batches rather than single runs, so a run finds its own
  // model in the caches as back-to-back runs do (not the other results' data); rounds, so a busy
  // spell of the machine falls on every result alike.
  constexpr double kBatchMs = 5;
  std::vector<double> fastest(slots.size(), std::numeric_limits<double>::infinity());
  for (size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].live) fastest[i] = slots[i].result.first_run_ms;
  }
  for (int64_t w = 0; w < options.warmup; ++w) {
    if (options.progress) options.progress("warmup", static_cast<size_t>(w + 1), static_cast<size_t>(options.warmup));
    for (size_t i = 0; i < slots.size(); ++i) {
      if (slots[i].live) fastest[i] = std::min(fastest[i], run_once(&slots[i]));
    }
  }
  std::vector<int64_t> batch(slots.size(), 1);
  for (size_t i = 0; i < slots.size(); ++i) {
    if (fastest[i] > 0 && std::isfinite(fastest[i])) {
      batch[i] = std::clamp<int64_t>(static_cast<int64_t>(kBatchMs / fastest[i]), 1, 1000);
    }
  }
  auto done = [&](const Slot& s) {
    const int64_t n = static_cast<int64_t>(s.samples.size());
    return !s.live || n >= options.max_repetitions ||
           (n >= options.repetitions && s.timed_ms >= options.min_time_s * 1000.0);
  };
  auto last_progress = Clock::now();
  for (int64_t round = 1;; ++round) {
    size_t finished = 0;
    for (size_t i = 0; i < slots.size(); ++i) {
      Slot& slot = slots[i];
      if (done(slot)) {
        ++finished;
        continue;
      }
      for (int64_t b = 0; b < batch[i] && !done(slot); ++b) {
        const double ms = run_once(&slot);
        if (std::isnan(ms)) break;
        slot.samples.push_back(ms);
        slot.timed_ms += ms;
      }
    }
    if (finished == slots.size()) break;
    if (options.progress && ms_since(last_progress) > 200) {
      last_progress = Clock::now();
      options.progress("timing, round " + std::to_string(round), finished, slots.size());
    }
  }
  for (Slot& slot : slots) {
    BenchResult& r = slot.result;
    r.stats = compute_stats(slot.samples);
    r.runs_per_s = r.stats.mean > 0 ? 1000.0 / r.stats.mean : 0;
    r.noisy = r.stats.robust_cv > report.noise_threshold;
  }
  if (options.profile) {
    for (size_t i = 0; i < slots.size(); ++i) {
      if (options.progress) options.progress("profiling " + slots[i].result.model, i + 1, slots.size());
      if (slots[i].live) profile_slot(&slots[i], options.repetitions);
    }
  }
  for (Slot& slot : slots) {
    if (!slot.result.error.empty()) slot.result.outputs_match = false;
    report.results.push_back(std::move(slot.result));
  }
  return report;
}

}  // namespace

Result<BenchConfig> parse_bench_config(const std::string& text) {
  BenchConfig config;
  std::string rest = text;
  const size_t eq = rest.find('=');
  const size_t colon = rest.find(':');
  if (eq != std::string::npos && (colon == std::string::npos || eq < colon)) {
    config.name = rest.substr(0, eq);
    rest = rest.substr(eq + 1);
    if (config.name.empty()) return bad_request("configuration '" + text + "' has an empty name before '='");
  }
  std::string options;
  if (const size_t c = rest.find(':'); c != std::string::npos) {
    options = rest.substr(c + 1);
    rest = rest.substr(0, c);
    if (options.empty()) return bad_request("configuration '" + text + "' has no options after ':'");
  }
  for (size_t start = 0; start <= rest.size();) {
    const size_t plus = rest.find('+', start);
    const std::string plugin = rest.substr(start, plus == std::string::npos ? std::string::npos : plus - start);
    if (plugin.empty()) return bad_request("configuration '" + text + "' has an empty plugin name");
    config.plugins.push_back({"", plugin, {}});
    if (plus == std::string::npos) break;
    start = plus + 1;
  }
  for (size_t start = 0; !options.empty() && start <= options.size();) {
    const size_t comma = options.find(',', start);
    const std::string item = options.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t sep = item.find('=');
    if (sep == std::string::npos || sep == 0 || sep + 1 == item.size()) {
      return bad_request("configuration '" + text + "': option '" + item + "' is not key=value");
    }
    config.options.emplace_back(item.substr(0, sep), item.substr(sep + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (config.name.empty()) config.name = rest;
  return config;
}

Result<BenchReport> run_bench(const std::string& manifest, const BenchOptions& options) {
  ETP_TRY(auto parsed, bundle::parse_manifest(manifest));
  ETP_CHECK_OK(api::replace_data_files(&parsed, options.bundle));
  return bench_manifest(std::move(parsed), manifest, options);
}

Result<BenchReport> run_bench(const BundleSpec& spec, const BenchOptions& options) {
  ETP_TRY(auto manifest, api::manifest_from_spec(spec));
  const std::string source = manifest.models.size() == 1 ? manifest.models[0].program : std::string("(bundle)");
  return bench_manifest(std::move(manifest), source, options);
}

}  // namespace etp
