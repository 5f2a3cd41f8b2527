// A loaded plugin: the shared object (Boost.DLL), its negotiated etp_plugin table, and the
// shutdown call. Everything made from a plugin holds a shared_ptr to it, so the library is
// unloaded only after the last kernel, delegate or method that uses it is gone.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "etp_plugin.h"

namespace etp::plugins {

using Options = std::vector<std::pair<std::string, std::string>>;

// One entry of a plugin's weight cache, as the plugin reports it (etp_cache_entry).
struct CacheEntry {
  std::string key;
  bool shared = false;  // the weight cache proper; false: private to its one user
  uint64_t file_id = 0;
  uint64_t packed_bytes = 0;
  std::vector<std::string> users;
};

class PluginLibrary {
 public:
  // Loads `path`, queries its table and checks it against this host's ABI: matching major,
  // a struct large enough for every v1.0 member, required slots present, backends well formed.
  // Then calls init with `options`. `host` is the service table the plugin keeps (it must outlive
  // the plugin). Each failure names the plugin file and what was expected. Loads of one library
  // file with equal options share one instance; with other options, while an instance is alive,
  // a private copy of the library is loaded (plugins keep their state in globals).
  static Result<std::shared_ptr<PluginLibrary>> load(const std::string& path, const etp_host_api& host,
                                                     const Options& options = {});

  ~PluginLibrary();
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;

  const std::string& path() const { return path_; }
  const char* name() const { return table_->name; }
  const etp_plugin& table() const { return *table_; }
  // The plugin's packed weights, shared and private (empty when the plugin has none or
  // predates ABI minor 1).
  std::vector<CacheEntry> cache_report() const;

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
