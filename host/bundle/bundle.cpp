#include "bundle/bundle.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <filesystem>

#include "runtime/host_services.h"

namespace etp::bundle {
namespace {

namespace fs = std::filesystem;

std::string at(const Manifest& m, const Mark& mark) {
  return m.path + ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column) + ": ";
}

std::string sha256_hex(const uint8_t* data, size_t size) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data, size, digest, &length, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) out += {hex[digest[i] >> 4], hex[digest[i] & 15]};
  return out;
}

// Folders an installed etp looks in for plugins: next to the binary's lib folders, and the
// build tree's plugin folder when run from a build.
std::vector<std::string> install_plugin_folders() {
  std::vector<std::string> folders;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    folders.push_back((exe.parent_path() / "../plugins").lexically_normal().string());
    folders.push_back((exe.parent_path() / "../lib/etp").lexically_normal().string());
  }
  return folders;
}

}  // namespace

Result<std::string> resolve_library(const std::string& library, const std::string& folder,
                                    const std::vector<std::string>& search_paths) {
  std::error_code ec;
  if (library.find('/') != std::string::npos) {
    const fs::path p = fs::path(library).is_absolute() ? fs::path(library) : fs::path(folder) / library;
    if (fs::is_regular_file(p, ec)) return p.lexically_normal().string();
    return Status(StatusCode::kNotFound, "plugin library " + p.string() + " does not exist");
  }
  std::vector<std::string> folders{folder};
  folders.insert(folders.end(), search_paths.begin(), search_paths.end());
  for (const std::string& f : install_plugin_folders()) folders.push_back(f);
  std::string looked;
  for (const std::string& f : folders) {
    const fs::path p = fs::path(f) / library;
    if (fs::is_regular_file(p, ec)) return p.lexically_normal().string();
    looked += (looked.empty() ? "" : ", ") + f;
  }
  return Status(StatusCode::kNotFound, "plugin library " + library + " not found (looked in " + looked +
                                         "; add a folder with --plugin-path)");
}

Result<std::unique_ptr<Bundle>> Bundle::open(Manifest manifest, const BundleOptions& options) {
  std::unique_ptr<Bundle> bundle(new Bundle());
  bundle->manifest_ = std::move(manifest);
  const Manifest& m = bundle->manifest_;
  bundle->registry_ = std::make_shared<plugins::Registry>();
  for (const PluginSpec& spec : m.plugins) {
    auto path = resolve_library(spec.library, m.folder, options.plugin_paths);
    if (!path.ok()) return Status(path.status().code(), at(m, spec.mark) + "plugin '" + spec.name + "': " + path.status().message());
    auto plugin = plugins::PluginLibrary::load(*path, *runtime::HostServices::get().api(), spec.options);
    if (!plugin.ok()) return Status(plugin.status().code(), at(m, spec.mark) + plugin.status().message());
    if (Status s = bundle->registry_->add(std::move(*plugin)); !s.ok()) return Status(s.code(), at(m, spec.mark) + s.message());
  }
  std::map<std::string, runtime::DataSource> by_path;  // one mapping per file, whatever its names
  uint64_t next_id = 1;
  for (const DataSpec& spec : m.data) {
    auto it = by_path.find(spec.path);
    if (it == by_path.end()) {
      auto file = format::DataFile::open(spec.path);
      if (!file.ok()) return Status(file.status().code(), at(m, spec.mark) + file.status().message());
      if (!spec.sha256.empty()) {
        const std::string actual = sha256_hex(file->file().data(), file->file().size());
        if (actual != spec.sha256) {
          return Status(StatusCode::kInvalidArgument, at(m, spec.mark) + "data file " + spec.path + " has sha256 " +
                                                        actual + ", the manifest expects " + spec.sha256);
        }
      }
      runtime::DataSource source{std::make_shared<const format::DataFile>(std::move(*file)), next_id++,
                                 spec.weight_cache};
      it = by_path.emplace(spec.path, std::move(source)).first;
    }
    bundle->data_[spec.name] = it->second;
  }
  return bundle;
}

const runtime::DataSource* Bundle::data(const std::string& name) const {
  auto it = data_.find(name);
  return it == data_.end() ? nullptr : &it->second;
}

Result<std::shared_ptr<runtime::Program>> Bundle::program(const std::string& model) {
  if (auto it = programs_.find(model); it != programs_.end()) return it->second;
  const ModelSpec* spec = manifest_.find_model(model);
  if (spec == nullptr) {
    std::string names;
    for (const ModelSpec& m : manifest_.models) names += (names.empty() ? "" : ", ") + m.name;
    return Status(StatusCode::kNotFound, manifest_.path + ": no model '" + model + "' (models: " + names + ")");
  }
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
  auto program = runtime::Program::open(spec->program, std::move(sources), registry_);
  if (!program.ok()) return program.status();
  programs_[model] = *program;
  return *program;
}

}  // namespace etp::bundle
