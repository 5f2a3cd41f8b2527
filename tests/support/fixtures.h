// Access to the real ExecuTorch fixtures in tests/fixtures and their index.json.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace etp::test {

// Absolute path of a file in tests/fixtures.
std::string fixture_path(const std::string& name);

// The parsed tests/fixtures/index.json (loaded once).
const nlohmann::json& fixture_index();

// Every fixture entry of the index: its "fixtures" array (empty if the index is unreadable), by
// reference: every test process reads it at start-up.
const nlohmann::json& all_fixtures();

// The first fixture entry with this model and backend; fails the test if none exists.
nlohmann::json find_fixture(const std::string& model, const std::string& backend);

// The fixture entry called `name`; fails the test (and returns null) if none exists.
nlohmann::json fixture_named(const std::string& name);

// Reads a whole file; empty on failure.
std::vector<uint8_t> read_bytes(const std::string& path);

// Runs the command line `command` with stderr joined to stdout; returns its exit status and
// appends what it printed to *out.
int run_command(const std::string& command, std::string* out);

}  // namespace etp::test
