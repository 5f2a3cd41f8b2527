#include "bundle/bundle.h"

#include <dlfcn.h>
#include <openssl/evp.h>
#include <atomic>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "runtime/host_services.h"

namespace etp::bundle {
namespace {

namespace fs = std::filesystem;

// "manifest.yaml:3:5: ", or "" for a bundle described in code (no manifest, no marks).
std::string at(const Manifest& m, const Mark& mark) {
  if (m.path.empty()) return "";
  if (mark.line == 0) return m.path + ": ";
  return m.path + ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column) + ": ";
}

}  // namespace

std::string sha256_hex(const uint8_t* data, size_t size) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data, size, digest, &length, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) out += {hex[digest[i] >> 4], hex[digest[i] & 15]};
  return out;
}

namespace {

// The file (executable or shared object) this code was linked into.
fs::path own_binary() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<const void*>(&own_binary), &info) != 0 && info.dli_fname != nullptr &&
      info.dli_fname[0] != '\0') {
    std::error_code ec;
    const fs::path path = fs::canonical(info.dli_fname, ec);
    if (!ec) return path;
  }
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec);
}

std::vector<std::string> split_path_list(const char* list) {
  std::vector<std::string> out;
  std::string item;
  for (const char* c = list; c != nullptr; ++c) {
    if (*c == ':' || *c == '\0') {
      if (!item.empty()) out.push_back(item);
      item.clear();
      if (*c == '\0') break;
    } else {
      item += *c;
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> plugin_folders() {
  std::vector<std::string> folders;
  const fs::path binary = own_binary();
  if (!binary.empty()) {
    folders.push_back((binary.parent_path() / "../plugins").lexically_normal().string());
    folders.push_back((binary.parent_path() / "../lib/etp").lexically_normal().string());
  }
#ifdef ETP_INSTALL_PLUGIN_DIR
  if (std::find(folders.begin(), folders.end(), ETP_INSTALL_PLUGIN_DIR) == folders.end()) {
    folders.push_back(ETP_INSTALL_PLUGIN_DIR);
  }
#endif
  return folders;
}

std::vector<std::string> plugin_search_folders(const BundleOptions& options) {
  std::vector<std::string> folders = options.plugin_paths;
  if (options.use_environment) {
    for (const std::string& f : split_path_list(std::getenv("ETP_PLUGIN_PATH"))) folders.push_back(f);
  }
  for (const std::string& f : plugin_folders()) folders.push_back(f);
  return folders;
}

Result<std::string> resolve_library(const std::string& library, const std::string& folder,
                                    const BundleOptions& options) {
  std::error_code ec;
  if (library.find('/') != std::string::npos) {
    const fs::path p = fs::path(library).is_absolute() ? fs::path(library) : fs::path(folder) / library;
    if (fs::is_regular_file(p, ec)) return p.lexically_normal().string();
    return Status(StatusCode::kNotFound, "plugin library " + p.string() + " does not exist");
  }
  const bool short_name = library.find(".so") == std::string::npos;
  const std::string file = short_name ? "libetp_" + library + ".so" : library;
  const std::vector<std::string> folders = plugin_search_folders(options);
  std::string looked;
  for (const std::string& f : folders) {
    const fs::path p = fs::path(f) / file;
    if (fs::is_regular_file(p, ec)) return p.lexically_normal().string();
    looked += (looked.empty() ? "" : ", ") + f;
  }
  return Status(StatusCode::kNotFound, "plugin library " + file + " not found (looked in " + looked +
                                           "; add a folder with --plugin-path or ETP_PLUGIN_PATH)");
}

Result<std::unique_ptr<Bundle>> Bundle::open(Manifest manifest, const BundleOptions& options) {
  std::unique_ptr<Bundle> bundle(new Bundle());
  bundle->manifest_ = std::move(manifest);
  const Manifest& m = bundle->manifest_;
  // One host table, and so one thread pool, for every plugin of the bundle, sized by `threads:`.
  const etp_host_api* host = runtime::HostServices::for_threads(m.threads).api();
  bundle->registry_ = std::make_shared<plugins::Registry>(host);
  bundle->file_access_ = options.file_access;
  bundle->budget_ =
      std::make_shared<runtime::MemoryBudget>(options.memory_budget != 0 ? options.memory_budget
                                              : m.memory_budget != 0     ? m.memory_budget
                                                                         : runtime::MemoryBudget::default_limit());
  for (const PluginSpec& spec : m.plugins) {
    auto path = resolve_library(spec.library, m.folder, options);
    if (!path.ok())
      return Status(path.status().code(), at(m, spec.mark) + "plugin '" + spec.name + "': " + path.status().message());
    auto plugin = plugins::PluginLibrary::load(*path, *host, spec.options);
    if (!plugin.ok()) return Status(plugin.status().code(), at(m, spec.mark) + plugin.status().message());
    if (Status s = bundle->registry_->add(std::move(*plugin)); !s.ok())
      return Status(s.code(), at(m, spec.mark) + s.message());
  }
  std::map<std::string, runtime::DataSource> by_path;  // one mapping per file (canonical path), whatever its names
  // Plugin instances are shared between bundles, and their weight caches key packed weights by
  // file id: ids must be unique in the process, not per bundle.
  static std::atomic<uint64_t> next_id{1};
  for (const DataSpec& spec : m.data) {
    // Keyed by the file, not the spelling: "a/../w.ptd", an absolute path or a --data override
    // naming a file another entry names still share one mapping.
    std::error_code ec;
    std::string key = std::filesystem::weakly_canonical(spec.path, ec).string();
    if (ec) key = spec.path;
    auto it = by_path.find(key);
    if (it == by_path.end()) {
      auto bytes = MappedFile::open(spec.path, options.file_access);
      if (!bytes.ok()) return Status(bytes.status().code(), at(m, spec.mark) + bytes.status().message());
      // The checksum first: a file that is not the one the manifest names is never parsed.
      if (!spec.sha256.empty()) {
        const std::string actual = sha256_hex((*bytes)->data(), (*bytes)->size());
        if (actual != spec.sha256) {
          return Status(StatusCode::kInvalidArgument, at(m, spec.mark) + "data file " + spec.path + " has sha256 " +
                                                          actual + ", the manifest expects " + spec.sha256);
        }
      }
      auto file = format::DataFile::open(std::move(*bytes));
      if (!file.ok()) return Status(file.status().code(), at(m, spec.mark) + file.status().message());
      runtime::DataSource source{std::make_shared<const format::DataFile>(std::move(*file)), next_id++,
                                 spec.weight_cache};
      it = by_path.emplace(key, std::move(source)).first;
    }
    bundle->data_[spec.name] = it->second;
  }
  return bundle;
}

const runtime::DataSource* Bundle::data(const std::string& name) const {
  auto it = data_.find(name);
  return it == data_.end() ? nullptr : &it->second;
}

const ModelSpec* Bundle::find_model(const std::string& model, Status* missing) const {
  if (const ModelSpec* spec = manifest_.find_model(model)) return spec;
  std::string names;
  for (const ModelSpec& m : manifest_.models) names += (names.empty() ? "" : ", ") + m.name;
  *missing = Status(StatusCode::kNotFound, at(manifest_, Mark{}) + "no model '" + model +
                                               "' (models: " + (names.empty() ? "none" : names) + ")");
  return nullptr;
}

Result<std::shared_ptr<runtime::Program>> Bundle::program(const std::string& model) {
  std::lock_guard<std::mutex> lock(programs_mutex_);
  if (auto it = programs_.find(model); it != programs_.end()) return it->second;
  Status missing;
  const ModelSpec* spec = find_model(model, &missing);
  if (spec == nullptr) return missing;
  std::vector<runtime::DataSource> sources;
  std::map<std::string_view, const std::string*> owner;  // key -> data name, to find duplicates
  for (const std::string& name : spec->data) {
    const runtime::DataSource& source = data_.at(name);
    for (const format::DataEntry& e : source.file->entries()) {
      auto [it, inserted] = owner.emplace(e.key, &name);
      if (!inserted) {
        return Status(StatusCode::kInvalidArgument, at(manifest_, spec->mark) + "model '" + model + "': key '" +
                                                        std::string(e.key) + "' is in both data '" + *it->second +
                                                        "' and data '" + name + "'");
      }
    }
    sources.push_back(source);
  }
  auto program = runtime::Program::open(spec->program, std::move(sources), registry_, file_access_);
  if (!program.ok())
    return Status(program.status().code(),
                  at(manifest_, spec->mark) + "model '" + model + "': " + program.status().message());
  (*program)->set_memory_budget(budget_);
  programs_[model] = *program;
  return *program;
}

}  // namespace etp::bundle
