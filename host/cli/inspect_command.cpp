#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "etp/etp.h"
#include "inspect/inspect.h"

namespace etp::cli {
namespace {

constexpr const char* kInspectUsage =
    "usage: etp inspect [--json] FILE...\n"
    "       etp inspect --coverage [--json] [--plugin NAME|LIB]... [--plugin-path DIR]... PROGRAM.pte\n"
    "\n"
    "Verifies and describes ExecuTorch files:\n"
    "  .pte  methods (inputs, outputs, dtypes, shapes, dynamism), operators, delegates\n"
    "        (backend, payload size, compile specs, XNNPACK node and value counts),\n"
    "        constants (in-program and EXTERNAL keys), named data, segments, planned buffers\n"
    "  .ptd  keys with tensor layout (or 'no layout'), sizes, alignment, total bytes\n"
    "\n"
    "With --coverage: which plugin serves each operator and delegate backend of the program,\n"
    "or that none does, given the --plugins in priority order (default: every plugin found,\n"
    "as 'etp plugins' lists them).\n"
    "\n"
    "options:\n"
    "  --json             print one JSON document: {\"files\": [...], \"errors\": [...]} (with\n"
    "                     --coverage: {\"program\", \"plugins\", \"entries\", \"missing\"})\n"
    "  --coverage         the coverage of PROGRAM.pte by plugins\n"
    "  --plugin NAME|LIB  a plugin for --coverage, in priority order (repeat)\n"
    "  --plugin-path DIR  also look for plugin libraries in DIR (repeat)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exits 1 if any file fails to verify (with --coverage: if anything is not served); the\n"
    "message names the file and the problem.\n";

// `etp inspect --coverage`.
int run_coverage(const std::string& program, const ParsedArgs& a) {
  const BundleOptions options{a.all("--plugin-path"), /*use_environment=*/true, {}};
  std::vector<std::string> plugins = a.all("--plugin");
  if (plugins.empty()) {
    for (const FoundPlugin& f : find_plugins(options)) {
      if (f.error.empty()) plugins.push_back(f.library);
    }
  }
  auto entries = program_coverage(program, plugins, options);
  if (!entries.ok()) {
    std::fprintf(stderr, "etp inspect: %s\n", entries.status().message().c_str());
    return 1;
  }
  std::vector<std::string> missing;
  for (const CoverageEntry& e : *entries) {
    if (e.plugin.empty()) missing.push_back(e.method + ": " + e.name);
  }
  if (a.has("--json")) {
    nlohmann::json list = nlohmann::json::array();
    for (const CoverageEntry& e : *entries) {
      list.push_back({{"method", e.method},
                      {"kind", e.kind},
                      {"name", e.name},
                      {"plugin", e.plugin.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.plugin)},
                      {"also_offered_by", e.also_offered_by}});
    }
    const nlohmann::json doc = {{"program", program}, {"plugins", plugins}, {"entries", list}, {"missing", missing}};
    std::puts(doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return missing.empty() ? 0 : 1;
  }
  std::printf("%s with plugins:", program.c_str());
  for (const std::string& p : plugins) std::printf(" %s", p.c_str());
  std::printf("\n");
  size_t width = 0;
  for (const CoverageEntry& e : *entries) width = std::max(width, e.name.size());
  std::string method;
  for (const CoverageEntry& e : *entries) {
    if (e.method != method) std::printf("method %s:\n", (method = e.method).c_str());
    std::string also;
    for (const std::string& p : e.also_offered_by) also += (also.empty() ? "  (also offered by " : ", ") + p;
    std::printf("  %-8s  %-*s  %s%s%s\n", e.kind.c_str(), static_cast<int>(width), e.name.c_str(),
                e.plugin.empty() ? "NONE (no plugin serves it)" : e.plugin.c_str(), also.c_str(),
                also.empty() ? "" : ")");
  }
  std::printf("coverage: %zu of %zu served", entries->size() - missing.size(), entries->size());
  if (!missing.empty()) {
    std::printf("; missing:");
    for (const std::string& m : missing) std::printf(" %s", m.c_str());
  }
  std::printf("\n");
  return missing.empty() ? 0 : 1;
}

}  // namespace

int run_inspect(const std::vector<std::string>& args) {
  ParsedArgs a;
  const std::vector<OptionSpec> specs = {{OptionSpec::Kind::kFlag, "--json"},
                                         {OptionSpec::Kind::kFlag, "--coverage"},
                                         {OptionSpec::Kind::kRepeat, "--plugin"},
                                         {OptionSpec::Kind::kRepeat, "--plugin-path"}};
  if (std::string error = parse_args(args, specs, &a); !error.empty()) return usage_error("inspect", error);
  if (a.help) {
    std::fputs(kInspectUsage, stdout);
    return 0;
  }
  const bool as_json = a.has("--json");
  const std::vector<std::string>& paths = a.positional;
  if (paths.empty()) {
    std::fputs(kInspectUsage, stderr);
    return 2;
  }
  if (a.has("--coverage")) {
    if (paths.size() != 1) return usage_error("inspect", "--coverage takes one PROGRAM.pte");
    return run_coverage(paths[0], a);
  }
  if (a.has("--plugin") || a.has("--plugin-path")) {
    return usage_error("inspect", "--plugin and --plugin-path apply to --coverage");
  }
  nlohmann::json files = nlohmann::json::array(), errors = nlohmann::json::array();
  for (const std::string& path : paths) {
    auto description = inspect::describe_file(path);
    if (!description.ok()) {
      std::fprintf(stderr, "etp inspect: %s\n", description.status().message().c_str());
      errors.push_back({{"file", path}, {"error", description.status().message()}});
      continue;
    }
    if (as_json) {
      files.push_back(std::move(*description));
    } else {
      std::fputs(inspect::render_text(*description).c_str(), stdout);
    }
  }
  if (as_json) {
    // Keys and names come from the files and may be any bytes: replace invalid UTF-8.
    const nlohmann::json doc{{"files", files}, {"errors", errors}};
    std::puts(doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }
  return errors.empty() ? 0 : 1;
}

}  // namespace etp::cli
