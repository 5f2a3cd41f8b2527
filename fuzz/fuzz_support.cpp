#include "fuzz_support.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "format/data_file.h"
#include "plugins/plugin_library.h"
#include "runtime/host_services.h"

namespace etp::fuzz {
namespace {

[[noreturn]] void harness_failure(const std::string& what) {
  std::fprintf(stderr, "fuzz harness: %s\n", what.c_str());
  std::abort();
}

// Files of `dir` whose names end in `suffix`, sorted.
std::vector<std::string> files_ending_in(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      names.push_back(entry.path().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

std::string fixtures_dir() { return ETP_FIXTURES_DIR; }

std::string plugin_path(const std::string& name) {
  return std::string(ETP_PLUGIN_BUILD_DIR) + "/libetp_" + name + ".so";
}

const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/etp_fuzz_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) harness_failure("cannot create a folder from " + pattern);
    static const std::string created = pattern;
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(created, ignored);
    });
    return pattern;
  }();
  return dir;
}

void write_file(const std::string& path, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) harness_failure("cannot write " + path);
  const bool ok = size == 0 || std::fwrite(data, 1, size, f) == size;
  if (std::fclose(f) != 0 || !ok) harness_failure("cannot write " + path);
}

const std::vector<runtime::DataSource>& fixture_data_files() {
  static const std::vector<runtime::DataSource> files = [] {
    std::vector<runtime::DataSource> opened;
    uint64_t id = 1;
    for (const std::string& path : files_ending_in(fixtures_dir(), ".ptd")) {
      auto file = format::DataFile::open(path);
      if (!file.ok()) harness_failure(file.status().message());
      opened.push_back({std::make_shared<const format::DataFile>(std::move(*file)), id++, ""});
    }
    return opened;
  }();
  return files;
}

std::shared_ptr<const plugins::Registry> shipped_registry() {
  static const std::shared_ptr<const plugins::Registry> registry = [] {
    auto loaded = std::make_shared<plugins::Registry>();
    for (const char* name : {"portable", "xnnpack", "quantized", "llm"}) {
      plugins::Options options;
      if (std::string(name) == "xnnpack") options = {{"threads", "1"}};
      auto plugin = plugins::PluginLibrary::load(plugin_path(name), *runtime::HostServices::get().api(), options);
      if (!plugin.ok()) harness_failure(plugin.status().message());
      if (Status added = loaded->add(std::move(*plugin)); !added.ok()) harness_failure(added.message());
    }
    return loaded;
  }();
  return registry;
}

}  // namespace etp::fuzz
