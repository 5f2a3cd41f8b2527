// `etp bench`: parse the command line, run the library's bench (include/etp/bench.h), print or
// write the report in the chosen format, the chart and the baseline comparison.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "etp/bench.h"
#include "format/file_kind.h"

namespace etp::cli {
namespace {

constexpr const char* kBenchUsage =
    "usage: etp bench MANIFEST [options]\n"
    "       etp bench PROGRAM.pte [--data FILE.ptd]... [--plugin NAME|LIB]... [options]\n"
    "\n"
    "Times models on plugin sets side by side. Each configuration (plugins in priority order,\n"
    "with options) is its own bundle, loaded and run the way 'etp run' does. Every result\n"
    "(model x configuration x thread count) is loaded and run once, its outputs checked against\n"
    "the manifest's expected outputs and the first configuration's, then all are timed in\n"
    "interleaved rounds (A B A B ...) so a noisy machine biases none of them.\n"
    "\n"
    "options:\n"
    "  --model NAME          bench this model (repeat; default: every model)\n"
    "  --config [NAME=]PLUGIN[+PLUGIN...][:KEY=VALUE,...]\n"
    "                        a configuration (repeat). PLUGIN is a plugin of the manifest (with\n"
    "                        its options), a short name ('portable' is libetp_portable.so) or a\n"
    "                        library; options go to each plugin that accepts them. Default: every\n"
    "                        set of the bundle's plugins that runs the model, each plugin serving\n"
    "                        part of it (e.g. 'portable' and 'portable+xnnpack')\n"
    "  --threads N[,N...]    thread counts, set as option 'threads' on the plugins that take it\n"
    "                        (default: the plugins' own settings, as 'etp run')\n"
    "  --warmup N            untimed runs per result before timing (default 2)\n"
    "  --repetitions N       at least N timed runs per result (default 10)\n"
    "  --min-time S          and at least S seconds of execute time per result (default 0.5)\n"
    "  --profile             also time every operator and delegate call, in extra runs\n"
    "  --format FORMAT       text (default), md, csv or json\n"
    "  --json                the same as --format json\n"
    "  --output FILE         write the report to FILE instead of standard output\n"
    "  --svg FILE            write a bar chart: median per result with a p10-p90 whisker\n"
    "  --baseline FILE.json  compare with an earlier '--format json' report\n"
    "  --threshold PCT       slowdown that counts as a regression, in percent (default 10)\n"
    "  --data FILE.ptd       a data file of PROGRAM.pte (repeat; looked up in order)\n"
    "  --data NAME=FILE      with a MANIFEST: read its data entry NAME from FILE instead (repeat;\n"
    "                        its sha256 is not checked)\n"
    "  --plugin NAME|LIB     a plugin of PROGRAM.pte's bundle, in priority order (repeat; default:\n"
    "                        portable, xnnpack, quantized, llm); the default configurations come from these\n"
    "  --seed N              seed of random inputs for models without sample runs (default 0)\n"
    "  --plugin-path DIR     also look for plugin libraries in DIR (repeat; before ETP_PLUGIN_PATH)\n"
    "  --max-instructions N  the most instructions one execute may run before it fails (default\n"
    "                        the model's max_instructions, else 10000000): stops a looping program\n"
    "  --memory-budget SIZE  bytes all loaded methods may plan, e.g. 2GiB (default: the\n"
    "                        manifest's memory_budget, else 3/4 of physical memory)\n"
    "  --read-files          read programs and data files into memory instead of mapping them\n"
    "  -h, --help            show this help\n"
    "\n"
    "Times are of execute alone (inputs are copied in before each run). Exit status: 0 every\n"
    "result ran and its outputs match, 1 a result failed or its outputs differ (or the bench\n"
    "could not start: a missing file or plugin, a refused option), 2 usage error,\n"
    "3 a regression against --baseline (and nothing failed).\n";

int bench_usage_error(const std::string& message) { return cli::usage_error("bench", message); }

bool parse_seconds(const std::string& text, double* out) {
  char* end = nullptr;
  *out = std::strtod(text.c_str(), &end);
  return !text.empty() && *end == '\0' && *out >= 0 && *out <= 3600;
}

// "1,2,4" -> {1, 2, 4}; each from 1 to 256, none twice.
bool parse_threads(const std::string& text, std::vector<int>* out) {
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    int64_t n = 0;
    if (!parse_count(item, &n) || n < 1 || n > 256) return false;
    for (int t : *out) {
      if (t == n) return false;
    }
    out->push_back(static_cast<int>(n));
  }
  return !out->empty() && text.back() != ',';
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out.flush());
}

bool read_file(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *text = buffer.str();
  return true;
}

// The progress line: rewritten in place on a terminal, one line per phase otherwise.
void progress(const std::string& what, size_t step, size_t steps) {
  static std::string last_phase;
  const std::string line = "bench: " + what + " (" + std::to_string(step) + "/" + std::to_string(steps) + ")";
  if (::isatty(STDERR_FILENO)) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
    return;
  }
  const std::string phase = what.substr(0, what.find(' '));
  if ((phase == "warmup" || phase == "timing,") && phase == last_phase) return;
  last_phase = phase;
  std::fprintf(stderr, "%s\n", line.c_str());
}

void end_progress() {
  if (::isatty(STDERR_FILENO)) std::fputs("\r\033[K", stderr);
}

}  // namespace

int run_bench(const std::vector<std::string>& args) {
  using Kind = OptionSpec::Kind;
  static const std::vector<OptionSpec> kSpecs = {
      {Kind::kRepeat, "--model"},    {Kind::kRepeat, "--config"},      {Kind::kOnce, "--threads"},
      {Kind::kOnce, "--warmup"},     {Kind::kOnce, "--repetitions"},   {Kind::kOnce, "--min-time"},
      {Kind::kFlag, "--profile"},    {Kind::kOnce, "--format"},        {Kind::kFlag, "--json"},
      {Kind::kOnce, "--output"},     {Kind::kOnce, "--svg"},           {Kind::kOnce, "--baseline"},
      {Kind::kOnce, "--threshold"},  {Kind::kRepeat, "--data"},        {Kind::kOnce, "--seed"},
      {Kind::kRepeat, "--plugin"},   {Kind::kRepeat, "--plugin-path"}, {Kind::kOnce, "--max-instructions"},
      {Kind::kFlag, "--read-files"}, {Kind::kOnce, "--memory-budget"}};
  ParsedArgs a;
  if (std::string error = parse_args(args, kSpecs, &a); !error.empty()) return bench_usage_error(error);
  if (a.help) {
    std::fputs(kBenchUsage, stdout);
    return 0;
  }
  if (a.positional.empty()) return bench_usage_error("missing MANIFEST or PROGRAM.pte");
  if (a.positional.size() > 1) {
    return bench_usage_error("unexpected argument '" + a.positional[1] + "' (one MANIFEST or PROGRAM.pte per bench)");
  }
  const std::string target = a.positional[0];

  BenchOptions options;
  options.models = a.all("--model");
  for (const std::string& text : a.all("--config")) {
    auto config = parse_bench_config(text);
    if (!config.ok()) return bench_usage_error("--config: " + config.status().message());
    options.configs.push_back(std::move(*config));
  }
  if (a.has("--threads") && !parse_threads(a.value("--threads"), &options.threads)) {
    return bench_usage_error("--threads needs distinct counts from 1 to 256 separated by commas, got '" +
                             a.value("--threads") + "'");
  }
  struct Count {
    const char* option;
    int64_t* out;
    int64_t min;
  };
  int64_t seed = 0;
  for (const Count& c : {Count{"--warmup", &options.warmup, 0}, Count{"--repetitions", &options.repetitions, 1},
                         Count{"--seed", &seed, 0}}) {
    if (!a.has(c.option)) continue;
    if (!parse_count(a.value(c.option), c.out) || *c.out < c.min) {
      return bench_usage_error(std::string(c.option) + " needs an integer of at least " + std::to_string(c.min) +
                               " (at most 18 digits), got '" + a.value(c.option) + "'");
    }
  }
  options.seed = static_cast<uint64_t>(seed);
  if (options.repetitions > options.max_repetitions) options.max_repetitions = options.repetitions;
  if (a.has("--min-time") && !parse_seconds(a.value("--min-time"), &options.min_time_s)) {
    return bench_usage_error("--min-time needs seconds from 0 to 3600, got '" + a.value("--min-time") + "'");
  }
  double threshold = 10;
  if (a.has("--threshold") && (!parse_seconds(a.value("--threshold"), &threshold) || threshold > 1000)) {
    return bench_usage_error("--threshold needs a percentage from 0 to 1000, got '" + a.value("--threshold") + "'");
  }
  std::string format = a.has("--json") ? "json" : a.value("--format");
  if (a.has("--json") && a.has("--format") && a.value("--format") != "json") {
    return bench_usage_error("--json and --format " + a.value("--format") + " disagree");
  }
  if (format.empty()) format = "text";
  if (format != "text" && format != "md" && format != "csv" && format != "json") {
    return bench_usage_error("--format needs text, md, csv or json, got '" + format + "'");
  }
  options.profile = a.has("--profile");
  options.bundle.plugin_paths = a.all("--plugin-path");
  if (std::string e = parse_max_instructions(a, &options.bundle.max_instructions); !e.empty())
    return bench_usage_error(e);
  options.bundle.read_files = a.has("--read-files");
  if (std::string e = parse_memory_budget(a, &options.bundle.memory_budget); !e.empty()) return bench_usage_error(e);
  options.progress = progress;
  if (Status s = check_bench_options(options); !s.ok()) return bench_usage_error(s.message());
  // The baseline is read and checked before the bench, which may take minutes.
  std::string baseline_json;
  if (a.has("--baseline")) {
    BenchReport empty;
    Status s = read_file(a.value("--baseline"), &baseline_json)
                   ? compare_with_baseline(&empty, baseline_json, a.value("--baseline"), threshold / 100)
                   : Status(StatusCode::kIo, "cannot read the baseline " + a.value("--baseline"));
    if (!s.ok()) {
      std::fprintf(stderr, "etp bench: %s\n", s.message().c_str());
      return 1;
    }
  }

  const bool program = format::file_kind(target) == format::FileKind::kProgram;
  if (!program) {
    if (std::string e = parse_data_files(a.all("--data"), &options.bundle.data_files); !e.empty()) {
      return bench_usage_error(e);
    }
  }
  if (!program && a.has("--plugin")) {
    return bench_usage_error("--plugin applies to a program (" + target +
                             " is not a .pte); a manifest names its own plugins");
  }
  std::vector<std::string> plugins = a.all("--plugin");
  if (plugins.empty()) plugins = etp::default_plugins();
  auto report = program ? etp::run_bench(BundleSpec::for_program(target, a.all("--data"), plugins), options)
                        : etp::run_bench(target, options);
  end_progress();
  if (!report.ok()) {
    std::fprintf(stderr, "etp bench: %s\n", report.status().message().c_str());
    return 1;
  }
  if (a.has("--baseline")) {
    if (Status s = compare_with_baseline(&*report, baseline_json, a.value("--baseline"), threshold / 100); !s.ok()) {
      std::fprintf(stderr, "etp bench: %s\n", s.message().c_str());
      return 1;
    }
  }
  const std::string text = format == "json"  ? report->to_json() + "\n"
                           : format == "md"  ? report->to_markdown()
                           : format == "csv" ? report->to_csv()
                                             : report->to_text();
  if (a.has("--output")) {
    if (!write_file(a.value("--output"), text)) {
      std::fprintf(stderr, "etp bench: cannot write %s\n", a.value("--output").c_str());
      return 1;
    }
  } else {
    std::fputs(text.c_str(), stdout);
  }
  if (a.has("--svg") && !write_file(a.value("--svg"), report->to_svg())) {
    std::fprintf(stderr, "etp bench: cannot write %s\n", a.value("--svg").c_str());
    return 1;
  }
  if (!report->ok()) return 1;
  return report->regressed() ? 3 : 0;
}

}  // namespace etp::cli
