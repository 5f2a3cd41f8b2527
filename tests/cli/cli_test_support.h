// The built `etp` command line, as the CLI tests run it.
#pragma once

#include <string>

#include "support/fixtures.h"

namespace etp::test {

// Runs `etp ARGS` with stderr joined to stdout; returns its exit status and appends what it printed
// to *out.
inline int etp(const std::string& args, std::string* out) { return run_command(ETP_CLI_PATH " " + args, out); }

}  // namespace etp::test
