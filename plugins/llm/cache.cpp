// KV-cache operators of ExecuTorch's llama export: the caches are [batch, max_seq, heads,
// head_dim] mutable buffers the program keeps between calls, and these kernels write new rows
// into them in place. Their `out` tensor is a placeholder ExecuTorch never writes (the planner
// may overlap it with dead values), so neither do we. Unlike ExecuTorch, a negative start_pos
// and out-of-range indices are errors here rather than writes outside the buffer.
#include <cstring>

#include "kernel_util.h"
#include "llm.h"

namespace etp_llm {

using namespace etp_portable;

etp_status check_4d_contiguous(const Ctx& c, const etp_tensor& t, const char* which) {
  if (t.rank != 4) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: %s must be 4-D [batch, seq, heads, head_dim], got rank %d", c.op, which,
                t.rank);
  }
  int64_t expected = 1;
  for (int32_t d = 3; d >= 0; --d) {
    if (t.sizes[d] != 1 && t.strides[d] != expected) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: %s must be contiguous in row-major order", c.op, which);
    }
    expected *= t.sizes[d];
  }
  return ETP_OK;
}

namespace {

// Same batch, heads, head_dim and element size: a value row fits a cache row.
etp_status check_rows_fit(const Ctx& c, const etp_tensor& value, const etp_tensor& cache, const char* which) {
  if (etp_status s = check_4d_contiguous(c, value, "value")) return s;
  if (etp_status s = check_4d_contiguous(c, cache, which)) return s;
  if (value.sizes[0] != cache.sizes[0] || value.sizes[2] != cache.sizes[2] || value.sizes[3] != cache.sizes[3]) {
    return fail(
        c.host, ETP_ERR_SHAPE,
        "%s: value [%lld, %lld, %lld, %lld] does not fit %s [%lld, %lld, %lld, %lld] (batch, heads and head_dim "
        "must match)",
        c.op, static_cast<long long>(value.sizes[0]), static_cast<long long>(value.sizes[1]),
        static_cast<long long>(value.sizes[2]), static_cast<long long>(value.sizes[3]), which,
        static_cast<long long>(cache.sizes[0]), static_cast<long long>(cache.sizes[1]),
        static_cast<long long>(cache.sizes[2]), static_cast<long long>(cache.sizes[3]));
  }
  if (value.dtype != cache.dtype) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: value has dtype %s but %s has %s", c.op, etp_sdk::dtype_name(value.dtype),
                which, etp_sdk::dtype_name(cache.dtype));
  }
  if (etp_sdk::dtype_size(value.dtype) == 0) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: unknown dtype %d", c.op, value.dtype);
  }
  return ETP_OK;
}

}  // namespace

etp_status check_cache_write(const Ctx& c, const etp_tensor& value, const etp_tensor& cache, int64_t start_pos,
                             const char* which) {
  if (etp_status s = check_rows_fit(c, value, cache, which)) return s;
  const int64_t rows = value.sizes[1], max_rows = cache.sizes[1];
  if (start_pos < 0 || start_pos >= max_rows || rows > max_rows - start_pos) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: %lld rows at start_pos %lld do not fit %s of %lld rows", c.op,
                static_cast<long long>(rows), static_cast<long long>(start_pos), which,
                static_cast<long long>(max_rows));
  }
  return ETP_OK;
}

void copy_rows(const etp_tensor& value, etp_tensor& cache, int64_t start_pos) {
  const size_t elem = etp_sdk::dtype_size(value.dtype);
  const int64_t rows = value.sizes[1], max_rows = cache.sizes[1];
  const int64_t row = value.sizes[2] * value.sizes[3];  // elements per sequence position
  const uint8_t* src = static_cast<const uint8_t*>(value.data);
  uint8_t* dst = static_cast<uint8_t*>(cache.data);
  for (int64_t b = 0; b < value.sizes[0]; ++b) {
    std::memmove(dst + static_cast<size_t>((b * max_rows + start_pos) * row) * elem,
                 src + static_cast<size_t>(b * rows * row) * elem, static_cast<size_t>(rows * row) * elem);
  }
}

namespace {

// llama::update_cache.out(Tensor value, Tensor(a!) cache, SymInt start_pos, *, Tensor(b!) out)
ETP_PORTABLE_KERNEL(update_cache_out, "llama::update_cache.out") {
  etp_tensor *value, *cache, *out;
  int64_t start_pos = 0;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &value) || !tensor_arg(c, 1, &cache) || !int_arg(c, 2, &start_pos) || !tensor_arg(c, 3, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_status s = check_cache_write(c, *value, *cache, start_pos, "cache")) return s;
  copy_rows(*value, *cache, start_pos);
  return ETP_OK;
}

// llama::update_cache_with_indices.out(Tensor value, Tensor(a!) cache, SymInt start_pos, Tensor indices, *,
//     Tensor(b!) out): value[b, s] goes to cache row indices[b, s] (int64 [B, S]); start_pos is unused, as
//     in ExecuTorch; rows are written in (b, s) order, so a repeated index keeps the last.
ETP_PORTABLE_KERNEL(update_cache_with_indices_out, "llama::update_cache_with_indices.out") {
  etp_tensor *value, *cache, *indices, *out;
  int64_t start_pos = 0;
  if (etp_status s = expect_args(c, 6)) return s;
  if (!tensor_arg(c, 0, &value) || !tensor_arg(c, 1, &cache) || !int_arg(c, 2, &start_pos) ||
      !tensor_arg(c, 3, &indices) || !tensor_arg(c, 4, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_status s = check_rows_fit(c, *value, *cache, "cache")) return s;
  const int64_t batch = value->sizes[0], rows = value->sizes[1], max_rows = cache->sizes[1];
  if (indices->dtype != ETP_DTYPE_INT64 || indices->rank != 2 || indices->sizes[0] != batch ||
      indices->sizes[1] != rows) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: indices must be int64 [%lld, %lld]", c.op, static_cast<long long>(batch),
                static_cast<long long>(rows));
  }
  const int64_t* idx = static_cast<const int64_t*>(indices->data);
  auto index = [&](int64_t b, int64_t s) { return idx[b * indices->strides[0] + s * indices->strides[1]]; };
  for (int64_t b = 0; b < batch; ++b) {  // every index is checked before anything is written
    for (int64_t s = 0; s < rows; ++s) {
      if (index(b, s) < 0 || index(b, s) >= max_rows) {
        return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: index %lld is out of range for a cache of %lld rows", c.op,
                    static_cast<long long>(index(b, s)), static_cast<long long>(max_rows));
      }
    }
  }
  const size_t elem = etp_sdk::dtype_size(value->dtype);
  const int64_t row = value->sizes[2] * value->sizes[3];
  const uint8_t* src = static_cast<const uint8_t*>(value->data);
  uint8_t* dst = static_cast<uint8_t*>(cache->data);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < rows; ++s) {
      std::memmove(dst + static_cast<size_t>((b * max_rows + index(b, s)) * row) * elem,
                   src + static_cast<size_t>((b * rows + s) * row) * elem, static_cast<size_t>(row) * elem);
    }
  }
  return ETP_OK;
}

// llama::fallback.out(Tensor input, *, Tensor(a!) output): a copy (ExecuTorch's model-sharding marker).
ETP_PORTABLE_KERNEL(fallback_out, "llama::fallback.out") {
  etp_tensor *in, *out;
  if (etp_status s = expect_args(c, 3)) return s;
  if (!tensor_arg(c, 0, &in) || !tensor_arg(c, 1, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (in->dtype != out->dtype) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: output dtype %s must equal the input's %s", c.op,
                etp_sdk::dtype_name(out->dtype), etp_sdk::dtype_name(in->dtype));
  }
  if (etp_status s = resize_out(c, out, in->rank, in->sizes)) return s;
  for (int32_t d = 0; d < in->rank; ++d) {
    if (in->sizes[d] != 1 && in->strides[d] != out->strides[d]) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: input and output must share a dim order", c.op);
    }
  }
  const size_t bytes = static_cast<size_t>(etp_sdk::numel(*in)) * etp_sdk::dtype_size(in->dtype);
  if (bytes > 0 && in->data != out->data) std::memmove(out->data, in->data, bytes);
  return ETP_OK;
}

}  // namespace

ETP_KERNEL_FAMILY(cache_kernels, ETP_ENTRY(update_cache_out), ETP_ENTRY(update_cache_with_indices_out),
                  ETP_ENTRY(fallback_out))

}  // namespace etp_llm
