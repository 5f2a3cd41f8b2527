// Bundle: a parsed manifest brought to life. Plugins are loaded (in manifest order) into one
// registry, each data file is mapped and verified once (sha256 checked when given) and
// shared by every model that names it, and programs open on demand with their data files.
// Not thread-safe while opening; the objects it hands out follow their own rules.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bundle/manifest.h"
#include "plugins/registry.h"
#include "runtime/method.h"

namespace etp::bundle {

struct BundleOptions {
  std::vector<std::string> plugin_paths;  // searched after the manifest's folder
};

class Bundle {
 public:
  static Result<std::unique_ptr<Bundle>> open(Manifest manifest, const BundleOptions& options = {});

  const Manifest& manifest() const { return manifest_; }
  const plugins::Registry& registry() const { return *registry_; }

  // The model's program with its data files, opened on first use. Fails if two of the
  // model's data files hold the same key (which one would win is ambiguous).
  Result<std::shared_ptr<runtime::Program>> program(const std::string& model);

  // The mapped data file of a manifest data entry.
  const runtime::DataSource* data(const std::string& name) const;

 private:
  Manifest manifest_;
  std::shared_ptr<plugins::Registry> registry_;
  std::map<std::string, runtime::DataSource> data_;  // by manifest data name
  std::map<std::string, std::shared_ptr<runtime::Program>> programs_;
};

// Resolves a plugin library name: as given if it contains a '/', else in `folder`, then each
// of `search_paths`, then the install's plugin folder. kNotFound lists where it looked.
Result<std::string> resolve_library(const std::string& library, const std::string& folder,
                                    const std::vector<std::string>& search_paths);

}  // namespace etp::bundle
