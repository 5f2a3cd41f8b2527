#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "inspect/inspect.h"

namespace etp::cli {
namespace {

constexpr const char* kInspectUsage =
    "usage: etp inspect [--json] FILE...\n"
    "\n"
    "Verifies and describes ExecuTorch files:\n"
    "  .pte  methods (inputs, outputs, dtypes, shapes, dynamism), operators, delegates\n"
    "        (backend, payload size, compile specs, XNNPACK node and value counts),\n"
    "        constants (in-program and EXTERNAL keys), named data, segments, planned buffers\n"
    "  .ptd  keys with tensor layout (or 'no layout'), sizes, alignment, total bytes\n"
    "\n"
    "options:\n"
    "  --json     print one JSON document: {\"files\": [...], \"errors\": [...]}\n"
    "  -h, --help show this help\n"
    "\n"
    "Exits 1 if any file fails to verify; the message names the file and the problem.\n";

}  // namespace

int run_inspect(const std::vector<std::string>& args) {
  bool as_json = false;
  std::vector<std::string> paths;
  for (const std::string& arg : args) {
    if (arg == "--json") {
      as_json = true;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kInspectUsage, stdout);
      return 0;
    } else if (arg.size() > 1 && arg[0] == '-') {
      std::fprintf(stderr, "etp inspect: unknown option '%s'\n%s", arg.c_str(), kInspectUsage);
      return 2;
    } else {
      paths.push_back(arg);
    }
  }
  if (paths.empty()) {
    std::fputs(kInspectUsage, stderr);
    return 2;
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
