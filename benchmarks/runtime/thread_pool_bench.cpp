// The host's thread pool (ABI 1.2 parallel_for) against Debian's pthreadpool (the pool XNNPACK
// uses), on one workload — a 128 x 256 x 256 float matmul split into 128 row chunks — at 1 and 2
// threads, on an idle machine and with a busy-loop thread taking a core. Reports the median and
// p99 of each call (counters p50_us, p99_us). Then the portable plugin's own aten::mm.out on the
// host pool, the same way.
//
// What to look for: at 2 threads with a busy core, pthreadpool's caller waits for a worker that
// is not scheduled (p99 far above the 1-thread median); the host pool's caller runs the chunks
// itself, so its p99 stays near one thread's time.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <pthreadpool.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "runtime/host_services.h"
#include "runtime/thread_pool.h"
#include "support/busy_core.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRows = 128, kInner = 256, kCols = 256;

struct Matmul {
  std::vector<float> a = std::vector<float>(kRows * kInner, 0.5f), b = std::vector<float>(kInner * kCols, 0.25f),
                     c = std::vector<float>(kRows * kCols);
  // Not inlined: both pools run exactly this code.
  __attribute__((noinline)) void rows(uint64_t begin, uint64_t end) {
    for (uint64_t i = begin; i < end; ++i) {
      float* out = &c[i * kCols];
      std::fill(out, out + kCols, 0.0f);
      for (int p = 0; p < kInner; ++p) {
        const float x = a[i * kInner + p];
        const float* row = &b[static_cast<size_t>(p) * kCols];
        for (int j = 0; j < kCols; ++j) out[j] += x * row[j];
      }
    }
  }
};

void BM_HostPoolMatmul(benchmark::State& state) {
  etp::runtime::ThreadPool pool(static_cast<uint32_t>(state.range(0)));
  Matmul m;
  etp::bench::time_calls(state, state.range(1) != 0, [&] {
    pool.parallel_for(
        kRows, 1, [](void* c, uint64_t b, uint64_t e) { static_cast<Matmul*>(c)->rows(b, e); }, &m);
    return true;
  });
  state.counters["stalls"] = static_cast<double>(pool.stalls());
  state.counters["worker_chunks"] = static_cast<double>(pool.chunks_run_by_workers());
}

void BM_PthreadpoolMatmulReference(benchmark::State& state) {
  pthreadpool_t pool = pthreadpool_create(static_cast<size_t>(state.range(0)));
  Matmul m;
  etp::bench::time_calls(state, state.range(1) != 0, [&] {
    pthreadpool_parallelize_1d(
        pool, [](void* c, size_t i) { static_cast<Matmul*>(c)->rows(i, i + 1); }, &m, kRows, 0);
    return true;
  });
  pthreadpool_destroy(pool);
}

// The portable plugin's aten::mm.out (its tiled kernel) with the host table of a pool of N threads.
void BM_PortableMmOnHostPool(benchmark::State& state) {
  // The host table of a pool of N threads, with a resize for this benchmark's own tensors (the
  // host's checks the bounds of the runtime's tensors).
  etp_host_api table = *etp::runtime::HostServices::for_threads(static_cast<uint32_t>(state.range(0))).api();
  table.resize_tensor = [](void*, etp_tensor* t, int32_t rank, const int64_t* sizes) {
    return rank == t->rank && std::equal(sizes, sizes + rank, t->sizes) ? ETP_OK : ETP_ERR_SHAPE;
  };
  const etp_host_api* host = &table;
  void* library = dlopen(ETP_PORTABLE_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
  auto query = library ? reinterpret_cast<etp_plugin_query_fn>(dlsym(library, ETP_PLUGIN_QUERY_SYMBOL)) : nullptr;
  const etp_plugin* plugin = query ? query(host) : nullptr;
  etp_kernel mm{};
  if (plugin == nullptr || plugin->resolve_kernel(plugin->self, "aten::mm.out", &mm) != ETP_OK) {
    state.SkipWithError("cannot load the portable plugin's aten::mm.out");
    return;
  }
  Matmul m;
  struct Tensor {
    int64_t sizes[2], strides[2];
    uint8_t order[2] = {0, 1};
    etp_tensor t{};
    etp_value v{};
    Tensor(int64_t r, int64_t c, float* data) : sizes{r, c}, strides{c, 1} {
      t = {ETP_DTYPE_FLOAT32,   2, sizes, order, strides, data, uint64_t(r * c * 4), uint64_t(r * c * 4),
           ETP_DYNAMISM_STATIC, 0};
      v.tag = ETP_VALUE_TENSOR;
      v.u.tensor = &t;
    }
  } a(kRows, kInner, m.a.data()), b(kInner, kCols, m.b.data()), c(kRows, kCols, m.c.data());
  etp_value* args[] = {&a.v, &b.v, &c.v, &c.v};
  etp::bench::time_calls(state, state.range(1) != 0, [&] {
    if (mm.fn(mm.self, host, args, 4) != ETP_OK) std::abort();
    return true;
  });
}

}  // namespace

BENCHMARK(BM_HostPoolMatmul)
    ->ArgsProduct({{1, 2}, {0, 1}})
    ->ArgNames({"threads", "busy"})
    ->MinTime(0.5)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PthreadpoolMatmulReference)
    ->ArgsProduct({{1, 2}, {0, 1}})
    ->ArgNames({"threads", "busy"})
    ->MinTime(0.5)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PortableMmOnHostPool)
    ->ArgsProduct({{1, 2}, {0, 1}})
    ->ArgNames({"threads", "busy"})
    ->MinTime(0.5)
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
