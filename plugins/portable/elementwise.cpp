// Element-wise operators with broadcasting and ExecuTorch's portable semantics.
#include <cmath>

#include "kernels.h"

namespace etp_portable {
namespace {

// Reads element `offset` of `t` converted to T.
template <typename T>
T load(const etp_tensor& t, int64_t offset) {
  switch (t.dtype) {
    case ETP_DTYPE_FLOAT32: return static_cast<T>(static_cast<const float*>(t.data)[offset]);
    case ETP_DTYPE_FLOAT64: return static_cast<T>(static_cast<const double*>(t.data)[offset]);
    case ETP_DTYPE_INT64: return static_cast<T>(static_cast<const int64_t*>(t.data)[offset]);
    case ETP_DTYPE_INT32: return static_cast<T>(static_cast<const int32_t*>(t.data)[offset]);
    case ETP_DTYPE_INT16: return static_cast<T>(static_cast<const int16_t*>(t.data)[offset]);
    case ETP_DTYPE_INT8: return static_cast<T>(static_cast<const int8_t*>(t.data)[offset]);
    case ETP_DTYPE_UINT8: return static_cast<T>(static_cast<const uint8_t*>(t.data)[offset]);
    case ETP_DTYPE_BOOL: return static_cast<T>(static_cast<const bool*>(t.data)[offset]);
    default: return T{};
  }
}

// out = op(a, b) with broadcasting; computes in out's dtype.
template <typename Op>
etp_status binary(const Ctx& c, const etp_tensor& a, const etp_tensor& b, etp_tensor* out, Op op) {
  if (etp_sdk::dtype_size(a.dtype) == 0 || etp_sdk::dtype_size(b.dtype) == 0) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: unsupported input dtype %s/%s", c.op, etp_sdk::dtype_name(a.dtype),
                etp_sdk::dtype_name(b.dtype));
  }
  int32_t rank = 0;
  int64_t sizes[ETP_MAX_RANK] = {0};
  if (!broadcast_shape(c, a, b, &rank, sizes)) return ETP_ERR_SHAPE;
  if (etp_status s = etp_sdk::resize(c.host, out, rank, sizes)) {
    return fail(c.host, s, "%s: cannot resize the output to the broadcast shape", c.op);
  }
  int64_t sa[ETP_MAX_RANK] = {0}, sb[ETP_MAX_RANK] = {0};
  broadcast_strides(a, rank, sa);
  broadcast_strides(b, rank, sb);
  return dispatch_all(c, out->dtype, [&](auto zero) {
    using T = decltype(zero);
    T* o = static_cast<T*>(out->data);
    for_each_strided(rank, sizes, out->strides, sa, sb, [&](int64_t io, int64_t ia, int64_t ib) {
      o[io] = static_cast<T>(op(load<T>(a, ia), load<T>(b, ib)));
    });
    return ETP_OK;
  });
}

// aten::add.out(Tensor self, Tensor other, *, Scalar alpha=1, Tensor(a!) out)
ETP_PORTABLE_KERNEL(add_out, "aten::add.out") {
  etp_tensor *a, *b, *out;
  double alpha = 1;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &a) || !tensor_arg(c, 1, &b) || !scalar_arg(c, 2, &alpha) || !tensor_arg(c, 3, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  return binary(c, *a, *b, out, [alpha](auto x, auto y) { return x + static_cast<decltype(x)>(alpha) * y; });
}

}  // namespace

ETP_KERNEL_FAMILY(elementwise_kernels, ETP_ENTRY(add_out))

}  // namespace etp_portable
