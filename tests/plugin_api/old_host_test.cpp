// A host of ABI 1.1, built against the released 1.1 headers (tests/plugin_api/abi_1_1) and
// nothing else of etp, loading this tree's plugins (ABI 1.3): a plugin of a newer minor must
// serve an older host — query, init, resolve and run kernels, shutdown — without touching what
// the host's minor lacks, and a plugin whose kernels decline calls must not offer them to a host
// that cannot fall through.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "etp_plugin.h"

static_assert(ETP_ABI_MINOR == 1, "this test must be built against the ABI 1.1 headers");

namespace {

std::string g_last_error;

void log_message(void*, int32_t level, const char* message) {
  if (level == ETP_LOG_ERROR) g_last_error = message ? message : "";
}
void* allocate(void*, uint64_t size, uint64_t alignment) {
  return std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
}
void release(void*, void* pointer) { std::free(pointer); }
etp_status resize_tensor(void*, etp_tensor* tensor, int32_t rank, const int64_t* sizes) {
  if (rank != tensor->rank) return ETP_ERR_SHAPE;
  for (int32_t d = 0; d < rank; ++d) {
    if (sizes[d] != tensor->sizes[d]) return ETP_ERR_SHAPE;  // this host plans static shapes only
  }
  return ETP_OK;
}
etp_status find_named_data(void*, const etp_named_data_map*, const char*, etp_named_data*) { return ETP_ERR_NOT_FOUND; }
void release_named_data(void*, const etp_named_data_map*, const char*) {}

const etp_host_api kHost = {ETP_ABI_HEADER(etp_host_api), nullptr, log_message, allocate, release,
                            resize_tensor, find_named_data, release_named_data};

// A plugin loaded the way a 1.1 host loads one.
class OldHostPlugin {
 public:
  explicit OldHostPlugin(const std::string& path) {
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) return;
    auto query = reinterpret_cast<etp_plugin_query_fn>(dlsym(handle_, ETP_PLUGIN_QUERY_SYMBOL));
    table_ = query ? query(&kHost) : nullptr;
  }
  ~OldHostPlugin() {
    if (table_ != nullptr && initialised_ && table_->shutdown != nullptr) table_->shutdown(table_->self);
    // Not dlclose'd: a plugin may pin itself (the XNNPACK plugin does).
  }
  const etp_plugin* table() const { return table_; }
  etp_status init(std::vector<etp_option> options = {}) {
    etp_status s = table_->init ? table_->init(table_->self, options.data(), static_cast<uint32_t>(options.size())) : ETP_OK;
    initialised_ = s == ETP_OK;
    return s;
  }

 private:
  void* handle_ = nullptr;
  const etp_plugin* table_ = nullptr;
  bool initialised_ = false;
};

struct Tensor {
  std::vector<int64_t> sizes;
  std::vector<uint8_t> order;
  std::vector<int64_t> strides;
  std::vector<float> data;
  etp_tensor raw{};
  etp_value value{};
  Tensor(std::vector<int64_t> shape, std::vector<float> values) : sizes(std::move(shape)), data(std::move(values)) {
    int64_t stride = 1;
    strides.assign(sizes.size(), 1);
    for (size_t d = sizes.size(); d-- > 0;) {
      order.insert(order.begin(), static_cast<uint8_t>(d));
      strides[d] = stride;
      stride *= sizes[d];
    }
    raw = {ETP_DTYPE_FLOAT32, static_cast<int32_t>(sizes.size()), sizes.data(), order.data(), strides.data(),
           this->data.data(), this->data.size() * sizeof(float), this->data.size() * sizeof(float),
           ETP_DYNAMISM_STATIC, 0};
    value.tag = ETP_VALUE_TENSOR;
    value.u.tensor = &raw;
  }
};

const etp_plugin* checked_table(const OldHostPlugin& plugin) {
  const etp_plugin* t = plugin.table();
  if (t == nullptr) return nullptr;
  EXPECT_EQ(t->header.major, ETP_ABI_MAJOR);
  EXPECT_GE(t->header.minor, 2) << "these plugins are built for ABI 1.2";
  EXPECT_GE(t->header.struct_size, sizeof(etp_plugin)) << "a newer minor only appends";
  return t;
}

TEST(OldHostTest, ANewerPortablePluginRunsKernelsForAMinor1Host) {
  OldHostPlugin portable(ETP_PORTABLE_PLUGIN_PATH);
  const etp_plugin* t = checked_table(portable);
  ASSERT_NE(t, nullptr) << dlerror();
  ASSERT_EQ(portable.init(), ETP_OK) << g_last_error;
  EXPECT_GT(t->num_kernels(t->self), 100u);
  etp_kernel add{};
  ASSERT_EQ(t->resolve_kernel(t->self, "aten::add.out", &add), ETP_OK);
  Tensor a({2, 3}, {1, 2, 3, 4, 5, 6}), b({3}, {10, 20, 30}), out({2, 3}, std::vector<float>(6));
  etp_value alpha{};
  alpha.tag = ETP_VALUE_INT;
  alpha.u.i = 1;
  etp_value* args[] = {&a.value, &b.value, &alpha, &out.value, &out.value};
  ASSERT_EQ(add.fn(add.self, &kHost, args, 5), ETP_OK) << g_last_error;
  EXPECT_EQ(out.data, (std::vector<float>{11, 22, 33, 14, 25, 36}));
}

TEST(OldHostTest, ANewerXnnpackPluginInitialisesAndReportsForAMinor1Host) {
  OldHostPlugin xnnpack(ETP_XNNPACK_PLUGIN_PATH);
  const etp_plugin* t = checked_table(xnnpack);
  ASSERT_NE(t, nullptr) << dlerror();
  etp_option threads{"threads", "1"};
  ASSERT_EQ(xnnpack.init({threads}), ETP_OK) << g_last_error;
  ASSERT_EQ(t->num_backends, 1u);
  EXPECT_STREQ(t->backends[0]->id, "XnnpackBackend");
  ASSERT_TRUE(ETP_ABI_HAS(t, cache_report)) << "the 1.1 report stays for 1.1 hosts";
  EXPECT_EQ(t->cache_report(t->self, nullptr, 0), 0u);
}

// fast_add's kernel declines calls it does not handle; a 1.1 host cannot fall through, so the
// plugin offers it nothing, and the host's next plugin serves every add.
TEST(OldHostTest, APluginThatDeclinesOffersNothingToAMinor1Host) {
  OldHostPlugin fast(std::string(ETP_TEST_PLUGIN_DIR) + "/libetp_fast_add.so");
  const etp_plugin* t = checked_table(fast);
  ASSERT_NE(t, nullptr) << dlerror();
  ASSERT_EQ(fast.init(), ETP_OK);
  etp_kernel k{};
  EXPECT_EQ(t->resolve_kernel(t->self, "aten::add.out", &k), ETP_ERR_NOT_FOUND);
  EXPECT_EQ(t->num_kernels(t->self), 0u);
}

// relu_counter (built for 1.2) can decline too, but it handles every relu it gets: under a 1.1
// host it offers relu as it always did.
TEST(OldHostTest, APluginWhoseKernelsHandleEveryCallStillOffersThem) {
  OldHostPlugin relu(std::string(ETP_TEST_PLUGIN_DIR) + "/libetp_relu_counter.so");
  const etp_plugin* t = checked_table(relu);
  ASSERT_NE(t, nullptr) << dlerror();
  ASSERT_EQ(relu.init(), ETP_OK) << g_last_error;
  etp_kernel k{};
  ASSERT_EQ(t->resolve_kernel(t->self, "aten::relu.out", &k), ETP_OK);
  Tensor in({4}, {-1, 2, -3, 4}), out({4}, std::vector<float>(4));
  etp_value* args[] = {&in.value, &out.value, &out.value};
  ASSERT_EQ(k.fn(k.self, &kHost, args, 3), ETP_OK) << g_last_error;
  EXPECT_EQ(out.data, (std::vector<float>{0, 2, 0, 4}));
}

}  // namespace
