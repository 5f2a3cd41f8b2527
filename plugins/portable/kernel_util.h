// Shared helpers for the portable kernels: argument access with checks, dtype dispatch,
// strided element addressing (any dim order) and broadcasting. Header-only, plugin-private.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "etp_plugin.h"
#include "etp_plugin.hpp"
#include "float16.h"

namespace etp_portable {

using etp_sdk::fail;

// Converts v to the C++ type U. Integers wrap like PyTorch's narrowing casts; floating
// values going to an integer type are converted through int64 with NaN/inf mapped to 0 or
// saturated, so no conversion is undefined behaviour.
// float16 and bfloat16 convert through float, as c10's types do.
template <typename U, typename V>
inline U convert(V v) {
  if constexpr (is_float16_type_v<V>) {
    if constexpr (std::is_same_v<U, V>)
      return v;
    else
      return convert<U>(static_cast<float>(v));
  } else if constexpr (is_float16_type_v<U>) {
    if constexpr (std::is_same_v<V, bool>)
      return U(v ? 1.0f : 0.0f);
    else
      return U(static_cast<float>(v));
  } else if constexpr (std::is_floating_point_v<V> && std::is_integral_v<U> && !std::is_same_v<U, bool>) {
    if (!(v == v)) return U{0};
    if (v >= static_cast<V>(9.2233720368547758e18)) return static_cast<U>(std::numeric_limits<int64_t>::max());
    if (v <= static_cast<V>(-9.2233720368547758e18)) return static_cast<U>(std::numeric_limits<int64_t>::min());
    return static_cast<U>(static_cast<int64_t>(v));
  } else {
    return static_cast<U>(v);
  }
}

// Everything a kernel needs to report errors well: its operator name and the host.
struct Ctx {
  const etp_host_api* host;
  const char* op;
  etp_value* const* args;
  uint32_t num_args;
};

// Checks the argument count (schema arguments + 1 return slot) and logs a clear error.
inline etp_status expect_args(const Ctx& c, uint32_t expected) {
  if (c.num_args != expected) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: expected %u arguments (with the return slot), got %u", c.op,
                expected, c.num_args);
  }
  return ETP_OK;
}

// Typed argument access; each returns false (after logging) on a tag mismatch.
inline bool tensor_arg(const Ctx& c, uint32_t i, etp_tensor** out) {
  if (c.args[i]->tag != ETP_VALUE_TENSOR || c.args[i]->u.tensor == nullptr) {
    fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: argument %u must be a tensor (tag %d)", c.op, i, c.args[i]->tag);
    return false;
  }
  *out = c.args[i]->u.tensor;
  return true;
}
// An optional tensor: None gives *out = nullptr.
inline bool optional_tensor_arg(const Ctx& c, uint32_t i, etp_tensor** out) {
  if (c.args[i]->tag == ETP_VALUE_NONE) {
    *out = nullptr;
    return true;
  }
  return tensor_arg(c, i, out);
}
inline bool int_arg(const Ctx& c, uint32_t i, int64_t* out) {
  if (c.args[i]->tag != ETP_VALUE_INT) {
    fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: argument %u must be an int (tag %d)", c.op, i, c.args[i]->tag);
    return false;
  }
  *out = c.args[i]->u.i;
  return true;
}
inline bool bool_arg(const Ctx& c, uint32_t i, bool* out) {
  if (c.args[i]->tag != ETP_VALUE_BOOL) {
    fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: argument %u must be a bool (tag %d)", c.op, i, c.args[i]->tag);
    return false;
  }
  *out = c.args[i]->u.b;
  return true;
}
// A Scalar argument (int, double or bool) read as double.
inline bool scalar_arg(const Ctx& c, uint32_t i, double* out) {
  const etp_value* v = c.args[i];
  switch (v->tag) {
    case ETP_VALUE_INT: *out = static_cast<double>(v->u.i); return true;
    case ETP_VALUE_DOUBLE: *out = v->u.d; return true;
    case ETP_VALUE_BOOL: *out = v->u.b ? 1.0 : 0.0; return true;
    default:
      fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: argument %u must be a scalar (tag %d)", c.op, i, v->tag);
      return false;
  }
}
inline bool int_list_arg(const Ctx& c, uint32_t i, const int64_t** items, uint64_t* count) {
  if (c.args[i]->tag != ETP_VALUE_INT_LIST) {
    fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: argument %u must be an int list (tag %d)", c.op, i, c.args[i]->tag);
    return false;
  }
  *items = c.args[i]->u.int_list.items;
  *count = c.args[i]->u.int_list.count;
  return true;
}

// An optional int: None leaves *has = false.
inline bool optional_int_arg(const Ctx& c, uint32_t i, bool* has, int64_t* out) {
  *has = c.args[i]->tag != ETP_VALUE_NONE;
  if (!*has) return true;
  return int_arg(c, i, out);
}
// An optional int list: None gives *items = nullptr, *count = 0, *has = false.
inline bool optional_int_list_arg(const Ctx& c, uint32_t i, bool* has, const int64_t** items, uint64_t* count) {
  *has = c.args[i]->tag != ETP_VALUE_NONE;
  *items = nullptr;
  *count = 0;
  if (!*has) return true;
  return int_list_arg(c, i, items, count);
}
// A tensor list (optional = Tensor?[] lists, whose items may be NULL).
inline bool tensor_list_arg(const Ctx& c, uint32_t i, bool optional, etp_tensor* const** items, uint64_t* count) {
  const int32_t tag = c.args[i]->tag;
  if (tag != ETP_VALUE_TENSOR_LIST && !(optional && tag == ETP_VALUE_OPTIONAL_TENSOR_LIST)) {
    fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: argument %u must be a %stensor list (tag %d)", c.op, i,
         optional ? "optional " : "", tag);
    return false;
  }
  *items = c.args[i]->u.tensor_list.items;
  *count = c.args[i]->u.tensor_list.count;
  for (uint64_t k = 0; k < *count; ++k) {
    if ((*items)[k] == nullptr && !(optional && tag == ETP_VALUE_OPTIONAL_TENSOR_LIST)) {
      fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: argument %u has a null tensor at item %llu", c.op, i,
           static_cast<unsigned long long>(k));
      return false;
    }
  }
  return true;
}
// Normalises a possibly negative dim against `rank`; false (logged) when out of range.
inline bool normalize_dim(const Ctx& c, int64_t dim, int64_t rank, int64_t* out) {
  const int64_t r = rank == 0 ? 1 : rank;  // a scalar accepts dim 0 and -1
  if (dim < -r || dim >= r) {
    fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: dim %lld is out of range for rank %lld", c.op,
         static_cast<long long>(dim), static_cast<long long>(rank));
    return false;
  }
  *out = dim < 0 ? dim + r : dim;
  return true;
}

// Element i of a typed array. A bool is read as its byte (nonzero is true): a byte other than
// 0 or 1 read through `const bool*` is undefined behaviour, and memory a bad program plans (or
// a caller's input) can hold one. Use it wherever T may be bool.
template <typename T>
inline T read_elem(const T* p, int64_t i) {
  if constexpr (std::is_same_v<T, bool>) {
    return reinterpret_cast<const uint8_t*>(p)[i] != 0;
  } else {
    return p[i];
  }
}

// The bytes of a bool tensor (a mask), to be tested with `!= 0` (see read_elem).
inline const uint8_t* mask_bytes(const etp_tensor& t) { return static_cast<const uint8_t*>(t.data); }

// Calls f(T{}) with T the C++ type of `dtype`, for the dtypes portable kernels compute in.
// Returns ETP_ERR_DTYPE (logged, naming the operator) for anything else.
template <typename F>
etp_status dispatch_all(const Ctx& c, int32_t dtype, F&& f) {
  switch (dtype) {
    case ETP_DTYPE_FLOAT32: return f(float{});
    case ETP_DTYPE_FLOAT64: return f(double{});
    case ETP_DTYPE_INT64: return f(int64_t{});
    case ETP_DTYPE_INT32: return f(int32_t{});
    case ETP_DTYPE_INT16: return f(int16_t{});
    case ETP_DTYPE_INT8: return f(int8_t{});
    case ETP_DTYPE_UINT8: return f(uint8_t{});
    case ETP_DTYPE_BOOL: return f(bool{});
    case ETP_DTYPE_FLOAT16: return f(Half{});
    case ETP_DTYPE_BFLOAT16: return f(BFloat16{});
    default: return fail(c.host, ETP_ERR_DTYPE, "%s: dtype %s is not supported", c.op, etp_sdk::dtype_name(dtype));
  }
}
// Real dtypes (dispatch_all without bool).
template <typename F>
etp_status dispatch_real(const Ctx& c, int32_t dtype, F&& f) {
  if (dtype == ETP_DTYPE_BOOL) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: dtype bool is not supported", c.op);
  }
  return dispatch_all(c, dtype, std::forward<F>(f));
}
// Floating-point dtypes only.
template <typename F>
etp_status dispatch_float(const Ctx& c, int32_t dtype, F&& f) {
  switch (dtype) {
    case ETP_DTYPE_FLOAT32: return f(float{});
    case ETP_DTYPE_FLOAT64: return f(double{});
    case ETP_DTYPE_FLOAT16: return f(Half{});
    case ETP_DTYPE_BFLOAT16: return f(BFloat16{});
    default:
      return fail(c.host, ETP_ERR_DTYPE, "%s: dtype %s is not supported (expected a floating dtype)", c.op,
                  etp_sdk::dtype_name(dtype));
  }
}

// Resizes `out` and logs which output failed.
inline etp_status resize_out(const Ctx& c, etp_tensor* out, int32_t rank, const int64_t* sizes,
                             const char* which = "out") {
  if (etp_status s = etp_sdk::resize(c.host, out, rank, sizes)) {
    char shape[160];
    int n = std::snprintf(shape, sizeof(shape), "[");
    for (int32_t d = 0; d < rank && n > 0 && n < static_cast<int>(sizeof(shape)) - 24; ++d) {
      n += std::snprintf(shape + n, sizeof(shape) - static_cast<size_t>(n), d ? ", %lld" : "%lld",
                         static_cast<long long>(sizes[d]));
    }
    if (n > 0 && n < static_cast<int>(sizeof(shape)) - 2) std::snprintf(shape + n, sizeof(shape) - n, "]");
    return fail(c.host, s, "%s: cannot resize %s to %s", c.op, which, shape);
  }
  return ETP_OK;
}

// Drops the size-1 dims of (sizes, strides) and merges each dim into the one before it when
// every stride set steps over it contiguously (stride[d-1] == stride[d] * sizes[d]), in place.
// Returns the new rank (0 when one element is left). The offsets visited in row-major order are
// the same before and after; the innermost loop just gets longer.
template <int N>
int32_t coalesce_dims(int32_t rank, int64_t* sizes, int64_t (&strides)[N][ETP_MAX_RANK]) {
  int32_t r = 0;
  for (int32_t d = 0; d < rank; ++d) {
    if (sizes[d] == 1) continue;
    bool merge = r > 0;
    for (int k = 0; k < N && merge; ++k) {
      int64_t span = 0;  // a stride this large cannot be contiguous with anything
      merge = !__builtin_mul_overflow(strides[k][d], sizes[d], &span) && strides[k][r - 1] == span;
    }
    if (merge) {
      sizes[r - 1] *= sizes[d];
      for (int k = 0; k < N; ++k) strides[k][r - 1] = strides[k][d];
    } else {
      sizes[r] = sizes[d];
      for (int k = 0; k < N; ++k) strides[k][r] = strides[k][d];
      ++r;
    }
  }
  return r;
}

// The one strided walker: visits the logical (row-major) index space of `sizes`, passing fn
// the storage offsets of the element in N tensors with the given strides (a null stride array
// broadcasts, as does a stride of 0). `fn(const int64_t* offsets)` is called numel times.
template <int N, typename F>
void for_each_offsets(int32_t rank, const int64_t* shape, const int64_t* const (&strides)[N], F&& fn) {
  int64_t numel = 1;
  for (int32_t d = 0; d < rank; ++d) numel *= shape[d];
  if (numel == 0) return;
  int64_t off[N] = {0};
  // Null stride arrays become zeros once, so the loops below carry no branches.
  int64_t sizes[ETP_MAX_RANK];
  int64_t st[N][ETP_MAX_RANK];
  for (int32_t d = 0; d < rank; ++d) sizes[d] = shape[d];
  for (int k = 0; k < N; ++k) {
    for (int32_t d = 0; d < rank; ++d) st[k][d] = strides[k] ? strides[k][d] : 0;
  }
  // Size-1 dims (unbind's trailing pair, keepdim) and contiguous runs make no extra rows.
  rank = coalesce_dims<N>(rank, sizes, st);
  if (rank == 0) {
    fn(static_cast<const int64_t*>(off));
    return;
  }
  // The innermost dim runs as a tight loop; the outer dims advance once per row.
  const int32_t last = rank - 1;
  const int64_t inner = sizes[last];
  const int64_t rows = numel / inner;
  int64_t index[ETP_MAX_RANK] = {0};
  int64_t base[N] = {0};
  for (int64_t r = 0; r < rows; ++r) {
    for (int k = 0; k < N; ++k) off[k] = base[k];
    for (int64_t i = 0; i < inner; ++i) {
      fn(static_cast<const int64_t*>(off));
      for (int k = 0; k < N; ++k) off[k] += st[k][last];
    }
    for (int32_t d = last - 1; d >= 0; --d) {
      if (++index[d] < sizes[d]) {
        for (int k = 0; k < N; ++k) base[k] += st[k][d];
        break;
      }
      for (int k = 0; k < N; ++k) base[k] -= st[k][d] * (sizes[d] - 1);
      index[d] = 0;
    }
  }
}

// for_each_offsets over up to three tensors with the offsets as separate arguments:
// `fn(o0, o1, o2)` is called numel times (a null stride array gives offset 0 throughout).
template <typename F>
void for_each_strided(int32_t rank, const int64_t* sizes, const int64_t* s0, const int64_t* s1, const int64_t* s2,
                      F&& fn) {
  const int64_t* const strides[3] = {s0, s1, s2};
  for_each_offsets<3>(rank, sizes, strides, [&](const int64_t* o) { fn(o[0], o[1], o[2]); });
}

// Strides of `t` aligned to an output of rank `out_rank` under broadcasting (leading dims
// added, size-1 dims given stride 0). Writes out_rank entries to `out`.
inline void broadcast_strides(const etp_tensor& t, int32_t out_rank, int64_t* out) {
  const int32_t lead = out_rank - t.rank;
  for (int32_t d = 0; d < out_rank; ++d) {
    const int32_t td = d - lead;
    out[d] = (td < 0 || t.sizes[td] == 1) ? 0 : t.strides[td];
  }
}

// Broadcast shape of a and b; false (logged) when they do not broadcast.
inline bool broadcast_shape(const Ctx& c, const etp_tensor& a, const etp_tensor& b, int32_t* rank, int64_t* sizes) {
  *rank = a.rank > b.rank ? a.rank : b.rank;
  for (int32_t d = 0; d < *rank; ++d) {
    const int32_t da = d - (*rank - a.rank), db = d - (*rank - b.rank);
    const int64_t sa = da < 0 ? 1 : a.sizes[da], sb = db < 0 ? 1 : b.sizes[db];
    if (sa != sb && sa != 1 && sb != 1) {
      fail(c.host, ETP_ERR_SHAPE, "%s: shapes do not broadcast: size %lld vs %lld at dim %d", c.op,
           static_cast<long long>(sa), static_cast<long long>(sb), d);
      return false;
    }
    sizes[d] = sa == 1 ? sb : sa;
  }
  return true;
}

// Work (multiply-adds or elements) below which a kernel stays on the calling thread: handing
// chunks to pool threads costs microseconds.
constexpr int64_t kParallelWork = 1 << 16;

// body(begin, end) over items [0, count): on the host's thread pool (ABI 1.2 parallel_for) when
// the work (count * work_per_item) reaches kParallelWork and the pool has two threads or more,
// else as body(0, count) on the calling thread (and always under an older host). Each item
// writes its own outputs and computes them in one order, so results do not depend on the thread
// count. The body must not throw.
template <typename Body>
void parallel_range(const etp_host_api* host, int64_t count, int64_t work_per_item, const Body& body) {
  const bool enough = count >= 2 && work_per_item > 0 && count >= (kParallelWork + work_per_item - 1) / work_per_item;
  if (!enough || !ETP_ABI_HAS(host, parallel_for) || !ETP_ABI_HAS(host, thread_count) ||
      host->thread_count(host->self) < 2) {
    body(int64_t{0}, count);
    return;
  }
  host->parallel_for(
      host->self, static_cast<uint64_t>(count), 0,
      [](void* context, uint64_t begin, uint64_t end) {
        (*static_cast<const Body*>(context))(static_cast<int64_t>(begin), static_cast<int64_t>(end));
      },
      const_cast<Body*>(&body));
}

}  // namespace etp_portable
