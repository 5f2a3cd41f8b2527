// A test plugin that provides one operator the portable plugin also has (aten::add.out),
// to show that the manifest's plugin order decides which one serves it. Its kernel always
// fails, to show how kernel failures are reported.
#include "etp_plugin.h"
#include "etp_plugin.hpp"

namespace {

// Always fails, so tests can see how a kernel failure is reported.
etp_status shadow_add(void*, const etp_host_api* host, etp_value* const*, uint32_t) {
  return etp_sdk::fail(host, ETP_ERR_NOT_SUPPORTED, "shadow: aten::add.out refuses to run");
}

etp_status resolve(void*, const char* op, etp_kernel* out) {
  if (std::strcmp(op, "aten::add.out") != 0) return ETP_ERR_NOT_FOUND;
  *out = {shadow_add, nullptr};
  return ETP_OK;
}

}  // namespace

ETP_PLUGIN_EXPORT const etp_plugin* etp_plugin_query(const etp_host_api*) {
  static const etp_plugin table = {ETP_ABI_HEADER(etp_plugin), "shadow", "0", nullptr, nullptr, nullptr, resolve,
                                   nullptr, nullptr, 0, nullptr, nullptr};
  return &table;
}
