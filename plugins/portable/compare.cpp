// Comparison operators and where: operands compared in their promoted dtype, results written
// as 0/1 into an output of any supported dtype (bool in the usual case), as in ExecuTorch.
#include <cmath>

#include "kernels.h"
#include "pointwise_util.h"

namespace etp_portable {
namespace {

enum class Cmp { kEq, kNe, kGt, kLt, kGe, kLe };

template <typename C>
bool compare(Cmp op, C x, C y) {
  switch (op) {
    case Cmp::kEq: return x == y;
    case Cmp::kNe: return x != y;
    case Cmp::kGt: return x > y;
    case Cmp::kLt: return x < y;
    case Cmp::kGe: return x >= y;
    case Cmp::kLe: return x <= y;
  }
  return false;
}

etp_status compare_loop(const Ctx& c, const etp_tensor& a, const etp_tensor& b, etp_tensor* out, int32_t common,
                        Cmp op) {
  if (!check_supported(c, a, "input") || !check_supported(c, b, "input") || !check_supported(c, *out, "output")) {
    return ETP_ERR_DTYPE;
  }
  return binary_map(c, a, b, out, common, [op](auto x, auto y) { return compare(op, x, y); });
}

// (Tensor self, Tensor other, *, Tensor(a!) out)
etp_status compare_tensor(const Ctx& c, Cmp op) {
  etp_tensor *a, *b, *out;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_arg(c, 0, &a) || !tensor_arg(c, 1, &b) || !tensor_arg(c, 2, &out)) return ETP_ERR_INVALID_ARGUMENT;
  return compare_loop(c, *a, *b, out, promote_types(a->dtype, b->dtype), op);
}

// (Tensor self, Scalar other, *, Tensor(a!) out)
etp_status compare_scalar(const Ctx& c, Cmp op) {
  etp_tensor *a, *out;
  Scalar b;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_arg(c, 0, &a) || !read_scalar(c, 1, &b) || !tensor_arg(c, 2, &out)) return ETP_ERR_INVALID_ARGUMENT;
  ScalarTensor bt(b);
  return compare_loop(c, *a, bt.tensor, out, promote_with_scalar(a->dtype, b), op);
}

ETP_PORTABLE_KERNEL(eq_tensor_out, "aten::eq.Tensor_out") { return compare_tensor(c, Cmp::kEq); }
ETP_PORTABLE_KERNEL(ne_tensor_out, "aten::ne.Tensor_out") { return compare_tensor(c, Cmp::kNe); }
ETP_PORTABLE_KERNEL(gt_tensor_out, "aten::gt.Tensor_out") { return compare_tensor(c, Cmp::kGt); }
ETP_PORTABLE_KERNEL(lt_tensor_out, "aten::lt.Tensor_out") { return compare_tensor(c, Cmp::kLt); }
ETP_PORTABLE_KERNEL(ge_tensor_out, "aten::ge.Tensor_out") { return compare_tensor(c, Cmp::kGe); }
ETP_PORTABLE_KERNEL(le_tensor_out, "aten::le.Tensor_out") { return compare_tensor(c, Cmp::kLe); }
ETP_PORTABLE_KERNEL(eq_scalar_out, "aten::eq.Scalar_out") { return compare_scalar(c, Cmp::kEq); }
ETP_PORTABLE_KERNEL(ne_scalar_out, "aten::ne.Scalar_out") { return compare_scalar(c, Cmp::kNe); }
ETP_PORTABLE_KERNEL(gt_scalar_out, "aten::gt.Scalar_out") { return compare_scalar(c, Cmp::kGt); }
ETP_PORTABLE_KERNEL(lt_scalar_out, "aten::lt.Scalar_out") { return compare_scalar(c, Cmp::kLt); }
ETP_PORTABLE_KERNEL(ge_scalar_out, "aten::ge.Scalar_out") { return compare_scalar(c, Cmp::kGe); }
ETP_PORTABLE_KERNEL(le_scalar_out, "aten::le.Scalar_out") { return compare_scalar(c, Cmp::kLe); }

// aten::where.self_out(Tensor condition, Tensor self, Tensor other, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(where_self_out, "aten::where.self_out") {
  etp_tensor *cond, *a, *b, *out;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &cond) || !tensor_arg(c, 1, &a) || !tensor_arg(c, 2, &b) || !tensor_arg(c, 3, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (cond->dtype != ETP_DTYPE_BOOL && cond->dtype != ETP_DTYPE_UINT8) {
    return dtype_error(c, "condition", cond->dtype, "expected bool or uint8");
  }
  if (!check_supported(c, *a, "input") || !check_supported(c, *b, "input") || !check_supported(c, *out, "output")) {
    return ETP_ERR_DTYPE;
  }
  const int32_t common = promote_types(a->dtype, b->dtype);
  if (!can_cast(common, out->dtype)) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: result dtype %s cannot be cast to output dtype %s", c.op,
                etp_sdk::dtype_name(common), etp_sdk::dtype_name(out->dtype));
  }
  int32_t rank = 0;
  int64_t sizes[ETP_MAX_RANK] = {0};
  if (!broadcast_shape3(c, cond, a, b, &rank, sizes)) return ETP_ERR_SHAPE;
  if (etp_status s = resize_out(c, out, rank, sizes)) return s;
  int64_t s_cond[ETP_MAX_RANK] = {0}, s_a[ETP_MAX_RANK] = {0}, s_b[ETP_MAX_RANK] = {0};
  broadcast_strides(*cond, rank, s_cond);
  broadcast_strides(*a, rank, s_a);
  broadcast_strides(*b, rank, s_b);
  const int64_t* strides[4] = {out->strides, s_cond, s_a, s_b};
  return dispatch_compute(common, [&](auto zero) {
    using C = decltype(zero);
    for_each_offsets<4>(rank, sizes, strides, [&](const int64_t* o) {
      store(*out, o[0], load<bool>(*cond, o[1]) ? load<C>(*a, o[2]) : load<C>(*b, o[3]));
    });
    return ETP_OK;
  });
}

}  // namespace

ETP_KERNEL_FAMILY(compare_kernels, ETP_ENTRY(eq_tensor_out), ETP_ENTRY(ne_tensor_out), ETP_ENTRY(gt_tensor_out),
                  ETP_ENTRY(lt_tensor_out), ETP_ENTRY(ge_tensor_out), ETP_ENTRY(le_tensor_out),
                  ETP_ENTRY(eq_scalar_out), ETP_ENTRY(ne_scalar_out), ETP_ENTRY(gt_scalar_out),
                  ETP_ENTRY(lt_scalar_out), ETP_ENTRY(ge_scalar_out), ETP_ENTRY(le_scalar_out),
                  ETP_ENTRY(where_self_out))

}  // namespace etp_portable
