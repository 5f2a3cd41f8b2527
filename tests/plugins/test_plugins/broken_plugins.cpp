// Test-only plugins, each broken in one way the loader must report clearly. One source,
// built once per variant with ETP_BROKEN_<VARIANT> defined (see tests/CMakeLists.txt).
#include "etp_plugin.h"
#include "etp_plugin.hpp"

#include <cstdlib>

namespace {

etp_status echo_resolve(void*, const char*, etp_kernel*) { return ETP_ERR_NOT_FOUND; }
const etp_host_api* g_host = nullptr;

etp_status failing_init(void*, const etp_option*, uint32_t) {
  return etp_sdk::fail(g_host, ETP_ERR_UNAVAILABLE, "test plugin: the device is not there");
}

etp_status backend_init(void*, const etp_backend_init_args*, void**) { return ETP_OK; }
etp_status backend_execute(void*, void*, etp_value* const*, uint32_t) { return ETP_OK; }

etp_status accepts_anything(void*, const etp_option*, uint32_t) { return ETP_OK; }
etp_status hangs(void*, const etp_option*, uint32_t) {
  for (volatile bool forever = true; forever;) {
  }
  return ETP_OK;
}
uint32_t one_kernel(void*) { return 1; }
const char* fake_kernel_name(void*, uint32_t) { return "aten::fake.out"; }

etp_plugin make_table() {
  etp_plugin t{};
  t.header = ETP_ABI_HEADER(etp_plugin);
  t.name = "broken";
  t.version = "0";
  t.resolve_kernel = echo_resolve;
  return t;
}

#if defined(ETP_BROKEN_NULL_SLOT)
// A backend without its required execute slot.
etp_backend g_backend = {ETP_ABI_HEADER(etp_backend), "BrokenBackend", nullptr, backend_init, nullptr, nullptr};
const etp_backend* g_backends[] = {&g_backend};
#endif

}  // namespace

#if defined(ETP_BROKEN_EXTRA_SYMBOL)
// Built without etp's version script and with this exported: a second symbol.
ETP_PLUGIN_EXPORT int etp_broken_extra_export() { return 0; }
#endif

#if defined(ETP_BROKEN_MISSING_SYMBOL)
ETP_PLUGIN_EXPORT const etp_plugin* some_other_symbol(const etp_host_api*) { return nullptr; }
// Code that runs when the library is loaded: the loader must refuse the file before that.
__attribute__((constructor)) void mark_loaded() { setenv("ETP_BROKEN_MISSING_SYMBOL_LOADED", "1", 1); }
#else
ETP_PLUGIN_EXPORT const etp_plugin* etp_plugin_query(const etp_host_api* host) {
  g_host = host;
  static etp_plugin table = make_table();
#if defined(ETP_BROKEN_WRONG_MAJOR)
  table.header.major = ETP_ABI_MAJOR + 1;
#elif defined(ETP_BROKEN_SHORT_STRUCT)
  table.header.struct_size = 12;
#elif defined(ETP_BROKEN_QUERY_NULL)
  host->log(host->self, ETP_LOG_ERROR, "test plugin: needs ABI 7");
  return nullptr;
#elif defined(ETP_BROKEN_NULL_SLOT)
  table.num_backends = 1;
  table.backends = g_backends;
#elif defined(ETP_BROKEN_INIT_FAILS)
  table.init = failing_init;
#elif defined(ETP_BROKEN_NO_NAME)
  table.name = nullptr;
#elif defined(ETP_BROKEN_ACCEPTS_ANY_OPTION)
  table.init = accepts_anything;
#elif defined(ETP_BROKEN_UNRESOLVABLE_KERNEL)
  table.num_kernels = one_kernel;
  table.kernel_name = fake_kernel_name;  // listed, but echo_resolve finds nothing
#elif defined(ETP_BROKEN_HANGS_IN_INIT)
  table.init = hangs;
#endif
  (void)backend_execute;
  (void)failing_init;
  (void)accepts_anything;
  (void)hangs;
  (void)one_kernel;
  (void)fake_kernel_name;
  return &table;
}
#endif
