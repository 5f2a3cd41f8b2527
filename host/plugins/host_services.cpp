#include "plugins/host_services.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "runtime/host_tensor.h"
#include "runtime/named_data_map.h"

namespace etp::plugins {
namespace {

thread_local std::string t_last_error;
std::atomic<int32_t> g_print_level{ETP_LOG_ERROR + 1};  // errors travel in messages, not stderr

void log(void*, int32_t level, const char* message) {
  if (message == nullptr) return;
  if (level >= ETP_LOG_ERROR) t_last_error = message;
  if (level >= g_print_level.load(std::memory_order_relaxed)) {
    static const char* kNames[] = {"debug", "info", "warning", "error"};
    std::fprintf(stderr, "etp: %s: %s\n", kNames[level < 0 ? 0 : level > 3 ? 3 : level], message);
  }
}

void* allocate(void*, uint64_t size, uint64_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) return nullptr;
  if (alignment < sizeof(void*)) alignment = sizeof(void*);  // posix_memalign's minimum
  void* p = nullptr;
  return ::posix_memalign(&p, alignment, size == 0 ? 1 : size) == 0 ? p : nullptr;
}

void release(void*, void* p) { std::free(p); }

etp_status resize_tensor(void*, etp_tensor* tensor, int32_t rank, const int64_t* sizes) {
  if (tensor == nullptr || rank < 0 || rank > ETP_MAX_RANK || (rank > 0 && sizes == nullptr)) {
    t_last_error = "resize_tensor: invalid arguments";
    return ETP_ERR_INVALID_ARGUMENT;
  }
  Status status = runtime::HostTensor::from(tensor)->resize(rank, sizes);
  if (status) {
    t_last_error = "output " + status->message();
    return ETP_ERR_SHAPE;
  }
  return ETP_OK;
}

etp_status find_named_data(void*, const etp_named_data_map* map, const char* key, etp_named_data* out) {
  if (map == nullptr || key == nullptr || out == nullptr || out->header.major != ETP_ABI_MAJOR) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  return reinterpret_cast<const runtime::NamedDataMap*>(map)->find(key, out);
}

void release_named_data(void*, const etp_named_data_map* map, const char* key) {
  if (map != nullptr && key != nullptr) reinterpret_cast<const runtime::NamedDataMap*>(map)->release(key);
}

}  // namespace

HostServices::HostServices() {
  api_.header = ETP_ABI_HEADER(etp_host_api);
  api_.self = this;
  api_.log = log;
  api_.allocate = allocate;
  api_.free = release;
  api_.resize_tensor = resize_tensor;
  api_.find_named_data = find_named_data;
  api_.release_named_data = release_named_data;
}

const HostServices& HostServices::get() {
  static const HostServices services;
  return services;
}

std::string HostServices::take_last_error() {
  std::string message = std::move(t_last_error);
  t_last_error.clear();
  return message;
}

void HostServices::set_print_level(int32_t level) { g_print_level.store(level, std::memory_order_relaxed); }

}  // namespace etp::plugins
