// Benchmarking plugin sets side by side, the loop behind `etp bench`: every (model,
// configuration, thread count) is loaded in its own bundle, through the same Bundle and Method
// code `etp run` uses, and timed in interleaved rounds so a noisy machine biases no one.
// The report gives load and first-run times, steady-run statistics, memory the model added,
// whether the outputs match the reference configuration's (and the manifest's expected outputs),
// optional per-instruction profiles, and renders as text, Markdown, CSV, JSON or an SVG chart.
//
// Thread-safety: run_bench uses the calling thread (plugins may use their own pools).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "etp/etp.h"

namespace etp {

// A plugin set to measure: plugins in priority order, each with its options.
struct BenchConfig {
  std::string name;                                          // e.g. "xnnpack+portable"; shown in every table
  std::vector<PluginSpec> plugins;                           // options given here apply as written
  std::vector<std::pair<std::string, std::string>> options;  // set on each plugin that accepts them
};

// Parses "NAME=PLUGIN[+PLUGIN...][:key=value,...]" (the name and the options are optional:
// "xnnpack+portable" names itself). kInvalidArgument says what is wrong.
Result<BenchConfig> parse_bench_config(const std::string& text);

struct BenchOptions {
  std::vector<std::string> models;  // empty: every model of the bundle
  // Empty: for each model every plugin set that can run it, from the bundle's plugins, where
  // each plugin serves something (e.g. "portable" and "portable+xnnpack").
  std::vector<BenchConfig> configs;
  // Thread counts, set as option "threads" on each plugin that accepts it; configurations
  // without such a plugin run once. Empty: the plugins' own settings (as `etp run`).
  std::vector<int> threads;
  int64_t warmup = 2;                 // untimed runs per result before the timed ones
  int64_t repetitions = 10;           // at least this many timed runs per result
  double min_time_s = 0.5;            // and at least this much timed execute time per result
  int64_t max_repetitions = 1000000;  // a cap: very fast models may stop before min_time_s
  bool profile = false;               // also time each instruction, in extra runs after the timed ones
  uint64_t seed = 0;                  // random inputs for models without sample runs
  BundleOptions bundle;               // where plugins are found
  // Called as work proceeds: (what is being done, step, steps).
  std::function<void(const std::string&, size_t, size_t)> progress;
};

// Statistics of a set of timings, in milliseconds. Percentiles interpolate linearly between
// order statistics (as numpy's default); stddev is the sample standard deviation.
struct BenchStats {
  size_t count = 0;
  double min = 0, max = 0, mean = 0, median = 0, p10 = 0, p25 = 0, p75 = 0, p90 = 0, p99 = 0, stddev = 0;
  double cv = 0;  // coefficient of variation, stddev / mean: one delayed run in thousands inflates it
  // The same from the middle half of the runs, (p75 - p25) / 1.349 / median (1.349 standard
  // deviations span a normal distribution's quartiles): the spread rare outliers do not move.
  double robust_cv = 0;
};
BenchStats compute_stats(std::vector<double> samples_ms);

// One instruction's share of the execute time in profiled runs.
struct ProfileEntry {
  size_t instruction = 0;
  std::string kind;    // "operator" or "delegate"
  std::string name;    // operator name ("aten::convolution.out") or backend id
  std::string plugin;  // the plugin serving it ("host" for prim operators)
  double ms_per_run = 0;
  double share = 0;  // of the profiled runs' execute time, 0..1
};

struct BenchResult {
  std::string model, config;
  int threads = 0;     // 0: the plugins' own setting (no --threads, or no plugin takes threads)
  std::string error;   // the configuration could not load or run the model
  std::string inputs;  // "manifest" or "random (seed N)"
  double load_ms = 0;  // load_method: program, constants, plans, delegate init
  double first_run_ms = 0;
  BenchStats stats;  // steady runs (execute only)
  double runs_per_s = 0;
  double rss_added_mib = 0, anon_added_mib = 0;  // process RSS / anonymous memory the load and first run added
  double peak_rss_mib = 0;                       // process peak RSS after the load and first run
  bool outputs_match = false;
  std::string match_detail;           // what was compared, or the first mismatch
  bool noisy = false;                 // stats.robust_cv above BenchReport::noise_threshold
  std::vector<ProfileEntry> profile;  // most expensive first (with --profile)
  double profile_overhead = 0;        // profiled mean / unprofiled mean - 1
};

struct BenchMachine {
  std::string cpu;  // model name
  int logical_cores = 0;
  std::vector<std::string> isa;  // vector extensions the CPU offers that kernels choose from
  std::string os;                // kernel release
  double load_average = 0;       // 1-minute load when the bench started
  uint64_t memory_mib = 0;
};

struct BenchFile {
  std::string path, sha256;
};

struct BenchPlugin {
  std::string name, library, version;
  std::string sha256;  // of the library file: versions alone do not tell builds apart
};

// A result compared with a baseline's result of the same (model, config, threads).
struct BenchDelta {
  std::string model, config;
  int threads = 0;
  double baseline_median_ms = 0, median_ms = 0;
  double ratio = 0;     // median / baseline median
  std::string verdict;  // "regression", "improvement", "same", "new", "missing", "error"
};

struct BenchReport {
  std::string source;  // manifest or program
  std::string etp_version;
  std::string started;  // UTC, ISO 8601
  BenchMachine machine;
  int64_t warmup = 0, repetitions = 0;
  double min_time_s = 0;
  double noise_threshold = 0.10;  // robust_cv above which a result is flagged noisy
  std::vector<BenchFile> files;   // programs and data files with their sha256
  std::vector<BenchPlugin> plugins;
  std::vector<BenchResult> results;
  // With a baseline: one entry per result and per baseline result that is gone.
  std::vector<BenchDelta> deltas;
  std::string baseline;  // its file
  double regression_threshold = 0.10;

  bool ok() const;         // every result ran and matched
  bool regressed() const;  // some delta is a regression
  std::string to_text() const;
  std::string to_markdown() const;
  std::string to_csv() const;
  std::string to_json() const;
  // A grouped bar chart: one group per model, one bar per configuration and thread count,
  // showing the median with a p10-p90 whisker, each group on its own time scale.
  std::string to_svg() const;
};

// Checks the counts, thread counts and names of `options` (kInvalidArgument says what is
// wrong) without opening anything; run_bench starts with this check.
Status check_bench_options(const BenchOptions& options);

// Benchmarks the models of a manifest, or of a bundle described in code (e.g.
// BundleSpec::for_program). Fails on a bad request (unknown model, a configuration whose
// plugin is missing or refuses an option, bad counts); a configuration that cannot load or run
// a model is reported in that result's error.
Result<BenchReport> run_bench(const std::string& manifest, const BenchOptions& options);
Result<BenchReport> run_bench(const BundleSpec& spec, const BenchOptions& options);

// Compares `report` with an earlier report's JSON (to_json), filling report->deltas. A result is
// a regression when its median is slower than the baseline's by more than `threshold` (0.10 =
// 10%) and by more than the runs' own noise: the new median lies above the baseline's p90 and
// the baseline's median below the new p10. Improvements mirror that. kMalformed names what is
// missing from the baseline document.
Status compare_with_baseline(BenchReport* report, const std::string& baseline_json, const std::string& baseline_name,
                             double threshold);

}  // namespace etp
