// Bundle: a parsed manifest brought to life. Plugins are loaded (in manifest order) into one
// registry, each data file is mapped and verified once (sha256 checked when given) and
// shared by every model that names it, and programs open on demand with their data files.
// Thread-safe once open: programs open under a lock; the objects it hands out follow their
// own rules.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bundle/manifest.h"
#include "plugins/registry.h"
#include "runtime/method.h"

namespace etp::bundle {

struct BundleOptions {
  std::vector<std::string> plugin_paths;      // searched first for libraries named without a '/'
  bool use_environment = true;                // then the ETP_PLUGIN_PATH folders
  FileAccess file_access = FileAccess::kMap;  // how programs and data files are read
  uint64_t memory_budget = 0;  // over the manifest's memory_budget; 0: it, else MemoryBudget::default_limit()
};

class Bundle {
 public:
  static Result<std::unique_ptr<Bundle>> open(Manifest manifest, const BundleOptions& options = {});

  const Manifest& manifest() const { return manifest_; }
  const plugins::Registry& registry() const { return *registry_; }

  // The model's program with its data files, opened on first use. Fails if two of the
  // model's data files hold the same key (which one would win is ambiguous).
  Result<std::shared_ptr<runtime::Program>> program(const std::string& model);
  // "no model 'x' (models: a, b)", kNotFound, or null when the model exists.
  const ModelSpec* find_model(const std::string& model, Status* missing) const;

  // The mapped data file of a manifest data entry.
  const runtime::DataSource* data(const std::string& name) const;

 private:
  Manifest manifest_;
  std::shared_ptr<plugins::Registry> registry_;
  std::map<std::string, runtime::DataSource> data_;  // by manifest data name
  FileAccess file_access_ = FileAccess::kMap;
  std::shared_ptr<runtime::MemoryBudget> budget_;  // what every loaded method's planned memory is charged to
  std::mutex programs_mutex_;
  std::map<std::string, std::shared_ptr<runtime::Program>> programs_;
};

// Resolves a plugin library: a name containing a '/' is a path (relative to `folder`, the
// manifest's); any other name is looked up in `options.plugin_paths`, then the ETP_PLUGIN_PATH
// folders, then the installed plugin folders (plugin_folders()). A short name without ".so"
// ("portable") means the library of that plugin ("libetp_portable.so"). kNotFound lists where
// it looked.
Result<std::string> resolve_library(const std::string& library, const std::string& folder,
                                    const BundleOptions& options);

// Where libraries named without a '/' are looked for, in order: options.plugin_paths, the
// ETP_PLUGIN_PATH folders (when use_environment), plugin_folders().
std::vector<std::string> plugin_search_folders(const BundleOptions& options);

// The SHA-256 of `size` bytes at `data`, as lower-case hex.
std::string sha256_hex(const uint8_t* data, size_t size);

// The installed plugin folders: `<dir>/../plugins` and `<dir>/../lib/etp` around the binary or
// shared object that contains etp (the `etp` command, a program embedding the library, or the
// Python module), then the configured install folder.
std::vector<std::string> plugin_folders();

}  // namespace etp::bundle
