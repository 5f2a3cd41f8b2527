// The kernels and backends the loaded plugins provide. Plugins are searched in the order
// they were added (the manifest's order), so when two plugins provide one operator the
// earlier one wins; which plugin serves each operator is reported by describe_kernel.
// Built once, then read-only: thread-safe for lookups.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "etp_plugin.h"
#include "plugins/plugin_library.h"

namespace etp::plugins {

struct ResolvedKernel {
  etp_kernel kernel{};
  std::shared_ptr<PluginLibrary> plugin;
  std::string provider;  // the plugin's name
};

struct ResolvedBackend {
  const etp_backend* backend = nullptr;
  std::shared_ptr<PluginLibrary> plugin;
};

class Registry {
 public:
  // Adds a plugin after the ones already present. Fails if one of its backend ids is already
  // served by an earlier plugin (a backend id must be unambiguous).
  Status add(std::shared_ptr<PluginLibrary> plugin);

  // The first plugin, in order, that provides `op_name`. kNotFound if none has it.
  Result<ResolvedKernel> resolve_kernel(const std::string& op_name) const;
  // kNotFound naming the backend id and the plugins loaded.
  Result<ResolvedBackend> find_backend(const std::string& id) const;

  const std::vector<std::shared_ptr<PluginLibrary>>& plugins() const { return plugins_; }
  std::string plugin_names() const;

 private:
  std::vector<std::shared_ptr<PluginLibrary>> plugins_;
  std::map<std::string, ResolvedBackend> backends_;
};

}  // namespace etp::plugins
