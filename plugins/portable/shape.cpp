// Shape and view operators. Each computes a view of its input (base offset, sizes, strides)
// that matches the output's logical shape and copies it into the output through the output's
// own strides, so any dim order works on either side. Data movement is dtype-agnostic: any
// dtype with a known element size, the same on input and output (cat converts).
#include <algorithm>
#include <cstring>

#include "kernels.h"
#include "movement_util.h"
#include "pointwise_util.h"

namespace etp_portable {
namespace {

using namespace movement;

// A strided view of a tensor's storage, in elements.
struct View {
  int32_t rank = 0;
  int64_t sizes[ETP_MAX_RANK] = {0};
  int64_t strides[ETP_MAX_RANK] = {0};
  int64_t base = 0;
};

View whole(const etp_tensor& t) {
  View v;
  v.rank = t.rank;
  for (int32_t d = 0; d < t.rank; ++d) {
    v.sizes[d] = t.sizes[d];
    v.strides[d] = t.strides[d];
  }
  return v;
}

int64_t view_numel(const View& v) {
  int64_t n = 1;
  for (int32_t d = 0; d < v.rank; ++d) n *= v.sizes[d];
  return n;
}

etp_status check_copy_dtypes(const Ctx& c, const etp_tensor& self, const etp_tensor& out) {
  if (etp_status s = known_dtype(c, self, "self")) return s;
  return same_dtype(c, out, self.dtype, "out");
}

// Resizes out to the view's shape and copies the view of `self` into it.
etp_status write_view(const Ctx& c, const etp_tensor& self, const View& v, etp_tensor* out) {
  if (etp_status s = check_copy_dtypes(c, self, *out)) return s;
  if (etp_status s = resize_out(c, out, v.rank, v.sizes)) return s;
  if (view_numel(v) == 0) return ETP_OK;
  const size_t elem = etp_sdk::dtype_size(self.dtype);
  copy_view(v.rank, v.sizes, byte_ptr(*out), out->strides, byte_ptr(self) + v.base * static_cast<int64_t>(elem),
            v.strides, elem);
  return ETP_OK;
}

// Resizes out to `sizes` (same numel as self) and copies self in logical order.
etp_status write_reshaped(const Ctx& c, const etp_tensor& self, int32_t rank, const int64_t* sizes, etp_tensor* out) {
  if (etp_status s = check_copy_dtypes(c, self, *out)) return s;
  int64_t n = 1;
  for (int32_t d = 0; d < rank; ++d) n *= sizes[d];
  if (n != etp_sdk::numel(self)) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: cannot reshape %lld elements into %lld", c.op,
                static_cast<long long>(etp_sdk::numel(self)), static_cast<long long>(n));
  }
  if (etp_status s = resize_out(c, out, rank, sizes)) return s;
  copy_logical(self, out);
  return ETP_OK;
}

// Loads (self, out) from args 0 and `out_index`, after checking the count.
bool self_and_out(const Ctx& c, uint32_t num_args, uint32_t out_index, etp_tensor** self, etp_tensor** out) {
  if (expect_args(c, num_args) != ETP_OK) return false;
  return tensor_arg(c, 0, self) && tensor_arg(c, out_index, out);
}

// aten::permute_copy.out(Tensor self, int[] dims, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(permute_copy_out, "aten::permute_copy.out") {
  etp_tensor *self, *out;
  const int64_t* dims;
  uint64_t count;
  if (!self_and_out(c, 4, 2, &self, &out) || !int_list_arg(c, 1, &dims, &count)) return ETP_ERR_INVALID_ARGUMENT;
  if (count != static_cast<uint64_t>(self->rank)) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: %llu dims given for a tensor of rank %d", c.op,
                static_cast<unsigned long long>(count), self->rank);
  }
  View v;
  v.rank = self->rank;
  bool seen[ETP_MAX_RANK] = {false};
  for (int32_t d = 0; d < self->rank; ++d) {
    int64_t p = 0;
    if (!normalize_dim(c, dims[d], self->rank, &p)) return ETP_ERR_INVALID_ARGUMENT;
    if (seen[p]) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: dim %lld repeats in the permutation", c.op,
                  static_cast<long long>(dims[d]));
    }
    seen[p] = true;
    v.sizes[d] = self->sizes[p];
    v.strides[d] = self->strides[p];
  }
  return write_view(c, *self, v, out);
}

etp_status transpose(const Ctx& c, const etp_tensor& self, int64_t dim0, int64_t dim1, etp_tensor* out) {
  int64_t a = 0, b = 0;
  if (!normalize_dim(c, dim0, self.rank, &a) || !normalize_dim(c, dim1, self.rank, &b)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  View v = whole(self);
  if (self.rank > 0) {
    v.sizes[a] = self.sizes[b];
    v.sizes[b] = self.sizes[a];
    v.strides[a] = self.strides[b];
    v.strides[b] = self.strides[a];
  }
  return write_view(c, self, v, out);
}

// aten::transpose_copy.int_out(Tensor self, int dim0, int dim1, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(transpose_copy_int_out, "aten::transpose_copy.int_out") {
  etp_tensor *self, *out;
  int64_t dim0, dim1;
  if (!self_and_out(c, 5, 3, &self, &out) || !int_arg(c, 1, &dim0) || !int_arg(c, 2, &dim1)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  return transpose(c, *self, dim0, dim1, out);
}

// aten::t_copy.out(Tensor self, *, Tensor(a!) out): rank <= 2.
ETP_PORTABLE_KERNEL(t_copy_out, "aten::t_copy.out") {
  etp_tensor *self, *out;
  if (!self_and_out(c, 3, 1, &self, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (self->rank > 2) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: expects a tensor of rank <= 2, got rank %d", c.op, self->rank);
  }
  return self->rank < 2 ? write_view(c, *self, whole(*self), out) : transpose(c, *self, 0, 1, out);
}

// aten::view_copy.out(Tensor self, SymInt[] size, *, Tensor(a!) out): one size may be -1.
ETP_PORTABLE_KERNEL(view_copy_out, "aten::view_copy.out") {
  etp_tensor *self, *out;
  const int64_t* size;
  uint64_t count;
  if (!self_and_out(c, 4, 2, &self, &out) || !int_list_arg(c, 1, &size, &count)) return ETP_ERR_INVALID_ARGUMENT;
  if (count > ETP_MAX_RANK)
    return fail(c.host, ETP_ERR_SHAPE, "%s: rank %llu is too large", c.op, static_cast<unsigned long long>(count));
  int64_t sizes[ETP_MAX_RANK] = {0};
  int64_t known = 1;
  int32_t infer = -1;
  for (uint64_t d = 0; d < count; ++d) {
    sizes[d] = size[d];
    if (size[d] == -1 && infer < 0) {
      infer = static_cast<int32_t>(d);
    } else if (size[d] < 0) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: invalid size %lld at dim %llu", c.op, static_cast<long long>(size[d]),
                  static_cast<unsigned long long>(d));
    } else if (__builtin_mul_overflow(known, size[d], &known)) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: size %lld at dim %llu makes the sizes' product overflow int64", c.op,
                  static_cast<long long>(size[d]), static_cast<unsigned long long>(d));
    }
  }
  if (infer >= 0) {
    const int64_t n = etp_sdk::numel(*self);
    if (known == 0 || n % known != 0) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: cannot infer the -1 size for %lld elements", c.op,
                  static_cast<long long>(n));
    }
    sizes[infer] = n / known;
  }
  return write_reshaped(c, *self, static_cast<int32_t>(count), sizes, out);
}

// aten::alias_copy.out(Tensor self, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(alias_copy_out, "aten::alias_copy.out") {
  etp_tensor *self, *out;
  if (!self_and_out(c, 3, 1, &self, &out)) return ETP_ERR_INVALID_ARGUMENT;
  return write_view(c, *self, whole(*self), out);
}

// aten::unsqueeze_copy.out(Tensor self, int dim, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(unsqueeze_copy_out, "aten::unsqueeze_copy.out") {
  etp_tensor *self, *out;
  int64_t dim, d = 0;
  if (!self_and_out(c, 4, 2, &self, &out) || !int_arg(c, 1, &dim)) return ETP_ERR_INVALID_ARGUMENT;
  if (self->rank >= ETP_MAX_RANK) return fail(c.host, ETP_ERR_SHAPE, "%s: rank %d is too large", c.op, self->rank);
  if (!normalize_dim(c, dim, self->rank + 1, &d)) return ETP_ERR_INVALID_ARGUMENT;
  int64_t sizes[ETP_MAX_RANK] = {0};
  for (int32_t i = 0, j = 0; i <= self->rank; ++i) sizes[i] = i == d ? 1 : self->sizes[j++];
  return write_reshaped(c, *self, self->rank + 1, sizes, out);
}

// Squeezes the dims flagged in `drop` that have size 1.
etp_status squeeze(const Ctx& c, const etp_tensor& self, const bool* drop, etp_tensor* out) {
  int64_t sizes[ETP_MAX_RANK] = {0};
  int32_t rank = 0;
  for (int32_t d = 0; d < self.rank; ++d) {
    if (!(drop[d] && self.sizes[d] == 1)) sizes[rank++] = self.sizes[d];
  }
  return write_reshaped(c, self, rank, sizes, out);
}

// aten::squeeze_copy.dims_out(Tensor self, int[] dim, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(squeeze_copy_dims_out, "aten::squeeze_copy.dims_out") {
  etp_tensor *self, *out;
  const int64_t* dims;
  uint64_t count;
  if (!self_and_out(c, 4, 2, &self, &out) || !int_list_arg(c, 1, &dims, &count)) return ETP_ERR_INVALID_ARGUMENT;
  bool drop[ETP_MAX_RANK] = {false};
  for (uint64_t i = 0; i < count; ++i) {
    int64_t d = 0;
    if (!normalize_dim(c, dims[i], self->rank, &d)) return ETP_ERR_INVALID_ARGUMENT;
    if (self->rank > 0) drop[d] = true;
  }
  return squeeze(c, *self, drop, out);
}

// aten::squeeze_copy.dim_out(Tensor self, int dim, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(squeeze_copy_dim_out, "aten::squeeze_copy.dim_out") {
  etp_tensor *self, *out;
  int64_t dim, d = 0;
  if (!self_and_out(c, 4, 2, &self, &out) || !int_arg(c, 1, &dim)) return ETP_ERR_INVALID_ARGUMENT;
  if (!normalize_dim(c, dim, self->rank, &d)) return ETP_ERR_INVALID_ARGUMENT;
  bool drop[ETP_MAX_RANK] = {false};
  if (self->rank > 0) drop[d] = true;
  return squeeze(c, *self, drop, out);
}

// aten::expand_copy.out(Tensor self, SymInt[] size, *, bool implicit=False, Tensor(a!) out)
ETP_PORTABLE_KERNEL(expand_copy_out, "aten::expand_copy.out") {
  etp_tensor *self, *out;
  const int64_t* size;
  uint64_t count;
  if (!self_and_out(c, 5, 3, &self, &out) || !int_list_arg(c, 1, &size, &count)) return ETP_ERR_INVALID_ARGUMENT;
  if (count < static_cast<uint64_t>(self->rank) || count > ETP_MAX_RANK) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: cannot expand rank %d to %llu dims", c.op, self->rank,
                static_cast<unsigned long long>(count));
  }
  View v;
  v.rank = static_cast<int32_t>(count);
  const int32_t lead = v.rank - self->rank;
  for (int32_t d = 0; d < v.rank; ++d) {
    const int32_t sd = d - lead;
    const int64_t want = size[d];
    if (sd < 0) {
      if (want < 0) {
        return fail(c.host, ETP_ERR_SHAPE, "%s: size %lld is invalid for the new leading dim %d", c.op,
                    static_cast<long long>(want), d);
      }
      v.sizes[d] = want;
      v.strides[d] = 0;
    } else if (want == -1 || want == self->sizes[sd]) {
      v.sizes[d] = self->sizes[sd];
      v.strides[d] = self->strides[sd];
    } else if (self->sizes[sd] == 1 && want >= 0) {
      v.sizes[d] = want;
      v.strides[d] = 0;
    } else {
      return fail(c.host, ETP_ERR_SHAPE, "%s: cannot expand size %lld to %lld at dim %d", c.op,
                  static_cast<long long>(self->sizes[sd]), static_cast<long long>(want), d);
    }
  }
  return write_view(c, *self, v, out);
}

// The slice `(int dim, SymInt? start, SymInt? end, SymInt step)` at args[first..first+3] of
// `self`: its dim, first index and length (start/end clamp like PyTorch), and the step.
struct Slice {
  int64_t dim = 0, start = 0, length = 0, step = 1;
};
etp_status read_slice(const Ctx& c, const etp_tensor& self, uint32_t first, Slice* out) {
  int64_t dim = 0, start = 0, end = 0;
  bool has_start = false, has_end = false;
  if (!int_arg(c, first, &dim) || !optional_int_arg(c, first + 1, &has_start, &start) ||
      !optional_int_arg(c, first + 2, &has_end, &end) || !int_arg(c, first + 3, &out->step)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (self.rank == 0) return fail(c.host, ETP_ERR_SHAPE, "%s: cannot slice a rank-0 tensor", c.op);
  if (!normalize_dim(c, dim, self.rank, &out->dim)) return ETP_ERR_INVALID_ARGUMENT;
  if (out->step <= 0) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: step must be positive, got %lld", c.op,
                static_cast<long long>(out->step));
  }
  const int64_t size = self.sizes[out->dim];
  if (!has_start) start = 0;
  if (!has_end) end = size;
  if (start < 0) start += size;
  if (end < 0) end += size;
  start = start < 0 ? 0 : (start > size ? size : start);
  end = end < start ? start : (end > size ? size : end);
  out->start = start;
  out->length = end > start ? (end - start - 1) / out->step + 1 : 0;  // no end - start + step overflow
  return ETP_OK;
}

// The view of `t` the slice names.
View sliced(const etp_tensor& t, const Slice& s) {
  View v = whole(t);
  v.sizes[s.dim] = s.length;
  // One element needs no stride (and step may be any size then); more bound step by the dim.
  v.strides[s.dim] = s.length <= 1 ? 0 : t.strides[s.dim] * s.step;
  v.base = s.start * t.strides[s.dim];
  return v;
}

// The `(int dim, SymInt index)` at args[first], args[first + 1] of `self`, checked and normalized.
etp_status read_select(const Ctx& c, const etp_tensor& self, uint32_t first, int64_t* d, int64_t* index) {
  int64_t dim = 0;
  if (!int_arg(c, first, &dim) || !int_arg(c, first + 1, index)) return ETP_ERR_INVALID_ARGUMENT;
  if (self.rank == 0) return fail(c.host, ETP_ERR_SHAPE, "%s: cannot select from a rank-0 tensor", c.op);
  if (!normalize_dim(c, dim, self.rank, d)) return ETP_ERR_INVALID_ARGUMENT;
  const int64_t size = self.sizes[*d];
  if (*index < -size || *index >= size) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: index %lld is out of range for dim %lld of size %lld", c.op,
                static_cast<long long>(*index), static_cast<long long>(*d), static_cast<long long>(size));
  }
  if (*index < 0) *index += size;
  return ETP_OK;
}

// The view of `t` at `index` of dim `d`, that dim removed.
View selected(const etp_tensor& t, int64_t d, int64_t index) {
  View v;
  for (int32_t k = 0; k < t.rank; ++k) {
    if (k == d) continue;
    v.sizes[v.rank] = t.sizes[k];
    v.strides[v.rank++] = t.strides[k];
  }
  v.base = index * t.strides[d];
  return v;
}

// aten::slice_copy.Tensor_out(Tensor self, int dim=0, SymInt? start=None, SymInt? end=None,
//                             SymInt step=1, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(slice_copy_tensor_out, "aten::slice_copy.Tensor_out") {
  etp_tensor *self, *out;
  Slice slice;
  if (!self_and_out(c, 7, 5, &self, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (etp_status s = read_slice(c, *self, 1, &slice)) return s;
  return write_view(c, *self, sliced(*self, slice), out);
}

// aten::select_copy.int_out(Tensor self, int dim, SymInt index, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(select_copy_int_out, "aten::select_copy.int_out") {
  etp_tensor *self, *out;
  int64_t d = 0, index = 0;
  if (!self_and_out(c, 5, 3, &self, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (etp_status s = read_select(c, *self, 1, &d, &index)) return s;
  return write_view(c, *self, selected(*self, d, index), out);
}

// aten::flip.out(Tensor self, int[] dims, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(flip_out, "aten::flip.out") {
  etp_tensor *self, *out;
  const int64_t* dims;
  uint64_t count;
  if (!self_and_out(c, 4, 2, &self, &out) || !int_list_arg(c, 1, &dims, &count)) return ETP_ERR_INVALID_ARGUMENT;
  View v = whole(*self);
  bool seen[ETP_MAX_RANK] = {false};
  for (uint64_t i = 0; i < count; ++i) {
    int64_t d = 0;
    if (!normalize_dim(c, dims[i], self->rank, &d)) return ETP_ERR_INVALID_ARGUMENT;
    if (self->rank == 0) continue;
    if (seen[d]) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: dim %lld appears twice", c.op,
                  static_cast<long long>(dims[i]));
    }
    seen[d] = true;
    if (self->sizes[d] > 0) v.base += (self->sizes[d] - 1) * self->strides[d];
    v.strides[d] = -self->strides[d];
  }
  return write_view(c, *self, v, out);
}

// ----- joining, splitting, padding and tiling ------------------------------------------------

// cat and stack convert each input to out's dtype where torch.can_cast allows it (never float to
// integer, never to bool from anything else), as ExecuTorch's check_cat_args/check_stack_args.
etp_status check_castable(const Ctx& c, const etp_tensor& t, uint64_t i, const etp_tensor& out) {
  if (etp_status s = known_dtype(c, t, "an input")) return s;
  if (t.dtype == out.dtype ||
      (is_supported_dtype(t.dtype) && is_supported_dtype(out.dtype) && can_cast(t.dtype, out.dtype))) {
    return ETP_OK;
  }
  return fail(c.host, ETP_ERR_DTYPE, "%s: tensor %llu has dtype %s, which cannot be cast to out's %s", c.op,
              static_cast<unsigned long long>(i), etp_sdk::dtype_name(t.dtype), etp_sdk::dtype_name(out.dtype));
}

// ExecuTorch (like PyTorch's legacy rule) ignores 1-D empty tensors in cat.
bool is_legacy_empty(const etp_tensor& t) { return t.rank == 1 && t.sizes[0] == 0; }

// aten::cat.out(Tensor[] tensors, int dim=0, *, Tensor(a!) out). Inputs are converted to
// out's dtype.
ETP_PORTABLE_KERNEL(cat_out, "aten::cat.out") {
  etp_tensor* const* list;
  uint64_t count;
  etp_tensor* out;
  int64_t dim, d = 0;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_list_arg(c, 0, false, &list, &count) || !int_arg(c, 1, &dim) || !tensor_arg(c, 2, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  const etp_tensor* ref = nullptr;
  for (uint64_t i = 0; i < count && ref == nullptr; ++i) {
    if (!is_legacy_empty(*list[i])) ref = list[i];
  }
  if (ref == nullptr) {  // nothing but legacy empties (or no tensors): an empty 1-D result
    const int64_t zero = 0;
    if (count == 0) return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: needs at least one tensor", c.op);
    return resize_out(c, out, 1, &zero);
  }
  if (ref->rank == 0) return fail(c.host, ETP_ERR_SHAPE, "%s: rank-0 tensors cannot be concatenated", c.op);
  if (!normalize_dim(c, dim, ref->rank, &d)) return ETP_ERR_INVALID_ARGUMENT;
  int64_t sizes[ETP_MAX_RANK] = {0};
  for (int32_t k = 0; k < ref->rank; ++k) sizes[k] = ref->sizes[k];
  sizes[d] = 0;
  for (uint64_t i = 0; i < count; ++i) {
    const etp_tensor& t = *list[i];
    if (is_legacy_empty(t)) continue;
    if (etp_status s = check_castable(c, t, i, *out)) return s;
    bool ok = t.rank == ref->rank;
    for (int32_t k = 0; ok && k < t.rank; ++k) ok = k == d || t.sizes[k] == ref->sizes[k];
    if (!ok) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: tensor %llu does not match tensor 0's shape outside dim %lld", c.op,
                  static_cast<unsigned long long>(i), static_cast<long long>(d));
    }
    sizes[d] += t.sizes[d];
  }
  if (etp_status s = resize_out(c, out, ref->rank, sizes)) return s;
  int64_t offset = 0;
  for (uint64_t i = 0; i < count; ++i) {
    const etp_tensor& t = *list[i];
    if (is_legacy_empty(t)) continue;
    if (etp_sdk::numel(t) > 0) {
      if (etp_status s =
              convert_view(c, t.rank, t.sizes, *out, offset * out->strides[d], out->strides, t, 0, t.strides)) {
        return s;
      }
    }
    offset += t.sizes[d];
  }
  return ETP_OK;
}

// aten::stack.out(Tensor[] tensors, int dim=0, *, Tensor(a!) out). Inputs are converted to
// out's dtype.
ETP_PORTABLE_KERNEL(stack_out, "aten::stack.out") {
  etp_tensor* const* list;
  uint64_t count;
  etp_tensor* out;
  int64_t dim, d = 0;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_list_arg(c, 0, false, &list, &count) || !int_arg(c, 1, &dim) || !tensor_arg(c, 2, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (count == 0) return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: needs at least one tensor", c.op);
  const etp_tensor& ref = *list[0];
  if (ref.rank >= ETP_MAX_RANK) return fail(c.host, ETP_ERR_SHAPE, "%s: rank %d is too large", c.op, ref.rank);
  if (!normalize_dim(c, dim, ref.rank + 1, &d)) return ETP_ERR_INVALID_ARGUMENT;
  for (uint64_t i = 0; i < count; ++i) {
    if (etp_status s = check_castable(c, *list[i], i, *out)) return s;
    if (!same_shape(*list[i], ref)) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: tensor %llu has a different shape from tensor 0", c.op,
                  static_cast<unsigned long long>(i));
    }
  }
  int64_t sizes[ETP_MAX_RANK] = {0};
  for (int32_t k = 0, j = 0; k <= ref.rank; ++k) sizes[k] = k == d ? static_cast<int64_t>(count) : ref.sizes[j++];
  if (etp_status s = resize_out(c, out, ref.rank + 1, sizes)) return s;
  int64_t dst_strides[ETP_MAX_RANK] = {0};
  for (int32_t k = 0, j = 0; k <= ref.rank; ++k) {
    if (k != d) dst_strides[j++] = out->strides[k];
  }
  if (etp_sdk::numel(*out) == 0) return ETP_OK;
  for (uint64_t i = 0; i < count; ++i) {
    if (etp_status s = convert_view(c, ref.rank, ref.sizes, *out, static_cast<int64_t>(i) * out->strides[d],
                                    dst_strides, *list[i], 0, list[i]->strides)) {
      return s;
    }
  }
  return ETP_OK;
}

// Writes consecutive chunks of `self` along `d` with the given sizes into the outputs.
etp_status split(const Ctx& c, const etp_tensor& self, int64_t d, const int64_t* chunk_sizes, uint64_t chunks,
                 etp_tensor* const* outs, uint64_t num_outs) {
  if (num_outs != chunks) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: %llu outputs for %llu chunks", c.op,
                static_cast<unsigned long long>(num_outs), static_cast<unsigned long long>(chunks));
  }
  int64_t start = 0;
  for (uint64_t i = 0; i < chunks; ++i) {
    View v = whole(self);
    v.sizes[d] = chunk_sizes[i];
    v.base = start * self.strides[d];
    if (etp_status s = write_view(c, self, v, outs[i])) return s;
    start += chunk_sizes[i];
  }
  return ETP_OK;
}

// Reads (self, dim, out list) of the split operators; returns the dim normalised in *d.
bool split_args(const Ctx& c, etp_tensor** self, int64_t* d, etp_tensor* const** outs, uint64_t* num_outs) {
  int64_t dim = 0;
  // The schemas return (); accept the call with or without a trailing return slot.
  if (c.num_args != 4 && c.num_args != 5) {
    fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: expected 4 or 5 arguments, got %u", c.op, c.num_args);
    return false;
  }
  if (!tensor_arg(c, 0, self) || !int_arg(c, 2, &dim) || !tensor_list_arg(c, 3, false, outs, num_outs)) return false;
  if ((*self)->rank == 0) {
    fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: cannot split a rank-0 tensor", c.op);
    return false;
  }
  return normalize_dim(c, dim, (*self)->rank, d);
}

// aten::split_with_sizes_copy.out(Tensor self, SymInt[] split_sizes, int dim=0, *, Tensor(a!)[] out)
ETP_PORTABLE_KERNEL(split_with_sizes_copy_out, "aten::split_with_sizes_copy.out") {
  etp_tensor* self;
  etp_tensor* const* outs;
  uint64_t num_outs, count;
  const int64_t* sizes;
  int64_t d = 0;
  if (!split_args(c, &self, &d, &outs, &num_outs) || !int_list_arg(c, 1, &sizes, &count)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  int64_t total = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (sizes[i] < 0) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: split size %lld is negative", c.op,
                  static_cast<long long>(sizes[i]));
    }
    if (sizes[i] > self->sizes[d] - total) {  // (the sum could overflow)
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT,
                  "%s: split size %lld at %llu passes the end of dim %lld of size %lld", c.op,
                  static_cast<long long>(sizes[i]), static_cast<unsigned long long>(i), static_cast<long long>(d),
                  static_cast<long long>(self->sizes[d]));
    }
    total += sizes[i];
  }
  if (total != self->sizes[d]) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: split sizes sum to %lld but dim %lld has size %lld", c.op,
                static_cast<long long>(total), static_cast<long long>(d), static_cast<long long>(self->sizes[d]));
  }
  return split(c, *self, d, sizes, count, outs, num_outs);
}

// aten::split_copy.Tensor_out(Tensor self, SymInt split_size, int dim=0, *, Tensor(a!)[] out)
ETP_PORTABLE_KERNEL(split_copy_tensor_out, "aten::split_copy.Tensor_out") {
  etp_tensor* self;
  etp_tensor* const* outs;
  uint64_t num_outs;
  int64_t split_size, d = 0;
  if (!split_args(c, &self, &d, &outs, &num_outs) || !int_arg(c, 1, &split_size)) return ETP_ERR_INVALID_ARGUMENT;
  const int64_t size = self->sizes[d];
  if (split_size < 0 || (split_size == 0 && size != 0)) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: split_size %lld is invalid for a dim of size %lld", c.op,
                static_cast<long long>(split_size), static_cast<long long>(size));
  }
  const uint64_t chunks = split_size == 0 ? 1 : static_cast<uint64_t>(size == 0 ? 1 : (size - 1) / split_size + 1);
  if (chunks != num_outs) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: %llu outputs for %llu chunks", c.op,
                static_cast<unsigned long long>(num_outs), static_cast<unsigned long long>(chunks));
  }
  int64_t start = 0;
  for (uint64_t i = 0; i < chunks; ++i) {
    const int64_t len = size - start < split_size ? size - start : split_size;
    View v = whole(*self);
    v.sizes[d] = len;
    v.base = start * self->strides[d];
    if (etp_status s = write_view(c, *self, v, outs[i])) return s;
    start += len;
  }
  return ETP_OK;
}

// aten::constant_pad_nd.out(Tensor self, SymInt[] pad, Scalar value=0, *, Tensor(a!) out).
// pad pairs apply from the last dim backwards; negative pads crop.
ETP_PORTABLE_KERNEL(constant_pad_nd_out, "aten::constant_pad_nd.out") {
  etp_tensor *self, *out;
  const int64_t* pad;
  uint64_t count;
  double value = 0;
  if (!self_and_out(c, 5, 3, &self, &out) || !int_list_arg(c, 1, &pad, &count) || !scalar_arg(c, 2, &value)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (count % 2 != 0 || count / 2 > static_cast<uint64_t>(self->rank)) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: pad has %llu entries for a tensor of rank %d", c.op,
                static_cast<unsigned long long>(count), self->rank);
  }
  if (etp_status s = check_copy_dtypes(c, *self, *out)) return s;
  int64_t before[ETP_MAX_RANK] = {0}, sizes[ETP_MAX_RANK] = {0};
  for (int32_t d = 0; d < self->rank; ++d) {
    const uint64_t pair = static_cast<uint64_t>(self->rank - 1 - d);
    const int64_t lo = pair < count / 2 ? pad[2 * pair] : 0, hi = pair < count / 2 ? pad[2 * pair + 1] : 0;
    before[d] = lo;
    if (__builtin_add_overflow(self->sizes[d], lo, &sizes[d]) || __builtin_add_overflow(sizes[d], hi, &sizes[d])) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: padding (%lld, %lld) makes dim %d overflow int64", c.op,
                  static_cast<long long>(lo), static_cast<long long>(hi), d);
    }
    if (sizes[d] < 0) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: padding makes dim %d negative (%lld)", c.op, d,
                  static_cast<long long>(sizes[d]));
    }
  }
  if (etp_status s = resize_out(c, out, self->rank, sizes)) return s;
  if (etp_sdk::numel(*out) == 0) return ETP_OK;
  if (etp_status s = fill_view(c, out->rank, out->sizes, *out, 0, out->strides, value)) return s;
  // The overlap of the input and the output: in[k] lands at out[k + before].
  int64_t region[ETP_MAX_RANK] = {0}, in_base = 0, out_base = 0;
  for (int32_t d = 0; d < self->rank; ++d) {
    // Clamped to the dims (a crop or pad past them leaves no overlap), so -before and the offsets
    // below cannot overflow.
    const int64_t in_start = before[d] >= 0 ? 0 : before[d] < -self->sizes[d] ? self->sizes[d] : -before[d];
    const int64_t out_start = before[d] <= 0 ? 0 : std::min(before[d], sizes[d]);
    const int64_t len = std::min(self->sizes[d] - in_start, sizes[d] - out_start);
    region[d] = len < 0 ? 0 : len;
    in_base += in_start * self->strides[d];
    out_base += out_start * out->strides[d];
  }
  int64_t n = 1;
  for (int32_t d = 0; d < self->rank; ++d) n *= region[d];
  if (n == 0) return ETP_OK;
  return convert_view(c, self->rank, region, *out, out_base, out->strides, *self, in_base, self->strides);
}

// aten::repeat.out(Tensor self, SymInt[] repeats, *, Tensor(a!) out): one copy of self per
// tile, the tile's base offset coming from an outer walk over the repeat counts.
ETP_PORTABLE_KERNEL(repeat_out, "aten::repeat.out") {
  etp_tensor *self, *out;
  const int64_t* repeats;
  uint64_t count;
  if (!self_and_out(c, 4, 2, &self, &out) || !int_list_arg(c, 1, &repeats, &count)) return ETP_ERR_INVALID_ARGUMENT;
  if (count < static_cast<uint64_t>(self->rank) || count > ETP_MAX_RANK) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: %llu repeats for a tensor of rank %d", c.op,
                static_cast<unsigned long long>(count), self->rank);
  }
  if (etp_status s = check_copy_dtypes(c, *self, *out)) return s;
  const int32_t rank = static_cast<int32_t>(count), lead = rank - self->rank;
  View in;  // self seen at the output's rank
  in.rank = rank;
  int64_t sizes[ETP_MAX_RANK] = {0};
  for (int32_t d = 0; d < rank; ++d) {
    if (repeats[d] < 0) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: repeat count %lld is negative", c.op,
                  static_cast<long long>(repeats[d]));
    }
    in.sizes[d] = d < lead ? 1 : self->sizes[d - lead];
    in.strides[d] = d < lead ? 0 : self->strides[d - lead];
    if (__builtin_mul_overflow(in.sizes[d], repeats[d], &sizes[d])) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: repeat count %lld makes dim %d overflow", c.op,
                  static_cast<long long>(repeats[d]), d);
    }
  }
  if (etp_status s = resize_out(c, out, rank, sizes)) return s;
  if (etp_sdk::numel(*out) == 0) return ETP_OK;
  int64_t tile_strides[ETP_MAX_RANK] = {0};
  for (int32_t d = 0; d < rank; ++d) tile_strides[d] = in.sizes[d] * out->strides[d];
  const size_t elem = etp_sdk::dtype_size(self->dtype);
  uint8_t* dst = byte_ptr(*out);
  for_each_strided(rank, repeats, tile_strides, nullptr, nullptr, [&](int64_t base, int64_t, int64_t) {
    copy_view(rank, in.sizes, dst + base * static_cast<int64_t>(elem), out->strides, byte_ptr(*self), in.strides, elem);
  });
  return ETP_OK;
}

// pixel_shuffle (shuffle=true): [*, C*r*r, H, W] -> [*, C, H*r, W*r]; pixel_unshuffle is the
// inverse. Copies r*r strided planes: sub-pixel (i, j) of channel c is input channel
// c*r*r + i*r + j.
etp_status pixel_shuffle(const Ctx& c, bool shuffle) {
  etp_tensor *self, *out;
  int64_t r = 0;
  if (!self_and_out(c, 4, 2, &self, &out) || !int_arg(c, 1, &r)) return ETP_ERR_INVALID_ARGUMENT;
  const int32_t rank = self->rank;
  if (rank < 3) return fail(c.host, ETP_ERR_SHAPE, "%s: expects rank >= 3, got %d", c.op, rank);
  if (r <= 0)
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: factor %lld must be positive", c.op, static_cast<long long>(r));
  if (etp_status s = check_copy_dtypes(c, *self, *out)) return s;
  const int32_t cd = rank - 3, hd = rank - 2, wd = rank - 1;
  int64_t sizes[ETP_MAX_RANK] = {0};
  for (int32_t d = 0; d < rank; ++d) sizes[d] = self->sizes[d];
  // Every product below is checked: a bad program's factor or sizes can be anything.
  int64_t rr = 0;
  bool overflow = __builtin_mul_overflow(r, r, &rr);
  if (shuffle) {
    if (overflow || self->sizes[cd] % rr != 0) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: channels %lld are not divisible by the square of %lld", c.op,
                  static_cast<long long>(self->sizes[cd]), static_cast<long long>(r));
    }
    sizes[cd] /= rr;
    overflow = __builtin_mul_overflow(sizes[hd], r, &sizes[hd]) || __builtin_mul_overflow(sizes[wd], r, &sizes[wd]);
  } else {
    if (self->sizes[hd] % r != 0 || self->sizes[wd] % r != 0) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: height and width must be divisible by %lld", c.op,
                  static_cast<long long>(r));
    }
    overflow = overflow || __builtin_mul_overflow(sizes[cd], rr, &sizes[cd]);
    sizes[hd] /= r;
    sizes[wd] /= r;
  }
  if (overflow) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: factor %lld makes the output's sizes overflow", c.op,
                static_cast<long long>(r));
  }
  if (etp_status s = resize_out(c, out, rank, sizes)) return s;
  if (etp_sdk::numel(*out) == 0) return ETP_OK;
  // The small side ([*, C, H, W] of the shuffled tensor) indexes both views.
  const etp_tensor& big_c = shuffle ? *self : *out;   // has C*r*r channels
  const etp_tensor& big_hw = shuffle ? *out : *self;  // has H*r, W*r
  View pc, phw;                                       // views of big_c and big_hw over [*, C, H, W]
  pc.rank = phw.rank = rank;
  for (int32_t d = 0; d < rank; ++d) {
    pc.sizes[d] = phw.sizes[d] = d == cd ? big_hw.sizes[cd] : big_c.sizes[d];
    pc.strides[d] = d == cd ? big_c.strides[cd] * r * r : big_c.strides[d];
    phw.strides[d] = (d == hd || d == wd) ? big_hw.strides[d] * r : big_hw.strides[d];
  }
  const size_t elem = etp_sdk::dtype_size(self->dtype);
  const int64_t e = static_cast<int64_t>(elem);
  for (int64_t i = 0; i < r; ++i) {
    for (int64_t j = 0; j < r; ++j) {
      uint8_t* c_ptr = byte_ptr(big_c) + (i * r + j) * big_c.strides[cd] * e;
      uint8_t* hw_ptr = byte_ptr(big_hw) + (i * big_hw.strides[hd] + j * big_hw.strides[wd]) * e;
      if (shuffle) {
        copy_view(rank, pc.sizes, hw_ptr, phw.strides, c_ptr, pc.strides, elem);
      } else {
        copy_view(rank, pc.sizes, c_ptr, pc.strides, hw_ptr, phw.strides, elem);
      }
    }
  }
  return ETP_OK;
}

// aten::pixel_shuffle.out(Tensor self, int upscale_factor, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(pixel_shuffle_out, "aten::pixel_shuffle.out") { return pixel_shuffle(c, true); }
// aten::pixel_unshuffle.out(Tensor self, int downscale_factor, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(pixel_unshuffle_out, "aten::pixel_unshuffle.out") { return pixel_shuffle(c, false); }

// ---------------------------------------------------------------------------------------------
// More views: narrow, diagonal, as_strided, unfold, unbind, roll, and the scatters that write a
// view of a copy of self.

// The start index of a narrow/slice on a dim of `size` (negative counts from the end).
bool checked_range(const Ctx& c, int64_t size, int64_t start, int64_t length, int64_t* first) {
  if (start < 0) start += size;
  if (start < 0 || start > size || length < 0 || length > size - start) {
    fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: start %lld and length %lld do not fit a dim of size %lld", c.op,
         static_cast<long long>(start), static_cast<long long>(length), static_cast<long long>(size));
    return false;
  }
  *first = start;
  return true;
}

// aten::narrow_copy.out(Tensor self, int dim, SymInt start, SymInt length, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(narrow_copy_out, "aten::narrow_copy.out") {
  etp_tensor *self, *out;
  int64_t dim, start, length, d = 0, first = 0;
  if (!self_and_out(c, 6, 4, &self, &out) || !int_arg(c, 1, &dim) || !int_arg(c, 2, &start) ||
      !int_arg(c, 3, &length)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (self->rank == 0) return fail(c.host, ETP_ERR_SHAPE, "%s: cannot narrow a rank-0 tensor", c.op);
  if (!normalize_dim(c, dim, self->rank, &d) || !checked_range(c, self->sizes[d], start, length, &first)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  View v = whole(*self);
  v.sizes[d] = length;
  v.base = first * self->strides[d];
  return write_view(c, *self, v, out);
}

// aten::diagonal_copy.out(Tensor self, int offset=0, int dim1=0, int dim2=1, *, Tensor(a!) out):
// dim1 and dim2 removed, the diagonal appended as the last dim.
ETP_PORTABLE_KERNEL(diagonal_copy_out, "aten::diagonal_copy.out") {
  etp_tensor *self, *out;
  int64_t offset, dim1, dim2, d1 = 0, d2 = 0;
  if (!self_and_out(c, 6, 4, &self, &out) || !int_arg(c, 1, &offset) || !int_arg(c, 2, &dim1) ||
      !int_arg(c, 3, &dim2)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (self->rank < 2) return fail(c.host, ETP_ERR_SHAPE, "%s: needs rank 2 or more, got %d", c.op, self->rank);
  if (!normalize_dim(c, dim1, self->rank, &d1) || !normalize_dim(c, dim2, self->rank, &d2)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (d1 == d2)
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: dim1 and dim2 are both %lld", c.op, static_cast<long long>(d1));
  View v;
  for (int32_t i = 0; i < self->rank; ++i) {
    if (i == d1 || i == d2) continue;
    v.sizes[v.rank] = self->sizes[i];
    v.strides[v.rank++] = self->strides[i];
  }
  const int64_t s1 = self->sizes[d1], s2 = self->sizes[d2];
  int64_t length = offset >= 0 ? std::min(s1, s2 - offset) : std::min(s1 + offset, s2);
  length = std::max<int64_t>(length, 0);
  v.sizes[v.rank] = length;
  v.strides[v.rank++] = self->strides[d1] + self->strides[d2];
  if (length > 0) v.base = offset >= 0 ? offset * self->strides[d2] : -offset * self->strides[d1];
  return write_view(c, *self, v, out);
}

// aten::as_strided_copy.out(Tensor self, SymInt[] size, SymInt[] stride, SymInt? storage_offset=None,
// *, Tensor(a!) out): a view of self's storage (in elements), which must lie inside it.
ETP_PORTABLE_KERNEL(as_strided_copy_out, "aten::as_strided_copy.out") {
  etp_tensor *self, *out;
  const int64_t *size, *stride;
  uint64_t rank = 0, stride_count = 0;
  int64_t offset = 0;
  bool has_offset = false;
  if (!self_and_out(c, 6, 4, &self, &out) || !int_list_arg(c, 1, &size, &rank) ||
      !int_list_arg(c, 2, &stride, &stride_count) || !optional_int_arg(c, 3, &has_offset, &offset)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (rank != stride_count || rank > ETP_MAX_RANK) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: %llu sizes and %llu strides (at most %d)", c.op,
                static_cast<unsigned long long>(rank), static_cast<unsigned long long>(stride_count), ETP_MAX_RANK);
  }
  View v;
  v.rank = static_cast<int32_t>(rank);
  v.base = has_offset ? offset : 0;
  int64_t last = v.base;  // the furthest element the view reaches
  bool empty = false, overflow = false;
  for (int32_t d = 0; d < v.rank; ++d) {
    if (size[d] < 0 || stride[d] < 0) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: negative size or stride at dim %d", c.op, d);
    }
    v.sizes[d] = size[d];
    v.strides[d] = stride[d];
    empty = empty || size[d] == 0;
    // A wrapped `last` would pass the bounds check below, so an overflow is past any storage.
    int64_t span = 0;
    if (size[d] > 0) {
      overflow = overflow || __builtin_mul_overflow(size[d] - 1, stride[d], &span) ||
                 __builtin_add_overflow(last, span, &last);
    }
  }
  const int64_t storage = static_cast<int64_t>(self->nbytes / std::max<size_t>(etp_sdk::dtype_size(self->dtype), 1));
  if (!empty && overflow) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT,
                "%s: the view (storage_offset %lld) reaches past element %lld of a storage of %lld", c.op,
                static_cast<long long>(v.base), static_cast<long long>(INT64_MAX), static_cast<long long>(storage));
  }
  if (!empty && (v.base < 0 || last >= storage)) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: the view reaches element %lld of a storage of %lld", c.op,
                static_cast<long long>(last), static_cast<long long>(storage));
  }
  return write_view(c, *self, v, out);
}

// aten::unfold_copy.out(Tensor self, int dimension, int size, int step, *, Tensor(a!) out): windows
// of `size` every `step` along the dim, as a new last dim.
ETP_PORTABLE_KERNEL(unfold_copy_out, "aten::unfold_copy.out") {
  etp_tensor *self, *out;
  int64_t dim, size, step, d = 0;
  if (!self_and_out(c, 6, 4, &self, &out) || !int_arg(c, 1, &dim) || !int_arg(c, 2, &size) || !int_arg(c, 3, &step)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (step <= 0 || size < 0) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: size %lld and step %lld must be >= 0 and > 0", c.op,
                static_cast<long long>(size), static_cast<long long>(step));
  }
  View v = whole(*self);
  if (self->rank == 0) {  // a scalar unfolds into one window of size 1
    if (size > 1)
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: size %lld of a 0-dim tensor", c.op,
                  static_cast<long long>(size));
    v.rank = 1;
    v.sizes[0] = size;
    v.strides[0] = 1;
    return write_view(c, *self, v, out);
  }
  if (!normalize_dim(c, dim, self->rank, &d)) return ETP_ERR_INVALID_ARGUMENT;
  if (size > self->sizes[d]) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: size %lld exceeds dim %lld of size %lld", c.op,
                static_cast<long long>(size), static_cast<long long>(d), static_cast<long long>(self->sizes[d]));
  }
  v.sizes[d] = (self->sizes[d] - size) / step + 1;
  // One window needs no stride (and step may be any size then); more windows bound step by the dim.
  v.strides[d] = v.sizes[d] == 1 ? 0 : self->strides[d] * step;
  v.sizes[v.rank] = size;
  v.strides[v.rank++] = self->strides[d];
  return write_view(c, *self, v, out);
}

// aten::unbind_copy.int_out(Tensor self, int dim=0, *, Tensor(a!)[] out): one output per index of
// the dim, each the selection at that index.
ETP_PORTABLE_KERNEL(unbind_copy_int_out, "aten::unbind_copy.int_out") {
  etp_tensor* self;
  etp_tensor* const* outs;
  uint64_t num_outs = 0;
  int64_t dim = 0, d = 0;
  if (c.num_args != 3 && c.num_args != 4) {  // returns (): with or without a return slot
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: expected 3 or 4 arguments, got %u", c.op, c.num_args);
  }
  if (!tensor_arg(c, 0, &self) || !int_arg(c, 1, &dim) || !tensor_list_arg(c, 2, false, &outs, &num_outs)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (self->rank == 0) return fail(c.host, ETP_ERR_SHAPE, "%s: cannot unbind a rank-0 tensor", c.op);
  if (!normalize_dim(c, dim, self->rank, &d)) return ETP_ERR_INVALID_ARGUMENT;
  if (num_outs != static_cast<uint64_t>(self->sizes[d])) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: %llu outputs for a dim of size %lld", c.op,
                static_cast<unsigned long long>(num_outs), static_cast<long long>(self->sizes[d]));
  }
  for (uint64_t i = 0; i < num_outs; ++i) {
    if (etp_status s = write_view(c, *self, selected(*self, d, static_cast<int64_t>(i)), outs[i])) return s;
  }
  return ETP_OK;
}

// Copies self into out (same dtype, self's shape), then `src` into the view `v` of out, whose
// shape src must have.
etp_status scatter_view(const Ctx& c, const etp_tensor& self, const etp_tensor& src, const View& v, etp_tensor* out) {
  if (etp_status s = write_view(c, self, whole(self), out)) return s;
  if (etp_status s = same_dtype(c, src, self.dtype, "src")) return s;
  bool fits = src.rank == v.rank;
  for (int32_t d = 0; fits && d < v.rank; ++d) fits = src.sizes[d] == v.sizes[d];
  if (!fits) return fail(c.host, ETP_ERR_SHAPE, "%s: src does not have the shape of the slice it replaces", c.op);
  if (view_numel(v) == 0) return ETP_OK;
  const size_t elem = etp_sdk::dtype_size(self.dtype);
  copy_view(v.rank, v.sizes, byte_ptr(*out) + v.base * static_cast<int64_t>(elem), v.strides, byte_ptr(src),
            src.strides, elem);
  return ETP_OK;
}

// aten::select_scatter.out(Tensor self, Tensor src, int dim, SymInt index, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(select_scatter_out, "aten::select_scatter.out") {
  etp_tensor *self, *src, *out;
  int64_t d = 0, index = 0;
  if (!self_and_out(c, 6, 4, &self, &out) || !tensor_arg(c, 1, &src)) return ETP_ERR_INVALID_ARGUMENT;
  if (etp_status s = read_select(c, *self, 2, &d, &index)) return s;
  if (etp_status s = resize_out(c, out, self->rank, self->sizes)) return s;
  return scatter_view(c, *self, *src, selected(*out, d, index), out);
}

// aten::slice_scatter.out(Tensor self, Tensor src, int dim=0, SymInt? start=None, SymInt? end=None,
// SymInt step=1, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(slice_scatter_out, "aten::slice_scatter.out") {
  etp_tensor *self, *src, *out;
  Slice slice;
  if (!self_and_out(c, 8, 6, &self, &out) || !tensor_arg(c, 1, &src)) return ETP_ERR_INVALID_ARGUMENT;
  if (etp_status s = read_slice(c, *self, 2, &slice)) return s;
  if (etp_status s = resize_out(c, out, self->rank, self->sizes)) return s;
  return scatter_view(c, *self, *src, sliced(*out, slice), out);
}

// aten::roll.out(Tensor self, int[1] shifts, int[1] dims=[], *, Tensor(a!) out): each listed dim
// rotated by its shift (element i goes to i + shift, modulo the size); with no dims the
// tensor is rolled as if flattened (supported for one shift on a row-major tensor).
ETP_PORTABLE_KERNEL(roll_out, "aten::roll.out") {
  etp_tensor *self, *out;
  const int64_t *shifts, *dims;
  uint64_t num_shifts = 0, num_dims = 0;
  if (!self_and_out(c, 5, 3, &self, &out) || !int_list_arg(c, 1, &shifts, &num_shifts) ||
      !int_list_arg(c, 2, &dims, &num_dims)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_status s = check_copy_dtypes(c, *self, *out)) return s;
  if (etp_status s = resize_out(c, out, self->rank, self->sizes)) return s;
  View src = whole(*self), dst = whole(*out);
  int64_t rolled_dims[ETP_MAX_RANK] = {0}, amounts[ETP_MAX_RANK] = {0};
  int32_t count = 0;
  if (num_dims == 0) {
    bool row_major = true;
    for (int32_t d = 0; d < self->rank; ++d) row_major = row_major && self->dim_order[d] == d && out->dim_order[d] == d;
    if (num_shifts != 1 || !row_major) {
      return fail(c.host, ETP_ERR_NOT_SUPPORTED, "%s: without dims, one shift on a row-major tensor is supported",
                  c.op);
    }
    const int64_t n = etp_sdk::numel(*self);
    src.rank = dst.rank = 1;
    src.sizes[0] = dst.sizes[0] = n;
    src.strides[0] = dst.strides[0] = 1;
    rolled_dims[count] = 0;
    amounts[count++] = shifts[0];
  } else {
    if (num_shifts != num_dims || num_dims > ETP_MAX_RANK) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: %llu shifts for %llu dims", c.op,
                  static_cast<unsigned long long>(num_shifts), static_cast<unsigned long long>(num_dims));
    }
    for (uint64_t i = 0; i < num_dims; ++i) {
      int64_t d = 0;
      if (!normalize_dim(c, dims[i], self->rank, &d)) return ETP_ERR_INVALID_ARGUMENT;
      rolled_dims[count] = d;
      amounts[count++] = shifts[i];
    }
  }
  const size_t elem = etp_sdk::dtype_size(self->dtype);
  // Each rolled dim splits into two blocks; every combination of blocks is one view copy.
  for (uint32_t mask = 0; mask < (1u << count); ++mask) {
    View s = src, o = dst;
    bool empty = false;
    for (int32_t k = 0; k < count; ++k) {
      const int64_t d = rolled_dims[k], n = s.sizes[d];
      if (n == 0) {
        empty = true;
        break;
      }
      const int64_t shift = ((amounts[k] % n) + n) % n;
      // Block 0: source [0, n - shift) to [shift, n); block 1: source [n - shift, n) to [0, shift).
      const bool second = (mask >> k) & 1u;
      const int64_t length = second ? shift : n - shift;
      s.base += (second ? n - shift : 0) * src.strides[d];
      o.base += (second ? 0 : shift) * dst.strides[d];
      s.sizes[d] = o.sizes[d] = length;
      empty = empty || length == 0;
    }
    if (empty) continue;
    copy_view(o.rank, o.sizes, byte_ptr(*out) + o.base * static_cast<int64_t>(elem), o.strides,
              byte_ptr(*self) + s.base * static_cast<int64_t>(elem), s.strides, elem);
  }
  return ETP_OK;
}

// reflection_pad{1,2,3}d / replication_pad{1,2,3}d: the last `n` dims padded by `padding`
// ([left, right] for the last dim, then the one before, ...). Reflection mirrors without
// repeating the edge (each pad must be smaller than its dim); replication repeats the edge.
etp_status mode_pad(const Ctx& c, int32_t n, bool reflect) {
  etp_tensor *self, *out;
  const int64_t* pad;
  uint64_t count = 0;
  if (!self_and_out(c, 4, 2, &self, &out) || !int_list_arg(c, 1, &pad, &count)) return ETP_ERR_INVALID_ARGUMENT;
  if (count != static_cast<uint64_t>(2 * n)) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: padding needs %d entries, got %llu", c.op, 2 * n,
                static_cast<unsigned long long>(count));
  }
  if (self->rank != n + 1 && self->rank != n + 2) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: expected a tensor of rank %d or %d, got %d", c.op, n + 1, n + 2,
                self->rank);
  }
  if (etp_status s = check_copy_dtypes(c, *self, *out)) return s;
  int64_t before[ETP_MAX_RANK] = {0}, sizes[ETP_MAX_RANK] = {0};
  for (int32_t d = 0; d < self->rank; ++d) {
    sizes[d] = self->sizes[d];
    const int32_t pair = self->rank - 1 - d;  // 0 for the last dim
    if (pair >= n) continue;
    const int64_t lo = pad[2 * pair], hi = pad[2 * pair + 1], size = self->sizes[d];
    const bool bad = reflect ? (lo < 0 || hi < 0 || lo >= size || hi >= size) : (lo < 0 || hi < 0 || size == 0);
    if (bad) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: padding (%lld, %lld) does not fit dim %d of size %lld%s", c.op,
                  static_cast<long long>(lo), static_cast<long long>(hi), d, static_cast<long long>(size),
                  reflect ? " (each pad must be smaller than the dim)" : "");
    }
    before[d] = lo;
    if (__builtin_add_overflow(size, lo, &sizes[d]) || __builtin_add_overflow(sizes[d], hi, &sizes[d])) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: padding (%lld, %lld) makes dim %d of size %lld overflow int64",
                  c.op, static_cast<long long>(lo), static_cast<long long>(hi), d, static_cast<long long>(size));
    }
  }
  if (etp_status s = resize_out(c, out, self->rank, sizes)) return s;
  const int64_t total = etp_sdk::numel(*out);
  const size_t elem = etp_sdk::dtype_size(self->dtype);
  int64_t index[ETP_MAX_RANK] = {0};
  for (int64_t i = 0; i < total; ++i) {
    int64_t src = 0, dst = 0;
    for (int32_t d = 0; d < self->rank; ++d) {
      int64_t k = index[d] - before[d];
      const int64_t size = self->sizes[d];
      if (k < 0) k = reflect ? -k : 0;
      if (k >= size) k = reflect ? 2 * (size - 1) - k : size - 1;
      src += k * self->strides[d];
      dst += index[d] * out->strides[d];
    }
    std::memcpy(byte_ptr(*out) + dst * static_cast<int64_t>(elem), byte_ptr(*self) + src * static_cast<int64_t>(elem),
                elem);
    for (int32_t d = self->rank - 1; d >= 0 && ++index[d] == sizes[d]; --d) index[d] = 0;
  }
  return ETP_OK;
}

// aten::reflection_pad{1,2,3}d.out / replication_pad{1,2,3}d.out(Tensor self, SymInt[] padding, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(reflection_pad1d_out, "aten::reflection_pad1d.out") { return mode_pad(c, 1, true); }
ETP_PORTABLE_KERNEL(reflection_pad2d_out, "aten::reflection_pad2d.out") { return mode_pad(c, 2, true); }
ETP_PORTABLE_KERNEL(reflection_pad3d_out, "aten::reflection_pad3d.out") { return mode_pad(c, 3, true); }
ETP_PORTABLE_KERNEL(replication_pad1d_out, "aten::replication_pad1d.out") { return mode_pad(c, 1, false); }
ETP_PORTABLE_KERNEL(replication_pad2d_out, "aten::replication_pad2d.out") { return mode_pad(c, 2, false); }
ETP_PORTABLE_KERNEL(replication_pad3d_out, "aten::replication_pad3d.out") { return mode_pad(c, 3, false); }

// aten::view_as_real_copy.out(Tensor self, *, Tensor(a!) out): a complex tensor as its real and
// imaginary parts along a new last dim of 2 (complex32, complex64, complex128 to float16, float32,
// float64). out must keep each pair adjacent and innermost (its last dim has stride 1).
ETP_PORTABLE_KERNEL(view_as_real_copy_out, "aten::view_as_real_copy.out") {
  etp_tensor *self, *out;
  if (!self_and_out(c, 3, 1, &self, &out)) return ETP_ERR_INVALID_ARGUMENT;
  int32_t part = 0;
  switch (self->dtype) {
    case ETP_DTYPE_COMPLEX32: part = ETP_DTYPE_FLOAT16; break;
    case ETP_DTYPE_COMPLEX64: part = ETP_DTYPE_FLOAT32; break;
    case ETP_DTYPE_COMPLEX128: part = ETP_DTYPE_FLOAT64; break;
    default:
      return fail(c.host, ETP_ERR_DTYPE, "%s: self has dtype %s, expected complex32, complex64 or complex128", c.op,
                  etp_sdk::dtype_name(self->dtype));
  }
  if (out->dtype != part) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: out has dtype %s, expected %s for %s", c.op,
                etp_sdk::dtype_name(out->dtype), etp_sdk::dtype_name(part), etp_sdk::dtype_name(self->dtype));
  }
  if (self->rank >= ETP_MAX_RANK) return fail(c.host, ETP_ERR_SHAPE, "%s: rank %d is too large", c.op, self->rank);
  int64_t sizes[ETP_MAX_RANK] = {0};
  for (int32_t d = 0; d < self->rank; ++d) sizes[d] = self->sizes[d];
  sizes[self->rank] = 2;
  if (etp_status s = resize_out(c, out, self->rank + 1, sizes)) return s;
  int64_t pair_strides[ETP_MAX_RANK] = {0};  // out's strides in units of one (real, imaginary) pair
  bool adjacent = out->strides[self->rank] == 1;
  for (int32_t d = 0; d < self->rank; ++d) {
    adjacent = adjacent && (self->sizes[d] == 1 || out->strides[d] % 2 == 0);
    pair_strides[d] = out->strides[d] / 2;
  }
  if (!adjacent) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: out's last dim (real, imaginary) must be innermost", c.op);
  }
  if (etp_sdk::numel(*self) == 0) return ETP_OK;
  copy_view(self->rank, self->sizes, byte_ptr(*out), pair_strides, byte_ptr(*self), self->strides,
            etp_sdk::dtype_size(self->dtype));
  return ETP_OK;
}

}  // namespace

ETP_KERNEL_FAMILY(shape_kernels, ETP_ENTRY(view_as_real_copy_out), ETP_ENTRY(permute_copy_out),
                  ETP_ENTRY(transpose_copy_int_out), ETP_ENTRY(t_copy_out), ETP_ENTRY(view_copy_out),
                  ETP_ENTRY(alias_copy_out), ETP_ENTRY(unsqueeze_copy_out), ETP_ENTRY(squeeze_copy_dims_out),
                  ETP_ENTRY(squeeze_copy_dim_out), ETP_ENTRY(expand_copy_out), ETP_ENTRY(slice_copy_tensor_out),
                  ETP_ENTRY(select_copy_int_out), ETP_ENTRY(flip_out), ETP_ENTRY(cat_out), ETP_ENTRY(stack_out),
                  ETP_ENTRY(split_with_sizes_copy_out), ETP_ENTRY(split_copy_tensor_out),
                  ETP_ENTRY(constant_pad_nd_out), ETP_ENTRY(repeat_out), ETP_ENTRY(pixel_shuffle_out),
                  ETP_ENTRY(pixel_unshuffle_out), ETP_ENTRY(narrow_copy_out), ETP_ENTRY(diagonal_copy_out),
                  ETP_ENTRY(as_strided_copy_out), ETP_ENTRY(unfold_copy_out), ETP_ENTRY(unbind_copy_int_out),
                  ETP_ENTRY(select_scatter_out), ETP_ENTRY(slice_scatter_out), ETP_ENTRY(roll_out),
                  ETP_ENTRY(reflection_pad1d_out), ETP_ENTRY(reflection_pad2d_out), ETP_ENTRY(reflection_pad3d_out),
                  ETP_ENTRY(replication_pad1d_out), ETP_ENTRY(replication_pad2d_out), ETP_ENTRY(replication_pad3d_out))

}  // namespace etp_portable
