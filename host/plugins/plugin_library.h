// A loaded plugin: the shared object (Boost.DLL), its negotiated etp_plugin table, and the
// shutdown call. Everything made from a plugin holds a shared_ptr to it, so the library is
// unloaded only after the last kernel, delegate or method that uses it is gone.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "etp_plugin.h"

namespace etp::plugins {

// Size of the v1.0 etp_plugin / etp_backend: a table shorter than this is not ABI 1.x.
constexpr size_t kPluginV1Size = offsetof(etp_plugin, backends) + sizeof(etp_plugin::backends);
constexpr size_t kBackendV1Size = offsetof(etp_backend, destroy) + sizeof(etp_backend::destroy);

using Options = std::vector<std::pair<std::string, std::string>>;

// A delegate using a cache entry (ABI 1.2 etp_cache_user).
struct CacheUser {
  uint64_t method_id = 0;  // runtime::Method::id() of its method
  uint32_t delegate_index = 0;
};

// One entry of a plugin's weight cache, as the plugin reports it (etp_cache_record, or the
// older etp_cache_entry of ABI 1.1 plugins).
struct CacheEntry {
  std::string key;
  bool shared = false;  // the weight cache proper; false: private to its one user
  uint64_t file_id = 0;
  uint64_t packed_bytes = 0;
  std::vector<std::string> users;  // "<program>:<method>:<delegate>", for display
  std::vector<CacheUser> user_ids; // the same users, structured; empty for ABI 1.1 plugins
};

class PluginLibrary {
 public:
  // Loads `path`, queries its table and checks it against this host's ABI: matching major,
  // a struct large enough for every v1.0 member, required slots present, backends well formed.
  // Then calls init with `options`. `host` is the service table the plugin keeps (it must outlive
  // the plugin). Each failure names the plugin file and what was expected. Loads of one library
  // file with the same host table and equal options share one instance; with another table or
  // other options, while an instance is alive, a private copy of the library is loaded (plugins
  // keep their state in globals).
  static Result<std::shared_ptr<PluginLibrary>> load(const std::string& path, const etp_host_api& host,
                                                     const Options& options = {});

  ~PluginLibrary();
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;

  const std::string& path() const { return path_; }
  const char* name() const { return table_->name; }
  const etp_plugin& table() const { return *table_; }
  // The plugin's packed weights, shared and private (empty when the plugin has none or
  // predates ABI minor 1). From cache_records when the plugin has it (minor 2), else from
  // cache_report, whose users are strings. `label_method` names a method id in `users`
  // (runtime::Method::label_of; default "method <id>").
  std::vector<CacheEntry> cache_report(const std::function<std::string(uint64_t)>& label_method = nullptr) const;

 private:
  struct Library;  // hides Boost.DLL from every other file
  PluginLibrary(std::string path, std::unique_ptr<Library> library, const etp_plugin* table);
  // Loads `load_name` (the file, or /proc/self/fd/<n> for a private copy) as `path`.
  static Result<std::shared_ptr<PluginLibrary>> load_instance(const std::string& path, const std::string& load_name,
                                                              const etp_host_api& host, const Options& options);

  std::string path_;
  std::unique_ptr<Library> library_;
  const etp_plugin* table_;
};

}  // namespace etp::plugins
