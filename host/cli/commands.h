// Entry points of the `etp` subcommands. Each takes the arguments after its own name (with
// "--opt=value" already split into "--opt" "value") and returns the process exit code:
// 0 success, 1 failure, 2 usage error.
#pragma once

#include <string>
#include <vector>

namespace etp::cli {

int run_inspect(const std::vector<std::string>& args);
int run_run(const std::vector<std::string>& args);

}  // namespace etp::cli
