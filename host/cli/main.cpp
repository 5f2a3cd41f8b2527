// The `etp` command. Each subcommand lives in its own file; this one only dispatches.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "etp/etp.h"

namespace {

constexpr const char* kUsage =
    "usage: etp <command> [options]\n"
    "       etp --version\n"
    "\n"
    "commands:\n"
    "  inspect FILE...        describe .pte programs and .ptd data files\n"
    "  run MANIFEST           run the models of a bundle through their plugins\n"
    "  run PROGRAM.pte        run one program (with --data files) on the installed plugins\n"
    "  bench MANIFEST|PTE     time models on plugin sets side by side (statistics, profiles)\n"
    "  plugins                list the plugins found, with their backends and kernels\n"
    "  plugin check LIB.so    check a plugin library against the plugin ABI's contract\n"
    "  generate MANIFEST|PTE  generate tokens with an LLM program and its KV cache\n"
    "  train MANIFEST         train a joint forward-backward program on its manifest data\n"
    "\n"
    "Run 'etp <command> --help' for a command's options. Plugins named without a path are\n"
    "looked up in --plugin-path folders, then ETP_PLUGIN_PATH (':'-separated), then the\n"
    "installed plugin folder. Exit status: 0 success, 1 failure, 2 usage error.\n";

}  // namespace

int main(int argc, char** argv) {
  // A program or data file truncated on disk while mapped ends the run with a message naming
  // it (exit 1), not a bare SIGBUS.
  etp::install_mapped_file_fault_handler();
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string& command = args[0];
  if (command == "--help" || command == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "--version") {
    std::printf("etp %s\n", etp::version());
    return 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "inspect") return etp::cli::run_inspect(rest);
  if (command == "run") return etp::cli::run_run(rest);
  if (command == "bench") return etp::cli::run_bench(rest);
  if (command == "plugins") return etp::cli::run_plugins(rest);
  if (command == "plugin") return etp::cli::run_plugin(rest);
  if (command == "generate") return etp::cli::run_generate(rest);
  if (command == "train") return etp::cli::run_train(rest);
  std::fprintf(stderr, "etp: unknown command '%s'\n%s", command.c_str(), kUsage);
  return 2;
}
