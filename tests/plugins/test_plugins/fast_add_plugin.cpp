// A partial fast kernel (ABI 1.2): aten::add.out for the one case it is written for — float32,
// both inputs and the output of one shape, contiguous, static, alpha 1 — declining every other
// call at load (accept_kernel_call), so the host gives those to the next plugin offering the
// operator. Placed before the portable plugin, every program must still run correctly.
//
// With a host older than ABI 1.2 (which cannot fall through) it offers nothing, as the ABI
// requires of a plugin whose kernels decline calls.
//
// Built with ETP_FAST_ADD_MISBEHAVES (libetp_misbehaving_add.so) it breaks the decline contract
// both ways, for the error paths: accept_kernel_call fails (status 301, logged) instead of
// declining, and the kernel it accepted returns ETP_ERR_DECLINED when called.
#include <cstring>

#include "etp_plugin.h"
#include "etp_plugin.hpp"

namespace {

const etp_host_api* g_host = nullptr;

bool dense_float(const etp_value& v) {
  if (v.tag != ETP_VALUE_TENSOR) return false;
  const etp_tensor& t = *v.u.tensor;
  return t.dtype == ETP_DTYPE_FLOAT32 && t.dynamism == ETP_DYNAMISM_STATIC && etp_sdk::is_contiguous_order(t);
}

bool same_sizes(const etp_tensor& a, const etp_tensor& b) {
  return a.rank == b.rank && std::memcmp(a.sizes, b.sizes, sizeof(int64_t) * static_cast<size_t>(a.rank)) == 0;
}

// aten::add.out(Tensor self, Tensor other, *, Scalar alpha=1, Tensor(a!) out): self, other,
// alpha, out, return. Only ever called for calls accept() took.
etp_status fast_add(void*, const etp_host_api*, etp_value* const* args, uint32_t) {
#ifdef ETP_FAST_ADD_MISBEHAVES
  (void)args;
  return ETP_ERR_DECLINED;  // too late: calls are declined at load
#endif
  const etp_tensor& a = *args[0]->u.tensor;
  const etp_tensor& b = *args[1]->u.tensor;
  etp_tensor& out = *args[3]->u.tensor;
  const auto* x = static_cast<const float*>(a.data);
  const auto* y = static_cast<const float*>(b.data);
  auto* z = static_cast<float*>(out.data);
  const int64_t n = etp_sdk::numel(a);
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + y[i];
  return ETP_OK;
}

etp_status accept(void*, const char* op, const etp_kernel*, etp_value* const* args, uint32_t num_args) {
  if (std::strcmp(op, "aten::add.out") != 0 || num_args != 5) return ETP_ERR_DECLINED;
  if (!dense_float(*args[0]) || !dense_float(*args[1]) || !dense_float(*args[3])) return ETP_ERR_DECLINED;
  const etp_value& alpha = *args[2];
  const bool unit = (alpha.tag == ETP_VALUE_INT && alpha.u.i == 1) || (alpha.tag == ETP_VALUE_DOUBLE && alpha.u.d == 1.0);
  const etp_tensor &a = *args[0]->u.tensor, &b = *args[1]->u.tensor, &out = *args[3]->u.tensor;
  if (!unit || !same_sizes(a, b) || !same_sizes(a, out)) return ETP_ERR_DECLINED;
  return ETP_OK;
}

#ifdef ETP_FAST_ADD_MISBEHAVES
// An error where a decline was due.
etp_status accept_or_fail(void* self, const char* op, const etp_kernel* k, etp_value* const* args, uint32_t n) {
  if (accept(self, op, k, args, n) == ETP_OK) return ETP_OK;
  return etp_sdk::fail(g_host, ETP_ERR_INTERNAL, "misbehaving_add: cannot judge this call");
}
#define ETP_FAST_ADD_NAME "misbehaving_add"
#define ETP_FAST_ADD_ACCEPT accept_or_fail
#else
#define ETP_FAST_ADD_NAME "fast_add"
#define ETP_FAST_ADD_ACCEPT accept
#endif

etp_status resolve(void*, const char* op, etp_kernel* out) {
  const bool can_decline = g_host != nullptr && g_host->header.minor >= 2;
  if (!can_decline || std::strcmp(op, "aten::add.out") != 0) return ETP_ERR_NOT_FOUND;
  *out = {fast_add, nullptr};
  return ETP_OK;
}

uint32_t num_kernels(void*) { return g_host != nullptr && g_host->header.minor >= 2 ? 1 : 0; }
const char* kernel_name(void*, uint32_t index) { return index == 0 ? "aten::add.out" : nullptr; }

}  // namespace

ETP_PLUGIN_EXPORT const etp_plugin* etp_plugin_query(const etp_host_api* host) {
  if (host == nullptr || host->header.major != ETP_ABI_MAJOR) return nullptr;
  g_host = host;
  static const etp_plugin table = {ETP_ABI_HEADER(etp_plugin),
                                   ETP_FAST_ADD_NAME,
                                   "1.0",
                                   nullptr,
                                   nullptr,
                                   nullptr,
                                   resolve,
                                   num_kernels,
                                   kernel_name,
                                   0,
                                   nullptr,
                                   nullptr,
                                   ETP_FAST_ADD_ACCEPT,
                                   nullptr};
  return &table;
}
