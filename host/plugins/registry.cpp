#include "plugins/registry.h"

#include "plugins/plugin_log.h"

namespace etp::plugins {

Status Registry::add(std::shared_ptr<PluginLibrary> plugin) {
  const etp_plugin& table = plugin->table();
  for (uint32_t i = 0; i < table.num_backends; ++i) {
    const etp_backend* backend = table.backends[i];
    auto [it, inserted] = backends_.emplace(backend->id, ResolvedBackend{backend, plugin, {}});
    if (!inserted && it->second.plugin != plugin) {
      it->second.also_offered_by.push_back(plugin->name());
      const std::string message = "backend '" + std::string(backend->id) + "' is offered by " +
                                  it->second.plugin->name() + " (" + it->second.plugin->path() + ") and " +
                                  plugin->name() + " (" + plugin->path() + "); " + it->second.plugin->name() +
                                  " serves it, being earlier in the manifest's plugin order";
      PluginLog::write(ETP_LOG_INFO, message.c_str());
    }
  }
  plugins_.push_back(std::move(plugin));
  return Status::success();
}

std::vector<ResolvedKernel> Registry::kernel_candidates(const std::string& op_name) const {
  std::vector<ResolvedKernel> out;
  for (const auto& plugin : plugins_) {
    const etp_plugin& table = plugin->table();
    if (table.resolve_kernel == nullptr) continue;
    ResolvedKernel resolved;
    if (table.resolve_kernel(table.self, op_name.c_str(), &resolved.kernel) == ETP_OK && resolved.kernel.fn) {
      resolved.plugin = plugin;
      resolved.provider = table.name;
      out.push_back(std::move(resolved));
    }
  }
  return out;
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
