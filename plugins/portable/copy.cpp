// Copies with optional dtype conversion and layout change: clone, copy_, _to_copy and the
// dim-order variants ExecuTorch emits. Also defines the converting view copy the other
// data-movement families use (movement_util.h).
#include <type_traits>

#include "kernels.h"
#include "movement_util.h"

namespace etp_portable {
namespace movement {

etp_status convert_view(const Ctx& c, int32_t rank, const int64_t* sizes, const etp_tensor& dst, int64_t dst_base,
                        const int64_t* dst_strides, const etp_tensor& src, int64_t src_base,
                        const int64_t* src_strides) {
  const size_t elem = etp_sdk::dtype_size(dst.dtype);
  if (dst.dtype == src.dtype && elem != 0) {
    copy_view(rank, sizes, byte_ptr(dst) + dst_base * static_cast<int64_t>(elem), dst_strides,
              byte_ptr(src) + src_base * static_cast<int64_t>(elem), src_strides, elem);
    return ETP_OK;
  }
  return dispatch_all(c, dst.dtype, [&](auto out_zero) {
    using To = decltype(out_zero);
    return dispatch_all(c, src.dtype, [&](auto in_zero) {
      using From = decltype(in_zero);
      To* d = static_cast<To*>(dst.data) + dst_base;
      const From* s = static_cast<const From*>(src.data) + src_base;
      for_each_strided(rank, sizes, dst_strides, src_strides, nullptr,
                       [&](int64_t od, int64_t os, int64_t) { d[od] = convert<To>(read_elem(s, os)); });
      return ETP_OK;
    });
  });
}

etp_status fill_view(const Ctx& c, int32_t rank, const int64_t* sizes, const etp_tensor& dst, int64_t dst_base,
                     const int64_t* dst_strides, double value) {
  return dispatch_all(c, dst.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T v = convert<T>(value);
    T* d = static_cast<T*>(dst.data) + dst_base;
    for_each_strided(rank, sizes, dst_strides, nullptr, nullptr, [&](int64_t od, int64_t, int64_t) { d[od] = v; });
    return ETP_OK;
  });
}

}  // namespace movement

namespace {

using namespace movement;

// Shared body: out gets self's shape and self's values converted to out's dtype.
etp_status copy_into(const Ctx& c, const etp_tensor& self, etp_tensor* out, bool same_dtype_required) {
  if (etp_status s = known_dtype(c, self, "self")) return s;
  if (same_dtype_required) {
    if (etp_status s = same_dtype(c, *out, self.dtype, "out")) return s;
  }
  if (etp_status s = resize_out(c, out, self.rank, self.sizes)) return s;
  return convert_view(c, self.rank, self.sizes, *out, 0, out->strides, self, 0, self.strides);
}

// MemoryFormat? argument: None, contiguous (0) and preserve (1) are accepted, as in
// ExecuTorch's portable kernels; the output keeps its own dim order either way.
etp_status memory_format_arg(const Ctx& c, uint32_t i) {
  bool has = false;
  int64_t format = 0;
  if (!optional_int_arg(c, i, &has, &format)) return ETP_ERR_INVALID_ARGUMENT;
  if (has && format != 0 && format != 1) {
    return fail(c.host, ETP_ERR_NOT_SUPPORTED, "%s: memory_format %lld is not supported (contiguous or preserve)", c.op,
                static_cast<long long>(format));
  }
  return ETP_OK;
}

// int[]? dim_order: when given it must be the output's dim order.
etp_status dim_order_arg(const Ctx& c, uint32_t i, const etp_tensor& out) {
  bool has = false;
  const int64_t* order = nullptr;
  uint64_t count = 0;
  if (!optional_int_list_arg(c, i, &has, &order, &count)) return ETP_ERR_INVALID_ARGUMENT;
  if (!has) return ETP_OK;
  bool same = count == static_cast<uint64_t>(out.rank);
  for (uint64_t d = 0; same && d < count; ++d) same = order[d] == out.dim_order[d];
  if (!same) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: dim_order argument does not match the output's dim order", c.op);
  }
  return ETP_OK;
}

// aten::clone.out(Tensor self, *, MemoryFormat? memory_format=None, Tensor(a!) out)
ETP_PORTABLE_KERNEL(clone_out, "aten::clone.out") {
  etp_tensor *self, *out;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, 2, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (etp_status s = memory_format_arg(c, 1)) return s;
  return copy_into(c, *self, out, /*same_dtype_required=*/true);
}

// aten::_to_copy.out(Tensor self, *, bool non_blocking=False, MemoryFormat? memory_format=None,
//                    Tensor(a!) out)
ETP_PORTABLE_KERNEL(to_copy_out, "aten::_to_copy.out") {
  etp_tensor *self, *out;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, 3, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (!false_arg(c, 1, "non_blocking")) return ETP_ERR_NOT_SUPPORTED;
  if (etp_status s = memory_format_arg(c, 2)) return s;
  return copy_into(c, *self, out, /*same_dtype_required=*/false);
}

// dim_order_ops::_to_dim_order_copy.out(Tensor self, *, bool non_blocking=False,
//                                       int[]? dim_order=None, Tensor(a!) out)
ETP_PORTABLE_KERNEL(to_dim_order_copy_out, "dim_order_ops::_to_dim_order_copy.out") {
  etp_tensor *self, *out;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, 3, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (!false_arg(c, 1, "non_blocking")) return ETP_ERR_NOT_SUPPORTED;
  if (etp_status s = dim_order_arg(c, 2, *out)) return s;
  return copy_into(c, *self, out, /*same_dtype_required=*/false);
}

// dim_order_ops::_clone_dim_order.out(Tensor self, *, bool non_blocking=False,
//                                     int[]? dim_order=None, Tensor(a!) out)
ETP_PORTABLE_KERNEL(clone_dim_order_out, "dim_order_ops::_clone_dim_order.out") {
  etp_tensor *self, *out;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, 3, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (!false_arg(c, 1, "non_blocking")) return ETP_ERR_NOT_SUPPORTED;
  if (etp_status s = dim_order_arg(c, 2, *out)) return s;
  return copy_into(c, *self, out, /*same_dtype_required=*/true);
}

// Writes `src`, broadcast to `dst`'s shape and converted to its dtype, into `dst`.
etp_status broadcast_into(const Ctx& c, const etp_tensor& src, etp_tensor* dst) {
  if (src.rank > dst->rank) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: src of rank %d does not broadcast to self of rank %d", c.op, src.rank,
                dst->rank);
  }
  for (int32_t d = 0; d < src.rank; ++d) {
    const int64_t ss = src.sizes[d], ts = dst->sizes[d + dst->rank - src.rank];
    if (ss != ts && ss != 1) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: src size %lld does not broadcast to self size %lld at src dim %d", c.op,
                  static_cast<long long>(ss), static_cast<long long>(ts), d);
    }
  }
  if (etp_status s = known_dtype(c, src, "src")) return s;
  int64_t src_strides[ETP_MAX_RANK] = {0};
  broadcast_strides(src, dst->rank, src_strides);
  return convert_view(c, dst->rank, dst->sizes, *dst, 0, dst->strides, src, 0, src_strides);
}

// aten::copy_(Tensor(a!) self, Tensor src, bool non_blocking=False) -> Tensor(a!)
// Functional in-place: writes src (broadcast to self's shape, converted to self's dtype) into
// self. The return slot is its own value naming the same tensor; nothing to write there.
ETP_PORTABLE_KERNEL(copy_, "aten::copy_") {
  etp_tensor *self, *src;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, 1, &src)) return ETP_ERR_INVALID_ARGUMENT;
  if (!false_arg(c, 2, "non_blocking")) return ETP_ERR_NOT_SUPPORTED;
  return broadcast_into(c, *src, self);
}

// aten::copy.out(Tensor self, Tensor src, bool non_blocking=False, *, Tensor(a!) out): out takes
// self's shape and gets src broadcast to it, converted to out's dtype.
ETP_PORTABLE_KERNEL(copy_out, "aten::copy.out") {
  etp_tensor *self, *src, *out;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, 1, &src) || !tensor_arg(c, 3, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (!false_arg(c, 2, "non_blocking")) return ETP_ERR_NOT_SUPPORTED;
  if (etp_status s = resize_out(c, out, self->rank, self->sizes)) return s;
  return broadcast_into(c, *src, out);
}

// aten::detach_copy.out / aten::lift_fresh_copy.out(Tensor self, *, Tensor(a!) out): a copy.
etp_status plain_copy(const Ctx& c) {
  etp_tensor *self, *out;
  if (etp_status s = expect_args(c, 3)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, 1, &out)) return ETP_ERR_INVALID_ARGUMENT;
  return copy_into(c, *self, out, /*same_dtype_required=*/true);
}
ETP_PORTABLE_KERNEL(detach_copy_out, "aten::detach_copy.out") { return plain_copy(c); }
ETP_PORTABLE_KERNEL(lift_fresh_copy_out, "aten::lift_fresh_copy.out") { return plain_copy(c); }

// aten::_conj_physical.out(Tensor self, *, Tensor(a!) out): the conjugate, which for the real
// dtypes this plugin holds is a copy (complex dtypes are refused by the copy).
ETP_PORTABLE_KERNEL(conj_physical_out, "aten::_conj_physical.out") { return plain_copy(c); }

// et_copy::_h2d_copy.out / _d2h_copy.out(Tensor self, *, Tensor(a!) out): ExecuTorch's copies
// between host and device memory; on the CPU both are plain copies.
ETP_PORTABLE_KERNEL(h2d_copy_out, "et_copy::_h2d_copy.out") { return plain_copy(c); }
ETP_PORTABLE_KERNEL(d2h_copy_out, "et_copy::_d2h_copy.out") { return plain_copy(c); }

// aten::fill.Tensor_out(Tensor self, Tensor value, *, Tensor(a!) out): self's shape, every
// element the 0-dim `value` (converted exactly, through the copy path).
ETP_PORTABLE_KERNEL(fill_tensor_out, "aten::fill.Tensor_out") {
  etp_tensor *self, *value, *out;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, 1, &value) || !tensor_arg(c, 2, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (value->rank != 0) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: value must be a 0-dim tensor, got rank %d", c.op, value->rank);
  }
  if (etp_status s = same_dtype(c, *out, self->dtype, "out")) return s;
  if (etp_status s = resize_out(c, out, self->rank, self->sizes)) return s;
  return broadcast_into(c, *value, out);
}

// The empty family: out resized to `sizes` (at most ETP_MAX_RANK of them, none negative).
etp_status resize_empty(const Ctx& c, etp_tensor* out, const int64_t* sizes, uint64_t rank) {
  if (rank > ETP_MAX_RANK) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: rank %llu is above %d", c.op, static_cast<unsigned long long>(rank),
                ETP_MAX_RANK);
  }
  for (uint64_t d = 0; d < rank; ++d) {
    if (sizes[d] < 0) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: negative size %lld", c.op, static_cast<long long>(sizes[d]));
    }
  }
  return resize_out(c, out, static_cast<int32_t>(rank), sizes);
}

// aten::empty.out(SymInt[] size, *, MemoryFormat? memory_format=None, Tensor(a!) out): out
// resized to `size`; its contents are whatever its memory holds, as in ExecuTorch.
ETP_PORTABLE_KERNEL(empty_out, "aten::empty.out") {
  const int64_t* sizes = nullptr;
  uint64_t rank = 0;
  etp_tensor* out;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!int_list_arg(c, 0, &sizes, &rank) || !tensor_arg(c, 2, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (etp_status s = memory_format_arg(c, 1)) return s;
  return resize_empty(c, out, sizes, rank);
}

// aten::empty_permuted.out(SymInt[] size, int[] physical_layout, *, Tensor(a!) out): as empty.out,
// with `physical_layout` a permutation of the dims (the exporter already gave out that dim order).
// Backward graphs of the math SDPA emit it.
ETP_PORTABLE_KERNEL(empty_permuted_out, "aten::empty_permuted.out") {
  const int64_t *sizes = nullptr, *layout = nullptr;
  uint64_t rank = 0, layout_rank = 0;
  etp_tensor* out;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!int_list_arg(c, 0, &sizes, &rank) || !int_list_arg(c, 1, &layout, &layout_rank) || !tensor_arg(c, 2, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (rank > ETP_MAX_RANK || layout_rank != rank) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: %llu sizes and a physical layout of %llu dims (at most %d, equal)", c.op,
                static_cast<unsigned long long>(rank), static_cast<unsigned long long>(layout_rank), ETP_MAX_RANK);
  }
  bool seen[ETP_MAX_RANK] = {};
  for (uint64_t d = 0; d < rank; ++d) {
    if (sizes[d] < 0) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: negative size %lld", c.op, static_cast<long long>(sizes[d]));
    }
    if (layout[d] < 0 || layout[d] >= static_cast<int64_t>(rank) || seen[layout[d]]) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: physical_layout is not a permutation of the %llu dims", c.op,
                  static_cast<unsigned long long>(rank));
    }
    seen[layout[d]] = true;
  }
  return resize_out(c, out, static_cast<int32_t>(rank), sizes);
}

// dim_order_ops::_empty_dim_order.out(int[] size, *, int[]? dim_order=None, Tensor(a!) out): out
// resized to `size`; a given dim_order must be out's own (the exporter planned out that way).
ETP_PORTABLE_KERNEL(empty_dim_order_out, "dim_order_ops::_empty_dim_order.out") {
  const int64_t *sizes = nullptr, *order = nullptr;
  uint64_t rank = 0, order_rank = 0;
  bool has_order = false;
  etp_tensor* out;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!int_list_arg(c, 0, &sizes, &rank) || !optional_int_list_arg(c, 1, &has_order, &order, &order_rank) ||
      !tensor_arg(c, 2, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (has_order) {
    bool same = order_rank == static_cast<uint64_t>(out->rank);
    for (uint64_t d = 0; same && d < order_rank; ++d) same = order[d] == out->dim_order[d];
    if (!same) return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: dim_order differs from out's", c.op);
  }
  return resize_empty(c, out, sizes, rank);
}

}  // namespace

ETP_KERNEL_FAMILY(copy_kernels, ETP_ENTRY(clone_out), ETP_ENTRY(to_copy_out), ETP_ENTRY(to_dim_order_copy_out),
                  ETP_ENTRY(clone_dim_order_out), ETP_ENTRY(copy_), ETP_ENTRY(copy_out), ETP_ENTRY(detach_copy_out),
                  ETP_ENTRY(lift_fresh_copy_out), ETP_ENTRY(fill_tensor_out), ETP_ENTRY(empty_out),
                  ETP_ENTRY(empty_permuted_out), ETP_ENTRY(empty_dim_order_out), ETP_ENTRY(conj_physical_out),
                  ETP_ENTRY(h2d_copy_out), ETP_ENTRY(d2h_copy_out))

}  // namespace etp_portable
