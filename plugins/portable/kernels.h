// How portable kernels are declared and grouped. Each op family lives in its own .cpp and
// exposes one table; plugin.cpp searches the tables. No static registration.
#pragma once

#include "kernel_util.h"

namespace etp_portable {

struct KernelFamily {
  const etp_sdk::KernelEntry* entries;
  uint32_t count;
};

// Defines the ABI entry point `ident` for operator `op_name` and opens the body of
// `ident##_impl(const Ctx& c)`. The wrapper builds the Ctx and keeps exceptions inside.
#define ETP_PORTABLE_KERNEL(ident, op_name)                                                               \
  static constexpr const char ident##_name[] = op_name;                                                   \
  static etp_status ident##_impl(const ::etp_portable::Ctx& c);                                           \
  static etp_status ident(void*, const etp_host_api* host, etp_value* const* args, uint32_t n) noexcept { \
    const ::etp_portable::Ctx c{host, ident##_name, args, n};                                             \
    return ::etp_sdk::guarded(host, ident##_name, [&] { return ident##_impl(c); });                       \
  }                                                                                                       \
  static etp_status ident##_impl(const ::etp_portable::Ctx& c)

// A table entry for a kernel defined with ETP_PORTABLE_KERNEL.
#define ETP_ENTRY(ident) \
  { ident##_name, ident }

// A plugin's kernel families, searched in order.
struct FamilyList {
  const KernelFamily* items;
  uint32_t count;

  etp_status resolve(const char* op_name, etp_kernel* out) const {
    for (uint32_t f = 0; f < count; ++f) {
      if (etp_sdk::KernelTable(items[f].entries, items[f].count).resolve(op_name, out) == ETP_OK) return ETP_OK;
    }
    return ETP_ERR_NOT_FOUND;
  }
  uint32_t size() const {
    uint32_t total = 0;
    for (uint32_t f = 0; f < count; ++f) total += items[f].count;
    return total;
  }
  const char* name(uint32_t index) const {
    for (uint32_t f = 0; f < count; ++f) {
      if (index < items[f].count) return items[f].entries[index].name;
      index -= items[f].count;
    }
    return nullptr;
  }
};

// The plugin-table functions of a kernel plugin whose `self` is its FamilyList (portable,
// quantized, llm): one definition for all of them.
inline etp_status families_resolve(void* self, const char* op_name, etp_kernel* out) {
  return static_cast<const FamilyList*>(self)->resolve(op_name, out);
}
inline uint32_t families_size(void* self) { return static_cast<const FamilyList*>(self)->size(); }
inline const char* families_name(void* self, uint32_t index) {
  return static_cast<const FamilyList*>(self)->name(index);
}

// Defines `KernelFamily name()` over a static array of ETP_ENTRY items.
#define ETP_KERNEL_FAMILY(name, ...)                                               \
  KernelFamily name() {                                                            \
    static const etp_sdk::KernelEntry entries[] = {__VA_ARGS__};                   \
    return {entries, static_cast<uint32_t>(sizeof(entries) / sizeof(entries[0]))}; \
  }

// The families; add one line here and one in plugin.cpp per new family file.
KernelFamily elementwise_kernels();
KernelFamily unary_kernels();
KernelFamily activation_kernels();
KernelFamily compare_kernels();
KernelFamily reduction_kernels();
KernelFamily creation_kernels();
KernelFamily copy_kernels();
KernelFamily shape_kernels();
KernelFamily linalg_kernels();
KernelFamily index_kernels();
KernelFamily norm_kernels();
KernelFamily conv_kernels();
KernelFamily upsample_kernels();
KernelFamily pool_kernels();
KernelFamily random_kernels();

// Reseeds the generator of the random operators (plugin option `seed`).
void seed_random(uint64_t seed);

}  // namespace etp_portable
