// The etp_host_api table the host hands to plugins: logging (plugins/plugin_log.h, which keeps
// the last error per thread so failures can quote the plugin's own words), aligned allocation,
// tensor resize with the host's bound checks, and named-data lookup and release. One per
// process; thread-safe.
#pragma once

#include "etp_plugin.h"

namespace etp::runtime {

class HostServices {
 public:
  // The process-wide table.
  static const HostServices& get();

  const etp_host_api* api() const { return &api_; }

 private:
  HostServices();
  etp_host_api api_{};
};

}  // namespace etp::runtime
