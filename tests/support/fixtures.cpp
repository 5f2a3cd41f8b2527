#include "support/fixtures.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>

namespace etp::test {

std::string fixture_path(const std::string& name) { return std::string(ETP_FIXTURES_DIR) + "/" + name; }

const nlohmann::json& fixture_index() {
  // Every test process parses this 670 KB index at start-up (the fixture suites' registration),
  // so this file is optimised even in the sanitizer builds (etp_test_fixtures, tests/CMakeLists.txt).
  static const nlohmann::json index = [] {
    const std::vector<uint8_t> text = read_bytes(fixture_path("index.json"));
    return nlohmann::json::parse(text.begin(), text.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  }();
  return index;
}

const nlohmann::json& all_fixtures() {
  static const nlohmann::json none = nlohmann::json::array();
  const nlohmann::json& index = fixture_index();
  const auto fixtures = index.find("fixtures");  // end() on anything but an object
  return fixtures != index.end() && fixtures->is_array() ? *fixtures : none;
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
  // In blocks, not a character at a time through istreambuf_iterator: the sanitizer builds are
  // unoptimised, and the tests read programs of several MB.
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes;
  std::vector<char> block(1 << 16);
  for (;;) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const std::streamsize n = in.gcount();
    if (n <= 0) break;
    bytes.insert(bytes.end(), block.begin(), block.begin() + n);
  }
  return bytes;
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
