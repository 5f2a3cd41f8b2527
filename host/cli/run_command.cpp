// `etp run`: load a bundle, run models on sample or given inputs, write and check outputs.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bundle/bundle.h"
#include "bundle/memory_report.h"
#include "cli/commands.h"
#include "core/npy.h"
#include "format/scalar_type.h"
#include "plugins/plugin_log.h"
#include "runtime/host_services.h"
#include "runtime/tensor_io.h"

namespace etp::cli {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr const char* kRunUsage =
    "usage: etp run MANIFEST [options]\n"
    "\n"
    "Loads the bundle MANIFEST describes and runs its models: every model (or --model) on the\n"
    "sample runs the manifest gives, or on --input files.\n"
    "\n"
    "options:\n"
    "  --model NAME        run only this model\n"
    "  --method NAME       the method to run (default: the model's, usually 'forward')\n"
    "  --input FILE.npy    an input, in order (repeat); replaces the manifest's sample runs\n"
    "  --output-dir DIR    write outputs as DIR/<model>.run<i>.out<j>.npy\n"
    "  --check             compare outputs with the manifest's expected outputs; exit 1 on mismatch\n"
    "  --iterations N      execute each run N times and report the mean time (default 1)\n"
    "  --plugin-path DIR   also look for plugin libraries in DIR (repeat)\n"
    "  --json              print the summary as JSON\n"
    "  --verbose           also print which plugin serves each operator, the weight caches,\n"
    "                      and the plugins' info and warning messages (on stderr)\n"
    "  --memory-report     print where memory goes: data files, models, process (measured)\n"
    "  -h, --help          show this help\n";

struct Options {
  std::string manifest;
  std::string model, method, output_dir;
  std::vector<std::string> inputs, plugin_paths;
  bool check = false, as_json = false, verbose = false, memory_report = false;
  long iterations = 1;
};

// Returns 0 on success, or the exit code for a usage error (after printing why).
int parse(int argc, char** argv, Options* o) {
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    if (arg == "-h" || arg == "--help") {
      std::fputs(kRunUsage, stdout);
      return -1;
    } else if (arg == "--model" && value(&o->model)) {
    } else if (arg == "--method" && value(&o->method)) {
    } else if (arg == "--output-dir" && value(&o->output_dir)) {
    } else if (arg == "--input" && value(&v)) {
      o->inputs.push_back(v);
    } else if (arg == "--plugin-path" && value(&v)) {
      o->plugin_paths.push_back(v);
    } else if (arg == "--iterations" && value(&v)) {
      char* end = nullptr;
      o->iterations = std::strtol(v.c_str(), &end, 10);
      if (*end != '\0' || o->iterations < 1) {
        std::fprintf(stderr, "etp run: --iterations needs a positive integer, got '%s'\n", v.c_str());
        return 2;
      }
    } else if (arg == "--check") {
      o->check = true;
    } else if (arg == "--json") {
      o->as_json = true;
    } else if (arg == "--verbose") {
      o->verbose = true;
    } else if (arg == "--memory-report") {
      o->memory_report = true;
    } else if (!arg.empty() && arg[0] != '-' && o->manifest.empty()) {
      o->manifest = arg;
    } else {
      std::fprintf(stderr, "etp run: unexpected argument '%s'\n%s", arg.c_str(), kRunUsage);
      return 2;
    }
  }
  if (o->manifest.empty()) {
    std::fputs(kRunUsage, stderr);
    return 2;
  }
  if (!o->inputs.empty() && o->model.empty()) {
    std::fputs("etp run: --input needs --model (inputs belong to one model)\n", stderr);
    return 2;
  }
  return 0;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string preview(const NpyArray& a) {
  std::string out = format::scalar_type_name(a.dtype) + std::string("[");
  for (size_t i = 0; i < a.shape.size(); ++i) out += (i ? ", " : "") + std::to_string(a.shape[i]);
  out += "]";
  const size_t size = runtime::element_size(a.dtype);
  const size_t count = size ? a.data.size() / size : 0;
  out += " {";
  for (size_t i = 0; i < count && i < 4; ++i) {
    const double v = runtime::element_value(a.data.data(), a.dtype, static_cast<int64_t>(i));
    char text[32];
    std::snprintf(text, sizeof(text), "%s%.6g", i ? ", " : "", v);
    out += text;
  }
  return out + (count > 4 ? ", ...}" : "}");
}

// Runs one model; appends its summary to `report`. Returns false on any failure or mismatch.
// Loaded methods stay in `loaded` until the whole bundle has run, so shared weight-cache
// entries are reported with all their users.
bool run_model(bundle::Bundle& bundle, const bundle::ModelSpec& model, const Options& o, json* report,
               std::vector<std::unique_ptr<runtime::Method>>* loaded,
               std::vector<bundle::LoadedModel>* loaded_models) {
  json summary = {{"model", model.name}};
  auto failed = [&](const std::string& message) {
    summary["error"] = message;
    report->push_back(summary);
    std::fprintf(stderr, "etp run: %s\n", message.c_str());
    return false;
  };
  std::vector<bundle::RunSpec> runs = model.runs;
  if (!o.inputs.empty()) runs = {bundle::RunSpec{o.method, o.inputs, {}, {}}};
  if (!o.method.empty() && o.inputs.empty()) {
    std::vector<bundle::RunSpec> kept;
    for (const auto& r : runs) {
      if ((r.method.empty() ? model.method : r.method) == o.method) kept.push_back(r);
    }
    runs = kept;
  }
  if (runs.empty()) return failed("model '" + model.name + "' has no sample runs" + (o.method.empty() ? "" : " of method '" + o.method + "'") + "; pass --input");
  // Load every method the runs need first, so the load (and what it adds to memory) is
  // measured apart from the runs.
  bundle::LoadedModel loaded_model{model.name, {}, bundle::measure_process(), {}, {}};
  const auto load_start = Clock::now();
  auto program = bundle.program(model.name);
  if (!program.ok()) return failed(program.status().message());
  std::map<std::string, runtime::Method*> methods;  // owned by *loaded, alive until the bundle is done
  for (const bundle::RunSpec& run : runs) {
    const std::string method_name = run.method.empty() ? model.method : run.method;
    if (methods.count(method_name)) continue;
    auto method = (*program)->load_method(method_name);
    if (!method.ok()) return failed(method.status().message());
    if (o.verbose && !o.as_json) {
      for (const auto& [op, provider] : (*method)->kernel_providers()) {
        std::printf("  %s.%s: %s <- %s\n", model.name.c_str(), method_name.c_str(), op.c_str(), provider.c_str());
      }
    }
    loaded_model.methods.push_back(method->get());
    methods[method_name] = method->get();
    loaded->push_back(std::move(*method));
  }
  const double load_ms = ms_since(load_start);
  loaded_model.after = bundle::measure_process();
  loaded_models->push_back(loaded_model);
  bool ok = true;
  json run_reports = json::array();
  for (size_t r = 0; r < runs.size(); ++r) {
    const std::string method_name = runs[r].method.empty() ? model.method : runs[r].method;
    runtime::Method& method = *methods[method_name];
    std::vector<NpyArray> inputs;
    for (const std::string& path : runs[r].inputs) {
      auto array = read_npy(path);
      if (!array.ok()) return failed(array.status().message());
      inputs.push_back(std::move(*array));
    }
    if (inputs.size() != method.num_inputs()) {
      return failed(model.name + "." + method_name + " takes " + std::to_string(method.num_inputs()) + " inputs, got " +
                    std::to_string(inputs.size()));
    }
    double total_ms = 0;
    for (long it = 0; it < o.iterations; ++it) {
      for (size_t i = 0; i < inputs.size(); ++i) {
        if (Status s = method.set_input(i, runtime::as_input(inputs[i])); !s.ok()) return failed(s.message());
      }
      const auto start = Clock::now();
      if (Status s = method.execute(); !s.ok()) return failed(s.message());
      total_ms += ms_since(start);
    }
    json outputs = json::array();
    for (size_t j = 0; j < method.num_outputs(); ++j) {
      auto array = runtime::to_npy(method.output(j));
      json out = {{"index", j}};
      if (!array.ok()) {
        out["error"] = array.status().message();
        outputs.push_back(out);
        continue;
      }
      out["dtype"] = format::scalar_type_name(array->dtype);
      out["shape"] = array->shape;
      out["preview"] = preview(*array);
      if (!o.output_dir.empty()) {
        const std::string path = o.output_dir + "/" + model.name + ".run" + std::to_string(r) + ".out" + std::to_string(j) + ".npy";
        if (Status s = write_npy(path, *array); !s.ok()) return failed(s.message());
        out["file"] = path;
      }
      if (o.check && j < runs[r].expected.size()) {
        auto expected = read_npy(runs[r].expected[j]);
        if (!expected.ok()) return failed(expected.status().message());
        const runtime::Comparison c = runtime::compare(method.output(j), *expected, model.rtol, model.atol);
        out["check"] = c.ok ? "pass" : "FAIL: " + c.mismatch;
        out["max_abs_error"] = c.max_abs_error;
        ok = ok && c.ok;
      }
      outputs.push_back(out);
    }
    if (o.check && runs[r].expected.size() != method.num_outputs() && !runs[r].expected.empty()) {
      std::fprintf(stderr, "etp run: %s run %zu: the manifest lists %zu expected outputs, the method has %zu\n",
                   model.name.c_str(), r, runs[r].expected.size(), method.num_outputs());
      ok = false;
    }
    run_reports.push_back({{"method", method_name}, {"run_ms", total_ms / o.iterations}, {"outputs", outputs}});
  }
  loaded_models->back().after_runs = bundle::measure_process();
  summary["load_ms"] = load_ms;
  summary["runs"] = run_reports;
  summary["ok"] = ok;
  report->push_back(summary);
  return ok;
}

void print_text(const json& report, bool check) {
  for (const json& m : report) {
    if (m.contains("error")) continue;  // already printed
    std::printf("%s: loaded in %.2f ms\n", m["model"].get<std::string>().c_str(), m["load_ms"].get<double>());
    size_t r = 0;
    for (const json& run : m["runs"]) {
      std::printf("  run %zu %s: %.3f ms\n", r++, run["method"].get<std::string>().c_str(), run["run_ms"].get<double>());
      for (const json& out : run["outputs"]) {
        if (out.contains("error")) {
          std::printf("    out %zu: %s\n", out["index"].get<size_t>(), out["error"].get<std::string>().c_str());
          continue;
        }
        std::printf("    out %zu: %s", out["index"].get<size_t>(), out["preview"].get<std::string>().c_str());
        if (check && out.contains("check")) std::printf("  check %s", out["check"].get<std::string>().c_str());
        std::printf("\n");
      }
    }
  }
}

}  // namespace

int run_run(int argc, char** argv) {
  Options o;
  if (int code = parse(argc, argv, &o)) return code < 0 ? 0 : code;
  if (o.verbose) plugins::PluginLog::set_print_level(ETP_LOG_INFO);
  auto manifest = bundle::parse_manifest(o.manifest);
  if (!manifest.ok()) {
    std::fprintf(stderr, "etp run: %s\n", manifest.status().message().c_str());
    return 1;
  }
  if (!o.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.output_dir, ec);
    if (ec) {
      std::fprintf(stderr, "etp run: cannot create %s: %s\n", o.output_dir.c_str(), ec.message().c_str());
      return 1;
    }
  }
  const auto open_start = Clock::now();
  auto bundle = bundle::Bundle::open(*manifest, {o.plugin_paths});
  if (!bundle.ok()) {
    std::fprintf(stderr, "etp run: %s\n", bundle.status().message().c_str());
    return 1;
  }
  const double open_ms = ms_since(open_start);
  std::vector<const bundle::ModelSpec*> models;
  for (const auto& m : (*bundle)->manifest().models) {
    if (o.model.empty() || m.name == o.model) models.push_back(&m);
  }
  if (models.empty()) {
    std::fprintf(stderr, "etp run: the manifest has no model '%s'\n", o.model.c_str());
    return 1;
  }
  json report = json::array();
  std::vector<std::unique_ptr<runtime::Method>> loaded;
  std::vector<bundle::LoadedModel> loaded_models;
  bool ok = true;
  for (size_t i = 0; i < models.size(); ++i) {
    if (!o.as_json && models.size() > 1) std::fprintf(stderr, "[%zu/%zu] %s\n", i + 1, models.size(), models[i]->name.c_str());
    ok = run_model(**bundle, *models[i], o, &report, &loaded, &loaded_models) && ok;
  }
  // What each plugin's weight cache holds now that every model is loaded.
  json caches = json::array();
  for (const auto& plugin : (*bundle)->registry().plugins()) {
    for (const plugins::CacheEntry& e : plugin->cache_report()) {
      if (!e.shared) continue;
      caches.push_back({{"plugin", plugin->name()}, {"key", e.key}, {"file_id", e.file_id},
                        {"packed_bytes", e.packed_bytes}, {"users", e.users}});
    }
  }
  const json memory = o.memory_report ? bundle::memory_report(**bundle, loaded_models) : json(nullptr);
  if (o.as_json) {
    std::puts(json{{"manifest", o.manifest}, {"bundle_open_ms", open_ms}, {"models", report}, {"weight_caches", caches},
                   {"memory", memory}, {"ok", ok}}
                  .dump(2, ' ', false, json::error_handler_t::replace)  // names from files may be any bytes
                  .c_str());
  } else {
    print_text(report, o.check);
    if (o.verbose) {
      uint64_t bytes = 0;
      for (const json& c : caches) bytes += c["packed_bytes"].get<uint64_t>();
      std::printf("weight caches: %zu shared entries, %.1f KiB packed\n", caches.size(), bytes / 1024.0);
      for (const json& c : caches) {
        std::printf("  %s %s: %llu bytes, used by %zu:", c["plugin"].get<std::string>().c_str(),
                    c["key"].get<std::string>().c_str(), static_cast<unsigned long long>(c["packed_bytes"].get<uint64_t>()),
                    c["users"].size());
        for (const auto& u : c["users"]) std::printf(" %s", u.get<std::string>().c_str());
        std::printf("\n");
      }
    }
    if (o.memory_report) std::fputs(bundle::render_memory_report(memory).c_str(), stdout);
    if (o.check) std::printf("check: %s\n", ok ? "all outputs match" : "MISMATCH (see above)");
  }
  return ok ? 0 : 1;
}

}  // namespace etp::cli
