// Entry points of the `etp` subcommands. Each takes the arguments after its own name and returns
// the process exit code: 0 success, 1 failure, 2 usage error. Options that take a value accept
// "--opt value" and "--opt=value".
#pragma once

#include <string>
#include <vector>

namespace etp::cli {

int run_inspect(const std::vector<std::string>& args);
int run_run(const std::vector<std::string>& args);
int run_bench(const std::vector<std::string>& args);
int run_plugins(const std::vector<std::string>& args);
int run_plugin(const std::vector<std::string>& args);
int run_generate(const std::vector<std::string>& args);
int run_train(const std::vector<std::string>& args);

}  // namespace etp::cli
