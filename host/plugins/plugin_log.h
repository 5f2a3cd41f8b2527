// What plugins log through the host's `log` service: printed to stderr from a chosen level up,
// and the last ERROR message kept per thread, so the failure the host reports can quote the
// plugin's own words. Process-wide; thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace etp::plugins {

class PluginLog {
 public:
  // Records `message` (NUL-terminated; may be null) at `level` (etp_log_level).
  static void write(int32_t level, const char* message);
  // Returns and clears the last ERROR message logged on this thread ("" if none).
  static std::string take_last_error();
  // Keeps `message` as this thread's last error without printing it (the host's own services
  // use it to explain a status they return to a plugin).
  static void set_last_error(std::string message);
  // Sets the minimum level printed to stderr (default: nothing is printed; errors travel in
  // the messages the host returns).
  static void set_print_level(int32_t level);
};

}  // namespace etp::plugins
