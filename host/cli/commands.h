// Entry points of the `etp` subcommands. Each takes the arguments after its own name and
// returns the process exit code (0 success, 1 failure, 2 usage error).
#pragma once

namespace etp::cli {

int run_inspect(int argc, char** argv);
int run_run(int argc, char** argv);

}  // namespace etp::cli
