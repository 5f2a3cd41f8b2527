/* The ABI header compiled as strict C99: it must stand alone, and C must see the same
 * layouts as C++ (abi_layout_test.cpp compares these numbers). */
#include "etp_plugin.h"

size_t etp_c_sizeof_plugin(void) { return sizeof(etp_plugin); }
size_t etp_c_sizeof_host_api(void) { return sizeof(etp_host_api); }
size_t etp_c_sizeof_tensor(void) { return sizeof(etp_tensor); }
size_t etp_c_sizeof_value(void) { return sizeof(etp_value); }
size_t etp_c_sizeof_backend(void) { return sizeof(etp_backend); }
size_t etp_c_offsetof_backends(void) { return offsetof(etp_plugin, backends); }

/* ETP_ABI_HAS in C on a table whose producer was older (smaller). */
int etp_c_has_checks_size(void) {
  etp_plugin table;
  {
    unsigned char* p = (unsigned char*)&table;
    size_t i;
    for (i = 0; i < sizeof(table); ++i) p[i] = 0;
  }
  table.header.major = ETP_ABI_MAJOR;
  table.header.struct_size = (uint32_t)offsetof(etp_plugin, init);
  table.name = "x";
  table.init = (etp_status(*)(void*, const etp_option*, uint32_t))0;
  return ETP_ABI_HAS_FIELD(&table, name) && !ETP_ABI_HAS_FIELD(&table, init);
}
