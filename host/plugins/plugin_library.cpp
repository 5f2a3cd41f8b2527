#include "plugins/plugin_library.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "plugins/elf_symbols.h"
#include "plugins/plugin_log.h"

namespace etp::plugins {

struct PluginLibrary::Library {
  boost::dll::shared_library handle;
};

namespace {

// A library this host cannot use as a plugin (wrong ABI, not an etp plugin, a broken table).
Status refused(const std::string& path, const std::string& why) {
  return Status(StatusCode::kNotSupported, "plugin " + path + ": " + why);
}

Status check_backend(const std::string& path, const etp_backend* b, uint32_t index) {
  const std::string where = "backend " + std::to_string(index);
  if (b == nullptr) return refused(path, where + " is NULL");
  if (b->header.major != ETP_ABI_MAJOR) {
    return refused(path, where + " was built for ABI major " + std::to_string(b->header.major) + ", expected " +
                             std::to_string(ETP_ABI_MAJOR));
  }
  if (b->header.struct_size < kBackendV1Size) {
    return refused(path, where + " table is " + std::to_string(b->header.struct_size) + " bytes, expected at least " +
                             std::to_string(kBackendV1Size));
  }
  if (b->id == nullptr) return refused(path, where + " has no id");
  if (b->init == nullptr || b->execute == nullptr || b->destroy == nullptr) {
    return refused(path, "backend '" + std::string(b->id) + "' lacks a required init, execute or destroy slot");
  }
  return Status::success();
}

Status check_table(const std::string& path, const etp_plugin* t) {
  if (t->header.major != ETP_ABI_MAJOR) {
    return refused(path, "built for ABI major " + std::to_string(t->header.major) + ", this host speaks " +
                             std::to_string(ETP_ABI_MAJOR) + "." + std::to_string(ETP_ABI_MINOR));
  }
  if (t->header.struct_size < kPluginV1Size) {
    return refused(path, "plugin table is " + std::to_string(t->header.struct_size) + " bytes, expected at least " +
                             std::to_string(kPluginV1Size) + " (ABI 1.0)");
  }
  if (t->name == nullptr) return refused(path, "required slot 'name' is NULL");
  const bool kernels = t->resolve_kernel != nullptr;
  if (!kernels && t->num_backends == 0) return refused(path, "provides neither kernels nor backends");
  if (t->num_backends > 0 && t->backends == nullptr) return refused(path, "num_backends > 0 but backends is NULL");
  for (uint32_t i = 0; i < t->num_backends; ++i) ETP_CHECK_OK(check_backend(path, t->backends[i], i));
  return Status::success();
}

// The plugins loaded in this process. A plugin library keeps its state in globals (the ABI has
// one table per library), so two bundles must not both initialise one loaded copy: bundles
// asking for the same library with the same host table and options share one instance; a bundle
// asking for other options or another host table (`etp bench --threads 1,2` holds the tables of
// two pool sizes) while another instance is listed gets a private copy of the library file
// (loaded from a memfd, so the dynamic loader sees a new object with its own globals). This is
// what lets `etp bench` hold one library at 1 and at 2 threads side by side.
//
// An instance leaves the list only after its shutdown and unload (PluginLibrary's deleter), so a
// new load never initialises globals an old shutdown is still tearing down. A copy's memfd is
// never closed: a plugin may pin itself (RTLD_NODELETE, as the XNNPACK plugin does), and the
// loader recognises loaded objects by name and inode, so reusing the fd number or inode for a
// later copy would hand back the old object.
struct Instance {
  std::string file;  // canonical path
  const etp_host_api* host;
  Options options;              // sorted by key
  const PluginLibrary* plugin;  // identity only: it may be mid-destruction
  std::weak_ptr<PluginLibrary> shared;
  const void* native;  // the dynamic loader's handle
};

std::recursive_mutex g_instances_mutex;  // a failed load's deleter runs with it held
std::vector<Instance> g_instances;

// Drops the record of the instance that lived at address `plugin` (already deleted: an address,
// never dereferenced). A new instance allocated at the same address meanwhile is alive, so only
// an expired record goes.
void forget(uintptr_t plugin) {
  const std::lock_guard<std::recursive_mutex> lock(g_instances_mutex);
  g_instances.erase(std::remove_if(g_instances.begin(), g_instances.end(),
                                   [&](const Instance& i) {
                                     return reinterpret_cast<uintptr_t>(i.plugin) == plugin && i.shared.expired();
                                   }),
                    g_instances.end());
}

// A copy of `path` in an anonymous memory file: the fd, or -1 with `error` set.
int copy_to_memfd(const std::string& path, std::string* error) {
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U  // Linux 6.3+: executable even when vm.memfd_noexec is set
#endif
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read the library file";
    return -1;
  }
  const std::string name = std::filesystem::path(path).filename().string();
  int fd = ::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_EXEC);
  if (fd < 0 && errno == EINVAL) fd = ::memfd_create(name.c_str(), MFD_CLOEXEC);  // an older kernel
  if (fd < 0) {
    *error = std::string("memfd_create failed: ") + std::strerror(errno);
    return -1;
  }
  char buffer[1 << 16];
  while (in) {
    in.read(buffer, sizeof(buffer));
    for (std::streamsize done = 0; done < in.gcount();) {
      const ssize_t n = ::write(fd, buffer + done, static_cast<size_t>(in.gcount() - done));
      if (n <= 0) {
        ::close(fd);
        *error = "cannot write the private copy";
        return -1;
      }
      done += n;
    }
  }
  return fd;
}

}  // namespace

PluginLibrary::PluginLibrary(std::string path, std::unique_ptr<Library> library, const etp_plugin* table)
    : path_(std::move(path)), library_(std::move(library)), table_(table) {}

PluginLibrary::~PluginLibrary() {
  if (table_ != nullptr && table_->shutdown != nullptr) table_->shutdown(table_->self);
}

std::vector<CacheEntry> PluginLibrary::cache_report(const std::function<std::string(uint64_t)>& label_method) const {
  std::vector<CacheEntry> out;
  // The count may grow between the two calls; the second call fills what fits.
  if (ETP_ABI_HAS(table_, cache_records)) {
    std::vector<etp_cache_record> raw(table_->cache_records(table_->self, nullptr, 0));
    raw.resize(std::min<size_t>(raw.size(),
                                table_->cache_records(table_->self, raw.data(), static_cast<uint32_t>(raw.size()))));
    for (const etp_cache_record& r : raw) {
      CacheEntry entry{r.key ? r.key : "", (r.flags & ETP_CACHE_ENTRY_SHARED) != 0, r.file_id, r.packed_bytes, {}, {}};
      for (uint32_t u = 0; r.users != nullptr && u < r.num_users; ++u) {
        entry.user_ids.push_back({r.users[u].method_id, r.users[u].delegate_index});
        const uint64_t id = r.users[u].method_id;
        entry.users.push_back((label_method ? label_method(id) : "method " + std::to_string(id)) + ":" +
                              std::to_string(r.users[u].delegate_index));
      }
      out.push_back(std::move(entry));
    }
    return out;
  }
  if (!ETP_ABI_HAS(table_, cache_report)) return out;
  std::vector<etp_cache_entry> raw(table_->cache_report(table_->self, nullptr, 0));
  raw.resize(
      std::min<size_t>(raw.size(), table_->cache_report(table_->self, raw.data(), static_cast<uint32_t>(raw.size()))));
  for (const etp_cache_entry& e : raw) {
    CacheEntry entry{e.key ? e.key : "", (e.flags & ETP_CACHE_ENTRY_SHARED) != 0, e.file_id, e.packed_bytes, {}, {}};
    std::string users = e.users ? e.users : "";
    for (size_t start = 0; !users.empty() && start <= users.size();) {
      const size_t end = users.find('\n', start);
      entry.users.push_back(users.substr(start, end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

Result<std::shared_ptr<PluginLibrary>> PluginLibrary::load(const std::string& path, const etp_host_api& host,
                                                           const Options& options) {
  std::error_code ec;
  const std::filesystem::path canonical = std::filesystem::canonical(path, ec);
  if (ec) return load_instance(path, path, host, options);  // the load reports why
  Options sorted = options;
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const std::lock_guard<std::recursive_mutex> lock(g_instances_mutex);
  bool busy = false;
  for (const Instance& i : g_instances) {
    if (i.file != canonical.string()) continue;
    if (i.host == &host && i.options == sorted) {
      if (auto shared = i.shared.lock()) return shared;
    }
    busy = true;  // another host table or other options, or an instance still shutting down
  }
  std::string load_name = path;
  if (busy) {
    std::string why;
    const int fd = copy_to_memfd(canonical.string(), &why);
    if (fd < 0) {
      return Status(StatusCode::kUnavailable, "plugin " + path +
                                                  " is already loaded with other options and a private copy cannot "
                                                  "be made: " +
                                                  why);
    }
    load_name = "/proc/self/fd/" + std::to_string(fd);
  }
  ETP_TRY(auto plugin, load_instance(path, load_name, host, options));
  g_instances.push_back(
      {canonical.string(), &host, std::move(sorted), plugin.get(), plugin, plugin->library_->handle.native()});
  return plugin;
}

Result<std::shared_ptr<PluginLibrary>> PluginLibrary::load_instance(const std::string& path,
                                                                    const std::string& load_name,
                                                                    const etp_host_api& host, const Options& options) {
  // Checked in the file before dlopen, so a library that is not a plugin for this machine never
  // runs code here (its constructors would run at load). What only loading can tell, the ABI
  // version and the table, is checked after: a plugin's constructors have run by then.
  DynamicSymbols symbols;
  std::string not_loadable;
  if (!read_dynamic_symbols(load_name, &symbols, &not_loadable)) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return Status(StatusCode::kNotFound, "cannot load plugin " + path + ": no such file");
    }
    return refused(path,
                   "is not a loadable plugin: " + not_loadable + " (checked before loading; none of its code ran)");
  }
  if (std::find(symbols.exports.begin(), symbols.exports.end(), ETP_PLUGIN_QUERY_SYMBOL) == symbols.exports.end()) {
    return refused(path, "does not export " ETP_PLUGIN_QUERY_SYMBOL
                         "; is it an etp plugin? (checked before loading; none of its code ran)");
  }
  auto library = std::make_unique<Library>();
  try {
    library->handle.load(load_name, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    // Boost's message embeds dlerror's text, which names the file and the reason.
    std::error_code ec;
    const StatusCode code = std::filesystem::exists(path, ec) ? StatusCode::kUnavailable : StatusCode::kNotFound;
    return Status(code, "cannot load plugin " + path + ": " + e.what());
  }
  if (load_name != path) {  // a private copy must be a new object, never a live one
    // (Only live instances: an unloaded one's handle address may be reused by this load.)
    const void* native = library->handle.native();
    const std::lock_guard<std::recursive_mutex> lock(g_instances_mutex);
    for (const Instance& i : g_instances) {
      if (i.native == native && !i.shared.expired()) {
        library->handle.unload();
        return Status(StatusCode::kUnavailable, "plugin " + path + ": the loader returned an already loaded copy");
      }
    }
  }
  if (!library->handle.has(ETP_PLUGIN_QUERY_SYMBOL)) {
    return refused(path, "does not export " ETP_PLUGIN_QUERY_SYMBOL "; is it an etp plugin?");
  }
  etp_plugin_query_fn query = nullptr;
  try {
    query = library->handle.get<const etp_plugin*(const etp_host_api*)>(ETP_PLUGIN_QUERY_SYMBOL);
  } catch (const std::exception& e) {
    return refused(path, std::string("cannot resolve " ETP_PLUGIN_QUERY_SYMBOL ": ") + e.what());
  }
  PluginLog::take_last_error();
  const etp_plugin* table = query(&host);
  if (table == nullptr) {
    const std::string why = PluginLog::take_last_error();
    return refused(path, "refused this host (ABI " + std::to_string(ETP_ABI_MAJOR) + "." +
                             std::to_string(ETP_ABI_MINOR) + ")" + (why.empty() ? "" : ": " + why));
  }
  ETP_CHECK_OK(check_table(path, table));
  std::vector<etp_option> raw;
  for (const auto& [key, value] : options) raw.push_back({key.c_str(), value.c_str()});
  if (!raw.empty() && table->init == nullptr) {
    return Status(StatusCode::kInvalidArgument,
                  "plugin " + path + ": plugin '" + table->name + "' takes no options, got '" + raw[0].key + "'");
  }
  // The table is recorded only after init succeeds, so a failed init is not followed by a
  // shutdown call (the contract pairs shutdown with a successful init); the library unloads.
  std::shared_ptr<PluginLibrary> plugin(new PluginLibrary(path, std::move(library), nullptr), [](PluginLibrary* p) {
    const auto address = reinterpret_cast<uintptr_t>(p);
    delete p;  // shutdown, then unload; then the record goes (a load meanwhile sees it busy)
    forget(address);
  });
  if (table->init != nullptr) {
    const etp_status status = table->init(table->self, raw.data(), static_cast<uint32_t>(raw.size()));
    if (status != ETP_OK) {
      const std::string why = PluginLog::take_last_error();
      return Status(status_code_from_plugin(status), "plugin " + path + " ('" + table->name +
                                                         "') failed to initialise (status " + std::to_string(status) +
                                                         ")" + (why.empty() ? "" : ": " + why));
    }
  }
  plugin->table_ = table;
  return plugin;
}

}  // namespace etp::plugins
