// Running a bundle's models the way `etp run` does: on the manifest's sample runs, on given
// .npy inputs, or (when a model has neither) once on seeded random inputs; writing outputs as
// .npy, checking them against the manifest's expected outputs, timing loads and runs, and
// reporting weight caches and memory. The CLI prints the report this returns.
//
// Thread-safety: run_bundle uses the bundle from the calling thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "etp/etp.h"

namespace etp {

struct RunOptions {
  std::vector<std::string> models;       // empty: every model of the bundle, in order
  std::string method;                    // run only this method ("" = the runs' own methods)
  std::vector<std::string> input_files;  // .npy inputs replacing the sample runs (one model)
  uint64_t seed = 0;                     // for random inputs
  std::string output_dir;                // write outputs as <dir>/<model>.run<i>.out<j>.npy
  bool check = false;                    // compare with the expected outputs
  int64_t iterations = 1;                // executes per run; the report gives the mean
  bool memory_report = false;
  bool kernel_providers = false;  // record which plugin serves each operator
  // Called before each model with (index, count, model).
  std::function<void(size_t, size_t, const std::string&)> progress;
};

enum class CheckResult { kNotChecked, kPass, kFail };

struct OutputReport {
  size_t index = 0;
  std::string error;  // the output could not be read as an array (e.g. a list)
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  std::string preview;  // dtype, shape and the first values
  std::string file;     // written .npy, if any
  CheckResult check = CheckResult::kNotChecked;
  std::string mismatch;  // the first failing element or shape/dtype difference
  double max_abs_error = 0;
};

struct RunReport {
  std::string method;
  std::string inputs;  // where the inputs came from: "manifest", "files", "random (seed N)"
  double run_ms = 0;   // mean over the iterations
  std::vector<OutputReport> outputs;
  std::string problem;  // e.g. the manifest lists a different number of expected outputs
};

struct ModelReport {
  std::string model;
  std::string error;  // the model failed to load or run; runs holds what completed
  double load_ms = 0;
  std::vector<std::pair<std::string, std::string>> kernel_providers;  // ("method: operator", plugin)
  std::vector<RunReport> runs;
  bool checked = false;  // at least one output was compared
  bool ok = false;       // loaded, every run completed, every comparison passed
};

struct CacheEntryReport {
  std::string plugin, key;
  uint64_t file_id = 0;
  uint64_t packed_bytes = 0;
  std::vector<std::string> users;
};

struct BundleReport {
  std::string source;  // manifest path, or the program's for a bundle of one program opened in code
  bool from_program = false;
  double open_ms = 0;
  std::vector<ModelReport> models;
  std::vector<CacheEntryReport> weight_caches;  // shared entries, once every model is loaded
  std::string memory_json;                      // the memory report document, when asked
  bool check_requested = false;
  bool ok = false;  // every model ok; with check, at least one output compared

  // The machine-readable report (`etp run --json`).
  std::string to_json() const;
  // The human-readable report; `verbose` adds kernel providers and weight caches.
  std::string to_text(bool verbose) const;
};

// Runs the models `options` selects. Fails only on a bad request (an unknown model, inputs for
// several models, an unreadable output folder); a model that fails is reported in its
// ModelReport and makes the report not ok.
Result<BundleReport> run_bundle(const Bundle& bundle, const RunOptions& options);

// A tensor of `info`'s dtype and sizes (the bound, for dynamic tensors) filled with values from
// a generator seeded with `seed`: floats uniform in [-1, 1), integers in [0, 10), bools at random.
// kOutOfMemory when the tensor is larger than this machine's memory.
Result<Tensor> random_tensor(const TensorInfo& info, uint64_t seed);

}  // namespace etp
