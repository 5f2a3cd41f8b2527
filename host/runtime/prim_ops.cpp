#include "runtime/prim_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <string>

#include "format/tensor_shape.h"
#include "runtime/host_tensor.h"

namespace etp::runtime {
namespace {

etp_status fail(const etp_host_api* host, const char* op, const char* what) {
  char message[256];
  std::snprintf(message, sizeof(message), "%s: %s", op, what);
  host->log(host->self, ETP_LOG_ERROR, message);
  return ETP_ERR_INVALID_ARGUMENT;
}

bool is_number(const etp_value* v) { return v->tag == ETP_VALUE_INT || v->tag == ETP_VALUE_DOUBLE || v->tag == ETP_VALUE_BOOL; }
double as_double(const etp_value* v) {
  return v->tag == ETP_VALUE_DOUBLE ? v->u.d : v->tag == ETP_VALUE_BOOL ? (v->u.b ? 1 : 0) : static_cast<double>(v->u.i);
}
// A double as int64, or false when it has no int64 value (NaN, infinite, out of range).
bool to_int(double d, int64_t* out) {
  if (!(d >= -9.2233720368547758e18 && d < 9.2233720368547758e18)) return false;
  *out = static_cast<int64_t>(d);
  return true;
}
int64_t as_int(const etp_value* v) {
  int64_t i = 0;
  if (v->tag == ETP_VALUE_DOUBLE) return to_int(v->u.d, &i) ? i : 0;  // callers check doubles first
  return v->tag == ETP_VALUE_BOOL ? v->u.b : v->u.i;
}
void set_int(etp_value* out, int64_t v) {
  out->tag = ETP_VALUE_INT;
  out->u.i = v;
}
void set_double(etp_value* out, double v) {
  out->tag = ETP_VALUE_DOUBLE;
  out->u.d = v;
}
void set_bool(etp_value* out, bool v) {
  out->tag = ETP_VALUE_BOOL;
  out->u.b = v;
}

// Python-style floor division and modulo on integers.
int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
int64_t floor_mod(int64_t a, int64_t b) {
  const int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

enum class Binary { kAdd, kSub, kMul, kFloorDiv, kTrueDiv, kMod, kMax, kMin, kEq, kGt, kLt, kGe, kLe };

template <Binary kOp>
etp_status binary(void*, const etp_host_api* host, etp_value* const* args, uint32_t n) {
  if (n != 3 || !is_number(args[0]) || !is_number(args[1])) return fail(host, "executorch_prim", "expected (a, b, out) numbers");
  const etp_value *a = args[0], *b = args[1];
  etp_value* out = args[2];
  const bool ints = a->tag != ETP_VALUE_DOUBLE && b->tag != ETP_VALUE_DOUBLE;
  const double x = as_double(a), y = as_double(b);
  const int64_t i = ints ? as_int(a) : 0, j = ints ? as_int(b) : 0;
  int64_t r = 0;
  // Symbolic sizes are small; an overflow means a corrupt program, never a wrapped value.
  auto overflow = [&] { return fail(host, "executorch_prim", "integer overflow"); };
  switch (kOp) {
    case Binary::kAdd:
      if (!ints) return set_double(out, x + y), ETP_OK;
      if (__builtin_add_overflow(i, j, &r)) return overflow();
      return set_int(out, r), ETP_OK;
    case Binary::kSub:
      if (!ints) return set_double(out, x - y), ETP_OK;
      if (__builtin_sub_overflow(i, j, &r)) return overflow();
      return set_int(out, r), ETP_OK;
    case Binary::kMul:
      if (!ints) return set_double(out, x * y), ETP_OK;
      if (__builtin_mul_overflow(i, j, &r)) return overflow();
      return set_int(out, r), ETP_OK;
    case Binary::kMax: ints ? set_int(out, std::max(i, j)) : set_double(out, std::max(x, y)); return ETP_OK;
    case Binary::kMin: ints ? set_int(out, std::min(i, j)) : set_double(out, std::min(x, y)); return ETP_OK;
    case Binary::kTrueDiv: set_double(out, x / y); return ETP_OK;
    case Binary::kFloorDiv:
    case Binary::kMod:
      if (ints) {
        if (j == 0) return fail(host, "executorch_prim", "integer division by zero");
        if (i == INT64_MIN && j == -1) return overflow();
        set_int(out, kOp == Binary::kFloorDiv ? floor_div(i, j) : floor_mod(i, j));
      } else {
        set_double(out, kOp == Binary::kFloorDiv ? std::floor(x / y) : x - std::floor(x / y) * y);
      }
      return ETP_OK;
    case Binary::kEq: set_bool(out, x == y); return ETP_OK;
    case Binary::kGt: set_bool(out, x > y); return ETP_OK;
    case Binary::kLt: set_bool(out, x < y); return ETP_OK;
    case Binary::kGe: set_bool(out, x >= y); return ETP_OK;
    case Binary::kLe: set_bool(out, x <= y); return ETP_OK;
  }
  return ETP_OK;
}

enum class Unary { kNeg, kNot, kFloat, kInt, kCeil, kRound, kTrunc };

template <Unary kOp>
etp_status unary(void*, const etp_host_api* host, etp_value* const* args, uint32_t n) {
  if (n != 2 || !is_number(args[0])) return fail(host, "executorch_prim", "expected (a, out) with a number");
  const etp_value* a = args[0];
  etp_value* out = args[1];
  int64_t r = 0;
  auto to_int_or_fail = [&](double d) {
    if (!to_int(d, &r)) return fail(host, "executorch_prim", "value has no integer representation");
    set_int(out, r);
    return ETP_OK;
  };
  switch (kOp) {
    case Unary::kNeg:
      if (a->tag == ETP_VALUE_DOUBLE) return set_double(out, -a->u.d), ETP_OK;
      if (as_int(a) == INT64_MIN) return fail(host, "executorch_prim", "integer overflow");
      return set_int(out, -as_int(a)), ETP_OK;
    case Unary::kNot: set_bool(out, as_double(a) == 0); return ETP_OK;
    case Unary::kFloat: set_double(out, as_double(a)); return ETP_OK;
    case Unary::kInt:
      if (a->tag != ETP_VALUE_DOUBLE) return set_int(out, as_int(a)), ETP_OK;
      return to_int_or_fail(std::trunc(a->u.d));
    case Unary::kCeil: return to_int_or_fail(std::ceil(as_double(a)));
    case Unary::kRound: return to_int_or_fail(std::nearbyint(as_double(a)));
    case Unary::kTrunc: return to_int_or_fail(std::trunc(as_double(a)));
  }
  return ETP_OK;
}

etp_status sym_ite(void*, const etp_host_api* host, etp_value* const* args, uint32_t n) {
  if (n != 4 || !is_number(args[0])) return fail(host, "executorch_prim::sym_ite.Scalar", "expected (cond, a, b, out)");
  *args[3] = as_double(args[0]) != 0 ? *args[1] : *args[2];
  return ETP_OK;
}

etp_status sym_size(void*, const etp_host_api* host, etp_value* const* args, uint32_t n) {
  if (n != 3 || args[0]->tag != ETP_VALUE_TENSOR || args[1]->tag != ETP_VALUE_INT) {
    return fail(host, "aten::sym_size.int", "expected (tensor, dim, out)");
  }
  const etp_tensor* t = args[0]->u.tensor;
  int64_t dim = args[1]->u.i;
  if (dim < 0) dim += t->rank;
  if (dim < 0 || dim >= t->rank) return fail(host, "aten::sym_size.int", "dim out of range");
  set_int(args[2], t->sizes[dim]);
  return ETP_OK;
}

etp_status sym_numel(void*, const etp_host_api* host, etp_value* const* args, uint32_t n) {
  if (n != 2 || args[0]->tag != ETP_VALUE_TENSOR) return fail(host, "aten::sym_numel", "expected (tensor, out)");
  set_int(args[1], HostTensor::from(args[0]->u.tensor)->numel());
  return ETP_OK;
}

etp_status local_scalar_dense(void*, const etp_host_api* host, etp_value* const* args, uint32_t n) {
  if (n != 2 || args[0]->tag != ETP_VALUE_TENSOR) return fail(host, "aten::_local_scalar_dense", "expected (tensor, out)");
  const etp_tensor* t = args[0]->u.tensor;
  if (HostTensor::from(t)->numel() != 1 || t->data == nullptr) {
    return fail(host, "aten::_local_scalar_dense", "tensor must have one element");
  }
  switch (t->dtype) {
    case ETP_DTYPE_FLOAT32: set_double(args[1], *static_cast<const float*>(t->data)); break;
    case ETP_DTYPE_FLOAT64: set_double(args[1], *static_cast<const double*>(t->data)); break;
    case ETP_DTYPE_INT64: set_int(args[1], *static_cast<const int64_t*>(t->data)); break;  // data checked below
    case ETP_DTYPE_INT32: set_int(args[1], *static_cast<const int32_t*>(t->data)); break;
    case ETP_DTYPE_INT16: set_int(args[1], *static_cast<const int16_t*>(t->data)); break;
    case ETP_DTYPE_INT8: set_int(args[1], *static_cast<const int8_t*>(t->data)); break;
    case ETP_DTYPE_UINT8: set_int(args[1], *static_cast<const uint8_t*>(t->data)); break;
    case ETP_DTYPE_BOOL: set_bool(args[1], *static_cast<const bool*>(t->data)); break;
    default: return fail(host, "aten::_local_scalar_dense", "unsupported dtype");
  }
  return ETP_OK;
}

// et_view(self, size, out): out aliases self's memory with a new shape (one -1 inferred).
etp_status et_view(void*, const etp_host_api* host, etp_value* const* args, uint32_t n) {
  const char* op = "executorch_prim::et_view.default";
  if (n != 3 || args[0]->tag != ETP_VALUE_TENSOR || args[1]->tag != ETP_VALUE_INT_LIST ||
      args[2]->tag != ETP_VALUE_TENSOR) {
    return fail(host, op, "expected (tensor, int list, out tensor)");
  }
  HostTensor* self = HostTensor::from(args[0]->u.tensor);
  HostTensor* out = HostTensor::from(args[2]->u.tensor);
  const uint64_t rank = args[1]->u.int_list.count;
  if (rank > ETP_MAX_RANK) return fail(host, op, "too many dims");
  int64_t sizes[ETP_MAX_RANK];
  int64_t known = 1, infer = -1;
  // Bounds `known` below and the view's strides, also when a 0 makes self empty.
  if (!format::shape_span_fits_int64(args[1]->u.int_list.items, rank, element_size(out->raw.dtype))) {
    return fail(host, op, "view sizes (a 0 counted as 1) times the element size exceed INT64_MAX bytes");
  }
  for (uint64_t i = 0; i < rank; ++i) {
    sizes[i] = args[1]->u.int_list.items[i];
    if (sizes[i] == -1 && infer < 0) {
      infer = static_cast<int64_t>(i);
    } else if (sizes[i] < 0) {
      return fail(host, op, "negative size");
    } else {
      known *= sizes[i];
    }
  }
  const int64_t numel = self->numel();
  if (infer >= 0) {
    if (known == 0 || numel % known != 0) return fail(host, op, "cannot infer the -1 size");
    sizes[infer] = numel / known;
    known *= sizes[infer];
  }
  if (known != numel) return fail(host, op, "view size does not match the input's number of elements");
  for (int32_t d = 0; d < self->raw.rank; ++d) {
    if (self->dim_order[d] != d) return fail(host, op, "input must be in contiguous dim order");
  }
  if (out->raw.dtype != self->raw.dtype) return fail(host, op, "output dtype differs from the input's");
  out->set_view_shape(static_cast<int32_t>(rank), sizes);
  out->raw.data = self->raw.data;
  out->raw.capacity = self->raw.capacity;
  // The view can never grow past the memory it aliases.
  out->max_numel = self->raw.capacity / std::max<size_t>(1, element_size(out->raw.dtype));
  return ETP_OK;
}

// et_copy_index(copy_to, copy_from, index): the loop ExecuTorch emits for torch's map writes
// iteration `index`'s result into row `index` of copy_to, which then has index + 1 rows
// (within its planned bound; a STATIC copy_to keeps its shape and the row must fit). So after
// the loop copy_to has one row per iteration, also when a call maps fewer rows than the one
// before. That is what the ExecuTorch 1.4.1 runtime does (one loaded Method executing 6, 2, 2,
// 4, 1 rows returned 6, 2, 2, 4, 1 rows), although the upstream kernel sources we could read
// only ever grow copy_to. Rows after the first must match copy_from's shape; both tensors
// must be contiguous and of one dtype.
etp_status et_copy_index(void*, const etp_host_api* host, etp_value* const* args, uint32_t n) {
  const char* op = "executorch_prim::et_copy_index.tensor";
  if (n < 3 || args[0]->tag != ETP_VALUE_TENSOR || args[1]->tag != ETP_VALUE_TENSOR || args[2]->tag != ETP_VALUE_INT) {
    return fail(host, op, "expected (copy_to tensor, copy_from tensor, index)");
  }
  HostTensor* to = HostTensor::from(args[0]->u.tensor);
  const HostTensor* from = HostTensor::from(args[1]->u.tensor);
  const int64_t index = args[2]->u.i;
  if (to->raw.rank != from->raw.rank + 1) return fail(host, op, "copy_to must have one more dim than copy_from");
  if (to->raw.dtype != from->raw.dtype) return fail(host, op, "copy_to and copy_from differ in dtype");
  if (!is_contiguous(to->raw) || !is_contiguous(from->raw)) return fail(host, op, "tensors must be in contiguous dim order");
  if (index < 0 || index >= INT32_MAX) return fail(host, op, "index out of range");
  int64_t sizes[ETP_MAX_RANK];
  sizes[0] = index + 1;
  for (int32_t d = 0; d < from->raw.rank; ++d) {
    if (index > 0 && to->sizes[d + 1] != from->sizes[d]) return fail(host, op, "copy_from's shape differs from a row of copy_to");
    sizes[d + 1] = from->sizes[d];
  }
  // A static copy_to keeps its shape (the rows must fit it); a bounded one follows the loop.
  const bool grows = to->raw.dynamism != ETP_DYNAMISM_STATIC;
  if (!grows) {
    for (int32_t d = 0; d < from->raw.rank; ++d) {
      if (to->sizes[d + 1] != from->sizes[d]) return fail(host, op, "copy_from's shape differs from a row of copy_to");
    }
  }
  if (grows && (to->sizes[0] != sizes[0] || index == 0)) {
    if (Status status = to->resize(to->raw.rank, sizes); !status.ok()) {
      const std::string what = "cannot grow copy_to: " + status.message();
      return fail(host, op, what.c_str());
    }
  }
  const uint64_t row = static_cast<uint64_t>(from->numel()) * element_size(from->raw.dtype);
  uint64_t offset = 0;
  const uint64_t limit = std::min(to->raw.nbytes, to->raw.capacity);
  if (__builtin_mul_overflow(static_cast<uint64_t>(index), row, &offset) || offset > limit || row > limit - offset) {
    return fail(host, op, "row index past the end of copy_to");
  }
  if (row == 0) return ETP_OK;
  if (to->raw.data == nullptr || from->raw.data == nullptr) return fail(host, op, "a tensor has no memory");
  std::memmove(static_cast<uint8_t*>(to->raw.data) + offset, from->raw.data, row);
  return ETP_OK;
}

struct PrimOp {
  const char* name;
  etp_kernel_fn fn;
};

const PrimOp kPrimOps[] = {
    {"aten::sym_size.int", sym_size},
    {"aten::sym_numel", sym_numel},
    {"aten::_local_scalar_dense", local_scalar_dense},
    {"executorch_prim::et_view.default", et_view},
    {"executorch_prim::add.Scalar", binary<Binary::kAdd>},
    {"executorch_prim::sub.Scalar", binary<Binary::kSub>},
    {"executorch_prim::mul.Scalar", binary<Binary::kMul>},
    {"executorch_prim::floordiv.Scalar", binary<Binary::kFloorDiv>},
    {"executorch_prim::floordiv.int", binary<Binary::kFloorDiv>},
    {"executorch_prim::truediv.Scalar", binary<Binary::kTrueDiv>},
    {"executorch_prim::mod.Scalar", binary<Binary::kMod>},
    {"executorch_prim::mod.int", binary<Binary::kMod>},
    {"executorch_prim::sym_max.Scalar", binary<Binary::kMax>},
    {"executorch_prim::sym_min.Scalar", binary<Binary::kMin>},
    {"executorch_prim::eq.Scalar", binary<Binary::kEq>},
    {"executorch_prim::gt.Scalar", binary<Binary::kGt>},
    {"executorch_prim::lt.Scalar", binary<Binary::kLt>},
    {"executorch_prim::ge.Scalar", binary<Binary::kGe>},
    {"executorch_prim::le.Scalar", binary<Binary::kLe>},
    {"executorch_prim::neg.Scalar", unary<Unary::kNeg>},
    {"executorch_prim::sym_not.Scalar", unary<Unary::kNot>},
    {"executorch_prim::sym_float.Scalar", unary<Unary::kFloat>},
    {"executorch_prim::sym_int.Scalar", unary<Unary::kInt>},
    {"executorch_prim::ceil.Scalar", unary<Unary::kCeil>},
    {"executorch_prim::round.Scalar", unary<Unary::kRound>},
    {"executorch_prim::trunc.Scalar", unary<Unary::kTrunc>},
    {"executorch_prim::sym_ite.Scalar", sym_ite},
    {"executorch_prim::et_copy_index.tensor", et_copy_index},
};

}  // namespace

bool find_prim_op(const std::string& op_name, etp_kernel* out) {
  for (const PrimOp& op : kPrimOps) {
    if (op_name == op.name) {
      *out = {op.fn, nullptr};
      return true;
    }
  }
  return false;
}

}  // namespace etp::runtime
