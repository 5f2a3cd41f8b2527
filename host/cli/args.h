// Command-line parsing shared by the `etp` subcommands: options that take a value accept
// "--opt value" and "--opt=value", flags take none, and anything not starting with '-' is a
// positional argument. Errors are usage errors (exit status 2).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace etp::cli {

struct OptionSpec {
  enum class Kind { kFlag, kOnce, kRepeat } kind;
  std::string name;  // "--model"; "-h" and "--help" are always flags
};

struct ParsedArgs {
  bool help = false;
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> values;  // by option; flags have one "" entry

  bool has(const std::string& option) const { return values.count(option) > 0; }
  // The value of a kOnce option, or "" when not given.
  std::string value(const std::string& option) const;
  // Every value of a kRepeat option, in order.
  std::vector<std::string> all(const std::string& option) const;
};

// Parses `args` against `specs`. Returns "" on success, else what is wrong: an unknown option,
// a missing or empty value, a value given to a flag, a kOnce option given twice.
std::string parse_args(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs, ParsedArgs* out);

// Prints "etp <command>: <message>" and where to find the options; returns 2.
int usage_error(const std::string& command, const std::string& message);

// A non-negative integer of at most 18 digits (so it fits int64), or false.
bool parse_count(const std::string& text, int64_t* out);
// A finite number (strtod's syntax, the whole text, no overflow), or false.
bool parse_real(const std::string& text, double* out);

// --max-instructions N, when given: each execute's instruction budget (BundleOptions). Returns
// "" on success (0 in `out` when not given), else what is wrong.
std::string parse_max_instructions(const ParsedArgs& parsed, uint64_t* out);
// --memory-budget SIZE, when given (BundleOptions::memory_budget). Returns "" on success (0 in
// `out` when not given), else what is wrong.
std::string parse_memory_budget(const ParsedArgs& parsed, uint64_t* out);

// The values of `--data NAME=FILE` given with a manifest (its data entry NAME read from FILE,
// e.g. a trained adapter). Returns "" on success, else what is wrong.
std::string parse_data_files(const std::vector<std::string>& values,
                             std::vector<std::pair<std::string, std::string>>* out);

}  // namespace etp::cli
