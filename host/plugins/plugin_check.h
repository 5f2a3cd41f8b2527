// A conformance check of a plugin library against the ABI contract of plugin_api/etp_plugin.h,
// as `etp plugin check` runs it: what a host can verify without running the plugin's
// operators. Every check runs in its own child process, which loads the library afresh, so a
// plugin that crashes, hangs or corrupts memory is reported, never fatal to the checker.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace etp::plugins {

struct PluginCheckResult {
  std::string name;    // "symbols", "query", ...
  std::string status;  // "pass", "fail", "crash", "hang"; "skip": needs what an earlier check found broken
  std::string detail;  // what was seen, and for a failure what the contract asks
};

// A check a caller adds, run in its own process like the others once the backend tables pass:
// it returns {passed, detail}.
struct ExtraPluginCheck {
  std::string name;
  std::function<std::pair<bool, std::string>()> run;
};

// Runs every check on the library at `path` (a missing file fails the first check); a check
// without an answer after `timeout_ms` is killed and reported as a hang. `reference` (the
// portable plugin's library, or "" to skip) serves the kernel_results check.
std::vector<PluginCheckResult> check_plugin_library(const std::string& path, int timeout_ms = 20000,
                                                    const std::string& reference = "",
                                                    const std::vector<ExtraPluginCheck>& extra = {});

}  // namespace etp::plugins
