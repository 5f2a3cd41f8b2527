#include "bundle/manifest.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "core/mapped_file.h"
#include "format/file_kind.h"

namespace etp::bundle {
namespace {

namespace fs = std::filesystem;

// A parse failure carrying its position; converted to Error at the top.
struct ManifestError {
  Mark mark;
  std::string message;
};

Mark mark_of(const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  return m.is_null() ? Mark{} : Mark{m.line + 1, m.column + 1};
}

[[noreturn]] void fail(const YAML::Node& node, const std::string& message) {
  throw ManifestError{mark_of(node), message};
}

// Checks that `node` is a mapping with only `allowed` keys, each at most once.
void check_keys(const YAML::Node& node, const std::string& what, std::initializer_list<const char*> allowed) {
  if (!node.IsMap()) fail(node, what + " must be a mapping");
  std::set<std::string> seen;
  for (const auto& item : node) {
    const std::string key = item.first.as<std::string>();
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) {
      std::string list;
      for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      fail(item.first, "unknown key '" + key + "' in " + what + " (expected one of: " + list + ")");
    }
    if (!seen.insert(key).second) fail(item.first, "duplicate key '" + key + "' in " + what);
  }
}

// Checks that the names of a mapping's entries are unique (yaml-cpp keeps the first silently).
void check_unique_names(const YAML::Node& node, const std::string& what) {
  if (!node.IsMap()) fail(node, what + " must be a mapping of names");
  std::set<std::string> seen;
  for (const auto& item : node) {
    if (!seen.insert(item.first.as<std::string>()).second) {
      fail(item.first, "duplicate " + what + " name '" + item.first.as<std::string>() + "'");
    }
  }
}

std::string scalar(const YAML::Node& node, const std::string& what) {
  if (!node.IsScalar()) fail(node, what + " must be a string");
  return node.as<std::string>();
}

double number(const YAML::Node& node, const std::string& what) {
  double value = 0;
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, value)) fail(node, what + " must be a number");
  return value;
}

// A comparison tolerance: a finite number, zero or more.
double tolerance(const YAML::Node& node, const std::string& what) {
  const double value = number(node, what);
  if (!std::isfinite(value) || value < 0) fail(node, what + " must be a finite number >= 0");
  return value;
}

std::vector<std::string> string_list(const YAML::Node& node, const std::string& what) {
  if (!node.IsSequence()) fail(node, what + " must be a list");
  std::vector<std::string> out;
  for (const auto& item : node) out.push_back(scalar(item, what + " entry"));
  return out;
}

std::string existing_file(const YAML::Node& node, const std::string& folder, const std::string& what) {
  const std::string written = scalar(node, what);
  const fs::path path = fs::path(written).is_absolute() ? fs::path(written) : fs::path(folder) / written;
  if (const std::string problem = not_a_regular_file(path.string()); !problem.empty()) {
    fail(node, what + " '" + written + "' " + problem + " (" + path.string() + ")");
  }
  return path.lexically_normal().string();
}

PluginSpec parse_plugin(const std::string& name, const YAML::Node& node) {
  check_keys(node, "plugin '" + name + "'", {"library", "options"});
  if (!node["library"]) fail(node, "plugin '" + name + "' needs a 'library'");
  PluginSpec spec{name, scalar(node["library"], "library"), {}, mark_of(node)};
  if (node["options"]) {
    check_unique_names(node["options"], "option");
    for (const auto& option : node["options"]) {
      spec.options.emplace_back(option.first.as<std::string>(), scalar(option.second, "option value"));
    }
  }
  return spec;
}

DataSpec parse_data(const std::string& name, const YAML::Node& node, const std::string& folder) {
  check_keys(node, "data '" + name + "'", {"file", "sha256", "weight_cache"});
  if (!node["file"]) fail(node, "data '" + name + "' needs a 'file'");
  DataSpec spec{name, existing_file(node["file"], folder, "data file"), "", "", mark_of(node)};
  if (node["sha256"]) {
    spec.sha256 = scalar(node["sha256"], "sha256");
    bool hex = spec.sha256.size() == 64;
    for (char c : spec.sha256) hex = hex && std::isxdigit(static_cast<unsigned char>(c));
    if (!hex) fail(node["sha256"], "sha256 must be 64 hexadecimal digits");
    for (char& c : spec.sha256) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (node["weight_cache"]) spec.weight_cache = scalar(node["weight_cache"], "weight_cache");
  return spec;
}

RunSpec parse_run(const YAML::Node& node, const std::string& folder, const std::string& model) {
  check_keys(node, "a run of model '" + model + "'", {"method", "inputs", "expected"});
  RunSpec run;
  run.mark = mark_of(node);
  if (node["method"]) run.method = scalar(node["method"], "method");
  if (node["inputs"]) {
    if (!node["inputs"].IsSequence()) fail(node["inputs"], "inputs must be a list of .npy files");
    for (const auto& item : node["inputs"]) run.inputs.push_back(existing_file(item, folder, "input"));
  }
  if (node["expected"]) {
    if (!node["expected"].IsSequence()) fail(node["expected"], "expected must be a list of .npy files");
    for (const auto& item : node["expected"]) run.expected.push_back(existing_file(item, folder, "expected output"));
  }
  return run;
}

TrainSpec parse_train(const YAML::Node& node, const std::string& folder, const std::string& model) {
  const std::string where = "the train section of model '" + model + "'";
  if (!node.IsMap()) fail(node, where + " must be a map");
  check_keys(node, where, {"inputs", "eval", "batch_size", "shuffle", "seed"});
  TrainSpec t;
  if (!node["inputs"] || !node["inputs"].IsSequence() || node["inputs"].size() == 0) {
    fail(node, where + " needs 'inputs': a list of .npy files, one per input of the training method");
  }
  for (const auto& item : node["inputs"]) t.inputs.push_back(existing_file(item, folder, "training input"));
  if (const YAML::Node& eval = node["eval"]) {
    if (!eval.IsSequence() || eval.size() != t.inputs.size()) {
      fail(eval, where + ": 'eval' must list " + std::to_string(t.inputs.size()) +
                     " .npy files like 'inputs' (held-out data for etp train --eval)");
    }
    for (const auto& item : eval) t.eval.push_back(existing_file(item, folder, "evaluation input"));
  }
  auto count = [&](const char* key, int64_t min) {
    const YAML::Node& n = node[key];
    long long value = 0;
    if (!n.IsScalar() || !YAML::convert<long long>::decode(n, value) || value < min) {
      fail(n, std::string(key) + " must be an integer of at least " + std::to_string(min));
    }
    return static_cast<int64_t>(value);
  };
  if (node["batch_size"]) t.batch_size = count("batch_size", 1);
  if (node["seed"]) t.seed = static_cast<uint64_t>(count("seed", 0));
  if (node["shuffle"]) {
    bool value = false;
    if (!node["shuffle"].IsScalar() || !YAML::convert<bool>::decode(node["shuffle"], value)) {
      fail(node["shuffle"], "shuffle must be true or false");
    }
    t.shuffle = value;
  }
  return t;
}

ModelSpec parse_model(const std::string& name, const YAML::Node& node, const std::string& folder) {
  check_keys(node, "model '" + name + "'",
             {"program", "data", "method", "tokenizer", "rtol", "atol", "max_instructions", "runs", "train"});
  if (!node["program"]) fail(node, "model '" + name + "' needs a 'program'");
  ModelSpec spec;
  spec.name = name;
  spec.mark = mark_of(node);
  spec.program = existing_file(node["program"], folder, "program");
  if (node["data"]) spec.data = string_list(node["data"], "data");
  if (node["method"]) spec.method = scalar(node["method"], "method");
  if (node["tokenizer"]) spec.tokenizer = existing_file(node["tokenizer"], folder, "tokenizer");
  if (node["rtol"]) spec.rtol = tolerance(node["rtol"], "rtol");
  if (node["atol"]) spec.atol = tolerance(node["atol"], "atol");
  if (const YAML::Node& budget = node["max_instructions"]) {
    unsigned long long value = 0;
    if (!budget.IsScalar() || scalar(budget, "max_instructions").find('-') != std::string::npos ||
        !YAML::convert<unsigned long long>::decode(budget, value) || value < 1) {
      fail(budget, "max_instructions must be a positive integer (the instructions one execute may run)");
    }
    spec.max_instructions = value;
  }
  if (node["runs"]) {
    if (!node["runs"].IsSequence()) fail(node["runs"], "runs must be a list");
    for (const auto& run : node["runs"]) spec.runs.push_back(parse_run(run, folder, name));
  }
  if (node["train"]) spec.train = parse_train(node["train"], folder, name);
  return spec;
}

// Cross-section checks on a manifest, however it was made: names that must exist, and one
// owner per data file. Says where the problem is so a parsed manifest can quote its line.
struct Problem {
  std::string message;
  std::string section, entry, key;  // e.g. "data", "foundation", "weight_cache"
  int index = -1;                   // item of a list value
};

std::optional<Problem> find_reference_problem(const Manifest& m) {
  auto has_plugin = [&](const std::string& name) {
    for (const auto& p : m.plugins) {
      if (p.name == name) return true;
    }
    return false;
  };
  for (const DataSpec& d : m.data) {
    if (!d.weight_cache.empty() && !has_plugin(d.weight_cache)) {
      return Problem{
          "data '" + d.name + "' names weight_cache '" + d.weight_cache + "', which is not a plugin of this manifest",
          "data", d.name, "weight_cache"};
    }
    for (const DataSpec& other : m.data) {
      if (&other != &d && other.path == d.path && other.weight_cache != d.weight_cache) {
        return Problem{"data file " + d.path + " is owned by two weight caches ('" + d.weight_cache + "' and '" +
                           other.weight_cache + "')",
                       "data", d.name, ""};
      }
    }
  }
  for (const ModelSpec& model : m.models) {
    for (size_t i = 0; i < model.data.size(); ++i) {
      if (m.find_data(model.data[i]) == nullptr) {
        return Problem{
            "model '" + model.name + "' uses data '" + model.data[i] + "', which the manifest does not define",
            "models", model.name, "data", static_cast<int>(i)};
      }
    }
  }
  return std::nullopt;
}

void check_references(const Manifest& m, const YAML::Node& root) {
  std::optional<Problem> problem = find_reference_problem(m);
  if (!problem) return;
  YAML::Node node = root[problem->section][problem->entry];
  if (!problem->key.empty()) node = node[problem->key];
  if (problem->index >= 0) node = node[problem->index];
  fail(node, problem->message);
}

}  // namespace

const DataSpec* Manifest::find_data(const std::string& name) const {
  for (const DataSpec& d : data) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

const ModelSpec* Manifest::find_model(const std::string& name) const {
  for (const ModelSpec& model : models) {
    if (model.name == name) return &model;
  }
  return nullptr;
}

// What a file that is not a manifest is, so the error can say so: a program, a data file, a
// directory. "" when it may be YAML. Unreadable files are left to yaml-cpp's own error.
std::string not_a_manifest(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return "is a directory, not a manifest";
  if (!fs::is_regular_file(path, ec)) return "";  // a pipe is read once, by the parser
  switch (format::file_kind(path)) {
    case format::FileKind::kProgram:
      return "is an ExecuTorch program (.pte), not a manifest; run a program directly with "
             "`etp run PROGRAM.pte [--data FILE.ptd]...`";
    case format::FileKind::kData:
      return "is an ExecuTorch data file (.ptd), not a manifest; name it in a manifest's `data:` "
             "or pass it with `etp run PROGRAM.pte --data FILE.ptd`";
    case format::FileKind::kOther: break;
  }
  std::ifstream in(path, std::ios::binary);
  char head[8] = {};
  if (!in.read(head, sizeof(head))) return "";
  // UTF-16 and UTF-32 text (which yaml-cpp reads) has NUL bytes; such files start with a BOM.
  const auto* bytes = reinterpret_cast<const unsigned char*>(head);
  const bool bom = (bytes[0] == 0xff && bytes[1] == 0xfe) || (bytes[0] == 0xfe && bytes[1] == 0xff) ||
                   (bytes[0] == 0 && bytes[1] == 0 && bytes[2] == 0xfe && bytes[3] == 0xff);
  if (!bom && std::memchr(head, '\0', sizeof(head)) != nullptr) return "is a binary file, not a YAML manifest";
  return "";
}

bool parse_byte_size(const std::string& text, uint64_t* out) {
  size_t i = 0;
  uint64_t value = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (__builtin_mul_overflow(value, 10, &value) || __builtin_add_overflow(value, text[i] - '0', &value)) return false;
  }
  if (i == 0) return false;
  while (i < text.size() && text[i] == ' ') ++i;
  std::string unit = text.substr(i);
  if (unit.size() == 3 && unit.compare(1, 2, "iB") == 0) unit.resize(1);
  int shift = 0;
  if (unit == "K")
    shift = 10;
  else if (unit == "M")
    shift = 20;
  else if (unit == "G")
    shift = 30;
  else if (unit == "T")
    shift = 40;
  else if (!unit.empty() && unit != "B")
    return false;
  if (value == 0 || value > (UINT64_MAX >> shift)) return false;
  *out = value << shift;
  return true;
}

Result<Manifest> parse_manifest(const std::string& path) {
  if (const std::string what = not_a_manifest(path); !what.empty()) {
    return Status(StatusCode::kInvalidArgument, path + " " + what);
  }
  Manifest m;
  m.path = path;
  m.folder = fs::path(path).parent_path().string();
  if (m.folder.empty()) m.folder = ".";
  try {
    const YAML::Node root = YAML::LoadFile(path);
    check_keys(root, "the manifest", {"etp", "threads", "memory_budget", "plugins", "data", "models"});
    if (!root["etp"]) fail(root, "missing 'etp: 1' (the manifest format version)");
    if (scalar(root["etp"], "etp") != "1") fail(root["etp"], "manifest format version must be 1");
    if (const YAML::Node& threads = root["threads"]) {  // the thread pool plugins share (ABI 1.2)
      long long value = 0;
      if (!threads.IsScalar() || !YAML::convert<long long>::decode(threads, value) || value < 1 || value > 256) {
        fail(threads, "threads must be an integer from 1 to 256 (the size of the thread pool every plugin shares)");
      }
      m.threads = static_cast<uint32_t>(value);
    }
    if (const YAML::Node& budget = root["memory_budget"]) {  // what all loaded methods may plan
      if (!budget.IsScalar() || !parse_byte_size(budget.Scalar(), &m.memory_budget)) {
        fail(budget, "memory_budget must be a positive byte count, e.g. 4GiB, 512MiB or 1073741824");
      }
    }
    if (root["plugins"]) {
      check_unique_names(root["plugins"], "plugin");
      for (const auto& p : root["plugins"]) m.plugins.push_back(parse_plugin(p.first.as<std::string>(), p.second));
    }
    if (root["data"]) {
      check_unique_names(root["data"], "data");
      for (const auto& d : root["data"]) m.data.push_back(parse_data(d.first.as<std::string>(), d.second, m.folder));
    }
    if (!root["models"]) fail(root, "the manifest defines no 'models'");
    check_unique_names(root["models"], "model");
    if (root["models"].size() == 0) fail(root["models"], "'models' is empty: the manifest defines no model to run");
    for (const auto& model : root["models"]) {
      m.models.push_back(parse_model(model.first.as<std::string>(), model.second, m.folder));
    }
    check_references(m, root);
  } catch (const ManifestError& e) {
    return Status(StatusCode::kInvalidArgument,
                  path + ":" + std::to_string(e.mark.line) + ":" + std::to_string(e.mark.column) + ": " + e.message);
  } catch (const YAML::BadFile&) {
    const int error = errno;
    std::error_code ec;
    if (!fs::exists(path, ec)) return Status(StatusCode::kNotFound, path + ": no such manifest file");
    return Status(StatusCode::kIo, path + ": cannot read the manifest: " + std::strerror(error));
  } catch (const YAML::Exception& e) {
    return Status(StatusCode::kInvalidArgument, path + ":" + std::to_string(e.mark.line + 1) + ":" +
                                                    std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const std::exception& e) {  // e.g. std::ios_base::failure from yaml-cpp's stream
    return Status(StatusCode::kIo, path + ": cannot read the manifest: " + e.what());
  }
  return m;
}

Status check_manifest(const Manifest& m) {
  auto fail = [](const std::string& message) { return Status(StatusCode::kInvalidArgument, message); };
  std::error_code ec;
  std::set<std::string> plugins, data, models;
  for (const PluginSpec& p : m.plugins) {
    if (p.name.empty()) return fail("a plugin has no name");
    if (!plugins.insert(p.name).second) return fail("duplicate plugin name '" + p.name + "'");
    if (p.library.empty()) return fail("plugin '" + p.name + "' needs a library");
  }
  for (const DataSpec& d : m.data) {
    if (!data.insert(d.name).second) return fail("duplicate data name '" + d.name + "'");
    if (const std::string problem = not_a_regular_file(d.path); !problem.empty()) {
      return Status(problem == "does not exist" ? StatusCode::kNotFound : StatusCode::kInvalidArgument,
                    "data '" + d.name + "': file " + d.path + " " + problem);
    }
    bool hex = d.sha256.empty() || d.sha256.size() == 64;
    for (char c : d.sha256) hex = hex && std::isxdigit(static_cast<unsigned char>(c));
    if (!hex) return fail("data '" + d.name + "': sha256 must be 64 hexadecimal digits");
  }
  if (m.models.empty()) return fail("the bundle defines no models");
  for (const ModelSpec& model : m.models) {
    if (!models.insert(model.name).second) return fail("duplicate model name '" + model.name + "'");
    if (const std::string problem = not_a_regular_file(model.program); !problem.empty()) {
      return Status(problem == "does not exist" ? StatusCode::kNotFound : StatusCode::kInvalidArgument,
                    "model '" + model.name + "': program " + model.program + " " + problem);
    }
  }
  if (std::optional<Problem> problem = find_reference_problem(m)) return fail(problem->message);
  return Status::success();
}

Status replace_data_file(Manifest* manifest, const std::string& name, const std::string& path) {
  for (DataSpec& d : manifest->data) {
    if (d.name != name) continue;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      return Status(StatusCode::kNotFound, "data '" + name + "': replacement file " + path + " does not exist");
    }
    d.path = fs::path(path).lexically_normal().string();
    d.sha256.clear();
    return Status::success();
  }
  std::string names;
  for (const DataSpec& d : manifest->data) names += (names.empty() ? "" : ", ") + d.name;
  return Status(StatusCode::kNotFound, manifest->path + ": no data entry '" + name +
                                           "' to replace (data: " + (names.empty() ? "none" : names) + ")");
}

}  // namespace etp::bundle
