// `etp run`: parse the command line, open the bundle (a manifest, or one program with its data
// files and plugins), and print what the library's runner reports (include/etp/runner.h).
#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/clock.h"
#include "etp/etp.h"
#include "etp/runner.h"
#include "format/file_kind.h"

namespace etp::cli {
namespace {

constexpr const char* kRunUsage =
    "usage: etp run MANIFEST [options]\n"
    "       etp run PROGRAM.pte [--data FILE.ptd]... [--plugin NAME|LIB]... [options]\n"
    "\n"
    "Runs the models of a bundle through their plugins: every model (or --model) on the sample\n"
    "runs its manifest gives, or on --input files. A program given without a manifest runs as\n"
    "model 'model' with the installed portable, xnnpack, quantized and llm plugins (or --plugin); without\n"
    "--input its inputs are seeded random values of the declared dtypes and shapes.\n"
    "\n"
    "options:\n"
    "  --model NAME        run only this model\n"
    "  --method NAME       the method to run (default: the model's, usually 'forward')\n"
    "  --input FILE.npy    an input, in order (repeat); replaces the sample runs\n"
    "  --data FILE.ptd     a data file of PROGRAM.pte (repeat; looked up in order)\n"
    "  --data NAME=FILE    with a MANIFEST: read its data entry NAME from FILE instead, e.g. a\n"
    "                      trained adapter (repeat; its sha256 is not checked)\n"
    "  --plugin NAME|LIB   a plugin for PROGRAM.pte, in priority order (repeat; default: portable,\n"
    "                      xnnpack, quantized, llm); NAME means libetp_NAME.so, LIB a file or path\n"
    "  --seed N            seed of the random inputs (default 0)\n"
    "  --output-dir DIR    write outputs as DIR/<model>.run<i>.out<j>.npy\n"
    "  --check             compare outputs with the manifest's expected outputs; exit 1 on a\n"
    "                      mismatch or when there is nothing to compare\n"
    "  --iterations N      execute each run N times and report the mean time (default 1)\n"
    "  --max-instructions N  the most instructions one execute may run before it fails (default\n"
    "                      the model's max_instructions, else 10000000): stops a looping program\n"
    "  --memory-budget SIZE  bytes all loaded methods may plan, e.g. 2GiB (default: the\n"
    "                      manifest's memory_budget, else 3/4 of physical memory)\n"
    "  --read-files        read programs and data files into memory instead of mapping them\n"
    "                      (for files that may change on disk while etp runs)\n"
    "  --plugin-path DIR   also look for plugin libraries in DIR (repeat; before ETP_PLUGIN_PATH)\n"
    "  --json              print the report as JSON\n"
    "  --verbose           also print which plugin serves each operator, the weight caches,\n"
    "                      and the plugins' info and warning messages (on stderr)\n"
    "  --memory-report     print where memory goes: data files, models, process (measured)\n"
    "  -h, --help          show this help\n"
    "\n"
    "Options take their value as '--opt value' or '--opt=value'. Exit status: 0 success,\n"
    "1 failure (load, run or check), 2 usage error.\n";

struct Options {
  std::string target;  // manifest or program
  std::string model, method, output_dir, seed, iterations;
  std::vector<std::string> inputs, data, plugins, plugin_paths;
  std::vector<std::pair<std::string, std::string>> data_files;  // --data NAME=FILE with a manifest
  bool check = false, as_json = false, verbose = false, memory_report = false, read_files = false;
  uint64_t max_instructions = 0, memory_budget = 0;
};

int run_usage_error(const std::string& message) { return cli::usage_error("run", message); }

// Fills `o`; returns -1 after printing help, 0 on success, 2 after a usage error.
int parse(const std::vector<std::string>& args, Options* o) {
  using Kind = OptionSpec::Kind;
  static const std::vector<OptionSpec> kSpecs = {{Kind::kOnce, "--model"},         {Kind::kOnce, "--method"},
                                                 {Kind::kOnce, "--output-dir"},    {Kind::kOnce, "--seed"},
                                                 {Kind::kOnce, "--iterations"},    {Kind::kRepeat, "--input"},
                                                 {Kind::kRepeat, "--data"},        {Kind::kRepeat, "--plugin"},
                                                 {Kind::kRepeat, "--plugin-path"}, {Kind::kFlag, "--check"},
                                                 {Kind::kFlag, "--json"},          {Kind::kFlag, "--verbose"},
                                                 {Kind::kFlag, "--memory-report"}, {Kind::kOnce, "--max-instructions"},
                                                 {Kind::kFlag, "--read-files"},    {Kind::kOnce, "--memory-budget"}};
  ParsedArgs parsed;
  if (std::string error = parse_args(args, kSpecs, &parsed); !error.empty()) return run_usage_error(error);
  if (parsed.help) {
    std::fputs(kRunUsage, stdout);
    return -1;
  }
  if (parsed.positional.size() > 1) {
    return run_usage_error("unexpected argument '" + parsed.positional[1] + "' (one MANIFEST or PROGRAM.pte per run)");
  }
  if (parsed.positional.empty()) return run_usage_error("missing MANIFEST or PROGRAM.pte");
  o->target = parsed.positional[0];
  o->model = parsed.value("--model");
  o->method = parsed.value("--method");
  o->output_dir = parsed.value("--output-dir");
  o->seed = parsed.value("--seed");
  o->iterations = parsed.value("--iterations");
  o->inputs = parsed.all("--input");
  o->data = parsed.all("--data");
  o->plugins = parsed.all("--plugin");
  o->plugin_paths = parsed.all("--plugin-path");
  o->check = parsed.has("--check");
  o->as_json = parsed.has("--json");
  o->verbose = parsed.has("--verbose");
  o->memory_report = parsed.has("--memory-report");
  o->read_files = parsed.has("--read-files");
  if (std::string e = parse_memory_budget(parsed, &o->memory_budget); !e.empty()) return run_usage_error(e);
  if (std::string e = parse_max_instructions(parsed, &o->max_instructions); !e.empty()) return run_usage_error(e);
  return 0;
}

// A program (by its identifier) runs without a manifest; anything else is read as a manifest,
// whose parser says what a wrong file is.
Result<Bundle> open_bundle(const Options& o, bool program) {
  const BundleOptions options{o.plugin_paths, /*use_environment=*/true, o.data_files, o.max_instructions,
                              o.read_files,   o.memory_budget};
  if (!program) return Bundle::open(o.target, options);
  std::vector<std::string> plugins = o.plugins;
  if (plugins.empty()) plugins = etp::default_plugins();
  return Bundle::open(BundleSpec::for_program(o.target, o.data, plugins), options);
}

}  // namespace

int run_run(const std::vector<std::string>& args) {
  Options o;
  if (int code = parse(args, &o)) return code < 0 ? 0 : code;
  RunOptions run;
  int64_t seed = 0;
  if (!o.seed.empty() && !parse_count(o.seed, &seed)) {
    return run_usage_error("--seed needs a non-negative integer (at most 18 digits), got '" + o.seed + "'");
  }
  run.seed = static_cast<uint64_t>(seed);
  if (!o.iterations.empty() && (!parse_count(o.iterations, &run.iterations) || run.iterations < 1)) {
    return run_usage_error("--iterations needs a positive integer (at most 18 digits), got '" + o.iterations + "'");
  }
  const bool program = format::file_kind(o.target) == format::FileKind::kProgram;
  if (!program && !o.plugins.empty()) {
    return run_usage_error("--plugin applies to a program (" + o.target +
                           " is not a .pte); a manifest names its own plugins");
  }
  if (!program) {
    if (std::string error = parse_data_files(o.data, &o.data_files); !error.empty()) return run_usage_error(error);
  }
  if (!o.inputs.empty() && o.model.empty() && !program) {
    return run_usage_error("--input needs --model (inputs belong to one model)");
  }
  if (o.verbose) set_log_level(LogLevel::kInfo);

  const auto open_start = Clock::now();
  auto bundle = open_bundle(o, program);
  if (!bundle.ok()) {
    std::fprintf(stderr, "etp run: %s\n", bundle.status().message().c_str());
    return 1;
  }
  const double open_ms = ms_since(open_start);
  if (!o.model.empty()) run.models = {o.model};
  run.method = o.method;
  run.input_files = o.inputs;
  run.output_dir = o.output_dir;
  run.check = o.check;
  run.memory_report = o.memory_report;
  run.kernel_providers = o.verbose;
  if (!o.as_json) {
    run.progress = [](size_t index, size_t count, const std::string& model) {
      if (count > 1) std::fprintf(stderr, "[%zu/%zu] %s\n", index + 1, count, model.c_str());
    };
  }
  auto report = run_bundle(*bundle, run);
  if (!report.ok()) {
    std::fprintf(stderr, "etp run: %s\n", report.status().message().c_str());
    return report.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  report->open_ms = open_ms;
  if (o.as_json) {
    std::puts(report->to_json().c_str());
  } else {
    std::fputs(report->to_text(o.verbose).c_str(), stdout);
  }
  return report->ok ? 0 : 1;
}

}  // namespace etp::cli
