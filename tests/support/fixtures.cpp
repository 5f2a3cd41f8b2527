#include "support/fixtures.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <iterator>

namespace etp::test {

std::string fixture_path(const std::string& name) { return std::string(ETP_FIXTURES_DIR) + "/" + name; }

const nlohmann::json& fixture_index() {
  static const nlohmann::json index = [] {
    std::ifstream in(fixture_path("index.json"));
    return nlohmann::json::parse(in, /*cb=*/nullptr, /*allow_exceptions=*/false);
  }();
  return index;
}

std::vector<nlohmann::json> all_fixtures() {
  const nlohmann::json& index = fixture_index();
  if (index.is_discarded() || !index.contains("fixtures")) return {};
  return index["fixtures"].get<std::vector<nlohmann::json>>();
}

nlohmann::json find_fixture(const std::string& model, const std::string& backend) {
  for (const nlohmann::json& f : all_fixtures()) {
    if (f["model"] == model && f["backend"] == backend) return f;
  }
  ADD_FAILURE() << "no fixture for model " << model << " on " << backend << " in index.json";
  return nullptr;
}

nlohmann::json fixture_named(const std::string& name) {
  for (const nlohmann::json& f : all_fixtures()) {
    if (f["name"] == name) return f;
  }
  ADD_FAILURE() << "no fixture named " << name << " in index.json";
  return nullptr;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int run_command(const std::string& command, std::string* out) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) out->append(buffer, n);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace etp::test
