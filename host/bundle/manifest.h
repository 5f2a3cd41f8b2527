// The bundle manifest (YAML): which plugins to load with which options, which data files,
// which plugin's weight cache owns each shared data file, and which models (program + data
// files + optional sample runs with expected outputs). Reference: README.md, "Manifest".
//
// Format decisions that are hard to undo, and why:
// - `etp: 1` versions the format; an unknown version is refused rather than half-read.
// - Every mapping rejects unknown keys and duplicate keys, so a typo never silently changes
//   what runs (yaml-cpp alone accepts both).
// - Paths are relative to the manifest's folder, so a bundle folder can move as a whole.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace etp::bundle {

// Where something was written in the manifest (1-based, for messages).
struct Mark {
  int line = 0;
  int column = 0;
};

struct PluginSpec {
  std::string name;
  std::string library;  // as written; resolved by the bundle
  std::vector<std::pair<std::string, std::string>> options;
  Mark mark;
};

struct DataSpec {
  std::string name;
  std::string path;          // resolved against the manifest folder
  std::string sha256;        // lower-case hex, or empty
  std::string weight_cache;  // plugin name, or empty
  Mark mark;
};

struct RunSpec {
  std::string method;                 // empty: the model's default method
  std::vector<std::string> inputs;    // .npy paths, resolved
  std::vector<std::string> expected;  // .npy paths, resolved; may be empty
  Mark mark;
};

// A model's training data (`train:`, read by `etp train`): one .npy per input of the joint
// method, the first dimension the sample index.
struct TrainSpec {
  std::vector<std::string> inputs;  // resolved paths
  std::vector<std::string> eval;    // held-out data like `inputs` (etp train --eval), or empty
  int64_t batch_size = 0;           // 0: the program's leading input dimension
  bool shuffle = false;             // a seeded permutation of the samples per pass
  uint64_t seed = 0;
};

struct ModelSpec {
  std::string name;
  std::string program;             // resolved path
  std::vector<std::string> data;   // names of DataSpecs, in lookup order
  std::string method = "forward";  // default method
  std::string tokenizer;           // resolved path of its tokenizer model, "" when none
  double rtol = 1e-5;
  double atol = 1e-6;
  uint64_t max_instructions = 0;  // each execute's instruction budget; 0: the runtime's default
  std::vector<RunSpec> runs;      // executed in order on one loaded program
  std::optional<TrainSpec> train;
  Mark mark;
};

struct Manifest {
  std::string path;
  std::string folder;
  std::vector<PluginSpec> plugins;  // in manifest order: earlier plugins win operator ties
  uint32_t threads = 0;             // `threads:` the host pool's size for every plugin; 0: the default
  uint64_t memory_budget = 0;       // `memory_budget:` bytes all methods may plan; 0: the default
  std::vector<DataSpec> data;
  std::vector<ModelSpec> models;

  const DataSpec* find_data(const std::string& name) const;
  const ModelSpec* find_model(const std::string& name) const;
};

// Parses and checks a manifest: structure, types, unknown and duplicate keys, references
// between sections, files that must exist. Every error names the file, line and column.
Result<Manifest> parse_manifest(const std::string& path);

// The same checks for a Manifest built in code (paths already resolved): unique names, files
// that exist, sha256 format, references between sections. kInvalidArgument or kNotFound.
Status check_manifest(const Manifest& manifest);

// A byte count as people write it: "1073741824", "512MiB", "2 GiB", "64K" (K, M, G, T with or
// without "iB" are powers of 1024; a plain number is bytes). False when it is not one, is zero or
// overflows.
bool parse_byte_size(const std::string& text, uint64_t* out);

// Points the data entry `name` at `path` instead (a user's override, e.g. a trained adapter
// with the same keys): the file must exist; a relative path is taken from the current folder;
// the entry's sha256, which describes the manifest's file, is dropped. kNotFound names the
// entry or file that is missing.
Status replace_data_file(Manifest* manifest, const std::string& name, const std::string& path);

}  // namespace etp::bundle
