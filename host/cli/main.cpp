// The `etp` command. Each subcommand lives in its own file; this one only dispatches.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"

namespace {

constexpr const char* kUsage =
    "usage: etp <command> [options]\n"
    "\n"
    "commands:\n"
    "  inspect FILE...   describe .pte programs and .ptd data files\n"
    "  run MANIFEST      run the models of a bundle through their plugins\n"
    "\n"
    "Run 'etp <command> --help' for a command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::printf("etp %s\n", ETP_VERSION);
    return 0;
  }
  const std::string command = argv[1];
  if (command == "inspect") return etp::cli::run_inspect(argc - 2, argv + 2);
  if (command == "run") return etp::cli::run_run(argc - 2, argv + 2);
  std::fprintf(stderr, "etp: unknown command '%s'\n%s", command.c_str(), kUsage);
  return 2;
}
