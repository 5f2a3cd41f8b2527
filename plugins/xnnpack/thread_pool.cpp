// pthreadpool's parallelize functions over the host's pool (see thread_pool.h).
#include "thread_pool.h"

#include <dlfcn.h>
#include <link.h>
#include <xnnpack.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstring>
#include <ctime>

// Exported by plugins/xnnpack/etp_xnnpack.map; everything else in the plugin stays hidden.
#define ETP_PTHREADPOOL_API extern "C" __attribute__((visibility("default")))

namespace etp_xnnpack {
namespace {

constexpr uint64_t kMagic = 0x6c6f6f702d707465ull;  // "etp-pool"

// What our pthreadpool_t points at. The magic tells our pools from a real pthreadpool's.
struct Pool {
  uint64_t magic = kMagic;
  ParallelFor target;
  // Of its operator timings, part of their key: raised by forget_timings, and started from the
  // clock (create_pool), so that no two pools share keys. A private copy of the plugin runs its
  // operators, which may sit where the first copy's freed ones were, on a pool of its own.
  std::atomic<uint64_t> generation{0};
};

std::atomic<bool> g_reached{false};  // one of our functions ran (probe)

// A pool another library created with libpthreadpool (its first bytes are not our magic).
bool foreign(pthreadpool_t pool) {
  if (pool == nullptr) return false;
  uint64_t head;
  std::memcpy(&head, pool, sizeof head);
  return head != kMagic;
}

// Calls `fn`, the next definition of a parallelize function after this plugin (libpthreadpool's,
// found with dlsym(RTLD_NEXT)). The signature is taken from the arguments: pthreadpool.h also
// declares C++ template overloads of each name, so `decltype(&name)` is ambiguous.
template <typename... Args>
void call_real(void* fn, pthreadpool_t pool, Args... args) {
  reinterpret_cast<void (*)(pthreadpool_t, Args...)>(fn)(pool, args...);
}

// The shapes of pthreadpool's parallelize functions that XNNPACK calls.
enum class Shape : uint8_t {
  k1d,
  k1dTile1d,
  k2d,
  k2dTile1d,
  k2dTile2d,
  k3d,
  k3dTile2d,
  k4d,
  k4dTile2d,
  k5d,
  k5dTile2d,
  k6dTile2d
};

// One parallel call: a range of up to six dimensions, the last one or two tiled. Items are
// the tiles, numbered with the first dimension outermost (as pthreadpool does).
struct Job {
  Shape shape;
  void (*task)();  // the pthreadpool_task_*_t of `shape`
  void* context;
  uint32_t flags;
  int dims = 0;
  size_t range[6] = {};
  size_t tile[6] = {};
  size_t steps[6] = {};  // tiles along each dimension
};

// PTHREADPOOL_FLAG_DISABLE_DENORMALS: flush denormals on the thread running a chunk, for that
// chunk only (pthreadpool does the same on every thread it uses).
class DenormalsOff {
 public:
  explicit DenormalsOff(uint32_t flags) {
#if defined(__x86_64__) || defined(__i386__)
    if ((flags & PTHREADPOOL_FLAG_DISABLE_DENORMALS) != 0) {
      saved_ = _mm_getcsr();
      _mm_setcsr(saved_ | 0x8040u);  // FTZ and DAZ
      restore_ = true;
    }
#else
    (void)flags;
#endif
  }
  ~DenormalsOff() {
#if defined(__x86_64__) || defined(__i386__)
    if (restore_) _mm_setcsr(saved_);
#endif
  }
  DenormalsOff(const DenormalsOff&) = delete;
  DenormalsOff& operator=(const DenormalsOff&) = delete;

 private:
  unsigned saved_ = 0;
  bool restore_ = false;
};

template <typename Task>
Task as(void (*task)()) {
  return reinterpret_cast<Task>(task);
}

// Calls the task on the tile starting at `s` with extents `t`.
void call(const Job& j, const size_t* s, const size_t* t) {
  void* c = j.context;
  switch (j.shape) {
    case Shape::k1d: return as<pthreadpool_task_1d_t>(j.task)(c, s[0]);
    case Shape::k1dTile1d: return as<pthreadpool_task_1d_tile_1d_t>(j.task)(c, s[0], t[0]);
    case Shape::k2d: return as<pthreadpool_task_2d_t>(j.task)(c, s[0], s[1]);
    case Shape::k2dTile1d: return as<pthreadpool_task_2d_tile_1d_t>(j.task)(c, s[0], s[1], t[1]);
    case Shape::k2dTile2d: return as<pthreadpool_task_2d_tile_2d_t>(j.task)(c, s[0], s[1], t[0], t[1]);
    case Shape::k3d: return as<pthreadpool_task_3d_t>(j.task)(c, s[0], s[1], s[2]);
    case Shape::k3dTile2d: return as<pthreadpool_task_3d_tile_2d_t>(j.task)(c, s[0], s[1], s[2], t[1], t[2]);
    case Shape::k4d: return as<pthreadpool_task_4d_t>(j.task)(c, s[0], s[1], s[2], s[3]);
    case Shape::k4dTile2d: return as<pthreadpool_task_4d_tile_2d_t>(j.task)(c, s[0], s[1], s[2], s[3], t[2], t[3]);
    case Shape::k5d: return as<pthreadpool_task_5d_t>(j.task)(c, s[0], s[1], s[2], s[3], s[4]);
    case Shape::k5dTile2d:
      return as<pthreadpool_task_5d_tile_2d_t>(j.task)(c, s[0], s[1], s[2], s[3], s[4], t[3], t[4]);
    case Shape::k6dTile2d:
      return as<pthreadpool_task_6d_tile_2d_t>(j.task)(c, s[0], s[1], s[2], s[3], s[4], s[5], t[4], t[5]);
  }
}

// Runs items [begin, end) of the job on the calling thread.
void run_items(const Job& j, uint64_t begin, uint64_t end) {
  DenormalsOff denormals(j.flags);
  size_t at[6] = {}, s[6] = {}, t[6] = {};
  uint64_t rest = begin;
  for (int d = j.dims - 1; d >= 0; --d) {
    at[d] = static_cast<size_t>(rest % j.steps[d]);
    rest /= j.steps[d];
  }
  for (uint64_t n = begin; n < end; ++n) {
    for (int d = 0; d < j.dims; ++d) {
      s[d] = at[d] * j.tile[d];
      t[d] = std::min(j.tile[d], j.range[d] - s[d]);
    }
    call(j, s, t);
    for (int d = j.dims - 1; d >= 0; --d) {  // next tile, last dimension fastest
      if (++at[d] < j.steps[d]) break;
      at[d] = 0;
    }
  }
}

// Small operators run on the calling thread. Handing out chunks costs a few microseconds (a
// worker's wake-up, the wait for its last chunk, output lines moving between cores), more than
// an operator of a few microseconds gains, so a model of small operators ran slower at two
// threads than at one (tiny_llama: 1.7x, measured). XNNPACK's tile counts do not tell the
// cost, so it is measured: the first call of an operator (its context, task and tile count)
// runs alone and is timed; later calls run alone while that time is under kMinParallelNs, and
// are re-timed now and then: every 16th call of a small one (free: it runs alone anyway; and the
// plugin's own kernels pass a context on their caller's stack, so layers of one kind with the
// same tile count share an entry), every 1024th of a large one (that call loses its
// parallelism). The key also holds the pool's generation, which forget_timings raises when a
// delegate is destroyed: an operator allocated where a freed one was, with the same task and
// tile count, would otherwise inherit its verdict (one inherited "small" kept a large layer on
// one thread). A direct-mapped table of atomics; a collision only costs a re-measurement.
constexpr uint64_t kMinParallelNs = 20000;
constexpr uint32_t kRetimeSmallEvery = 16, kRetimeEvery = 1024;

struct Timing {
  std::atomic<uint64_t> key{0};
  std::atomic<uint64_t> alone_ns{0};
  std::atomic<uint32_t> calls{0};
};
Timing g_timings[1024];

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Runs the job on the calling thread and returns true when it is small (or not yet measured).
bool runs_alone(const Job& j, uint64_t items, uint64_t generation) {
  uint64_t key = reinterpret_cast<uintptr_t>(j.context) * 0x9e3779b97f4a7c15ull;
  key ^= (reinterpret_cast<uintptr_t>(j.task) + (items << 20)) * 0xc2b2ae3d27d4eb4full;
  key ^= generation * 0x165667b19e3779f9ull;
  key |= 1;  // 0 marks an empty slot
  Timing& t = g_timings[(key >> 40) % (sizeof g_timings / sizeof g_timings[0])];
  const bool known = t.key.load(std::memory_order_relaxed) == key;
  const bool small = t.alone_ns.load(std::memory_order_relaxed) < kMinParallelNs;
  const uint32_t every = small ? kRetimeSmallEvery : kRetimeEvery;
  const bool retime = known && t.calls.fetch_add(1, std::memory_order_relaxed) % every == every - 1;
  if (known && !retime && !small) return false;
  const uint64_t start = known && !retime ? 0 : now_ns();
  run_items(j, 0, items);
  if (start != 0) {
    t.alone_ns.store(now_ns() - start, std::memory_order_relaxed);
    t.key.store(key, std::memory_order_relaxed);
  }
  return true;
}

// Runs a job on `pool` (nullptr: on the calling thread, as pthreadpool does for NULL).
void run(pthreadpool_t pool, Shape shape, void (*task)(), void* context, uint32_t flags,
         std::initializer_list<size_t> range, std::initializer_list<size_t> tile) {
  if (!g_reached.load(std::memory_order_relaxed)) g_reached.store(true, std::memory_order_relaxed);
  Job j{shape, task, context, flags};
  j.dims = static_cast<int>(range.size());
  uint64_t items = 1;
  const size_t untiled = range.size() - tile.size();
  for (int d = 0; d < j.dims; ++d) {
    j.range[d] = range.begin()[d];
    j.tile[d] = static_cast<size_t>(d) < untiled ? 1 : std::max<size_t>(1, tile.begin()[d - untiled]);
    if (j.range[d] == 0) return;
    j.steps[d] = (j.range[d] + j.tile[d] - 1) / j.tile[d];
    items *= j.steps[d];
  }
  const Pool* p = reinterpret_cast<const Pool*>(pool);
  if (p == nullptr || p->target.threads <= 1 || p->target.parallel_for == nullptr || items == 1) {
    run_items(j, 0, items);
    return;
  }
  if (runs_alone(j, items, p->generation.load(std::memory_order_relaxed))) return;
  // XNNPACK already sizes its tiles for the thread count (pthreadpool_get_threads_count); a
  // few tiles per chunk keeps claims cheap where it made many small ones.
  const uint64_t grain = std::max<uint64_t>(1, items / (uint64_t{p->target.threads} * 8));
  p->target.parallel_for(
      p->target.self, items, grain,
      [](void* job, uint64_t begin, uint64_t end) { run_items(*static_cast<const Job*>(job), begin, end); }, &j);
}

template <typename Task>
void (*erase(Task task))() {
  return reinterpret_cast<void (*)()>(task);
}

}  // namespace

pthreadpool_t create_pool(const ParallelFor& target) {
  Pool* pool = new Pool;
  pool->target = target;
  pool->generation.store(now_ns() << 20, std::memory_order_relaxed);  // room for 2^20 raises a ns
  return reinterpret_cast<pthreadpool_t>(pool);
}

void destroy_pool(pthreadpool_t pool) { delete reinterpret_cast<Pool*>(pool); }

void forget_timings(pthreadpool_t pool) {
  if (pool != nullptr && !foreign(pool)) {
    reinterpret_cast<Pool*>(pool)->generation.fetch_add(1, std::memory_order_relaxed);
  }
}

namespace {

// Where libXNNPACK's calls to `name` go: the address in its GOT slot for that symbol (read after
// XNNPACK made the call once: slots are bound lazily), or nullptr when it cannot be read.
void* bound_target(const char* name) {
#if defined(__x86_64__)
  void* handle = dlopen("libXNNPACK.so.0", RTLD_LAZY | RTLD_NOLOAD);
  link_map* map = nullptr;
  const bool found = handle != nullptr && dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr;
  if (handle != nullptr) dlclose(handle);  // still loaded: it is the plugin's dependency
  if (!found || map->l_ld == nullptr) return nullptr;
  const uintptr_t base = map->l_addr;
  // glibc relocates the dynamic section's addresses in place on x86-64; be safe either way.
  auto address = [base](ElfW(Addr) a) { return a < base ? a + base : a; };
  const ElfW(Sym)* symtab = nullptr;
  const char* strtab = nullptr;
  const ElfW(Rela) * tables[2] = {};
  size_t sizes[2] = {};
  for (const ElfW(Dyn)* d = map->l_ld; d->d_tag != DT_NULL; ++d) {
    switch (d->d_tag) {
      case DT_SYMTAB: symtab = reinterpret_cast<const ElfW(Sym)*>(address(d->d_un.d_ptr)); break;
      case DT_STRTAB: strtab = reinterpret_cast<const char*>(address(d->d_un.d_ptr)); break;
      case DT_JMPREL: tables[0] = reinterpret_cast<const ElfW(Rela)*>(address(d->d_un.d_ptr)); break;
      case DT_PLTRELSZ: sizes[0] = d->d_un.d_val; break;
      case DT_RELA: tables[1] = reinterpret_cast<const ElfW(Rela)*>(address(d->d_un.d_ptr)); break;
      case DT_RELASZ: sizes[1] = d->d_un.d_val; break;
      default: break;
    }
  }
  if (symtab == nullptr || strtab == nullptr) return nullptr;
  for (int t = 0; t < 2; ++t) {
    for (size_t i = 0; tables[t] != nullptr && i < sizes[t] / sizeof(ElfW(Rela)); ++i) {
      const ElfW(Rela)& r = tables[t][i];
      const auto type = ELF64_R_TYPE(r.r_info);
      if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) continue;
      if (std::strcmp(strtab + symtab[ELF64_R_SYM(r.r_info)].st_name, name) != 0) continue;
      void* target = nullptr;
      std::memcpy(&target, reinterpret_cast<const void*>(base + r.r_offset), sizeof target);
      return target;
    }
  }
#else
  (void)name;
#endif
  return nullptr;
}

// True when `target` is `name` in another loaded copy of this very plugin file (a private copy
// the host made for other options): same symbol at the same offset from its object's start. Its
// functions then understand our pools exactly as ours do.
bool in_a_copy_of_this_plugin(void* target, const char* name) {
  Dl_info self{}, theirs{};
  if (target == nullptr || dladdr(reinterpret_cast<void*>(&probe), &self) == 0 || self.dli_fname == nullptr ||
      dladdr(target, &theirs) == 0 || theirs.dli_sname == nullptr || std::strcmp(theirs.dli_sname, name) != 0) {
    return false;
  }
  void* handle = dlopen(self.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  void* ours = handle != nullptr ? dlsym(handle, name) : nullptr;  // this object's own definition
  if (handle != nullptr) dlclose(handle);
  if (ours == nullptr) return false;
  Dl_info mine{};
  return dladdr(ours, &mine) != 0 && mine.dli_fbase == self.dli_fbase &&
         reinterpret_cast<uintptr_t>(target) - reinterpret_cast<uintptr_t>(theirs.dli_fbase) ==
             reinterpret_cast<uintptr_t>(ours) - reinterpret_cast<uintptr_t>(mine.dli_fbase);
}

}  // namespace

bool probe() {
  g_reached.store(false);
  xnn_operator_t op = nullptr;
  float x = 1.0f, y = 0.0f;
  const bool ran = xnn_create_clamp_nc_f32(1, 1, 1, 0.0f, 6.0f, 0, &op) == xnn_status_success &&
                   xnn_setup_clamp_nc_f32(op, 1, &x, &y, nullptr) == xnn_status_success &&
                   xnn_run_operator(op, nullptr) == xnn_status_success;
  if (op != nullptr) xnn_delete_operator(op);
  if (!ran || y != 1.0f) return false;
  if (g_reached.load()) return true;
  // Not ours: a copy of this plugin loaded earlier may hold the binding (XNNPACK is loaded once).
  const char* name = "pthreadpool_parallelize_1d_tile_1d";
  return in_a_copy_of_this_plugin(bound_target(name), name);
}

}  // namespace etp_xnnpack

// The functions XNNPACK calls. Each forwards a pool it did not create to libpthreadpool (or,
// should that be missing, runs it on the calling thread: every item still runs exactly once).
using etp_xnnpack::erase;
using etp_xnnpack::run;
using etp_xnnpack::Shape;

#define ETP_FORWARD_FOREIGN(name, ...)                                                 \
  if (etp_xnnpack::foreign(pool)) {                                                    \
    static void* const real_fn = dlsym(RTLD_NEXT, #name);                              \
    if (real_fn != nullptr) return etp_xnnpack::call_real(real_fn, pool, __VA_ARGS__); \
    pool = nullptr;                                                                    \
  }

ETP_PTHREADPOOL_API size_t pthreadpool_get_threads_count(pthreadpool_t pool) {
  if (etp_xnnpack::foreign(pool)) {
    static void* const real_fn = dlsym(RTLD_NEXT, "pthreadpool_get_threads_count");
    return real_fn != nullptr ? reinterpret_cast<size_t (*)(pthreadpool_t)>(real_fn)(pool) : 1;
  }
  return pool == nullptr ? 1 : reinterpret_cast<const etp_xnnpack::Pool*>(pool)->target.threads;
}

ETP_PTHREADPOOL_API void pthreadpool_parallelize_1d(pthreadpool_t pool, pthreadpool_task_1d_t task, void* context,
                                                    size_t range, uint32_t flags) {
  ETP_FORWARD_FOREIGN(pthreadpool_parallelize_1d, task, context, range, flags)
  run(pool, Shape::k1d, erase(task), context, flags, {range}, {});
}

ETP_PTHREADPOOL_API void pthreadpool_parallelize_1d_tile_1d(pthreadpool_t pool, pthreadpool_task_1d_tile_1d_t task,
                                                            void* context, size_t range, size_t tile, uint32_t flags) {
  ETP_FORWARD_FOREIGN(pthreadpool_parallelize_1d_tile_1d, task, context, range, tile, flags)
  run(pool, Shape::k1dTile1d, erase(task), context, flags, {range}, {tile});
}

ETP_PTHREADPOOL_API void pthreadpool_parallelize_2d(pthreadpool_t pool, pthreadpool_task_2d_t task, void* context,
                                                    size_t range_i, size_t range_j, uint32_t flags) {
  ETP_FORWARD_FOREIGN(pthreadpool_parallelize_2d, task, context, range_i, range_j, flags)
  run(pool, Shape::k2d, erase(task), context, flags, {range_i, range_j}, {});
}

ETP_PTHREADPOOL_API void pthreadpool_parallelize_2d_tile_1d(pthreadpool_t pool, pthreadpool_task_2d_tile_1d_t task,
                                                            void* context, size_t range_i, size_t range_j,
                                                            size_t tile_j, uint32_t flags) {
  ETP_FORWARD_FOREIGN(pthreadpool_parallelize_2d_tile_1d, task, context, range_i, range_j, tile_j, flags)
  run(pool, Shape::k2dTile1d, erase(task), context, flags, {range_i, range_j}, {tile_j});
}

ETP_PTHREADPOOL_API void pthreadpool_parallelize_2d_tile_2d(pthreadpool_t pool, pthreadpool_task_2d_tile_2d_t task,
                                                            void* context, size_t range_i, size_t range_j,
                                                            size_t tile_i, size_t tile_j, uint32_t flags) {
  ETP_FORWARD_FOREIGN(pthreadpool_parallelize_2d_tile_2d, task, context, range_i, range_j, tile_i, tile_j, flags)
  run(pool, Shape::k2dTile2d, erase(task), context, flags, {range_i, range_j}, {tile_i, tile_j});
}

ETP_PTHREADPOOL_API void pthreadpool_parallelize_3d(pthreadpool_t pool, pthreadpool_task_3d_t task, void* context,
                                                    size_t range_i, size_t range_j, size_t range_k, uint32_t flags) {
  ETP_FORWARD_FOREIGN(pthreadpool_parallelize_3d, task, context, range_i, range_j, range_k, flags)
  run(pool, Shape::k3d, erase(task), context, flags, {range_i, range_j, range_k}, {});
}

ETP_PTHREADPOOL_API void pthreadpool_parallelize_3d_tile_2d(pthreadpool_t pool, pthreadpool_task_3d_tile_2d_t task,
                                                            void* context, size_t range_i, size_t range_j,
                                                            size_t range_k, size_t tile_j, size_t tile_k,
                                                            uint32_t flags) {
  ETP_FORWARD_FOREIGN(pthreadpool_parallelize_3d_tile_2d, task, context, range_i, range_j, range_k, tile_j, tile_k,
                      flags)
  run(pool, Shape::k3dTile2d, erase(task), context, flags, {range_i, range_j, range_k}, {tile_j, tile_k});
}

ETP_PTHREADPOOL_API void pthreadpool_parallelize_4d(pthreadpool_t pool, pthreadpool_task_4d_t task, void* context,
                                                    size_t range_i, size_t range_j, size_t range_k, size_t range_l,
                                                    uint32_t flags) {
  ETP_FORWARD_FOREIGN(pthreadpool_parallelize_4d, task, context, range_i, range_j, range_k, range_l, flags)
  run(pool, Shape::k4d, erase(task), context, flags, {range_i, range_j, range_k, range_l}, {});
}

ETP_PTHREADPOOL_API void pthreadpool_parallelize_4d_tile_2d(pthreadpool_t pool, pthreadpool_task_4d_tile_2d_t task,
                                                            void* context, size_t range_i, size_t range_j,
                                                            size_t range_k, size_t range_l, size_t tile_k,
                                                            size_t tile_l, uint32_t flags) {
  ETP_FORWARD_FOREIGN(pthreadpool_parallelize_4d_tile_2d, task, context, range_i, range_j, range_k, range_l, tile_k,
                      tile_l, flags)
  run(pool, Shape::k4dTile2d, erase(task), context, flags, {range_i, range_j, range_k, range_l}, {tile_k, tile_l});
}

ETP_PTHREADPOOL_API void pthreadpool_parallelize_5d(pthreadpool_t pool, pthreadpool_task_5d_t task, void* context,
                                                    size_t range_i, size_t range_j, size_t range_k, size_t range_l,
                                                    size_t range_m, uint32_t flags) {
  ETP_FORWARD_FOREIGN(pthreadpool_parallelize_5d, task, context, range_i, range_j, range_k, range_l, range_m, flags)
  run(pool, Shape::k5d, erase(task), context, flags, {range_i, range_j, range_k, range_l, range_m}, {});
}

ETP_PTHREADPOOL_API void pthreadpool_parallelize_5d_tile_2d(pthreadpool_t pool, pthreadpool_task_5d_tile_2d_t task,
                                                            void* context, size_t range_i, size_t range_j,
                                                            size_t range_k, size_t range_l, size_t range_m,
                                                            size_t tile_l, size_t tile_m, uint32_t flags) {
  ETP_FORWARD_FOREIGN(pthreadpool_parallelize_5d_tile_2d, task, context, range_i, range_j, range_k, range_l, range_m,
                      tile_l, tile_m, flags)
  run(pool, Shape::k5dTile2d, erase(task), context, flags, {range_i, range_j, range_k, range_l, range_m},
      {tile_l, tile_m});
}

ETP_PTHREADPOOL_API void pthreadpool_parallelize_6d_tile_2d(pthreadpool_t pool, pthreadpool_task_6d_tile_2d_t task,
                                                            void* context, size_t range_i, size_t range_j,
                                                            size_t range_k, size_t range_l, size_t range_m,
                                                            size_t range_n, size_t tile_m, size_t tile_n,
                                                            uint32_t flags) {
  ETP_FORWARD_FOREIGN(pthreadpool_parallelize_6d_tile_2d, task, context, range_i, range_j, range_k, range_l, range_m,
                      range_n, tile_m, tile_n, flags)
  run(pool, Shape::k6dTile2d, erase(task), context, flags, {range_i, range_j, range_k, range_l, range_m, range_n},
      {tile_m, tile_n});
}
