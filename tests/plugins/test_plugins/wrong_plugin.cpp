// A test plugin that is fast and wrong: its aten::add.out subtracts. Bench tests put it first in
// a configuration to show that a wrong backend is reported as such, however fast it is.
#include <cstring>

#include "etp_plugin.h"
#include "etp_plugin.hpp"

namespace {

etp_status wrong_add(void*, const etp_host_api* host, etp_value* const* args, uint32_t num_args) {
  if (num_args < 4 || args[0]->tag != ETP_VALUE_TENSOR || args[1]->tag != ETP_VALUE_TENSOR ||
      args[3]->tag != ETP_VALUE_TENSOR) {
    return etp_sdk::fail(host, ETP_ERR_INVALID_ARGUMENT, "wrong: aten::add.out expects (self, other, alpha, out)");
  }
  const etp_tensor &a = *args[0]->u.tensor, &b = *args[1]->u.tensor, &out = *args[3]->u.tensor;
  if (a.dtype != ETP_DTYPE_FLOAT32 || a.nbytes != b.nbytes || a.nbytes != out.nbytes) {
    return etp_sdk::fail(host, ETP_ERR_NOT_SUPPORTED, "wrong: only float32 tensors of one shape");
  }
  const float* x = static_cast<const float*>(a.data);
  const float* y = static_cast<const float*>(b.data);
  float* z = static_cast<float*>(out.data);
  for (uint64_t i = 0; i < a.nbytes / sizeof(float); ++i) z[i] = x[i] - y[i];
  return ETP_OK;
}

etp_status resolve(void*, const char* op, etp_kernel* out) {
  if (std::strcmp(op, "aten::add.out") != 0) return ETP_ERR_NOT_FOUND;
  *out = {wrong_add, nullptr};
  return ETP_OK;
}

}  // namespace

ETP_PLUGIN_EXPORT const etp_plugin* etp_plugin_query(const etp_host_api*) {
  static const etp_plugin table = {ETP_ABI_HEADER(etp_plugin),
                                   "wrong",
                                   "0",
                                   nullptr,
                                   nullptr,
                                   nullptr,
                                   resolve,
                                   nullptr,
                                   nullptr,
                                   0,
                                   nullptr,
                                   nullptr};
  return &table;
}
