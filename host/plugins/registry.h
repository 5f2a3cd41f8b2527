// The kernels and backends the loaded plugins provide. Plugins are consulted in the order they
// were added (the manifest's order):
//  - an operator may be provided by several plugins; kernel_candidates lists them in order, and
//    the method loader gives each instruction to the first whose kernel accepts it (ABI 1.2
//    accept_kernel_call; a plugin without it accepts every call);
//  - a backend id is served by the first plugin that lists it; later plugins listing the same
//    id are recorded (also_offered_by) and logged at INFO, never used.
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
  std::vector<std::string> also_offered_by;  // later plugins listing the same id (names)
};

class Registry {
 public:
  // `host`: the service table the plugins were loaded with, which kernel calls receive (its
  // thread pool is the bundle's); null for the process default (runtime::HostServices::get()).
  explicit Registry(const etp_host_api* host = nullptr) : host_(host) {}
  const etp_host_api* host() const { return host_; }

  // Adds a plugin after the ones already present.
  Status add(std::shared_ptr<PluginLibrary> plugin);

  // Every plugin that provides `op_name`, in order (empty if none).
  std::vector<ResolvedKernel> kernel_candidates(const std::string& op_name) const;
  // kNotFound naming the backend id and the plugins loaded.
  Result<ResolvedBackend> find_backend(const std::string& id) const;

  const std::vector<std::shared_ptr<PluginLibrary>>& plugins() const { return plugins_; }
  std::string plugin_names() const;

 private:
  const etp_host_api* host_;
  std::vector<std::shared_ptr<PluginLibrary>> plugins_;
  std::map<std::string, ResolvedBackend> backends_;
};

}  // namespace etp::plugins
