// relu_counter: an instrumented kernel plugin, written against etp's plugin ABI alone.
//
// It serves aten::relu.out for float32 (any shape and dim order, out laid out like the input)
// and counts what it did. Listed before the portable plugin in a manifest, it takes the float32
// relus of the models and declines the others at load (ABI 1.2 accept_kernel_call), which then
// fall to the next plugin offering aten::relu.out, as every other operator does. The source
// builds against ABI 1.1 headers too; such a build (and any build under a 1.1 host, which cannot
// fall through) takes every relu and fails on other dtypes. Options:
//   label: NAME    names the plugin in its report (default "relu_counter")
//   report: true   logs the calls and elements at shutdown (INFO; shown by `etp run --verbose`)
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

#include "etp_plugin.h"
#include "etp_plugin.hpp"

namespace {

struct State {
  const etp_host_api* host = nullptr;
  std::string label = "relu_counter";
  bool report = false;
  std::atomic<uint64_t> calls{0}, elements{0};  // kernels may run on several threads
};

State g_state;

// aten::relu.out(Tensor self, *, Tensor(a!) out) -> Tensor(a!): args are self, out, return.
etp_status relu_out(void* self, const etp_host_api* host, etp_value* const* args, uint32_t num_args) {
  auto* state = static_cast<State*>(self);
  if (num_args != 3 || args[0]->tag != ETP_VALUE_TENSOR || args[1]->tag != ETP_VALUE_TENSOR) {
    return etp_sdk::fail(host, ETP_ERR_INVALID_ARGUMENT, "%s: aten::relu.out takes (self, out), got %u values",
                         state->label.c_str(), num_args);
  }
  const etp_tensor& in = *args[0]->u.tensor;
  etp_tensor* out = args[1]->u.tensor;
  if (in.dtype != ETP_DTYPE_FLOAT32 || out->dtype != ETP_DTYPE_FLOAT32) {
    return etp_sdk::fail(host, ETP_ERR_DTYPE, "%s: aten::relu.out handles float32 only, got %s -> %s",
                         state->label.c_str(), etp_sdk::dtype_name(in.dtype), etp_sdk::dtype_name(out->dtype));
  }
  if (in.rank != out->rank || std::memcmp(in.dim_order, out->dim_order, static_cast<size_t>(in.rank)) != 0) {
    return etp_sdk::fail(host, ETP_ERR_SHAPE, "%s: aten::relu.out needs out in the input's rank and dim order",
                         state->label.c_str());
  }
  if (etp_status s = etp_sdk::resize(host, out, in.rank, in.sizes)) return s;
  // Same sizes and dim order: both are dense in the same element order.
  const int64_t n = etp_sdk::numel(in);
  const float* x = static_cast<const float*>(in.data);
  float* y = static_cast<float*>(out->data);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f || x[i] != x[i] ? x[i] : 0.0f;  // NaN stays NaN
  state->calls.fetch_add(1, std::memory_order_relaxed);
  state->elements.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
  return ETP_OK;
}

#if ETP_ABI_MINOR >= 2
// Asked once per relu instruction at load: float32 in and out, in one rank and dim order.
etp_status accept(void*, const char*, const etp_kernel*, etp_value* const* args, uint32_t num_args) {
  if (num_args != 3 || args[0]->tag != ETP_VALUE_TENSOR || args[1]->tag != ETP_VALUE_TENSOR) return ETP_ERR_DECLINED;
  const etp_tensor& in = *args[0]->u.tensor;
  const etp_tensor& out = *args[1]->u.tensor;
  const bool handled = in.dtype == ETP_DTYPE_FLOAT32 && out.dtype == ETP_DTYPE_FLOAT32 && in.rank == out.rank &&
                       std::memcmp(in.dim_order, out.dim_order, static_cast<size_t>(in.rank)) == 0;
  return handled ? ETP_OK : ETP_ERR_DECLINED;
}
#endif

const etp_sdk::KernelEntry kKernels[] = {{"aten::relu.out", relu_out}};
constexpr etp_sdk::KernelTable kTable(kKernels, 1);

etp_status configure(void* self, const etp_option* options, uint32_t num_options) {
  auto* state = static_cast<State*>(self);
  for (uint32_t i = 0; i < num_options; ++i) {
    const std::string key = options[i].key, value = options[i].value;
    if (key == "label") {
      state->label = value;
    } else if (key == "report" && (value == "true" || value == "false")) {
      state->report = value == "true";
    } else {
      return etp_sdk::fail(state->host, ETP_ERR_INVALID_ARGUMENT,
                           "relu_counter: unknown option '%s' = '%s' (known: label, report: true|false)", key.c_str(),
                           value.c_str());
    }
  }
  return ETP_OK;
}

// No C++ exception (std::bad_alloc from a string) may cross the ABI.
etp_status init(void* self, const etp_option* options, uint32_t num_options) {
  return etp_sdk::guarded(static_cast<State*>(self)->host, "relu_counter init",
                          [&] { return configure(self, options, num_options); });
}

void shutdown(void* self) {
  auto* state = static_cast<State*>(self);
  if (!state->report || state->host == nullptr || !ETP_ABI_HAS(state->host, log)) return;
  char line[256];
  std::snprintf(line, sizeof line, "%s: aten::relu.out ran %llu times over %llu elements", state->label.c_str(),
                static_cast<unsigned long long>(state->calls.load()),
                static_cast<unsigned long long>(state->elements.load()));
  state->host->log(state->host->self, ETP_LOG_INFO, line);
}

etp_status resolve(void* self, const char* op, etp_kernel* out) {
  if (etp_status s = kTable.resolve(op, out)) return s;
  out->self = self;  // the kernel counts into the plugin's state
  return ETP_OK;
}

uint32_t num_kernels(void*) { return kTable.size(); }
const char* kernel_name(void*, uint32_t index) { return kTable.name(index); }

}  // namespace

ETP_PLUGIN_EXPORT const etp_plugin* etp_plugin_query(const etp_host_api* host) {
  if (host == nullptr || host->header.major != ETP_ABI_MAJOR) return nullptr;  // another major: not for us
  g_state.host = host;
  static const etp_plugin table = {ETP_ABI_HEADER(etp_plugin),
                                   "relu_counter",
                                   "1.0",
                                   &g_state,
                                   init,
                                   shutdown,
                                   resolve,
                                   num_kernels,
                                   kernel_name,
                                   0,
                                   nullptr,
                                   nullptr,  // cache_report: no packed weights
#if ETP_ABI_MINOR >= 2
                                   accept,
                                   nullptr,  // cache_records
#endif
  };
  return &table;
}
