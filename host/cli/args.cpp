#include "cli/args.h"

#include "bundle/manifest.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace etp::cli {

std::string ParsedArgs::value(const std::string& option) const {
  auto it = values.find(option);
  return it == values.end() || it->second.empty() ? "" : it->second.front();
}

std::vector<std::string> ParsedArgs::all(const std::string& option) const {
  auto it = values.find(option);
  return it == values.end() ? std::vector<std::string>{} : it->second;
}

std::string parse_args(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs, ParsedArgs* out) {
  for (const std::string& arg : args) {  // help wins over every other argument
    if (arg == "-h" || arg == "--help") {
      out->help = true;
      return "";
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i], inline_value;
    const size_t eq = arg.find('=');
    const bool has_inline = arg.rfind("--", 0) == 0 && eq != std::string::npos;
    if (has_inline) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    if (arg == "-h" || arg == "--help") return arg + " takes no value";
    if (!arg.empty() && arg[0] != '-') {
      out->positional.push_back(arg);
      continue;
    }
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : specs) spec = s.name == arg ? &s : spec;
    if (spec == nullptr) return "unknown option '" + arg + "'";
    std::vector<std::string>& given = out->values[arg];
    if (spec->kind == OptionSpec::Kind::kFlag) {
      if (has_inline) return arg + " takes no value";
      if (given.empty()) given.push_back("");
      continue;
    }
    if (!has_inline && i + 1 >= args.size()) return arg + " needs a value";
    const std::string value = has_inline ? inline_value : args[++i];
    if (value.empty()) return arg + " needs a non-empty value";
    if (spec->kind == OptionSpec::Kind::kOnce && !given.empty()) {
      return arg + " given twice ('" + given.front() + "' and '" + value + "')";
    }
    given.push_back(value);
  }
  return "";
}

int usage_error(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "etp %s: %s\n(run 'etp %s --help' for the options)\n", command.c_str(), message.c_str(),
               command.c_str());
  return 2;
}

bool parse_count(const std::string& text, int64_t* out) {
  if (text.empty() || text.size() > 18) return false;  // 18 digits cannot overflow int64
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

bool parse_real(const std::string& text, double* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  *out = std::strtod(text.c_str(), &end);
  return *end == '\0' && errno != ERANGE && std::isfinite(*out);
}

std::string parse_max_instructions(const ParsedArgs& parsed, uint64_t* out) {
  *out = 0;
  if (!parsed.has("--max-instructions")) return "";
  const std::string text = parsed.value("--max-instructions");
  int64_t value = 0;
  if (!parse_count(text, &value) || value < 1) {
    return "--max-instructions needs a positive integer (at most 18 digits), got '" + text + "'";
  }
  *out = static_cast<uint64_t>(value);
  return "";
}

std::string parse_memory_budget(const ParsedArgs& parsed, uint64_t* out) {
  *out = 0;
  if (!parsed.has("--memory-budget")) return "";
  const std::string text = parsed.value("--memory-budget");
  if (!bundle::parse_byte_size(text, out)) {
    return "--memory-budget needs a positive byte count such as 4GiB, 512MiB or 1073741824, got '" + text + "'";
  }
  return "";
}

std::string parse_data_files(const std::vector<std::string>& values,
                             std::vector<std::pair<std::string, std::string>>* out) {
  for (const std::string& v : values) {
    const size_t eq = v.find('=');
    if (eq == 0 || eq == std::string::npos || eq + 1 == v.size()) {
      return "--data with a manifest takes NAME=FILE (a data entry of the manifest and the file to read it from), "
             "got '" +
             v + "'";
    }
    out->emplace_back(v.substr(0, eq), v.substr(eq + 1));
  }
  return "";
}

}  // namespace etp::cli
