// The etp_host_api table the host hands to plugins: logging (with the last error kept per
// thread so failures can quote the plugin's own words), aligned allocation, tensor resize
// with the host's bound checks, and named-data lookup and release. One per process.
#pragma once

#include <string>

#include "etp_plugin.h"

namespace etp::plugins {

class HostServices {
 public:
  // The process-wide table. Thread-safe.
  static const HostServices& get();

  const etp_host_api* api() const { return &api_; }

  // Returns and clears the last ERROR message a plugin logged on this thread ("" if none).
  static std::string take_last_error();
  // Sets the minimum level printed to stderr (default: nothing is printed; errors travel in
  // the messages the host returns). Errors are always kept for take_last_error.
  static void set_print_level(int32_t level);

 private:
  HostServices();
  etp_host_api api_{};
};

}  // namespace etp::plugins
