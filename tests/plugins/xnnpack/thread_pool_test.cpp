// The pool XNNPACK runs on (plugins/xnnpack/thread_pool.h): the plugin takes XNNPACK's
// pthreadpool calls and runs them on the host's pool, or on a pool of its own when its `threads`
// option differs from the host's; every XNNPACK fixture still matches ExecuTorch's outputs; a
// real pthreadpool that reaches the plugin's functions (another library's) is forwarded to
// libpthreadpool and works.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <pthreadpool.h>
#include <xnnpack.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <vector>

#include "plugins/plugin_library.h"
#include "plugins/registry.h"
#include "runtime/host_services.h"
#include "runtime/runtime_support.h"
#include "runtime/tensor_io.h"
#include "support/fixtures.h"
#include "support/status.h"

namespace etp::test {
namespace {

std::mutex g_log_mutex;  // guards g_log
std::vector<std::string> g_log;

// parallel_for calls per host table (by its `self`), counted on the way to the host's pool.
std::map<void*, uint64_t> g_parallel_calls;  // guarded by g_log_mutex
decltype(etp_host_api::parallel_for) g_parallel_for = nullptr;

// The host table of a pool of `threads`, with a log the test reads and parallel_for calls
// counted. Kept for the process (the plugin holds the pointer).
const etp_host_api* logging_host(uint32_t threads) {
  static std::map<uint32_t, etp_host_api> tables;
  auto [it, added] = tables.emplace(threads, *runtime::HostServices::for_threads(threads).api());
  if (added) {
    it->second.log = [](void*, int32_t, const char* message) {
      std::lock_guard<std::mutex> lock(g_log_mutex);
      g_log.emplace_back(message);
    };
    g_parallel_for = it->second.parallel_for;  // one function for every pool size
    it->second.parallel_for = [](void* self, uint64_t count, uint64_t grain, etp_parallel_task task, void* context) {
      {
        std::lock_guard<std::mutex> lock(g_log_mutex);
        ++g_parallel_calls[self];
      }
      g_parallel_for(self, count, grain, task, context);
    };
  }
  return &it->second;
}

uint64_t parallel_calls(uint32_t threads) {
  std::lock_guard<std::mutex> lock(g_log_mutex);
  return g_parallel_calls[runtime::HostServices::for_threads(threads).api()->self];
}

bool logged(const std::string& text) {
  std::lock_guard<std::mutex> lock(g_log_mutex);
  for (const std::string& line : g_log) {
    if (line.find(text) != std::string::npos) return true;
  }
  return false;
}

std::shared_ptr<plugins::Registry> xnnpack_registry(const etp_host_api* host, plugins::Options options) {
  auto registry = std::make_shared<plugins::Registry>(host);
  for (auto [path, opts] : {std::make_pair(std::string(ETP_PORTABLE_PLUGIN_PATH), plugins::Options{}),
                            std::make_pair(std::string(ETP_QUANTIZED_PLUGIN_PATH), plugins::Options{}),
                            std::make_pair(std::string(ETP_LLM_PLUGIN_PATH), plugins::Options{}),
                            std::make_pair(std::string(ETP_XNNPACK_PLUGIN_PATH), options)}) {
    auto plugin = plugins::PluginLibrary::load(path, *host, opts);
    if (!plugin.ok()) {
      ADD_FAILURE() << plugin.status().message();
      continue;
    }
    EXPECT_OK(registry->add(std::move(*plugin)));
  }
  return registry;
}

// Loads fixture `f` once and executes its first run `times` times: an operator's first call runs
// on the calling thread (and is timed, plugins/xnnpack/thread_pool.cpp), later ones may split.
void execute_repeatedly(const nlohmann::json& f, std::shared_ptr<const plugins::Registry> registry, int times) {
  auto program = open_fixture(f, std::move(registry));
  ASSERT_TRUE(program.ok()) << program.status().message();
  const auto& run = f["runs"][0];
  auto method = (*program)->load_method(run["method"].get<std::string>());
  ASSERT_TRUE(method.ok()) << method.status().message();
  std::vector<NpyArray> inputs;
  for (const auto& in : run["inputs"]) inputs.push_back(*read_npy(fixture_path(in["file"])));
  for (int i = 0; i < times; ++i) {
    for (size_t k = 0; k < inputs.size(); ++k) ASSERT_OK((*method)->set_input(k, runtime::as_input(inputs[k])));
    ASSERT_OK((*method)->execute());
  }
}

std::vector<nlohmann::json> xnnpack_fixtures() {
  std::vector<nlohmann::json> out;
  for (const auto& f : all_fixtures()) {
    if (f["backend"] == "xnnpack") out.push_back(f);
  }
  return out;
}

TEST(XnnpackThreadPoolTest, EveryFixtureMatchesOnTheHostsPoolAndItsThreadsTakePart) {
  const etp_host_api* host = logging_host(3);
  runtime::ThreadPool& pool = runtime::HostServices::for_threads(3).pool();
  auto registry = xnnpack_registry(host, {});
  EXPECT_TRUE(logged("xnnpack: 3 threads on the host's pool"));
  const uint64_t before = pool.chunks_run_by_workers(), crowded_before = pool.crowded_wakes();
  const auto fixtures = xnnpack_fixtures();
  ASSERT_GE(fixtures.size(), 20u);
  for (const auto& f : fixtures) {
    SCOPED_TRACE(f["name"].get<std::string>());
    expect_fixture_matches(f, registry);
  }
  // The pool threads may all be descheduled on a busy machine; more runs give them the chance
  // to show they take part. With every other core taken for 5 s they are woken on the caller's
  // CPU and leave the calls to it (runtime/thread_pool.h), which the pool counts.
  const auto big = fixture_named("fc_bench_xnnpack");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (pool.chunks_run_by_workers() == before && std::chrono::steady_clock::now() < deadline) {
    execute_repeatedly(big, registry, 3);
  }
  EXPECT_TRUE(pool.chunks_run_by_workers() > before || pool.crowded_wakes() > crowded_before);
}

TEST(XnnpackThreadPoolTest, AThreadsOptionOtherThanTheHostsGetsAPoolOfItsOwn) {
  const etp_host_api* host = logging_host(2);
  runtime::ThreadPool& host_pool = runtime::HostServices::for_threads(2).pool();
  auto registry = xnnpack_registry(host, {{"threads", "3"}});
  EXPECT_TRUE(logged("xnnpack: 3 threads on a pool of its own"));
  const uint64_t before = host_pool.chunks_run_by_workers();
  for (const char* name : {"fc_bench_xnnpack", "conv_bench_xnnpack", "qmobile_xnnpack", "fp16_xnnpack"}) {
    SCOPED_TRACE(name);
    expect_fixture_matches(fixture_named(name), registry);
  }
  EXPECT_EQ(host_pool.chunks_run_by_workers(), before);
}

// Two bundles on pools of different sizes at once (`etp bench --threads 2,3`): the host loads a
// private copy of the plugin for the second; XNNPACK, loaded once, stays bound to the first
// copy's functions, and the second copy finds that out and still runs on its host's pool.
TEST(XnnpackThreadPoolTest, APrivateCopyOfThePluginAlsoRunsOnItsHostsPool) {
  auto two = xnnpack_registry(logging_host(2), {});
  auto three = xnnpack_registry(logging_host(3), {});
  EXPECT_NE(two->plugins().back().get(), three->plugins().back().get());
  EXPECT_TRUE(logged("xnnpack: 2 threads on the host's pool"));
  EXPECT_TRUE(logged("xnnpack: 3 threads on the host's pool"));
  EXPECT_FALSE(logged("another pthreadpool"));
  // Counted calls, not the pool threads' chunks: the pool may be backing off after stalls an
  // earlier test caused on this machine, and then runs every call on the caller.
  const uint64_t before = parallel_calls(3);
  const auto big = fixture_named("fc_bench_xnnpack");
  expect_fixture_matches(big, two);
  expect_fixture_matches(big, three);
  // Operators that timed under the plugin's threshold run alone (thread_pool.cpp); on a loaded
  // machine a few more runs re-time them (a TSan pass beside other jobs once saw no parallel call).
  for (int i = 0; i < 20 && parallel_calls(3) == before; ++i) execute_repeatedly(big, three, 3);
  EXPECT_GT(parallel_calls(3), before);
}

// Another library in the process that created a real pthreadpool and calls XNNPACK with it:
// XNNPACK's calls reach the plugin's functions, which hand that pool to libpthreadpool. The
// same multiply through the plugin's serial path (a NULL pool) gives the same bits, denormal
// inputs included (both honour the flags XNNPACK passes).
TEST(XnnpackThreadPoolTest, ARealPthreadpoolFromAnotherLibraryIsForwardedToLibpthreadpool) {
  auto registry = xnnpack_registry(logging_host(2), {});         // loads libXNNPACK as the plugin's dependency
  ASSERT_TRUE(logged("xnnpack: 2 threads on the host's pool"));  // XNNPACK's calls reach the plugin
  void* xnn = dlopen("libXNNPACK.so.0", RTLD_LAZY | RTLD_NOLOAD);
  void* ptp = dlopen("libpthreadpool.so.0", RTLD_LAZY | RTLD_NOLOAD);
  ASSERT_NE(xnn, nullptr);
  ASSERT_NE(ptp, nullptr);
  auto create_pool = reinterpret_cast<decltype(&pthreadpool_create)>(dlsym(ptp, "pthreadpool_create"));
  auto destroy_pool = reinterpret_cast<decltype(&pthreadpool_destroy)>(dlsym(ptp, "pthreadpool_destroy"));
  auto create = reinterpret_cast<decltype(&xnn_create_multiply_nd_f32)>(dlsym(xnn, "xnn_create_multiply_nd_f32"));
  auto setup = reinterpret_cast<decltype(&xnn_setup_multiply_nd_f32)>(dlsym(xnn, "xnn_setup_multiply_nd_f32"));
  auto run = reinterpret_cast<decltype(&xnn_run_operator)>(dlsym(xnn, "xnn_run_operator"));
  auto destroy = reinterpret_cast<decltype(&xnn_delete_operator)>(dlsym(xnn, "xnn_delete_operator"));
  ASSERT_TRUE(create_pool && destroy_pool && create && setup && run && destroy);

  const size_t rows = 512, cols = 64;
  std::vector<float> a(rows * cols), b(cols);
  for (size_t i = 0; i < a.size(); ++i) a[i] = i % 7 == 0 ? 1e-40f : static_cast<float>(i % 13) - 6.0f;
  for (size_t j = 0; j < cols; ++j) b[j] = j % 5 == 0 ? 0.5f : 1.0f + static_cast<float>(j) / 64;
  auto multiply = [&](pthreadpool_t pool) {
    std::vector<float> out(a.size(), -1.0f);
    xnn_operator_t op = nullptr;
    const size_t a_shape[] = {rows, cols}, b_shape[] = {cols};
    EXPECT_EQ(create(-INFINITY, INFINITY, 0, &op), xnn_status_success);
    EXPECT_EQ(setup(op, 2, a_shape, 1, b_shape, a.data(), b.data(), out.data(), pool), xnn_status_success);
    EXPECT_EQ(run(op, pool), xnn_status_success);
    destroy(op);
    return out;
  };
  pthreadpool_t real = create_pool(2);
  ASSERT_NE(real, nullptr);
  const std::vector<float> forwarded = multiply(real);
  destroy_pool(real);
  const std::vector<float> serial = multiply(nullptr);
  EXPECT_EQ(std::memcmp(forwarded.data(), serial.data(), forwarded.size() * sizeof(float)), 0);
  EXPECT_EQ(forwarded[1], a[1] * b[1]);
  // XNNPACK asks for denormals flushed (PTHREADPOOL_FLAG_DISABLE_DENORMALS): 1e-40 * 0.5 is 0
  // through libpthreadpool and through the plugin's own serial path alike.
  EXPECT_EQ(forwarded[0], 0.0f);
  EXPECT_EQ(serial[0], 0.0f);
}

}  // namespace
}  // namespace etp::test
