// Freezes the ABI: sizes and offsets of every boundary struct on x86-64 Linux. A change
// here is an ABI break (bump ETP_ABI_MAJOR) or an append (bump the minor, update the pins).
#include <gtest/gtest.h>

#include <cstddef>

#include "etp_plugin.h"

extern "C" {
size_t etp_c_sizeof_plugin(void);
size_t etp_c_sizeof_host_api(void);
size_t etp_c_sizeof_tensor(void);
size_t etp_c_sizeof_value(void);
size_t etp_c_sizeof_backend(void);
size_t etp_c_offsetof_backends(void);
int etp_c_has_checks_size(void);
}

static_assert(sizeof(etp_abi_header) == 8, "abi header");
static_assert(sizeof(etp_tensor) == 64, "etp_tensor");
static_assert(offsetof(etp_tensor, data) == 32 && offsetof(etp_tensor, nbytes) == 40, "etp_tensor");
static_assert(offsetof(etp_tensor, dynamism) == 56, "etp_tensor");
static_assert(sizeof(etp_value) == 24 && offsetof(etp_value, u) == 8, "etp_value");
static_assert(sizeof(etp_tensor_layout) == 32, "etp_tensor_layout");
static_assert(sizeof(etp_named_data) == 48 && offsetof(etp_named_data, cache_owned) == 40, "etp_named_data");
static_assert(offsetof(etp_host_api, release_named_data) == 56, "etp_host_api minor 0");
static_assert(offsetof(etp_host_api, parallel_for) == 64 && offsetof(etp_host_api, thread_count) == 72,
              "etp_host_api minor 2 appends parallel_for and thread_count");
static_assert(sizeof(etp_host_api) == 96 && offsetof(etp_host_api, charge_memory) == 80 &&
                  offsetof(etp_host_api, release_memory) == 88,
              "etp_host_api minor 3 appends charge_memory and release_memory");
static_assert(sizeof(etp_kernel) == 16, "etp_kernel");
static_assert(sizeof(etp_compile_spec) == 24, "etp_compile_spec");
static_assert(offsetof(etp_backend_init_args, delegate_index) == 64 && offsetof(etp_backend_init_args, method_id) == 72,
              "etp_backend_init_args");
static_assert(sizeof(etp_backend_init_args) == 88 && offsetof(etp_backend_init_args, memory_budget) == 80,
              "etp_backend_init_args minor 3 appends memory_budget");
static_assert(sizeof(etp_backend) == 48 && offsetof(etp_backend, destroy) == 40, "etp_backend");
static_assert(sizeof(etp_option) == 16, "etp_option");
static_assert(sizeof(etp_cache_entry) == 40 && offsetof(etp_cache_entry, users) == 32, "etp_cache_entry");
static_assert(offsetof(etp_plugin, cache_report) == 88, "etp_plugin minor 1 appends cache_report");
static_assert(offsetof(etp_plugin, accept_kernel_call) == 96 && offsetof(etp_plugin, cache_records) == 104,
              "etp_plugin minor 2 appends accept_kernel_call and cache_records");
static_assert(sizeof(etp_cache_user) == 16 && offsetof(etp_cache_user, delegate_index) == 8, "etp_cache_user");
static_assert(sizeof(etp_cache_record) == 40 && offsetof(etp_cache_record, num_users) == 28 &&
                  offsetof(etp_cache_record, users) == 32,
              "etp_cache_record");
static_assert(ETP_ERR_DECLINED == 104, "ETP_ERR_DECLINED");
static_assert(sizeof(etp_plugin) == 112 && offsetof(etp_plugin, resolve_kernel) == 48 &&
                  offsetof(etp_plugin, backends) == 80,
              "etp_plugin");

TEST(AbiLayoutTest, CAndCppAgreeOnEveryLayout) {
  EXPECT_EQ(etp_c_sizeof_plugin(), sizeof(etp_plugin));
  EXPECT_EQ(etp_c_sizeof_host_api(), sizeof(etp_host_api));
  EXPECT_EQ(etp_c_sizeof_tensor(), sizeof(etp_tensor));
  EXPECT_EQ(etp_c_sizeof_value(), sizeof(etp_value));
  EXPECT_EQ(etp_c_sizeof_backend(), sizeof(etp_backend));
  EXPECT_EQ(etp_c_offsetof_backends(), offsetof(etp_plugin, backends));
}

TEST(AbiLayoutTest, AbiHasSeesOnlyMembersTheProducerHad) {
  EXPECT_EQ(etp_c_has_checks_size(), 1);
  etp_plugin newer{};
  newer.header = ETP_ABI_HEADER(etp_plugin);
  newer.name = "x";
  EXPECT_TRUE(ETP_ABI_HAS(&newer, name));
  EXPECT_FALSE(ETP_ABI_HAS(&newer, init));  // present but NULL
  newer.header.major = ETP_ABI_MAJOR + 1;
  EXPECT_FALSE(ETP_ABI_HAS_FIELD(&newer, name));  // another major: nothing is readable
}
