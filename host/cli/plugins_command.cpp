// `etp plugins`: every plugin library on the search path, with what it serves; `etp plugin
// check LIB`: a plugin library checked against the plugin ABI's contract.
#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "etp/etp.h"

namespace etp::cli {
namespace {

constexpr const char* kPluginsUsage =
    "usage: etp plugins [--json] [--plugin-path DIR]...\n"
    "\n"
    "Lists every plugin library (libetp_*.so) in the folders plugins are looked up in: the\n"
    "--plugin-path folders, then ETP_PLUGIN_PATH (':'-separated), then the installed plugin\n"
    "folders. A name found in two folders is listed where it is found first, as a manifest\n"
    "would load it. Each plugin is loaded to describe it: name, version, ABI version, library,\n"
    "backends and kernels; one that cannot be loaded is listed with the reason.\n"
    "\n"
    "options:\n"
    "  --json             print one JSON document: {\"folders\": [...], \"plugins\": [...]}\n"
    "  --plugin-path DIR  also look in DIR (repeat; first)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 when every plugin found loads, 1 when one does not, 2 usage error.\n";

// `items` joined by ", " in lines of at most `width` characters, each starting with `indent`.
std::string wrapped(const std::vector<std::string>& items, const std::string& indent, size_t width) {
  std::string out, line = indent;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string item = items[i] + (i + 1 < items.size() ? "," : "");
    if (line.size() > indent.size() && line.size() + 1 + item.size() > width) {
      out += line + "\n";
      line = indent;
    }
    line += (line.size() > indent.size() ? " " : "") + item;
  }
  return line.size() > indent.size() ? out + line + "\n" : out;
}

}  // namespace

int run_plugins(const std::vector<std::string>& args) {
  ParsedArgs a;
  const std::vector<OptionSpec> specs = {{OptionSpec::Kind::kFlag, "--json"},
                                         {OptionSpec::Kind::kRepeat, "--plugin-path"}};
  if (std::string error = parse_args(args, specs, &a); !error.empty()) return usage_error("plugins", error);
  if (a.help) {
    std::fputs(kPluginsUsage, stdout);
    return 0;
  }
  if (!a.positional.empty()) return usage_error("plugins", "unexpected argument '" + a.positional[0] + "'");
  const std::vector<FoundPlugin> found = find_plugins({a.all("--plugin-path"), /*use_environment=*/true, {}});
  bool all_loaded = true;
  for (const FoundPlugin& f : found) all_loaded = all_loaded && f.error.empty();
  if (a.has("--json")) {
    nlohmann::json list = nlohmann::json::array();
    for (const FoundPlugin& f : found) {
      nlohmann::json j = {{"library", f.library}};
      if (!f.error.empty()) {
        j["error"] = f.error;
      } else {
        const PluginInfo& p = f.info;
        j.update({{"name", p.name},
                  {"version", p.version},
                  {"abi", std::to_string(p.abi_major) + "." + std::to_string(p.abi_minor)},
                  {"backends", p.backends},
                  {"kernels", p.kernels}});
      }
      list.push_back(std::move(j));
    }
    const nlohmann::json doc = {{"plugins", list}};
    std::puts(doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return all_loaded ? 0 : 1;
  }
  if (found.empty()) std::puts("no plugins found (add a folder with --plugin-path or ETP_PLUGIN_PATH)");
  for (const FoundPlugin& f : found) {
    if (!f.error.empty()) {
      std::printf("%s: cannot be loaded: %s\n", f.library.c_str(), f.error.c_str());
      continue;
    }
    const PluginInfo& p = f.info;
    std::printf("%s %s (ABI %u.%u)  %s\n", p.name.c_str(), p.version.c_str(), p.abi_major, p.abi_minor,
                p.library.c_str());
    std::printf("  backends: %s\n", p.backends.empty() ? "-" : "");
    if (!p.backends.empty()) std::fputs(wrapped(p.backends, "    ", 100).c_str(), stdout);
    std::printf("  kernels: %zu\n", p.num_kernels);
    std::fputs(wrapped(p.kernels, "    ", 100).c_str(), stdout);
  }
  return all_loaded ? 0 : 1;
}

namespace {

constexpr const char* kPluginCheckUsage =
    "usage: etp plugin check LIB.so [--program FILE.pte]... [--data FILE.ptd]... [--json] [--timeout S]\n"
    "\n"
    "Checks a plugin library against the contract of etp_plugin.h, each check in a child process\n"
    "that loads the library afresh, so a plugin that crashes or hangs is reported, not fatal:\n"
    "  symbols         it exports exactly etp_plugin_query (hidden visibility, version script)\n"
    "  query           the table it gives this host: ABI major, size, name, version\n"
    "  abi_versions    it serves hosts of an older and a newer minor; another major is refused\n"
    "  null_host       etp_plugin_query(NULL) does not crash\n"
    "  init            init without options succeeds (then shutdown)\n"
    "  unknown_option  init refuses an unknown option and logs why\n"
    "  kernels         every kernel it lists resolves; an unknown operator is ETP_ERR_NOT_FOUND\n"
    "  kernel_results  its elementwise kernels (add, sub, mul, div, maximum, minimum, relu, neg,\n"
    "                  abs, exp, sigmoid, tanh, sqrt, hardtanh) give the portable plugin's outputs\n"
    "                  on generated cases: float32 and int32, broadcasting, channels-last, empty;\n"
    "                  cases it refuses are listed (a model placing it first fails there)\n"
    "  backends        its backend tables: ABI header, unique ids, init/execute/destroy\n"
    "  backend_program (one per --program) its delegates in the program: init, destroy without\n"
    "                  execute, repeated init, execute on zero inputs\n"
    "A check that needs what an earlier one found broken is skipped, so each defect is reported\n"
    "once.\n"
    "\n"
    "options:\n"
    "  --json      print {\"library\", \"passed\", \"checks\": [{\"name\", \"status\", \"detail\"}]}\n"
    "  --timeout S seconds a check may take before it is killed and reported as a hang (default 20)\n"
    "  --program FILE.pte  a program with delegates of the plugin's backends (repeat)\n"
    "  --data FILE.ptd     a data file of those programs (repeat)\n"
    "  -h, --help  show this help\n"
    "\n"
    "Exit status: 0 every check passed, 1 one did not (fail, crash or hang), 2 usage error.\n";

}  // namespace

int run_plugin(const std::vector<std::string>& args) {
  ParsedArgs a;
  const std::vector<OptionSpec> specs = {{OptionSpec::Kind::kFlag, "--json"},
                                         {OptionSpec::Kind::kOnce, "--timeout"},
                                         {OptionSpec::Kind::kRepeat, "--program"},
                                         {OptionSpec::Kind::kRepeat, "--data"}};
  if (std::string error = parse_args(args, specs, &a); !error.empty()) return usage_error("plugin", error);
  if (a.help) {
    std::fputs(kPluginCheckUsage, stdout);
    return 0;
  }
  if (a.positional.empty() || a.positional[0] != "check") {
    return usage_error("plugin", "expected 'check LIB.so' (etp plugin check LIB.so)");
  }
  if (a.positional.size() != 2) return usage_error("plugin", "'check' takes one plugin library");
  const std::string library = a.positional[1];
  double timeout = 20;
  if (a.has("--timeout") && (!parse_real(a.value("--timeout"), &timeout) || !(timeout > 0) || timeout > 3600)) {
    return usage_error("plugin", "--timeout needs seconds in (0, 3600], got '" + a.value("--timeout") + "'");
  }
  PluginCheckOptions options;
  options.timeout_ms = static_cast<int>(timeout * 1000);
  options.programs = a.all("--program");
  options.data_files = a.all("--data");
  const std::vector<PluginCheck> checks = check_plugin(library, options);
  bool passed = true;
  for (const PluginCheck& c : checks) passed = passed && (c.status == "pass" || c.status == "skip");
  if (a.has("--json")) {
    nlohmann::json list = nlohmann::json::array();
    for (const PluginCheck& c : checks) list.push_back({{"name", c.name}, {"status", c.status}, {"detail", c.detail}});
    std::printf("%s\n", nlohmann::json{{"library", library}, {"passed", passed}, {"checks", list}}.dump(2).c_str());
  } else {
    for (const PluginCheck& c : checks) {
      std::string status = c.status;
      for (char& ch : status) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      std::printf("%-5s %-15s %s\n", status.c_str(), c.name.c_str(), c.detail.c_str());
    }
    std::printf("%s: %s\n", library.c_str(), passed ? "every check passed" : "the plugin does not honour the contract");
  }
  return passed ? 0 : 1;
}

}  // namespace etp::cli
