// Indexing: index_select, gather, scatter, embedding, masked_fill, tril, and advanced
// indexing (index.Tensor, index_put). Every index is bounds-checked before any read or write;
// an out-of-range index fails with ETP_ERR_INVALID_ARGUMENT naming the index.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "movement_util.h"
#include "pointwise_util.h"

namespace etp_portable {
namespace {

using namespace movement;

// Calls f(U{}) with U an unsigned type of `elem` bytes, for element-size-agnostic moves.
template <typename F>
etp_status dispatch_elem(const Ctx& c, const etp_tensor& t, F&& f) {
  switch (etp_sdk::dtype_size(t.dtype)) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
    default: return fail(c.host, ETP_ERR_DTYPE, "%s: dtype %s is not supported", c.op, etp_sdk::dtype_name(t.dtype));
  }
}

// Checks 0 <= idx < size (wrapping negatives first when `wrap`), logging the offending index.
bool check_index(const Ctx& c, int64_t* idx, int64_t size, int64_t dim, bool wrap) {
  const int64_t raw = *idx;
  if (wrap && raw < 0) *idx += size;
  if (*idx < 0 || *idx >= size) {
    fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: index %lld is out of range for dim %lld of size %lld", c.op,
         static_cast<long long>(raw), static_cast<long long>(dim), static_cast<long long>(size));
    return false;
  }
  return true;
}

// aten::index_select.out(Tensor self, int dim, Tensor index, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(index_select_out, "aten::index_select.out") {
  etp_tensor *self, *index, *out;
  int64_t dim, d = 0;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &self) || !int_arg(c, 1, &dim) || !tensor_arg(c, 2, &index) || !tensor_arg(c, 3, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (!normalize_dim(c, dim, self->rank, &d)) return ETP_ERR_INVALID_ARGUMENT;
  if (etp_status s = index_dtype(c, *index, "index")) return s;
  if (etp_status s = known_dtype(c, *self, "self")) return s;
  if (etp_status s = same_dtype(c, *out, self->dtype, "out")) return s;
  if (index->rank > 1) return fail(c.host, ETP_ERR_SHAPE, "%s: index must have rank <= 1, got %d", c.op, index->rank);
  const int64_t n = etp_sdk::numel(*index);
  const int64_t size = self->rank == 0 ? 1 : self->sizes[d];
  const int64_t stride = self->rank == 0 ? 0 : self->strides[d];
  int64_t sizes[ETP_MAX_RANK] = {0};
  for (int32_t k = 0; k < self->rank; ++k) sizes[k] = k == d ? n : self->sizes[k];
  if (self->rank == 0 && n != 1) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: a rank-0 self takes exactly one index, got %lld", c.op,
                static_cast<long long>(n));
  }
  if (etp_status s = resize_out(c, out, self->rank, sizes)) return s;
  const int64_t istride = index->rank == 1 ? index->strides[0] : 0;
  for (int64_t i = 0; i < n; ++i) {  // validate everything before writing
    int64_t idx = load_index(*index, i * istride);
    if (!check_index(c, &idx, size, d, /*wrap=*/false)) return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_sdk::numel(*out) == 0) return ETP_OK;
  const size_t elem = etp_sdk::dtype_size(self->dtype);
  const int64_t e = static_cast<int64_t>(elem);
  int64_t slice_sizes[ETP_MAX_RANK] = {0};
  for (int32_t k = 0; k < self->rank; ++k) slice_sizes[k] = k == d ? 1 : self->sizes[k];
  for (int64_t i = 0; i < n; ++i) {
    const int64_t idx = load_index(*index, i * istride);
    const int64_t out_stride = out->rank == 0 ? 0 : out->strides[d];
    copy_view(self->rank, slice_sizes, byte_ptr(*out) + i * out_stride * e, out->strides,
              byte_ptr(*self) + idx * stride * e, self->strides, elem);
  }
  return ETP_OK;
}

// Shape rules of gather/scatter: index has self's rank (rank <= 1 may mix) and, outside `d`,
// sizes no larger than `other`'s.
etp_status check_gather_shape(const Ctx& c, const etp_tensor& self, const etp_tensor& index, int64_t d,
                              const etp_tensor* src) {
  const int32_t srank = self.rank == 0 ? 1 : self.rank, irank = index.rank == 0 ? 1 : index.rank;
  if (etp_sdk::numel(index) != 0 && srank != irank) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: index has rank %d but self has rank %d", c.op, index.rank, self.rank);
  }
  for (int32_t k = 0; k < index.rank && k < self.rank; ++k) {
    if (k != d && index.sizes[k] > self.sizes[k]) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: index size %lld exceeds self size %lld at dim %d", c.op,
                  static_cast<long long>(index.sizes[k]), static_cast<long long>(self.sizes[k]), k);
    }
  }
  if (src != nullptr) {
    // Every index element reads src at its own position, so a nonempty index needs src's rank
    // (as PyTorch): extra src dims (one of them 0) or a missing one would let it read past src.
    const int32_t crank = src->rank == 0 ? 1 : src->rank;
    const bool reads = etp_sdk::numel(index) != 0;
    if (reads && crank != irank) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: index has rank %d but src has rank %d", c.op, index.rank, src->rank);
    }
    const int32_t n = reads ? irank : std::min(index.rank, src->rank);
    for (int32_t k = 0; k < n; ++k) {
      const int64_t isize = k < index.rank ? index.sizes[k] : 1, ssize = k < src->rank ? src->sizes[k] : 1;
      if (isize > ssize) {
        return fail(c.host, ETP_ERR_SHAPE, "%s: index size %lld exceeds src size %lld at dim %d", c.op,
                    static_cast<long long>(isize), static_cast<long long>(ssize), k);
      }
    }
  }
  return ETP_OK;
}

// Walks the index tensor: fn(self_offset_without_dim, index_value, index_offset, k) where the
// first offset addresses `t` at the index position with dim `d` left at 0. Validates every
// index against t.sizes[d] first.
template <typename F>
etp_status walk_gather(const Ctx& c, const etp_tensor& t, const etp_tensor& index, int64_t d, const int64_t* other,
                       F&& fn) {
  int64_t tstrides[ETP_MAX_RANK] = {0};
  for (int32_t k = 0; k < index.rank && k < t.rank; ++k) tstrides[k] = k == d ? 0 : t.strides[k];
  const int64_t size = t.rank == 0 ? 1 : t.sizes[d];
  bool ok = true;
  for_each_strided(index.rank, index.sizes, index.strides, nullptr, nullptr, [&](int64_t io, int64_t, int64_t) {
    int64_t idx = load_index(index, io);
    if (ok && !check_index(c, &idx, size, d, /*wrap=*/false)) ok = false;
  });
  if (!ok) return ETP_ERR_INVALID_ARGUMENT;
  const int64_t dstride = t.rank == 0 ? 0 : t.strides[d];
  for_each_strided(index.rank, index.sizes, tstrides, index.strides, other,
                   [&](int64_t to, int64_t io, int64_t oo) { fn(to + load_index(index, io) * dstride, oo); });
  return ETP_OK;
}

// aten::gather.out(Tensor self, int dim, Tensor index, *, bool sparse_grad=False, Tensor(a!) out)
ETP_PORTABLE_KERNEL(gather_out, "aten::gather.out") {
  etp_tensor *self, *index, *out;
  int64_t dim, d = 0;
  if (etp_status s = expect_args(c, 6)) return s;
  if (!tensor_arg(c, 0, &self) || !int_arg(c, 1, &dim) || !tensor_arg(c, 2, &index) || !tensor_arg(c, 4, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (!normalize_dim(c, dim, self->rank, &d)) return ETP_ERR_INVALID_ARGUMENT;
  if (etp_status s = index_dtype(c, *index, "index")) return s;
  if (etp_status s = same_dtype(c, *out, self->dtype, "out")) return s;
  if (etp_status s = check_gather_shape(c, *self, *index, d, nullptr)) return s;
  if (etp_status s = resize_out(c, out, index->rank, index->sizes)) return s;
  return dispatch_elem(c, *self, [&](auto zero) {
    using U = decltype(zero);
    const U* s = static_cast<const U*>(self->data);
    U* o = static_cast<U*>(out->data);
    return walk_gather(c, *self, *index, d, out->strides, [&](int64_t so, int64_t oo) { o[oo] = s[so]; });
  });
}

// Shared body of scatter.src_out / scatter.value_out: out = self, then out[index] = src/value.
etp_status scatter(const Ctx& c, const etp_tensor* src, double value, bool accumulate = false) {
  etp_tensor *self, *index, *out;
  int64_t dim, d = 0;
  if (!tensor_arg(c, 0, &self) || !int_arg(c, 1, &dim) || !tensor_arg(c, 2, &index) || !tensor_arg(c, 4, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (!normalize_dim(c, dim, self->rank, &d)) return ETP_ERR_INVALID_ARGUMENT;
  if (etp_status s = index_dtype(c, *index, "index")) return s;
  if (etp_status s = known_dtype(c, *self, "self")) return s;
  if (etp_status s = same_dtype(c, *out, self->dtype, "out")) return s;
  if (src != nullptr) {
    if (etp_status s = same_dtype(c, *src, self->dtype, "src")) return s;
  }
  if (etp_status s = check_gather_shape(c, *self, *index, d, src)) return s;
  if (etp_status s = resize_out(c, out, self->rank, self->sizes)) return s;
  // Validate the indices before touching out (walk_gather checks before its writes too, but
  // the copy of self below must not happen on a failing call either).
  etp_status status = walk_gather(c, *out, *index, d, nullptr, [](int64_t, int64_t) {});
  if (status != ETP_OK) return status;
  copy_view(self->rank, self->sizes, byte_ptr(*out), out->strides, byte_ptr(*self), self->strides,
            etp_sdk::dtype_size(self->dtype));
  if (src != nullptr) {
    int64_t sstrides[ETP_MAX_RANK] = {0};
    for (int32_t k = 0; k < index->rank && k < src->rank; ++k) sstrides[k] = src->strides[k];
    if (accumulate) {  // scatter_add: in the tensor's own dtype, wrapping for integers
      return dispatch_all(c, self->dtype, [&](auto zero) {
        using T = decltype(zero);
        const T* s = static_cast<const T*>(src->data);
        T* o = static_cast<T*>(out->data);
        return walk_gather(c, *out, *index, d, sstrides,
                           [&](int64_t oo, int64_t so) { o[oo] = wrap_add(read_elem(o, oo), read_elem(s, so)); });
      });
    }
    return dispatch_elem(c, *self, [&](auto zero) {
      using U = decltype(zero);
      const U* s = static_cast<const U*>(src->data);
      U* o = static_cast<U*>(out->data);
      return walk_gather(c, *out, *index, d, sstrides, [&](int64_t oo, int64_t so) { o[oo] = s[so]; });
    });
  }
  return dispatch_all(c, self->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T v = convert<T>(value);
    T* o = static_cast<T*>(out->data);
    return walk_gather(c, *out, *index, d, nullptr, [&](int64_t oo, int64_t) { o[oo] = v; });
  });
}

// aten::scatter.src_out(Tensor self, int dim, Tensor index, Tensor src, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(scatter_src_out, "aten::scatter.src_out") {
  etp_tensor* src;
  if (etp_status s = expect_args(c, 6)) return s;
  if (!tensor_arg(c, 3, &src)) return ETP_ERR_INVALID_ARGUMENT;
  return scatter(c, src, 0);
}

// aten::scatter_add.out(Tensor self, int dim, Tensor index, Tensor src, *, Tensor(a!) out): out = self,
// then out[index] += src (duplicate indices accumulate).
ETP_PORTABLE_KERNEL(scatter_add_out, "aten::scatter_add.out") {
  etp_tensor* src;
  if (etp_status s = expect_args(c, 6)) return s;
  if (!tensor_arg(c, 3, &src)) return ETP_ERR_INVALID_ARGUMENT;
  return scatter(c, src, 0, /*accumulate=*/true);
}

// aten::scatter.value_out(Tensor self, int dim, Tensor index, Scalar value, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(scatter_value_out, "aten::scatter.value_out") {
  double value = 0;
  if (etp_status s = expect_args(c, 6)) return s;
  if (!scalar_arg(c, 3, &value)) return ETP_ERR_INVALID_ARGUMENT;
  return scatter(c, nullptr, value);
}

// aten::embedding.out(Tensor weight, Tensor indices, SymInt padding_idx=-1,
//                     bool scale_grad_by_freq=False, bool sparse=False, *, Tensor(a!) out)
// out[..., :] = weight[indices[...], :]; padding_idx only matters for training.
ETP_PORTABLE_KERNEL(embedding_out, "aten::embedding.out") {
  etp_tensor *weight, *indices, *out;
  if (etp_status s = expect_args(c, 7)) return s;
  if (!tensor_arg(c, 0, &weight) || !tensor_arg(c, 1, &indices) || !tensor_arg(c, 5, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (weight->rank != 2) return fail(c.host, ETP_ERR_SHAPE, "%s: weight must have rank 2, got %d", c.op, weight->rank);
  if (indices->rank >= ETP_MAX_RANK) return fail(c.host, ETP_ERR_SHAPE, "%s: indices rank is too large", c.op);
  if (etp_status s = index_dtype(c, *indices, "indices")) return s;
  if (etp_status s = known_dtype(c, *weight, "weight")) return s;
  if (etp_status s = same_dtype(c, *out, weight->dtype, "out")) return s;
  int64_t sizes[ETP_MAX_RANK] = {0};
  for (int32_t k = 0; k < indices->rank; ++k) sizes[k] = indices->sizes[k];
  sizes[indices->rank] = weight->sizes[1];
  if (etp_status s = resize_out(c, out, indices->rank + 1, sizes)) return s;
  const int64_t rows = weight->sizes[0];
  bool ok = true;
  for_each_strided(indices->rank, indices->sizes, indices->strides, nullptr, nullptr,
                   [&](int64_t io, int64_t, int64_t) {
                     int64_t idx = load_index(*indices, io);
                     if (ok && !check_index(c, &idx, rows, 0, /*wrap=*/false)) ok = false;
                   });
  if (!ok) return ETP_ERR_INVALID_ARGUMENT;
  const size_t elem = etp_sdk::dtype_size(weight->dtype);
  const int64_t e = static_cast<int64_t>(elem);
  for_each_strided(indices->rank, indices->sizes, indices->strides, out->strides, nullptr,
                   [&](int64_t io, int64_t oo, int64_t) {
                     const int64_t row = load_index(*indices, io);
                     copy_view(1, weight->sizes + 1, byte_ptr(*out) + oo * e, out->strides + indices->rank,
                               byte_ptr(*weight) + row * weight->strides[0] * e, weight->strides + 1, elem);
                   });
  return ETP_OK;
}

// aten::masked_fill.Scalar_out(Tensor self, Tensor mask, Scalar value, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(masked_fill_scalar_out, "aten::masked_fill.Scalar_out") {
  etp_tensor *self, *mask, *out;
  double value = 0;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, 1, &mask) || !scalar_arg(c, 2, &value) || !tensor_arg(c, 3, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_status s = same_dtype(c, *mask, ETP_DTYPE_BOOL, "mask")) return s;
  if (etp_status s = same_dtype(c, *out, self->dtype, "out")) return s;
  int32_t rank = 0;
  int64_t sizes[ETP_MAX_RANK] = {0};
  if (!broadcast_shape(c, *self, *mask, &rank, sizes)) return ETP_ERR_SHAPE;
  if (etp_status s = resize_out(c, out, rank, sizes)) return s;
  int64_t ss[ETP_MAX_RANK] = {0}, ms[ETP_MAX_RANK] = {0};
  broadcast_strides(*self, rank, ss);
  broadcast_strides(*mask, rank, ms);
  return dispatch_all(c, self->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T v = convert<T>(value);
    const T* s = static_cast<const T*>(self->data);
    const uint8_t* m = mask_bytes(*mask);
    T* o = static_cast<T*>(out->data);
    for_each_strided(rank, sizes, out->strides, ss, ms,
                     [&](int64_t oo, int64_t so, int64_t mo) { o[oo] = m[mo] != 0 ? v : read_elem(s, so); });
    return ETP_OK;
  });
}

// aten::tril.out(Tensor self, SymInt diagonal=0, *, Tensor(a!) out): keeps [..., i, j] with
// j - i <= diagonal. The third walk offset is j - i itself (strides -1 and 1).
ETP_PORTABLE_KERNEL(tril_out, "aten::tril.out") {
  etp_tensor *self, *out;
  int64_t diagonal = 0;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_arg(c, 0, &self) || !int_arg(c, 1, &diagonal) || !tensor_arg(c, 2, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (self->rank < 2) return fail(c.host, ETP_ERR_SHAPE, "%s: expects rank >= 2, got %d", c.op, self->rank);
  if (etp_status s = same_dtype(c, *out, self->dtype, "out")) return s;
  if (etp_status s = resize_out(c, out, self->rank, self->sizes)) return s;
  int64_t diff[ETP_MAX_RANK] = {0};
  diff[self->rank - 2] = -1;
  diff[self->rank - 1] = 1;
  return dispatch_all(c, self->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* s = static_cast<const T*>(self->data);
    T* o = static_cast<T*>(out->data);
    for_each_strided(self->rank, self->sizes, out->strides, self->strides, diff,
                     [&](int64_t oo, int64_t so, int64_t ji) { o[oo] = ji <= diagonal ? read_elem(s, so) : T(0); });
    return ETP_OK;
  });
}

// ----- advanced indexing ---------------------------------------------------------------------

// One index tensor (or one coordinate column of a bool mask) seen over the broadcast index
// shape: element at broadcast position p is data[sum p_k * strides[k]].
struct IndexSource {
  const void* data;
  int32_t dtype;  // int64 or int32
  int32_t rank;
  int64_t sizes[ETP_MAX_RANK];
  int64_t strides[ETP_MAX_RANK];
};

// How `self[indices]` maps onto self: the indexed self dims with their sources, the broadcast
// index shape, and where it lands in the result (before the kept dims when the indexed dims
// are not adjacent, in their place when they are, as in PyTorch).
struct IndexPlan {
  int32_t num = 0;                       // indexed dims
  int32_t self_dim[ETP_MAX_RANK] = {0};  // self dim of each source
  IndexSource src[ETP_MAX_RANK];
  int32_t brank = 0;
  int64_t bsizes[ETP_MAX_RANK] = {0};
  int32_t bpos = 0;  // first result dim of the broadcast block
  int32_t rank = 0;  // result rank
  int64_t sizes[ETP_MAX_RANK] = {0};
  int32_t kept = 0;                        // self dims not indexed
  int32_t kept_self[ETP_MAX_RANK] = {0};   // their self dim
  int32_t kept_pos[ETP_MAX_RANK] = {0};    // their result dim
  std::vector<int64_t> mask_coords;        // coordinates of true mask elements
  bool from_mask[ETP_MAX_RANK] = {false};  // source k is a mask column ...
  size_t mask_offset[ETP_MAX_RANK] = {0};  // ... starting at mask_coords[mask_offset[k]]
};

// Records the coordinates of every true element of `mask` (covering self dims [d, d + rank))
// as `rank` 1-D sources.
etp_status add_mask(const Ctx& c, const etp_tensor& self, const etp_tensor& mask, int32_t d, IndexPlan* plan) {
  for (int32_t k = 0; k < mask.rank; ++k) {
    if (mask.sizes[k] != self.sizes[d + k]) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: mask size %lld does not match self size %lld at dim %d", c.op,
                  static_cast<long long>(mask.sizes[k]), static_cast<long long>(self.sizes[d + k]), d + k);
    }
  }
  const uint8_t* m = mask_bytes(mask);
  int64_t count = 0;
  for_each_strided(mask.rank, mask.sizes, mask.strides, nullptr, nullptr,
                   [&](int64_t o, int64_t, int64_t) { count += m[o] != 0 ? 1 : 0; });
  const size_t start = plan->mask_coords.size();
  plan->mask_coords.resize(start + static_cast<size_t>(count * mask.rank));
  int64_t* coords = plan->mask_coords.data() + start;
  int64_t idx[ETP_MAX_RANK] = {0}, n = 0;
  for_each_strided(mask.rank, mask.sizes, mask.strides, nullptr, nullptr, [&](int64_t o, int64_t, int64_t) {
    if (m[o]) {
      for (int32_t k = 0; k < mask.rank; ++k) coords[k * count + n] = idx[k];
      ++n;
    }
    for (int32_t k = mask.rank - 1; k >= 0; --k) {
      if (++idx[k] < mask.sizes[k]) break;
      idx[k] = 0;
    }
  });
  for (int32_t k = 0; k < mask.rank; ++k) {
    IndexSource& s = plan->src[plan->num];
    s.data = nullptr;  // pointed into mask_coords once it stops growing
    plan->from_mask[plan->num] = true;
    plan->mask_offset[plan->num] = start + static_cast<size_t>(k * count);
    s.dtype = ETP_DTYPE_INT64;
    s.rank = 1;
    s.sizes[0] = count;
    s.strides[0] = 1;
    plan->self_dim[plan->num++] = d + k;
  }
  return ETP_OK;
}

// Builds the plan of self[indices]; the Tensor?[] list may hold int64/int32 tensors, bool
// masks, and None for a dim taken whole.
etp_status plan_index(const Ctx& c, const etp_tensor& self, uint32_t arg, IndexPlan* plan) {
  etp_tensor* const* list;
  uint64_t count;
  if (!tensor_list_arg(c, arg, /*optional=*/true, &list, &count)) return ETP_ERR_INVALID_ARGUMENT;
  int32_t d = 0;
  for (uint64_t i = 0; i < count; ++i) {
    const etp_tensor* t = list[i];
    const int32_t covers = t != nullptr && t->dtype == ETP_DTYPE_BOOL ? t->rank : 1;
    if (d + covers > self.rank) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: too many indices (%llu) for a tensor of rank %d", c.op,
                  static_cast<unsigned long long>(count), self.rank);
    }
    if (t == nullptr) {
      ++d;
      continue;
    }
    if (t->dtype == ETP_DTYPE_BOOL) {
      if (etp_status s = add_mask(c, self, *t, d, plan)) return s;
    } else {
      if (etp_status s = index_dtype(c, *t, "an index tensor")) return s;
      IndexSource& s = plan->src[plan->num];
      s.data = t->data;
      s.dtype = t->dtype;
      s.rank = t->rank;
      for (int32_t k = 0; k < t->rank; ++k) {
        s.sizes[k] = t->sizes[k];
        s.strides[k] = t->strides[k];
      }
      plan->self_dim[plan->num++] = d;
    }
    d += covers;
  }
  for (int32_t k = 0; k < plan->num; ++k) {
    if (plan->from_mask[k]) plan->src[k].data = plan->mask_coords.data() + plan->mask_offset[k];
  }
  if (plan->num == 0) return fail(c.host, ETP_ERR_NOT_SUPPORTED, "%s: indices must index at least one dim", c.op);
  // Broadcast shape of all sources.
  for (int32_t k = 0; k < plan->num; ++k) plan->brank = std::max(plan->brank, plan->src[k].rank);
  for (int32_t b = 0; b < plan->brank; ++b) plan->bsizes[b] = 1;
  for (int32_t k = 0; k < plan->num; ++k) {
    const IndexSource& s = plan->src[k];
    for (int32_t j = 0; j < s.rank; ++j) {
      int64_t& bs = plan->bsizes[plan->brank - s.rank + j];
      if (s.sizes[j] != bs && s.sizes[j] != 1 && bs != 1) {
        return fail(c.host, ETP_ERR_SHAPE, "%s: index shapes do not broadcast (%lld vs %lld)", c.op,
                    static_cast<long long>(s.sizes[j]), static_cast<long long>(bs));
      }
      if (s.sizes[j] != 1) bs = s.sizes[j];
    }
  }
  for (int32_t k = 0; k < plan->num; ++k) {  // align every source to the broadcast rank
    IndexSource& s = plan->src[k];
    int64_t strides[ETP_MAX_RANK] = {0};
    for (int32_t j = 0; j < s.rank; ++j) {
      strides[plan->brank - s.rank + j] = s.sizes[j] == 1 ? 0 : s.strides[j];
    }
    s.rank = plan->brank;
    for (int32_t j = 0; j < plan->brank; ++j) s.strides[j] = strides[j];
  }
  bool adjacent = true;
  for (int32_t k = 1; k < plan->num; ++k) adjacent = adjacent && plan->self_dim[k] == plan->self_dim[k - 1] + 1;
  plan->rank = self.rank - plan->num + plan->brank;
  if (plan->rank > ETP_MAX_RANK) return fail(c.host, ETP_ERR_SHAPE, "%s: result rank is too large", c.op);
  plan->bpos = adjacent ? plan->self_dim[0] : 0;
  int32_t pos = adjacent ? 0 : plan->brank;
  for (int32_t sd = 0, k = 0; sd < self.rank; ++sd) {
    if (k < plan->num && plan->self_dim[k] == sd) {
      ++k;
      if (adjacent && k == plan->num) pos += plan->brank;
      continue;
    }
    plan->kept_self[plan->kept] = sd;
    plan->kept_pos[plan->kept++] = pos++;
  }
  for (int32_t b = 0; b < plan->brank; ++b) plan->sizes[plan->bpos + b] = plan->bsizes[b];
  for (int32_t j = 0; j < plan->kept; ++j) plan->sizes[plan->kept_pos[j]] = self.sizes[plan->kept_self[j]];
  return ETP_OK;
}

// Calls fn(self_offset, block_position) for every broadcast index position, after checking
// every index against its self dim (negative indices count from the end). block_position is
// the broadcast coordinate as a row-major list.
template <typename F>
etp_status walk_index(const Ctx& c, const etp_tensor& self, const IndexPlan& plan, F&& fn) {
  int64_t total = 1;
  for (int32_t b = 0; b < plan.brank; ++b) total *= plan.bsizes[b];
  for (int pass = 0; pass < 2; ++pass) {  // pass 0 validates, pass 1 runs
    int64_t coord[ETP_MAX_RANK] = {0};
    for (int64_t p = 0; p < total; ++p) {
      int64_t offset = 0;
      for (int32_t k = 0; k < plan.num; ++k) {
        const IndexSource& s = plan.src[k];
        int64_t at = 0;
        for (int32_t b = 0; b < plan.brank; ++b) at += coord[b] * s.strides[b];
        int64_t idx = s.dtype == ETP_DTYPE_INT32 ? static_cast<const int32_t*>(s.data)[at]
                                                 : static_cast<const int64_t*>(s.data)[at];
        if (pass == 0) {
          if (!check_index(c, &idx, self.sizes[plan.self_dim[k]], plan.self_dim[k], /*wrap=*/true)) {
            return ETP_ERR_INVALID_ARGUMENT;
          }
        } else {
          if (idx < 0) idx += self.sizes[plan.self_dim[k]];
          offset += idx * self.strides[plan.self_dim[k]];
        }
      }
      if (pass == 1) fn(offset, coord);
      for (int32_t b = plan.brank - 1; b >= 0; --b) {
        if (++coord[b] < plan.bsizes[b]) break;
        coord[b] = 0;
      }
    }
  }
  return ETP_OK;
}

// aten::index.Tensor_out(Tensor self, Tensor?[] indices, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(index_tensor_out, "aten::index.Tensor_out") {
  etp_tensor *self, *out;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, 2, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (etp_status s = known_dtype(c, *self, "self")) return s;
  if (etp_status s = same_dtype(c, *out, self->dtype, "out")) return s;
  IndexPlan plan;
  if (etp_status s = plan_index(c, *self, 1, &plan)) return s;
  if (etp_status s = resize_out(c, out, plan.rank, plan.sizes)) return s;
  int64_t kept_sizes[ETP_MAX_RANK] = {0}, kept_in[ETP_MAX_RANK] = {0}, kept_out[ETP_MAX_RANK] = {0};
  for (int32_t j = 0; j < plan.kept; ++j) {
    kept_sizes[j] = self->sizes[plan.kept_self[j]];
    kept_in[j] = self->strides[plan.kept_self[j]];
    kept_out[j] = out->strides[plan.kept_pos[j]];
  }
  const size_t elem = etp_sdk::dtype_size(self->dtype);
  const int64_t e = static_cast<int64_t>(elem);
  return walk_index(c, *self, plan, [&](int64_t self_offset, const int64_t* coord) {
    int64_t out_offset = 0;
    for (int32_t b = 0; b < plan.brank; ++b) out_offset += coord[b] * out->strides[plan.bpos + b];
    copy_view(plan.kept, kept_sizes, byte_ptr(*out) + out_offset * e, kept_out, byte_ptr(*self) + self_offset * e,
              kept_in, elem);
  });
}

// Writes `values` (broadcast to the shape of self[indices]) into dst at the indexed places;
// dst has self's shape. accumulate adds instead (repeated indices add up).
etp_status put_values(const Ctx& c, etp_tensor* dst, const etp_tensor& values, bool accumulate, uint32_t indices_arg) {
  if (etp_status s = same_dtype(c, values, dst->dtype, "values")) return s;
  IndexPlan plan;
  if (etp_status s = plan_index(c, *dst, indices_arg, &plan)) return s;
  if (values.rank > plan.rank) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: values of rank %d do not broadcast to the indexed rank %d", c.op,
                values.rank, plan.rank);
  }
  for (int32_t d = 0; d < values.rank; ++d) {
    const int64_t vs = values.sizes[d], ts = plan.sizes[d + plan.rank - values.rank];
    if (vs != ts && vs != 1) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: values size %lld does not broadcast to %lld at dim %d", c.op,
                  static_cast<long long>(vs), static_cast<long long>(ts), d);
    }
  }
  int64_t vstrides[ETP_MAX_RANK] = {0};
  broadcast_strides(values, plan.rank, vstrides);
  int64_t kept_sizes[ETP_MAX_RANK] = {0}, kept_dst[ETP_MAX_RANK] = {0}, kept_val[ETP_MAX_RANK] = {0};
  for (int32_t j = 0; j < plan.kept; ++j) {
    kept_sizes[j] = dst->sizes[plan.kept_self[j]];
    kept_dst[j] = dst->strides[plan.kept_self[j]];
    kept_val[j] = vstrides[plan.kept_pos[j]];
  }
  auto value_offset = [&](const int64_t* coord) {
    int64_t o = 0;
    for (int32_t b = 0; b < plan.brank; ++b) o += coord[b] * vstrides[plan.bpos + b];
    return o;
  };
  if (!accumulate) {
    const size_t elem = etp_sdk::dtype_size(dst->dtype);
    const int64_t e = static_cast<int64_t>(elem);
    return walk_index(c, *dst, plan, [&](int64_t dst_offset, const int64_t* coord) {
      copy_view(plan.kept, kept_sizes, byte_ptr(*dst) + dst_offset * e, kept_dst,
                byte_ptr(values) + value_offset(coord) * e, kept_val, elem);
    });
  }
  return dispatch_all(c, dst->dtype, [&](auto zero) {
    using T = decltype(zero);
    T* d = static_cast<T*>(dst->data);
    const T* v = static_cast<const T*>(values.data);
    return walk_index(c, *dst, plan, [&](int64_t dst_offset, const int64_t* coord) {
      T* db = d + dst_offset;
      const T* vb = v + value_offset(coord);
      for_each_strided(plan.kept, kept_sizes, kept_dst, kept_val, nullptr, [&](int64_t od, int64_t ov, int64_t) {
        db[od] = wrap_add(read_elem(db, od), read_elem(vb, ov));  // int32/int64 wrap, as PyTorch
      });
    });
  });
}

// aten::index_put.out(Tensor self, Tensor?[] indices, Tensor values, bool accumulate=False, *,
//                     Tensor(a!) out): out = self with values written at self[indices].
ETP_PORTABLE_KERNEL(index_put_out, "aten::index_put.out") {
  etp_tensor *self, *values, *out;
  bool accumulate = false;
  if (etp_status s = expect_args(c, 6)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, 2, &values) || !bool_arg(c, 3, &accumulate) ||
      !tensor_arg(c, 4, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_status s = known_dtype(c, *self, "self")) return s;
  if (etp_status s = same_dtype(c, *out, self->dtype, "out")) return s;
  // Validate everything against self before copying it into out.
  {
    IndexPlan probe;
    if (etp_status s = plan_index(c, *self, 1, &probe)) return s;
    if (etp_status s = walk_index(c, *self, probe, [](int64_t, const int64_t*) {})) return s;
  }
  if (etp_status s = resize_out(c, out, self->rank, self->sizes)) return s;
  if (out->data != self->data) {
    copy_view(self->rank, self->sizes, byte_ptr(*out), out->strides, byte_ptr(*self), self->strides,
              etp_sdk::dtype_size(self->dtype));
  }
  return put_values(c, out, *values, accumulate, 1);
}

// aten::index_put_(Tensor(a!) self, Tensor?[] indices, Tensor values, bool accumulate=False)
// Functional in-place form: writes into self; the return slot names the same tensor.
ETP_PORTABLE_KERNEL(index_put_, "aten::index_put_") {
  etp_tensor *self, *values;
  bool accumulate = false;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, 2, &values) || !bool_arg(c, 3, &accumulate)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_status s = known_dtype(c, *self, "self")) return s;
  return put_values(c, self, *values, accumulate, 1);
}

// ---------------------------------------------------------------------------------------------
// Data-dependent output sizes: masked_select, nonzero, repeat_interleave; and topk.

// self broadcast with a bool mask: the walk over the common shape and how many elements are selected.
struct MaskWalk {
  int32_t rank = 0;
  int64_t sizes[ETP_MAX_RANK] = {0}, self_strides[ETP_MAX_RANK] = {0}, mask_strides[ETP_MAX_RANK] = {0};
  int64_t count = 0;
};

// Checks the dtypes (mask bool, out self's) and plans the walk of masked_select / masked_scatter.
etp_status plan_mask(const Ctx& c, const etp_tensor& self, const etp_tensor& mask, const etp_tensor& out, MaskWalk* w) {
  if (etp_status s = same_dtype(c, mask, ETP_DTYPE_BOOL, "mask")) return s;
  if (etp_status s = same_dtype(c, out, self.dtype, "out")) return s;
  if (etp_status s = known_dtype(c, self, "self")) return s;
  if (!broadcast_shape(c, self, mask, &w->rank, w->sizes)) return ETP_ERR_SHAPE;
  broadcast_strides(self, w->rank, w->self_strides);
  broadcast_strides(mask, w->rank, w->mask_strides);
  const uint8_t* m = mask_bytes(mask);
  for_each_strided(w->rank, w->sizes, w->mask_strides, nullptr, nullptr,
                   [&](int64_t mo, int64_t, int64_t) { w->count += m[mo] != 0 ? 1 : 0; });
  return ETP_OK;
}

// aten::masked_select.out(Tensor self, Tensor mask, *, Tensor(a!) out): the elements of self
// (broadcast with the bool mask) where the mask is true, in row-major order, as a 1-D tensor.
ETP_PORTABLE_KERNEL(masked_select_out, "aten::masked_select.out") {
  etp_tensor *self, *mask, *out;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, 1, &mask) || !tensor_arg(c, 2, &out)) return ETP_ERR_INVALID_ARGUMENT;
  MaskWalk w;
  if (etp_status s = plan_mask(c, *self, *mask, *out, &w)) return s;
  if (etp_status s = resize_out(c, out, 1, &w.count)) return s;
  const uint8_t* m = mask_bytes(*mask);
  const size_t elem = etp_sdk::dtype_size(self->dtype);
  int64_t next = 0;
  for_each_strided(w.rank, w.sizes, w.self_strides, w.mask_strides, nullptr, [&](int64_t so, int64_t mo, int64_t) {
    if (m[mo] == 0) return;
    std::memcpy(byte_ptr(*out) + next++ * out->strides[0] * static_cast<int64_t>(elem),
                byte_ptr(*self) + so * static_cast<int64_t>(elem), elem);
  });
  return ETP_OK;
}

// aten::masked_scatter.out(Tensor self, Tensor mask, Tensor source, *, Tensor(a!) out): self
// (broadcast with the bool mask) with the positions where the mask is true, in row-major order,
// taken from the elements of source in row-major order.
ETP_PORTABLE_KERNEL(masked_scatter_out, "aten::masked_scatter.out") {
  etp_tensor *self, *mask, *source, *out;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, 1, &mask) || !tensor_arg(c, 2, &source) || !tensor_arg(c, 3, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_status s = same_dtype(c, *source, self->dtype, "source")) return s;
  MaskWalk w;
  if (etp_status s = plan_mask(c, *self, *mask, *out, &w)) return s;
  const int64_t count = w.count;
  if (count > etp_sdk::numel(*source)) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: the mask selects %lld elements but source has %lld", c.op,
                static_cast<long long>(count), static_cast<long long>(etp_sdk::numel(*source)));
  }
  if (etp_status s = resize_out(c, out, w.rank, w.sizes)) return s;
  const uint8_t* m = mask_bytes(*mask);
  // Source elements in row-major order: walk its own shape alongside a running count.
  std::vector<int64_t> source_offsets;
  source_offsets.reserve(static_cast<size_t>(count));
  for_each_strided(source->rank, source->sizes, source->strides, nullptr, nullptr, [&](int64_t so, int64_t, int64_t) {
    if (static_cast<int64_t>(source_offsets.size()) < count) source_offsets.push_back(so);
  });
  const size_t elem = etp_sdk::dtype_size(self->dtype);
  const int64_t e = static_cast<int64_t>(elem);
  size_t next = 0;
  for_each_strided(
      w.rank, w.sizes, out->strides, w.self_strides, w.mask_strides, [&](int64_t oo, int64_t so, int64_t mo) {
        const uint8_t* from = m[mo] != 0 ? byte_ptr(*source) + source_offsets[next++] * e : byte_ptr(*self) + so * e;
        std::memcpy(byte_ptr(*out) + oo * e, from, elem);
      });
  return ETP_OK;
}

// aten::nonzero.out(Tensor self, *, Tensor(a!) out): the int64 [n, rank] indices of the nonzero
// elements of self, in row-major order.
ETP_PORTABLE_KERNEL(nonzero_out, "aten::nonzero.out") {
  etp_tensor *self, *out;
  if (etp_status s = expect_args(c, 3)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, 1, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (etp_status s = same_dtype(c, *out, ETP_DTYPE_INT64, "out")) return s;
  std::vector<int64_t> found;  // flattened [n, rank]
  int64_t rows = 0;            // counted apart: a rank-0 tensor gives rows of no indices
  int64_t index[ETP_MAX_RANK] = {0};
  etp_status status = dispatch_all(c, self->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* data = static_cast<const T*>(self->data);
    const int64_t total = etp_sdk::numel(*self);
    for (int64_t i = 0; i < total; ++i) {
      int64_t offset = 0;
      for (int32_t d = 0; d < self->rank; ++d) offset += index[d] * self->strides[d];
      if (read_elem(data, offset) != T{}) {
        found.insert(found.end(), index, index + self->rank);
        ++rows;
      }
      for (int32_t d = self->rank - 1; d >= 0 && ++index[d] == self->sizes[d]; --d) index[d] = 0;
    }
    return ETP_OK;
  });
  if (status != ETP_OK) return status;
  const int64_t shape[2] = {rows, self->rank};
  if (etp_status s = resize_out(c, out, 2, shape)) return s;
  int64_t* o = static_cast<int64_t*>(out->data);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < shape[1]; ++k) o[r * out->strides[0] + k * out->strides[1]] = found[r * shape[1] + k];
  }
  return ETP_OK;
}

// aten::repeat_interleave.Tensor_out(Tensor repeats, *, SymInt? output_size=None, Tensor(a!) out):
// index i repeated repeats[i] times; repeats is 1-D int64 or int32 and so is out.
ETP_PORTABLE_KERNEL(repeat_interleave_tensor_out, "aten::repeat_interleave.Tensor_out") {
  etp_tensor *repeats, *out;
  bool has_size = false;
  int64_t output_size = 0;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_arg(c, 0, &repeats) || !optional_int_arg(c, 1, &has_size, &output_size) || !tensor_arg(c, 2, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_status s = index_dtype(c, *repeats, "repeats")) return s;
  if (etp_status s = same_dtype(c, *out, repeats->dtype, "out")) return s;
  if (repeats->rank != 1)
    return fail(c.host, ETP_ERR_SHAPE, "%s: repeats must be 1-D, got rank %d", c.op, repeats->rank);
  int64_t total = 0;
  for (int64_t i = 0; i < repeats->sizes[0]; ++i) {
    const int64_t r = load_index(*repeats, i * repeats->strides[0]);
    if (r < 0)
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: repeats[%lld] is negative", c.op, static_cast<long long>(i));
    // A wrapped sum would size out too small for the writes below.
    if (__builtin_add_overflow(total, r, &total)) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: repeats[%lld] = %lld makes the repeats' sum overflow int64",
                  c.op, static_cast<long long>(i), static_cast<long long>(r));
    }
  }
  if (has_size && output_size != total) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: output_size %lld but the repeats sum to %lld", c.op,
                static_cast<long long>(output_size), static_cast<long long>(total));
  }
  if (etp_status s = resize_out(c, out, 1, &total)) return s;
  int64_t next = 0;
  for (int64_t i = 0; i < repeats->sizes[0]; ++i) {
    for (int64_t r = load_index(*repeats, i * repeats->strides[0]); r > 0; --r, ++next) {
      if (out->dtype == ETP_DTYPE_INT32) {
        static_cast<int32_t*>(out->data)[next * out->strides[0]] = static_cast<int32_t>(i);
      } else {
        static_cast<int64_t*>(out->data)[next * out->strides[0]] = i;
      }
    }
  }
  return ETP_OK;
}

// aten::topk.values(Tensor self, SymInt k, int dim=-1, bool largest=True, bool sorted=True, *,
// Tensor(a!) values, Tensor(b!) indices): the k largest (or smallest) along the dim, NaN counting
// as the largest (as PyTorch); ties keep the lower index first. Results are always sorted.
ETP_PORTABLE_KERNEL(topk_values, "aten::topk.values") {
  etp_tensor *self, *values, *indices;
  int64_t k = 0, dim = -1, d = 0;
  bool largest = true, sorted = true;
  if (etp_status s = expect_args(c, 8)) return s;
  if (!tensor_arg(c, 0, &self) || !int_arg(c, 1, &k) || !int_arg(c, 2, &dim) || !bool_arg(c, 3, &largest) ||
      !bool_arg(c, 4, &sorted) || !tensor_arg(c, 5, &values) || !tensor_arg(c, 6, &indices)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  const int32_t rank = self->rank == 0 ? 1 : self->rank;
  if (self->rank > 0 && !normalize_dim(c, dim, self->rank, &d)) return ETP_ERR_INVALID_ARGUMENT;
  const int64_t length = self->rank == 0 ? 1 : self->sizes[d];
  if (k < 0 || k > length) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: k %lld is out of range for a dim of size %lld", c.op,
                static_cast<long long>(k), static_cast<long long>(length));
  }
  if (etp_status s = same_dtype(c, *values, self->dtype, "values")) return s;
  if (etp_status s = same_dtype(c, *indices, ETP_DTYPE_INT64, "indices")) return s;
  int64_t sizes[ETP_MAX_RANK] = {0}, in_strides[ETP_MAX_RANK] = {0};
  for (int32_t i = 0; i < self->rank; ++i) {
    sizes[i] = self->sizes[i];
    in_strides[i] = self->strides[i];
  }
  if (self->rank == 0) {
    sizes[0] = 1;
    in_strides[0] = 1;
  }
  sizes[d] = k;
  if (etp_status s = resize_out(c, values, self->rank, sizes)) return s;
  if (etp_status s = resize_out(c, indices, self->rank, sizes)) return s;
  const int64_t vstride = self->rank == 0 ? 1 : values->strides[d], istride = self->rank == 0 ? 1 : indices->strides[d];
  int64_t outer[ETP_MAX_RANK] = {0};
  for (int32_t i = 0; i < rank; ++i) outer[i] = i == d ? 1 : sizes[i];
  int64_t vs[ETP_MAX_RANK] = {0}, is[ETP_MAX_RANK] = {0};
  for (int32_t i = 0; i < self->rank; ++i) {
    vs[i] = values->strides[i];
    is[i] = indices->strides[i];
  }
  return dispatch_real(c, self->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* in = static_cast<const T*>(self->data);
    T* vo = static_cast<T*>(values->data);
    int64_t* io = static_cast<int64_t*>(indices->data);
    std::vector<int64_t> order(static_cast<size_t>(length));
    auto nan = [](T x) {
      if constexpr (is_floating_v<T>)
        return std::isnan(static_cast<float>(x));
      else
        return false;
    };
    for_each_strided(rank, outer, in_strides, vs, is, [&](int64_t base, int64_t vbase, int64_t ibase) {
      for (int64_t j = 0; j < length; ++j) order[static_cast<size_t>(j)] = j;
      auto at = [&](int64_t j) { return in[base + j * in_strides[d]]; };
      auto before = [&](int64_t a, int64_t b) {  // a ranks before b
        const T x = at(a), y = at(b);
        if (nan(x) || nan(y)) return largest ? nan(x) && !nan(y) : nan(y) && !nan(x);
        return largest ? x > y : x < y;
      };
      std::stable_sort(order.begin(), order.end(), before);
      for (int64_t j = 0; j < k; ++j) {
        vo[vbase + j * vstride] = at(order[static_cast<size_t>(j)]);
        io[ibase + j * istride] = order[static_cast<size_t>(j)];
      }
    });
    return ETP_OK;
  });
}

}  // namespace

ETP_KERNEL_FAMILY(index_kernels, ETP_ENTRY(index_select_out), ETP_ENTRY(gather_out), ETP_ENTRY(scatter_src_out),
                  ETP_ENTRY(scatter_value_out), ETP_ENTRY(embedding_out), ETP_ENTRY(masked_fill_scalar_out),
                  ETP_ENTRY(tril_out), ETP_ENTRY(index_tensor_out), ETP_ENTRY(index_put_out), ETP_ENTRY(index_put_),
                  ETP_ENTRY(scatter_add_out), ETP_ENTRY(masked_select_out), ETP_ENTRY(nonzero_out),
                  ETP_ENTRY(repeat_interleave_tensor_out), ETP_ENTRY(topk_values), ETP_ENTRY(masked_scatter_out))

}  // namespace etp_portable
