#include "runtime/host_services.h"

#include <cstdlib>

#include "plugins/plugin_log.h"
#include "runtime/host_tensor.h"
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

}  // namespace etp::runtime
