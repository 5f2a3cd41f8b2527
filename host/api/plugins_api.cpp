// Plugins on the search path (find_plugins) and which plugin serves each operator and delegate
// of a program (program_coverage): what `etp plugins` and `etp inspect --coverage` print.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "api/api_internal.h"
#include "plugins/plugin_check.h"
#include "runtime/host_services.h"
#include "runtime/prim_ops.h"

namespace etp {

namespace api {

PluginInfo describe_plugin(const plugins::PluginLibrary& plugin, bool with_kernels) {
  const etp_plugin& t = plugin.table();
  PluginInfo info;
  info.name = t.name;
  info.library = plugin.path();
  info.version = t.version ? t.version : "";
  info.abi_major = t.header.major;
  info.abi_minor = t.header.minor;
  for (uint32_t i = 0; i < t.num_backends; ++i) info.backends.push_back(t.backends[i]->id);
  if (t.num_kernels != nullptr) info.num_kernels = t.num_kernels(t.self);
  for (uint32_t i = 0; with_kernels && t.kernel_name != nullptr && i < info.num_kernels; ++i) {
    const char* name = t.kernel_name(t.self, i);
    info.kernels.push_back(name ? name : "");
  }
  return info;
}

}  // namespace api

std::vector<FoundPlugin> find_plugins(const BundleOptions& options) {
  namespace fs = std::filesystem;
  std::vector<FoundPlugin> out;
  std::set<std::string> names;
  for (const std::string& folder : bundle::plugin_search_folders({options.plugin_paths, options.use_environment})) {
    std::error_code ec;
    std::vector<fs::path> files;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      std::error_code type_ec;
      if (name.rfind("libetp_", 0) == 0 && name.size() > 10 && name.compare(name.size() - 3, 3, ".so") == 0 &&
          it->is_regular_file(type_ec)) {
        files.push_back(it->path());
      }
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      if (!names.insert(file.filename().string()).second) continue;  // shadowed by an earlier folder
      FoundPlugin found;
      found.library = file.lexically_normal().string();
      auto loaded = plugins::PluginLibrary::load(found.library, *runtime::HostServices::get().api());
      if (loaded.ok()) {
        found.info = api::describe_plugin(**loaded, /*with_kernels=*/true);
      } else {
        found.error = loaded.status().message();
      }
      out.push_back(std::move(found));
    }
  }
  return out;
}

Result<std::vector<CoverageEntry>> program_coverage(const std::string& program, const std::vector<std::string>& plugins,
                                                    const BundleOptions& options) {
  ETP_TRY(Bundle bundle, Bundle::open(BundleSpec::for_program(program, {}, plugins), options));
  ETP_TRY(ModelInfo model, bundle.model("model"));
  const plugins::Registry& registry = bundle.impl()->bundle->registry();
  std::vector<CoverageEntry> out;
  for (const MethodInfo& method : model.methods) {
    // Which plugin serves each call is decided per instruction when the method loads (a kernel
    // may decline a call); when the method cannot load, the first plugin providing it is named.
    std::map<std::string, std::vector<std::pair<std::string, uint32_t>>> served;
    if (auto loaded = bundle.load_method("model", method.name); loaded.ok()) {
      for (auto& s : loaded->impl()->method->operator_services()) served[s.op] = std::move(s.plugins);
    }
    std::set<std::string> seen;
    for (const std::string& op : method.operators) {
      if (!seen.insert("op " + op).second) continue;
      CoverageEntry entry{method.name, "operator", op, "", {}};
      etp_kernel prim{};
      if (runtime::find_prim_op(op, &prim)) {
        entry.plugin = "host";
        out.push_back(std::move(entry));
        continue;
      }
      const std::vector<plugins::ResolvedKernel> candidates = registry.kernel_candidates(op);
      auto it = served.find(op);
      if (it != served.end()) {
        entry.plugin = runtime::Method::describe_shares(it->second);
      } else if (!candidates.empty()) {
        entry.plugin = candidates.front().provider;
      }
      for (const plugins::ResolvedKernel& c : candidates) {
        const bool serves = it != served.end() ? std::any_of(it->second.begin(), it->second.end(),
                                                             [&](const auto& p) { return p.first == c.provider; })
                                               : c.provider == entry.plugin;
        if (!serves) entry.also_offered_by.push_back(c.provider);
      }
      out.push_back(std::move(entry));
    }
    for (const std::string& id : method.backends) {
      if (!seen.insert("backend " + id).second) continue;
      auto backend = registry.find_backend(id);
      out.push_back({method.name, "backend", id, backend.ok() ? std::string(backend->plugin->name()) : "",
                     backend.ok() ? backend->also_offered_by : std::vector<std::string>{}});
    }
  }
  return out;
}

namespace {

// The backend life cycle on `program`'s delegates (a check of check_plugin, run in a child).
std::pair<bool, std::string> check_backend_program(const std::string& library, const std::string& program,
                                                   const PluginCheckOptions& options) {
  auto coverage = program_coverage(program, {library}, options.bundle);
  if (!coverage.ok()) return {false, coverage.status().message()};
  std::set<std::string> methods, backends;
  for (const CoverageEntry& e : *coverage) {
    if (e.kind == "backend" && !e.plugin.empty()) {
      methods.insert(e.method);
      backends.insert(e.name);
    }
  }
  if (methods.empty()) return {false, program + " has no delegate of the plugin's backends"};
  // The plugin first, then the shipped ones for what runs outside its delegates.
  std::vector<std::string> plugins = {library};
  const std::string file = std::filesystem::path(library).filename().string();
  for (const std::string& p : default_plugins()) {
    if (file != "libetp_" + p + ".so") plugins.push_back(p);  // a shipped plugin under test is listed once
  }
  auto bundle = Bundle::open(BundleSpec::for_program(program, options.data_files, plugins), options.bundle);
  if (!bundle.ok()) return {false, bundle.status().message()};
  for (const std::string& name : methods) {
    const std::string where = program + ":" + name + ": ";
    {
      auto once = bundle->load_method("model", name);  // init, then destroy without execute
      if (!once.ok()) return {false, where + "init: " + once.status().message()};
    }
    auto a = bundle->load_method("model", name);
    auto b = bundle->load_method("model", name);  // a second init while the first lives
    if (!a.ok() || !b.ok()) return {false, where + "repeated init: " + (a.ok() ? b : a).status().message()};
    std::vector<std::vector<uint8_t>> buffers;
    std::vector<TensorRef> inputs;
    for (const ValueInfo& in : a->info().inputs) {
      if (in.kind != ValueKind::kTensor)
        return {false, where + "takes a non-tensor input; give it a program with tensors only"};
      buffers.emplace_back(in.tensor.nbytes());
      inputs.push_back({in.tensor.dtype, in.tensor.sizes, buffers.back().data(), buffers.back().size()});
    }
    for (Method* m : {&*a, &*b, &*a}) {
      if (auto out = m->run(inputs); !out.ok()) return {false, where + "execute: " + out.status().message()};
    }
  }
  std::string list;
  for (const std::string& id : backends) list += (list.empty() ? "" : ", ") + id;
  return {true, program + ": " + list + " in " + std::to_string(methods.size()) +
                    " method(s): init, destroy without execute, repeated init, execute on zero inputs"};
}

}  // namespace

std::vector<PluginCheck> check_plugin(const std::string& library, const PluginCheckOptions& options) {
  std::vector<plugins::ExtraPluginCheck> extra;
  for (const std::string& program : options.programs) {
    extra.push_back({"backend_program", [=] { return check_backend_program(library, program, options); }});
  }
  // The portable plugin, where a manifest naming "portable" finds it ("" when nowhere).
  auto reference =
      bundle::resolve_library("portable", "", {options.bundle.plugin_paths, options.bundle.use_environment});
  std::vector<PluginCheck> out;
  for (auto& r : plugins::check_plugin_library(library, options.timeout_ms, reference.ok() ? *reference : "", extra))
    out.push_back({r.name, r.status, r.detail});
  return out;
}

}  // namespace etp
