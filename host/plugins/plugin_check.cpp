#include "plugins/plugin_check.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <link.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "etp_plugin.h"
#include "plugins/elf_symbols.h"
#include "plugins/plugin_check_kernels.h"
#include "plugins/plugin_library.h"

namespace etp::plugins {
namespace {

struct Outcome {
  bool ok = true;
  std::string detail;
};

// ---- exported symbols, from the ELF dynamic symbol table (plugins/elf_symbols.h) ----------

// The symbols that the libraries `plugin` needs import (what an export of the plugin would take
// over: their calls bind to the plugin first when it loads them). Loads the plugin to find them.
std::set<std::string> imported_by_dependencies(const std::string& plugin, const std::vector<std::string>& needed) {
  std::set<std::string> imports;
  if (dlopen(plugin.c_str(), RTLD_LAZY | RTLD_LOCAL) == nullptr) return imports;
  for (const std::string& name : needed) {
    void* handle = dlopen(name.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    link_map* map = nullptr;
    if (handle == nullptr || dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || map == nullptr) continue;
    std::string error;
    DynamicSymbols dep;
    if (read_dynamic_symbols(map->l_name, &dep, &error)) imports.insert(dep.imports.begin(), dep.imports.end());
  }
  return imports;
}

// ---- a host for the checks: it records what the plugin logs ------------------------------

std::vector<std::string> g_errors;  // ERROR lines the plugin logged (child process only)

void host_log(void*, int32_t level, const char* message) {
  if (level >= ETP_LOG_ERROR) g_errors.emplace_back(message != nullptr ? message : "(null)");
}
void* host_allocate(void*, uint64_t size, uint64_t alignment) {
  return std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
}
void host_free(void*, void* p) { std::free(p); }
etp_status host_resize(void*, etp_tensor* t, int32_t rank, const int64_t* sizes) {
  return resize_checked_tensor(t, rank, sizes);
}
etp_status host_find(void*, const etp_named_data_map*, const char*, etp_named_data*) { return ETP_ERR_NOT_FOUND; }
void host_release(void*, const etp_named_data_map*, const char*) {}

etp_host_api make_host(uint16_t major, uint16_t minor) {
  etp_host_api h{};
  h.header = {static_cast<uint32_t>(sizeof(etp_host_api)), major, minor};
  h.log = host_log;
  h.allocate = host_allocate;
  h.free = host_free;
  h.resize_tensor = host_resize;
  h.find_named_data = host_find;
  h.release_named_data = host_release;
  return h;
}

// The host of this ABI the checks give the plugin (one per check process).
etp_host_api* checker_host() {
  static etp_host_api host = make_host(ETP_ABI_MAJOR, ETP_ABI_MINOR);
  host.self = &host;
  return &host;
}

// A host of a later minor: a longer table whose extra members are zero.
struct NewerHost {
  etp_host_api api;
  void* future[8];
};

using QueryFn = const etp_plugin* (*)(const etp_host_api*);

QueryFn open_query(const std::string& path, Outcome* o) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    o->ok = false;
    o->detail = std::string("dlopen failed: ") + ::dlerror();
    return nullptr;
  }
  auto fn = reinterpret_cast<QueryFn>(::dlsym(handle, ETP_PLUGIN_QUERY_SYMBOL));
  if (fn == nullptr) {
    o->ok = false;
    o->detail = "no exported " ETP_PLUGIN_QUERY_SYMBOL;
  }
  return fn;
}

// The table the plugin gives the current host, checked for what every later check needs.
const etp_plugin* current_table(const std::string& path, Outcome* o) {
  QueryFn query = open_query(path, o);
  if (query == nullptr) return nullptr;
  const etp_plugin* t = query(checker_host());
  auto fail = [&](const std::string& why) {
    o->ok = false;
    o->detail = why;
    return nullptr;
  };
  if (t == nullptr)
    return fail("etp_plugin_query returned NULL for a host of its own ABI " + std::to_string(ETP_ABI_MAJOR) + "." +
                std::to_string(ETP_ABI_MINOR));
  if (t->header.major != ETP_ABI_MAJOR)
    return fail("the table says ABI major " + std::to_string(t->header.major) + ", expected " +
                std::to_string(ETP_ABI_MAJOR));
  if (t->header.struct_size < kPluginV1Size)
    return fail("the table's struct_size is " + std::to_string(t->header.struct_size) +
                ", an ABI 1.0 etp_plugin has at least " + std::to_string(kPluginV1Size) + " bytes");
  if (t->name == nullptr || t->name[0] == '\0') return fail("the table has no name");
  if (t->version == nullptr) return fail("the table has no version (NULL)");
  return t;
}

// ---- the checks ----------------------------------------------------------------------------

Outcome check_symbols(const std::string& path) {
  Outcome o;
  std::string error;
  DynamicSymbols symbols;
  if (!read_dynamic_symbols(path, &symbols, &error)) return {false, error};
  std::set<std::string> extra(symbols.exports.begin(), symbols.exports.end());
  const bool has_query = extra.erase(ETP_PLUGIN_QUERY_SYMBOL) > 0;
  if (!has_query) return {false, "does not export " ETP_PLUGIN_QUERY_SYMBOL};
  if (extra.empty()) return {true, "exports exactly " ETP_PLUGIN_QUERY_SYMBOL};
  // An export that a library the plugin needs imports takes over that library's calls (the
  // XNNPACK plugin does so with pthreadpool's): deliberate, and named. Anything else leaks.
  const std::set<std::string> imported = imported_by_dependencies(path, symbols.needed);
  std::string leaked, taken;
  for (const std::string& n : extra) {
    std::string& list = imported.count(n) != 0 ? taken : leaked;
    list += (list.empty() ? "" : ", ") + n;
  }
  if (!leaked.empty()) {
    const size_t count = std::count(leaked.begin(), leaked.end(), ',') + 1;
    return {false, "exports " + std::to_string(count) + " symbol(s) besides " ETP_PLUGIN_QUERY_SYMBOL + ": " + leaked +
                       " (build with hidden visibility and etp's version script)"};
  }
  return {true, "exports " ETP_PLUGIN_QUERY_SYMBOL " and " + std::to_string(extra.size()) +
                    " symbol(s) its dependencies call, taking those calls over: " + taken};
}

Outcome check_query(const std::string& path) {
  Outcome o;
  const etp_plugin* t = current_table(path, &o);
  if (t == nullptr) return o;
  return {true, std::string("'") + t->name + "' " + t->version + ", ABI " + std::to_string(t->header.major) + "." +
                    std::to_string(t->header.minor)};
}

Outcome check_hosts(const std::string& path) {
  Outcome o;
  QueryFn query = open_query(path, &o);
  if (query == nullptr) return o;
  std::string notes;
  etp_host_api older = make_host(ETP_ABI_MAJOR, 0);
  older.self = &older;
  const etp_plugin* t = query(&older);
  notes += t == nullptr ? "refuses a minor-0 host (allowed if it needs a newer minor)" : "serves a minor-0 host";
  NewerHost newer{make_host(ETP_ABI_MAJOR, ETP_ABI_MINOR + 1), {}};
  newer.api.header.struct_size = sizeof(NewerHost);
  newer.api.self = &newer.api;
  if (query(&newer.api) == nullptr)
    return {false, notes + "; refuses a host of a newer minor (" + std::to_string(ETP_ABI_MINOR + 1) +
                       "): minors only append, so it must serve it"};
  notes += "; serves a newer minor";
  etp_host_api other = make_host(ETP_ABI_MAJOR + 1, 0);
  other.self = &other;
  // NULL, or its own table (whose major the host then refuses), are both honest answers; a table
  // that claims the other major would let a host use structs laid out for another ABI.
  const etp_plugin* u = query(&other);
  if (u != nullptr && u->header.major != ETP_ABI_MAJOR) {
    return {false, notes + "; answers a host of major " + std::to_string(ETP_ABI_MAJOR + 1) +
                       " with a table that claims major " + std::to_string(u->header.major)};
  }
  notes += u == nullptr ? "; returns NULL to another major"
                        : "; gives another major its own table (which that host refuses)";
  return {true, notes};
}

Outcome check_null_host(const std::string& path) {
  Outcome o;
  QueryFn query = open_query(path, &o);
  if (query == nullptr) return o;
  const etp_plugin* t = query(nullptr);
  return {true, t == nullptr ? "returns NULL for a NULL host" : "returns its table for a NULL host"};
}

// init runs once per process (the contract: once after query), so each of these two checks has
// its own process.
Outcome check_init(const std::string& path) {
  Outcome o;
  const etp_plugin* t = current_table(path, &o);
  if (t == nullptr) return o;
  if (t->init == nullptr) return {true, "no init slot (so it takes no options)"};
  g_errors.clear();
  if (etp_status s = t->init(t->self, nullptr, 0); s != ETP_OK) {
    return {false, "init without options fails with status " + std::to_string(s) +
                       (g_errors.empty() ? " and logs no ERROR saying why" : ": " + g_errors.back())};
  }
  if (t->shutdown != nullptr) t->shutdown(t->self);
  return {true, t->shutdown != nullptr ? "init without options, then shutdown" : "init without options"};
}

Outcome check_unknown_option(const std::string& path) {
  Outcome o;
  const etp_plugin* t = current_table(path, &o);
  if (t == nullptr) return o;
  if (t->init == nullptr) return {true, "no init slot: the host refuses options for it"};
  const etp_option unknown = {"etp.check.no_such_option", "1"};
  g_errors.clear();
  const etp_status s = t->init(t->self, &unknown, 1);
  if (s == ETP_OK)
    return {false, "init accepts the unknown option 'etp.check.no_such_option' (unknown keys should be an error)"};
  if (g_errors.empty())
    return {false, "init refuses an unknown option with status " + std::to_string(s) + " but logs no ERROR saying why"};
  return {true, "refused, saying: " + g_errors.back()};
}

Outcome check_kernels(const std::string& path) {
  Outcome o;
  const etp_plugin* t = current_table(path, &o);
  if (t == nullptr) return o;
  if (t->init != nullptr && t->init(t->self, nullptr, 0) != ETP_OK) return {false, "init without options fails"};
  if (t->resolve_kernel == nullptr) {
    if (t->num_kernels != nullptr && t->num_kernels(t->self) > 0)
      return {false, "lists kernels but has no resolve_kernel"};
    return {true, "no kernels"};
  }
  g_errors.clear();
  etp_kernel k{};
  if (etp_status s = t->resolve_kernel(t->self, "etp_check::no_such_operator.out", &k); s != ETP_ERR_NOT_FOUND) {
    return {false, "resolving an unknown operator gives status " + std::to_string(s) +
                       ", the contract says ETP_ERR_NOT_FOUND (100)"};
  }
  if (!g_errors.empty())
    return {false, "resolving an unknown operator logs an ERROR (it should stay silent): " + g_errors.back()};
  if (t->num_kernels == nullptr || t->kernel_name == nullptr) return {true, "resolves by name; lists no kernels"};
  const uint32_t n = t->num_kernels(t->self);
  std::set<std::string> seen;
  for (uint32_t i = 0; i < n; ++i) {
    const char* name = t->kernel_name(t->self, i);
    if (name == nullptr)
      return {false, "kernel_name(" + std::to_string(i) + ") is NULL, num_kernels says " + std::to_string(n)};
    if (!seen.insert(name).second) return {false, std::string("lists '") + name + "' twice"};
    k = {};
    if (etp_status s = t->resolve_kernel(t->self, name, &k); s != ETP_OK || k.fn == nullptr) {
      return {false, std::string("lists '") + name + "' but resolving it gives status " + std::to_string(s) +
                         (k.fn == nullptr && s == ETP_OK ? " and no function" : "")};
    }
  }
  if (t->shutdown != nullptr) t->shutdown(t->self);
  return {true, "every one of its " + std::to_string(n) +
                    " listed kernels resolves; an unknown operator is ETP_ERR_NOT_FOUND, silently"};
}

Outcome check_kernel_results(const std::string& path, const std::string& reference) {
  Outcome o;
  const etp_plugin* t = current_table(path, &o);
  if (t == nullptr) return o;
  if (t->init != nullptr && t->init(t->self, nullptr, 0) != ETP_OK) return {false, "init without options fails"};
  Outcome loaded;
  QueryFn query = open_query(reference, &loaded);
  const etp_plugin* r = query == nullptr ? nullptr : query(checker_host());
  if (r == nullptr || (r->init != nullptr && r->init(r->self, nullptr, 0) != ETP_OK)) {
    return {false, "the reference plugin " + reference + " cannot be loaded" +
                       (loaded.detail.empty() ? "" : ": " + loaded.detail)};
  }
  const KernelDiff diff = compare_kernels(*t, *r, *checker_host());
  return {diff.ok, diff.detail};
}

Outcome check_backends(const std::string& path) {
  Outcome o;
  const etp_plugin* t = current_table(path, &o);
  if (t == nullptr) return o;
  if (t->num_backends > 0 && t->backends == nullptr)
    return {false, "num_backends is " + std::to_string(t->num_backends) + " but backends is NULL"};
  std::set<std::string> ids;
  for (uint32_t i = 0; i < t->num_backends; ++i) {
    const etp_backend* b = t->backends[i];
    const std::string where = "backend " + std::to_string(i);
    if (b == nullptr) return {false, where + " is NULL"};
    if (b->header.major != ETP_ABI_MAJOR || b->header.struct_size < kBackendV1Size)
      return {false, where + ": its header says ABI major " + std::to_string(b->header.major) + ", " +
                         std::to_string(b->header.struct_size) + " bytes"};
    if (b->id == nullptr || b->id[0] == '\0') return {false, where + " has no id"};
    if (!ids.insert(b->id).second) return {false, std::string("backend id '") + b->id + "' is served twice"};
    if (b->init == nullptr || b->execute == nullptr || b->destroy == nullptr) {
      return {false, std::string("backend '") + b->id + "' lacks " +
                         (b->init == nullptr      ? "init"
                          : b->execute == nullptr ? "execute"
                                                  : "destroy")};
    }
  }
  if (t->num_backends == 0) return {true, "no backends"};
  std::string list;
  for (const std::string& id : ids) list += (list.empty() ? "" : ", ") + id;
  return {true, "backends with init, execute and destroy: " + list};
}

// Runs `check` in a child process that loads the library itself; a crash or hang is reported.
PluginCheckResult run_isolated(const std::string& name, const std::function<Outcome()>& check, int timeout_ms) {
  int fds[2];
  if (::pipe(fds) != 0) return {name, "fail", std::string("cannot create a pipe: ") + std::strerror(errno)};
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return {name, "fail", std::string("cannot fork: ") + std::strerror(errno)};
  }
  if (pid == 0) {
    ::close(fds[0]);
    // What the plugin prints (or a sanitizer in its process) must not mix with the checker's
    // report; its answer comes through the pipe, a crash through the exit status.
    if (const int null = ::open("/dev/null", O_WRONLY); null >= 0) {
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
      ::close(null);
    }
    Outcome o;
    try {
      o = check();
    } catch (const std::exception& e) {
      o = {false, std::string("an exception escaped the plugin: ") + e.what()};
    } catch (...) {
      o = {false, "an exception escaped the plugin"};
    }
    const std::string message = (o.ok ? "P" : "F") + o.detail;
    for (size_t done = 0; done < message.size();) {
      const ssize_t n = ::write(fds[1], message.data() + done, message.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string message;
  char buffer[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool hung = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      hung = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n <= 0) break;
    message.append(buffer, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (hung) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (hung) return {name, "hang", "no answer within " + std::to_string(timeout_ms) + " ms"};
  if (WIFSIGNALED(status)) return {name, "crash", std::string("the plugin crashed: ") + ::strsignal(WTERMSIG(status))};
  if (message.empty())
    return {name, "crash",
            "the check's process ended without an answer (exit status " + std::to_string(WEXITSTATUS(status)) + ")"};
  return {name, message[0] == 'P' ? "pass" : "fail", message.substr(1)};
}

}  // namespace

std::vector<PluginCheckResult> check_plugin_library(const std::string& path, int timeout_ms,
                                                    const std::string& reference,
                                                    const std::vector<ExtraPluginCheck>& extra) {
  using Check = Outcome (*)(const std::string&);
  std::vector<PluginCheckResult> results;
  auto run = [&](const char* name, Check check) {
    results.push_back(run_isolated(
        name, [&] { return check(path); }, timeout_ms));
    return results.back().status == "pass";
  };
  // One report per defect: checks that need what an earlier one found broken are skipped.
  auto skip = [&](const char* name, const std::string& why) { results.push_back({name, "skip", why}); };
  if (!run("symbols", check_symbols) && results.back().detail.rfind("does not export", 0) == 0) {
    for (const char* name :
         {"query", "abi_versions", "null_host", "init", "unknown_option", "kernels", "kernel_results", "backends"}) {
      skip(name, "needs " ETP_PLUGIN_QUERY_SYMBOL " (see symbols)");
    }
    for (const ExtraPluginCheck& e : extra) skip(e.name.c_str(), "needs " ETP_PLUGIN_QUERY_SYMBOL " (see symbols)");
    return results;
  }
  if (!run("query", check_query)) {
    const bool symbol = results.back().detail.find("no exported") == std::string::npos &&
                        results.back().detail.find("dlopen failed") == std::string::npos;
    if (symbol) run("null_host", check_null_host);
    for (const char* name : {"abi_versions", "init", "unknown_option", "kernels", "kernel_results", "backends"}) {
      skip(name, "needs the table etp_plugin_query gives this host (see query)");
    }
    for (const ExtraPluginCheck& e : extra)
      skip(e.name.c_str(), "needs the table etp_plugin_query gives this host (see query)");
    return results;
  }
  run("abi_versions", check_hosts);
  run("null_host", check_null_host);
  if (run("init", check_init)) {
    run("unknown_option", check_unknown_option);
    const bool kernels_ok = run("kernels", check_kernels);
    if (reference.empty()) {
      skip("kernel_results", "no reference plugin (libetp_portable.so) was found");
    } else if (kernels_ok) {
      results.push_back(run_isolated(
          "kernel_results", [&] { return check_kernel_results(path, reference); }, timeout_ms));
    } else {
      skip("kernel_results", "needs kernels that resolve (see kernels)");
    }
  } else {
    for (const char* name : {"unknown_option", "kernels", "kernel_results"}) {
      skip(name, "needs a plugin that initialises (see init)");
    }
  }
  const bool backends_ok = run("backends", check_backends);
  for (const ExtraPluginCheck& e : extra) {
    if (!backends_ok) {
      skip(e.name.c_str(), "needs backend tables that pass (see backends)");
      continue;
    }
    results.push_back(run_isolated(
        e.name,
        [&] {
          const auto [ok, detail] = e.run();
          return Outcome{ok, detail};
        },
        timeout_ms));
  }
  return results;
}

}  // namespace etp::plugins
