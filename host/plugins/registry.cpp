#include "plugins/registry.h"

namespace etp::plugins {

Status Registry::add(std::shared_ptr<PluginLibrary> plugin) {
  const etp_plugin& table = plugin->table();
  for (uint32_t i = 0; i < table.num_backends; ++i) {
    const etp_backend* backend = table.backends[i];
    auto [it, inserted] = backends_.emplace(backend->id, ResolvedBackend{backend, plugin});
    if (!inserted) {
      return Status(StatusCode::kInvalidArgument, "backend '" + std::string(backend->id) + "' is provided by both " +
                                                      it->second.plugin->path() + " and " + plugin->path());
    }
  }
  plugins_.push_back(std::move(plugin));
  return Status::success();
}

Result<ResolvedKernel> Registry::resolve_kernel(const std::string& op_name) const {
  ResolvedKernel resolved;
  for (const auto& plugin : plugins_) {
    const etp_plugin& table = plugin->table();
    if (table.resolve_kernel == nullptr) continue;
    if (table.resolve_kernel(table.self, op_name.c_str(), &resolved.kernel) == ETP_OK && resolved.kernel.fn) {
      resolved.plugin = plugin;
      resolved.provider = table.name;
      return resolved;
    }
  }
  return Status(StatusCode::kNotFound, "no loaded plugin provides operator " + op_name);
}

Result<ResolvedBackend> Registry::find_backend(const std::string& id) const {
  auto it = backends_.find(id);
  if (it == backends_.end()) {
    return Status(StatusCode::kNotFound, "no loaded plugin provides backend '" + id + "' (plugins loaded: " +
                                             (plugins_.empty() ? std::string("none") : plugin_names()) + ")");
  }
  return it->second;
}

std::string Registry::plugin_names() const {
  std::string names;
  for (const auto& p : plugins_) names += (names.empty() ? "" : ", ") + std::string(p->name());
  return names;
}

}  // namespace etp::plugins
