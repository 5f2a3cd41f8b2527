#include "runtime/host_services.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "plugins/plugin_log.h"
#include "runtime/host_tensor.h"
#include "runtime/memory_budget.h"
#include "runtime/named_data_map.h"

namespace etp::runtime {
namespace {

void log(void*, int32_t level, const char* message) { plugins::PluginLog::write(level, message); }

void* allocate(void*, uint64_t size, uint64_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) return nullptr;
  if (alignment < sizeof(void*)) alignment = sizeof(void*);  // posix_memalign's minimum
  void* p = nullptr;
  return ::posix_memalign(&p, alignment, size == 0 ? 1 : size) == 0 ? p : nullptr;
}

void release(void*, void* p) { std::free(p); }

etp_status resize_tensor(void*, etp_tensor* tensor, int32_t rank, const int64_t* sizes) {
  if (tensor == nullptr || rank < 0 || rank > ETP_MAX_RANK || (rank > 0 && sizes == nullptr)) {
    plugins::PluginLog::set_last_error("resize_tensor: invalid arguments");
    return ETP_ERR_INVALID_ARGUMENT;
  }
  Status status = HostTensor::from(tensor)->resize(rank, sizes);
  if (!status.ok()) {
    plugins::PluginLog::set_last_error("output " + status.message());
    return ETP_ERR_SHAPE;
  }
  return ETP_OK;
}

etp_status find_named_data(void*, const etp_named_data_map* map, const char* key, etp_named_data* out) {
  if (map == nullptr || key == nullptr || out == nullptr || out->header.major != ETP_ABI_MAJOR) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  return reinterpret_cast<const NamedDataMap*>(map)->find(key, out);
}

void release_named_data(void*, const etp_named_data_map* map, const char* key) {
  if (map != nullptr && key != nullptr) reinterpret_cast<const NamedDataMap*>(map)->release(key);
}

void parallel_for(void* self, uint64_t count, uint64_t grain, etp_parallel_task task, void* context) {
  static_cast<const HostServices*>(self)->pool().parallel_for(count, grain, task, context);
}

uint32_t thread_count(void* self) { return static_cast<const HostServices*>(self)->threads(); }

// The handle in etp_backend_init_args.memory_budget is the bundle's MemoryBudget itself.
etp_status charge_memory(void*, etp_memory_budget* handle, uint64_t bytes) {
  if (handle == nullptr) return ETP_OK;
  MemoryBudget& budget = *reinterpret_cast<MemoryBudget*>(handle);
  if (budget.charge(bytes)) return ETP_OK;
  plugins::PluginLog::set_last_error("asked for " + std::to_string(bytes) + " bytes, " + budget.refusal());
  return ETP_ERR_OUT_OF_MEMORY;
}

void release_memory(void*, etp_memory_budget* handle, uint64_t bytes) {
  if (handle != nullptr) reinterpret_cast<MemoryBudget*>(handle)->release(bytes);
}

}  // namespace

HostServices::HostServices(uint32_t threads) : pool_(std::make_unique<ThreadPool>(threads)) {
  api_.header = ETP_ABI_HEADER(etp_host_api);
  api_.self = this;
  api_.log = log;
  api_.allocate = allocate;
  api_.free = release;
  api_.resize_tensor = resize_tensor;
  api_.find_named_data = find_named_data;
  api_.release_named_data = release_named_data;
  api_.parallel_for = parallel_for;
  api_.thread_count = thread_count;
  api_.charge_memory = charge_memory;
  api_.release_memory = release_memory;
}

uint32_t HostServices::default_threads() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : std::min(cores, 64u);
}

const HostServices& HostServices::get() {
  static const HostServices& services = for_threads(0);
  return services;
}

const HostServices& HostServices::for_threads(uint32_t threads) {
  if (threads == 0) threads = default_threads();
  static std::mutex mutex;
  // Never destroyed: plugins keep the table until the process ends, and a pool destroyed by a
  // static destructor could still be called from another one.
  static auto* tables = new std::map<uint32_t, const HostServices*>();
  const std::lock_guard<std::mutex> lock(mutex);
  const HostServices*& entry = (*tables)[threads];
  if (entry == nullptr) entry = new HostServices(threads);
  return *entry;
}

}  // namespace etp::runtime
