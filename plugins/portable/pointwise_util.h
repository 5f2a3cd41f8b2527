// Helpers shared by the element-wise, activation, comparison, reduction and creation kernels:
// PyTorch type promotion, Scalar arguments, dtype-converting loads and stores, an N-tensor
// strided iterator and a reduction plan. Header-only, plugin-private, no allocation.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernel_util.h"

namespace etp_portable {

// ---------------------------------------------------------------------------------------------
// Dtypes and promotion

// The dtypes these kernels read and write (complex and quantized types are not handled).
inline bool is_supported_dtype(int32_t d) {
  switch (d) {
    case ETP_DTYPE_UINT8: case ETP_DTYPE_INT8: case ETP_DTYPE_INT16: case ETP_DTYPE_INT32:
    case ETP_DTYPE_INT64: case ETP_DTYPE_FLOAT32: case ETP_DTYPE_FLOAT64: case ETP_DTYPE_BOOL:
    case ETP_DTYPE_FLOAT16: case ETP_DTYPE_BFLOAT16:
      return true;
    default:
      return false;
  }
}
inline bool is_float_dtype(int32_t d) {
  return d == ETP_DTYPE_FLOAT32 || d == ETP_DTYPE_FLOAT64 || d == ETP_DTYPE_FLOAT16 || d == ETP_DTYPE_BFLOAT16;
}
inline bool is_integral_dtype(int32_t d) {  // excludes bool
  return d == ETP_DTYPE_UINT8 || d == ETP_DTYPE_INT8 || d == ETP_DTYPE_INT16 || d == ETP_DTYPE_INT32 ||
         d == ETP_DTYPE_INT64;
}
// 0 = bool, 1 = integer, 2 = floating point.
inline int dtype_category(int32_t d) { return d == ETP_DTYPE_BOOL ? 0 : is_float_dtype(d) ? 2 : 1; }
// Sets of categories, bit (1 << category), for the kernels that take only some.
constexpr unsigned kBoolInt = 3, kFloatOnly = 4, kIntFloat = 6, kBoolIntFloat = 7;

// torch.promote_types over the supported dtypes.
inline int32_t promote_types(int32_t a, int32_t b) {
  if (a == b) return a;
  const int ca = dtype_category(a), cb = dtype_category(b);
  if (ca != cb) return ca > cb ? a : b;
  if (ca == 2) {  // the wider float wins; float16 with bfloat16 meet in float32
    if (a == ETP_DTYPE_FLOAT64 || b == ETP_DTYPE_FLOAT64) return ETP_DTYPE_FLOAT64;
    return ETP_DTYPE_FLOAT32;
  }
  // Two different integer types: uint8 with int8 needs int16; otherwise the wider one wins.
  if ((a == ETP_DTYPE_UINT8 && b == ETP_DTYPE_INT8) || (a == ETP_DTYPE_INT8 && b == ETP_DTYPE_UINT8)) {
    return ETP_DTYPE_INT16;
  }
  return etp_sdk::dtype_size(a) >= etp_sdk::dtype_size(b) ? a : b;
}

// torch.can_cast: never float to integer, never non-bool to bool.
inline bool can_cast(int32_t from, int32_t to) { return dtype_category(from) <= dtype_category(to); }

// ---------------------------------------------------------------------------------------------
// Scalars

// A Scalar argument, keeping whether it was given as bool, int or double (promotion needs it).
struct Scalar {
  int32_t tag = ETP_VALUE_INT;  // ETP_VALUE_BOOL, ETP_VALUE_INT or ETP_VALUE_DOUBLE
  int64_t i = 0;
  double d = 0;
  bool b = false;

  double as_double() const { return tag == ETP_VALUE_DOUBLE ? d : tag == ETP_VALUE_INT ? static_cast<double>(i) : b; }
  template <typename T>
  T as() const {
    if (tag == ETP_VALUE_DOUBLE) return convert<T>(d);
    if (tag == ETP_VALUE_INT) return convert<T>(i);
    return static_cast<T>(b);
  }
  // The dtype a 0-dim tensor holding this scalar would have.
  int32_t dtype() const {
    return tag == ETP_VALUE_DOUBLE ? ETP_DTYPE_FLOAT64 : tag == ETP_VALUE_INT ? ETP_DTYPE_INT64 : ETP_DTYPE_BOOL;
  }
};

inline bool read_scalar(const Ctx& c, uint32_t i, Scalar* out) {
  const etp_value* v = c.args[i];
  out->tag = v->tag;
  switch (v->tag) {
    case ETP_VALUE_INT: out->i = v->u.i; return true;
    case ETP_VALUE_DOUBLE: out->d = v->u.d; return true;
    case ETP_VALUE_BOOL: out->b = v->u.b; return true;
    default:
      fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: argument %u must be a scalar (tag %d)", c.op, i, v->tag);
      return false;
  }
}
// A `Scalar?` argument: *present is false for None.
inline bool read_optional_scalar(const Ctx& c, uint32_t i, Scalar* out, bool* present) {
  *present = c.args[i]->tag != ETP_VALUE_NONE;
  return !*present || read_scalar(c, i, out);
}
// A `str` or `str?` argument compared with `expected`.
inline bool string_equals(const etp_value& v, const char* expected) {
  const uint64_t n = std::strlen(expected);
  return v.tag == ETP_VALUE_STRING && v.u.string.size == n && std::memcmp(v.u.string.data, expected, n) == 0;
}

// Result dtype of `tensor op scalar` (ExecuTorch promote_type_with_scalar): a float scalar
// lifts bool/integer tensors to float32, an int scalar lifts bool tensors to int64.
inline int32_t promote_with_scalar(int32_t t, const Scalar& s) {
  if (s.tag == ETP_VALUE_DOUBLE && !is_float_dtype(t)) return ETP_DTYPE_FLOAT32;
  if (s.tag == ETP_VALUE_INT && t == ETP_DTYPE_BOOL) return ETP_DTYPE_INT64;
  return t;
}

// A 0-dim tensor over a Scalar, so Scalar variants reuse the tensor-tensor loops.
struct ScalarTensor {
  etp_tensor tensor{};
  union {
    int64_t i;
    double d;
    bool b;
  } storage{};

  explicit ScalarTensor(const Scalar& s) {
    tensor.dtype = s.dtype();
    if (s.tag == ETP_VALUE_DOUBLE) storage.d = s.d;
    else if (s.tag == ETP_VALUE_INT) storage.i = s.i;
    else storage.b = s.b;
    tensor.data = &storage;
    tensor.nbytes = etp_sdk::dtype_size(tensor.dtype);
    tensor.capacity = tensor.nbytes;
  }
  ScalarTensor(const ScalarTensor&) = delete;
  ScalarTensor& operator=(const ScalarTensor&) = delete;
};

// ---------------------------------------------------------------------------------------------
// Loads and stores with conversion

// Element `offset` (in elements) of `t`, converted to T.
template <typename T>
inline T load(const etp_tensor& t, int64_t offset) {
  const void* p = t.data;
  switch (t.dtype) {
    case ETP_DTYPE_FLOAT32: return convert<T>(static_cast<const float*>(p)[offset]);
    case ETP_DTYPE_FLOAT64: return convert<T>(static_cast<const double*>(p)[offset]);
    case ETP_DTYPE_FLOAT16: return convert<T>(static_cast<float>(static_cast<const Half*>(p)[offset]));
    case ETP_DTYPE_BFLOAT16: return convert<T>(static_cast<float>(static_cast<const BFloat16*>(p)[offset]));
    case ETP_DTYPE_INT64: return static_cast<T>(static_cast<const int64_t*>(p)[offset]);
    case ETP_DTYPE_INT32: return static_cast<T>(static_cast<const int32_t*>(p)[offset]);
    case ETP_DTYPE_INT16: return static_cast<T>(static_cast<const int16_t*>(p)[offset]);
    case ETP_DTYPE_INT8: return static_cast<T>(static_cast<const int8_t*>(p)[offset]);
    case ETP_DTYPE_UINT8: return static_cast<T>(static_cast<const uint8_t*>(p)[offset]);
    // A bool's byte is read as a byte: any nonzero value is true (a byte other than 0 or 1 read
    // through `const bool*` is undefined behaviour; memory a bad program plans can hold one).
    case ETP_DTYPE_BOOL: return static_cast<T>(static_cast<const uint8_t*>(p)[offset] != 0);
    default: return T{};
  }
}

// Writes v, converted to t's dtype, at element `offset`.
template <typename V>
inline void store(etp_tensor& t, int64_t offset, V v) {
  void* p = t.data;
  switch (t.dtype) {
    case ETP_DTYPE_FLOAT32: static_cast<float*>(p)[offset] = convert<float>(v); break;
    case ETP_DTYPE_FLOAT64: static_cast<double*>(p)[offset] = convert<double>(v); break;
    case ETP_DTYPE_FLOAT16: static_cast<Half*>(p)[offset] = convert<Half>(v); break;
    case ETP_DTYPE_BFLOAT16: static_cast<BFloat16*>(p)[offset] = convert<BFloat16>(v); break;
    case ETP_DTYPE_INT64: static_cast<int64_t*>(p)[offset] = convert<int64_t>(v); break;
    case ETP_DTYPE_INT32: static_cast<int32_t*>(p)[offset] = convert<int32_t>(v); break;
    case ETP_DTYPE_INT16: static_cast<int16_t*>(p)[offset] = convert<int16_t>(v); break;
    case ETP_DTYPE_INT8: static_cast<int8_t*>(p)[offset] = convert<int8_t>(v); break;
    case ETP_DTYPE_UINT8: static_cast<uint8_t*>(p)[offset] = convert<uint8_t>(v); break;
    case ETP_DTYPE_BOOL: static_cast<bool*>(p)[offset] = static_cast<bool>(v); break;
    default: break;
  }
}

// Calls f(C{}) with C the type a `dtype` result is computed in: float (also for float16 and
// bfloat16, rounded once on store, as ExecuTorch's compute type), double, bool, or int64_t for
// every integer dtype (narrow results wrap on store like PyTorch's).
template <typename F>
etp_status dispatch_compute(int32_t dtype, F&& f) {
  switch (dtype) {
    case ETP_DTYPE_FLOAT32: case ETP_DTYPE_FLOAT16: case ETP_DTYPE_BFLOAT16: return f(float{});
    case ETP_DTYPE_FLOAT64: return f(double{});
    case ETP_DTYPE_BOOL: return f(bool{});
    default: return f(int64_t{});
  }
}

// Logs and returns ETP_ERR_DTYPE: "<op>: <what> dtype <name> is not supported[ (detail)]".
inline etp_status dtype_error(const Ctx& c, const char* what, int32_t dtype, const char* detail = nullptr) {
  return fail(c.host, ETP_ERR_DTYPE, "%s: %s dtype %s is not supported%s%s%s", c.op, what,
              etp_sdk::dtype_name(dtype), detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
}
// Checks that `t` has a supported dtype; logs naming `what` otherwise.
inline bool check_supported(const Ctx& c, const etp_tensor& t, const char* what) {
  if (is_supported_dtype(t.dtype)) return true;
  dtype_error(c, what, t.dtype);
  return false;
}

// ---------------------------------------------------------------------------------------------
// Integer arithmetic that wraps like PyTorch's instead of overflowing (UB) in int32 and int64
// (narrower types promote to int, where the operation cannot overflow).

template <typename C>
constexpr bool kWraps = std::is_integral_v<C> && std::is_signed_v<C> && sizeof(C) >= sizeof(int);

template <typename C>
inline C wrap_add(C x, C y) {
  using U = std::make_unsigned_t<std::conditional_t<kWraps<C>, C, int>>;
  if constexpr (kWraps<C>) return static_cast<C>(static_cast<U>(x) + static_cast<U>(y));
  else return static_cast<C>(x + y);
}
template <typename C>
inline C wrap_sub(C x, C y) {
  using U = std::make_unsigned_t<std::conditional_t<kWraps<C>, C, int>>;
  if constexpr (kWraps<C>) return static_cast<C>(static_cast<U>(x) - static_cast<U>(y));
  else return static_cast<C>(x - y);
}
template <typename C>
inline C wrap_mul(C x, C y) {
  using U = std::make_unsigned_t<std::conditional_t<kWraps<C>, C, int>>;
  if constexpr (kWraps<C>) return static_cast<C>(static_cast<U>(x) * static_cast<U>(y));
  else return static_cast<C>(x * y);
}
template <typename C>
inline C wrap_neg(C x) {
  using U = std::make_unsigned_t<std::conditional_t<kWraps<C>, C, int>>;
  if constexpr (kWraps<C>) return static_cast<C>(U{0} - static_cast<U>(x));
  else return static_cast<C>(-x);
}

// NaN-propagating maximum/minimum (torch.maximum).
template <typename C>
inline C nan_max(C x, C y) {
  if constexpr (std::is_floating_point_v<C>) {
    if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<C>::quiet_NaN();
  }
  return x > y ? x : y;
}
template <typename C>
inline C nan_min(C x, C y) {
  if constexpr (std::is_floating_point_v<C>) {
    if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<C>::quiet_NaN();
  }
  return x < y ? x : y;
}

// ---------------------------------------------------------------------------------------------
// Iteration

// for_each_offsets (the strided walker) lives in kernel_util.h.

// True when `a` and `t` have the same sizes and strides. Tensors are dense in their dim order,
// so one flat index then walks both in step.
inline bool same_layout(const etp_tensor& a, const etp_tensor& t) {
  if (a.rank != t.rank) return false;
  for (int32_t d = 0; d < a.rank; ++d) {
    if (a.sizes[d] != t.sizes[d] || (a.sizes[d] != 1 && a.strides[d] != t.strides[d])) return false;
  }
  return true;
}

// po[i] = op(pi[i]) for i < n: the one-layout walk of map_unary, kept out of line. Inlined into a
// kernel's many dtype paths, op stayed a call and the loop scalar (GCC gives up inlining in a
// function that large); on its own the loop vectorizes where op allows (vec_math.h's sigmoid:
// 2816 floats in 8.5 us against 18.4).
template <typename C, typename Op>
[[gnu::noinline]] void map_flat(const C* pi, C* po, int64_t n, Op op) {
  for (int64_t i = 0; i < n; ++i) po[i] = static_cast<C>(op(pi[i]));
}

// out[i] = op(in[i]) with `in` loaded as C and the result stored in out's dtype.
template <typename C, typename Op>
inline void map_unary(const etp_tensor& in, etp_tensor* out, Op op) {
  const int64_t* strides[2] = {out->strides, in.strides};
  // (Bools take the loop through load/store: see load.)
  if (!std::is_same_v<C, bool> && in.dtype == out->dtype && etp_sdk::dtype_size(in.dtype) == sizeof(C) &&
      (std::is_floating_point_v<C> == is_float_dtype(in.dtype)) && in.dtype != ETP_DTYPE_BOOL) {
    const C* pi = static_cast<const C*>(in.data);
    C* po = static_cast<C*>(out->data);
    if (same_layout(in, *out)) return map_flat(pi, po, etp_sdk::numel(in), op);  // see same_layout
    for_each_offsets<2>(in.rank, in.sizes, strides, [&](const int64_t* o) { po[o[0]] = static_cast<C>(op(pi[o[1]])); });
    return;
  }
  for_each_offsets<2>(in.rank, in.sizes, strides, [&](const int64_t* o) { store(*out, o[0], op(load<C>(in, o[1]))); });
}

// Elements per pointwise parallel item. A pointwise op is memory-bound: it counts as a quarter of
// a multiply-add per element, so only operands of 256K elements and more are split.
constexpr int64_t kPointwiseGrain = 4096;

// The common small-operator case, without broadcast planning: every operand has out's layout or
// is a single element, and all share the compute dtype. Returns false to fall back.
template <typename Op>
inline bool binary_map_flat(const Ctx& c, const etp_tensor& a, const etp_tensor& b, etp_tensor* out, int32_t compute,
                            Op op, etp_status* status) {
  if (a.dtype != compute || b.dtype != compute || out->dtype != compute) return false;
  const bool a_one = etp_sdk::numel(a) == 1 && a.rank <= b.rank, b_one = etp_sdk::numel(b) == 1 && b.rank <= a.rank;
  const etp_tensor& shape = a_one ? b : a;  // the operand that gives the result's shape
  if (!a_one && !b_one && !same_layout(a, b)) return false;
  if (!same_layout(shape, *out)) {  // resize first (e.g. dynamic shapes), then the layouts must agree
    *status = resize_out(c, out, shape.rank, shape.sizes);
    if (*status != ETP_OK) return true;
    if (!same_layout(shape, *out)) return false;
  }
  const int64_t n = etp_sdk::numel(*out);
  *status = dispatch_compute(compute, [&](auto zero) {
    using C = decltype(zero);
    // Narrow integers compute in int64: convert. Bools are loaded as bytes (see load).
    if (std::is_same_v<C, bool> || etp_sdk::dtype_size(compute) != sizeof(C)) {
      for (int64_t i = 0; i < n; ++i) store(*out, i, op(load<C>(a, a_one ? 0 : i), load<C>(b, b_one ? 0 : i)));
      return ETP_OK;
    }
    const C* pa = static_cast<const C*>(a.data);
    const C* pb = static_cast<const C*>(b.data);
    C* po = static_cast<C*>(out->data);
    // Large operands spread over the host's pool in ranges of elements (kPointwiseGrain each).
    parallel_range(c.host, (n + kPointwiseGrain - 1) / kPointwiseGrain, kPointwiseGrain / 4,
                   [&](int64_t first, int64_t last) {
                     const int64_t begin = first * kPointwiseGrain, end = std::min(n, last * kPointwiseGrain);
                     if (a_one) {
                       const C x = pa[0];
                       for (int64_t i = begin; i < end; ++i) po[i] = static_cast<C>(op(x, pb[i]));
                     } else if (b_one) {
                       const C y = pb[0];
                       for (int64_t i = begin; i < end; ++i) po[i] = static_cast<C>(op(pa[i], y));
                     } else {
                       for (int64_t i = begin; i < end; ++i) po[i] = static_cast<C>(op(pa[i], pb[i]));
                     }
                   });
    return ETP_OK;
  });
  return true;
}

// out = op(a, b) elementwise with broadcasting, loading both operands as the C++ type of
// `compute`. `op` may return any arithmetic type; it is converted to out's dtype on store.
template <typename Op>
inline etp_status binary_map(const Ctx& c, const etp_tensor& a, const etp_tensor& b, etp_tensor* out, int32_t compute,
                       Op op) {
  etp_status flat = ETP_OK;
  if (binary_map_flat(c, a, b, out, compute, op, &flat)) return flat;
  int32_t rank = 0;
  int64_t sizes[ETP_MAX_RANK] = {0};
  if (!broadcast_shape(c, a, b, &rank, sizes)) return ETP_ERR_SHAPE;
  if (etp_status s = resize_out(c, out, rank, sizes)) return s;
  int64_t sa[ETP_MAX_RANK] = {0}, sb[ETP_MAX_RANK] = {0};
  broadcast_strides(a, rank, sa);
  broadcast_strides(b, rank, sb);
  const int64_t* strides[3] = {out->strides, sa, sb};
  return dispatch_compute(compute, [&](auto zero) {
    using C = decltype(zero);
    if (!std::is_same_v<C, bool> && a.dtype == out->dtype && b.dtype == out->dtype &&
        etp_sdk::dtype_size(out->dtype) == sizeof(C) && compute == out->dtype) {
      // Same-dtype fast path: no conversion switches in the loop.
      const C* pa = static_cast<const C*>(a.data);
      const C* pb = static_cast<const C*>(b.data);
      C* po = static_cast<C*>(out->data);
      for_each_offsets<3>(rank, sizes, strides,
                          [&](const int64_t* o) { po[o[0]] = static_cast<C>(op(pa[o[1]], pb[o[2]])); });
    } else {
      for_each_offsets<3>(rank, sizes, strides,
                          [&](const int64_t* o) { store(*out, o[0], op(load<C>(a, o[1]), load<C>(b, o[2]))); });
    }
    return ETP_OK;
  });
}

// Broadcast shape of up to three tensors (null ones are skipped); false (logged) on mismatch.
inline bool broadcast_shape3(const Ctx& c, const etp_tensor* a, const etp_tensor* b, const etp_tensor* d,
                             int32_t* rank, int64_t* sizes) {
  const etp_tensor* all[3] = {a, b, d};
  *rank = 0;
  for (const etp_tensor* t : all) {
    if (t && t->rank > *rank) *rank = t->rank;
  }
  for (int32_t i = 0; i < *rank; ++i) sizes[i] = 1;
  for (const etp_tensor* t : all) {
    if (!t) continue;
    for (int32_t i = 0; i < t->rank; ++i) {
      const int32_t o = i + *rank - t->rank;
      const int64_t s = t->sizes[i];
      if (s == 1) continue;
      if (sizes[o] != 1 && sizes[o] != s) {
        fail(c.host, ETP_ERR_SHAPE, "%s: shapes do not broadcast: size %lld vs %lld at dim %d", c.op,
             static_cast<long long>(sizes[o]), static_cast<long long>(s), o);
        return false;
      }
      sizes[o] = s;
    }
  }
  return true;
}


// ---------------------------------------------------------------------------------------------
// Reductions

// How to walk a reduction of `in` over a set of dims: the kept dims ("outer", one output
// element each) and the reduced dims ("inner", visited in row-major order per output).
struct ReducePlan {
  bool reduced[ETP_MAX_RANK] = {false};
  bool keepdim = false;
  int32_t out_rank = 0;
  int64_t out_sizes[ETP_MAX_RANK] = {0};
  int32_t outer_rank = 0;
  int64_t outer_sizes[ETP_MAX_RANK] = {0};
  int64_t outer_in_strides[ETP_MAX_RANK] = {0};
  int64_t outer_out_strides[ETP_MAX_RANK] = {0};
  int32_t inner_rank = 0;
  int64_t inner_sizes[ETP_MAX_RANK] = {0};
  int64_t inner_strides[ETP_MAX_RANK] = {0};
  int64_t inner_numel = 1;
};

// Builds the plan. `dims` null (or `count` 0 when `empty_means_all`) reduces every dim.
// Out-of-range or repeated dims fail with ETP_ERR_INVALID_ARGUMENT (logged).
inline etp_status make_reduce_plan(const Ctx& c, const etp_tensor& in, const int64_t* dims, uint64_t count,
                                   bool empty_means_all, bool keepdim, ReducePlan* p) {
  p->keepdim = keepdim;
  const bool all = dims == nullptr || (count == 0 && empty_means_all);
  for (int32_t d = 0; d < in.rank; ++d) p->reduced[d] = all;
  if (!all) {
    bool seen[ETP_MAX_RANK] = {false};
    for (uint64_t k = 0; k < count; ++k) {
      int64_t d = 0;
      if (!normalize_dim(c, dims[k], in.rank, &d)) return ETP_ERR_INVALID_ARGUMENT;
      if (in.rank == 0) continue;  // a scalar reduces over nothing
      if (seen[d]) {
        return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: dim %lld appears more than once in the dim list",
                    c.op, static_cast<long long>(dims[k]));
      }
      seen[d] = true;
      p->reduced[d] = true;
    }
  }
  for (int32_t d = 0; d < in.rank; ++d) {
    if (p->reduced[d]) {
      p->inner_sizes[p->inner_rank] = in.sizes[d];
      p->inner_strides[p->inner_rank++] = in.strides[d];
      p->inner_numel *= in.sizes[d];
      if (keepdim) p->out_sizes[p->out_rank++] = 1;
    } else {
      p->outer_sizes[p->outer_rank] = in.sizes[d];
      p->outer_in_strides[p->outer_rank++] = in.strides[d];
      p->out_sizes[p->out_rank++] = in.sizes[d];
    }
  }
  return ETP_OK;
}

// Resizes `out` to the plan's output shape and records its strides for the kept dims.
inline etp_status resize_reduce_out(const Ctx& c, ReducePlan* p, int32_t in_rank, etp_tensor* out) {
  if (etp_status s = resize_out(c, out, p->out_rank, p->out_sizes)) return s;
  int32_t outer = 0, out_dim = 0;
  for (int32_t d = 0; d < in_rank; ++d) {
    if (!p->reduced[d]) p->outer_out_strides[outer++] = out->strides[out_dim];
    if (!p->reduced[d] || p->keepdim) ++out_dim;
  }
  return ETP_OK;
}

// Calls fn(out_offset, in_base_offset) once per output element; the base addresses the first
// reduced element, and for_each_reduced walks the rest from it.
template <typename F>
void for_each_output(const ReducePlan& p, F&& fn) {
  const int64_t* strides[2] = {p.outer_out_strides, p.outer_in_strides};
  for_each_offsets<2>(p.outer_rank, p.outer_sizes, strides, [&](const int64_t* off) { fn(off[0], off[1]); });
}
// Calls fn(in_offset) for every reduced element of one output, in row-major order.
template <typename F>
void for_each_reduced(const ReducePlan& p, int64_t base, F&& fn) {
  const int64_t* strides[1] = {p.inner_strides};
  for_each_offsets<1>(p.inner_rank, p.inner_sizes, strides, [&](const int64_t* off) { fn(base + off[0]); });
}

}  // namespace etp_portable
