// A program that links XNNPACK and pthreadpool itself puts libpthreadpool in the process's global
// symbol scope, ahead of the XNNPACK plugin's pthreadpool functions (plugins/xnnpack/thread_pool.h).
// The plugin's probe must see that, say so, and run XNNPACK on libpthreadpool: outputs still
// match ExecuTorch's. (This test binary is linked with -lXNNPACK -lpthreadpool, --no-as-needed.)
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <mutex>

#include "plugins/plugin_library.h"
#include "plugins/registry.h"
#include "runtime/host_services.h"
#include "runtime/runtime_support.h"
#include "support/fixtures.h"
#include "support/status.h"

namespace etp::test {
namespace {

std::mutex g_log_mutex;
std::vector<std::string> g_log;

TEST(XnnpackGlobalPthreadpoolTest, ThePluginFallsBackToLibpthreadpoolAndSaysSo) {
  // Both libraries are loaded, and globally: the main program needs them.
  ASSERT_NE(dlopen("libpthreadpool.so.0", RTLD_LAZY | RTLD_NOLOAD), nullptr);
  ASSERT_NE(dlopen("libXNNPACK.so.0", RTLD_LAZY | RTLD_NOLOAD), nullptr);
  static etp_host_api host = *runtime::HostServices::for_threads(2).api();
  host.log = [](void*, int32_t, const char* message) {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    g_log.emplace_back(message);
  };
  auto registry = std::make_shared<plugins::Registry>(&host);
  for (const char* path : {ETP_PORTABLE_PLUGIN_PATH, ETP_XNNPACK_PLUGIN_PATH}) {
    auto plugin = plugins::PluginLibrary::load(path, host, {});
    ASSERT_TRUE(plugin.ok()) << plugin.status().message();
    ASSERT_OK(registry->add(std::move(*plugin)));
  }
  bool warned = false;
  for (const std::string& line : g_log) warned |= line.find("another pthreadpool in this process") != std::string::npos;
  EXPECT_TRUE(warned);
  for (const char* name : {"fc_bench_xnnpack", "conv_bench_xnnpack", "mlp_xnnpack", "qmobile_xnnpack"}) {
    SCOPED_TRACE(name);
    expect_fixture_matches(fixture_named(name), registry);
  }
}

}  // namespace
}  // namespace etp::test

// Referenced so the linker keeps libpthreadpool as a dependency of this program.
extern "C" void* etp_test_keep_pthreadpool() { return reinterpret_cast<void*>(&pthreadpool_create); }
