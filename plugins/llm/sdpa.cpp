// Scaled dot-product attention of ExecuTorch's llama export (llama::custom_sdpa and
// llama::sdpa_with_kv_cache). Layout [batch, seq, heads, head_dim] for the queries and the K/V
// caches alike; grouped-query attention maps query head h to K/V head h / (Hq / Hkv).
// Without a mask the keys are cache rows [0, start_pos + S): rows beyond are never read, so a
// cache need not be cleared. With is_causal, query row r (position start_pos + r) sees keys
// 0 ..= start_pos + r. A float32 mask [S, Skv] is added after scaling and then every cache row is
// a key (start_pos is unused); a mask and is_causal together are refused, as in ExecuTorch.
// Scores are q.k * scale (default 1/sqrt(head_dim)) in float; the softmax subtracts the row
// maximum; a row whose keys are all masked gives NaN, as ExecuTorch's does. dropout_p is ignored
// (inference). float16 and bfloat16 load as float and round once on store.
#include <cmath>
#include <limits>
#include <vector>

#include "float16.h"
#include "kernel_util.h"
#include "llm.h"

namespace etp_llm {
namespace {

using namespace etp_portable;

struct Attention {
  const etp_tensor *q = nullptr, *k = nullptr, *v = nullptr, *mask = nullptr;
  etp_tensor* out = nullptr;
  int64_t start_pos = 0;
  bool causal = false;
  float scale = 0;
  int64_t num_keys = 0;  // keys each row may see at most (before the causal limit)
};

// The optional `float? scale` argument.
bool optional_scale(const Ctx& c, uint32_t i, bool* has, double* value) {
  *has = c.args[i]->tag != ETP_VALUE_NONE;
  return !*has || scalar_arg(c, i, value);
}

etp_status check(const Ctx& c, Attention* a, bool has_scale, double scale) {
  const etp_tensor &q = *a->q, &k = *a->k, &v = *a->v;
  if (etp_status s = check_4d_contiguous(c, q, "query")) return s;
  if (etp_status s = check_4d_contiguous(c, k, "key")) return s;
  if (etp_status s = check_4d_contiguous(c, v, "value")) return s;
  if (q.dtype != k.dtype || q.dtype != v.dtype ||
      (q.dtype != ETP_DTYPE_FLOAT32 && q.dtype != ETP_DTYPE_FLOAT16 && q.dtype != ETP_DTYPE_BFLOAT16)) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: query, key and value must share float32, float16 or bfloat16, got %s, %s, %s",
                c.op, etp_sdk::dtype_name(q.dtype), etp_sdk::dtype_name(k.dtype), etp_sdk::dtype_name(v.dtype));
  }
  const int64_t batch = q.sizes[0], heads = q.sizes[2], dim = q.sizes[3];
  const int64_t kv_heads = k.sizes[2], kv_rows = v.sizes[1];
  if (k.sizes[0] != batch || v.sizes[0] != batch || k.sizes[3] != dim || v.sizes[3] != dim || v.sizes[2] != kv_heads ||
      k.sizes[1] != kv_rows) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: key and value must be [%lld, rows, kv_heads, %lld] alike", c.op,
                static_cast<long long>(batch), static_cast<long long>(dim));
  }
  if (kv_heads <= 0 || heads % kv_heads != 0) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: %lld query heads are not a multiple of %lld key/value heads", c.op,
                static_cast<long long>(heads), static_cast<long long>(kv_heads));
  }
  if (a->mask != nullptr) {
    if (a->causal) return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: attn_mask and is_causal cannot be combined", c.op);
    const etp_tensor& m = *a->mask;
    if (m.dtype != ETP_DTYPE_FLOAT32 || m.rank != 2 || m.sizes[0] != q.sizes[1] || m.sizes[1] != kv_rows ||
        (m.sizes[1] != 1 && m.strides[1] != 1) || (m.sizes[0] != 1 && m.strides[0] != m.sizes[1])) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: attn_mask must be a contiguous float32 [%lld, %lld]", c.op,
                  static_cast<long long>(q.sizes[1]), static_cast<long long>(kv_rows));
    }
    a->num_keys = kv_rows;
  } else {
    if (a->start_pos < 0 || a->start_pos > kv_rows - q.sizes[1]) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: start_pos %lld with %lld queries reaches past %lld cached rows",
                  c.op, static_cast<long long>(a->start_pos), static_cast<long long>(q.sizes[1]),
                  static_cast<long long>(kv_rows));
    }
    a->num_keys = a->start_pos + q.sizes[1];
  }
  a->scale = static_cast<float>(has_scale ? scale : 1.0 / std::sqrt(static_cast<double>(dim)));
  if (a->out->dtype != q.dtype) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: out has dtype %s, expected the query's %s", c.op,
                etp_sdk::dtype_name(a->out->dtype), etp_sdk::dtype_name(q.dtype));
  }
  if (etp_status s = resize_out(c, a->out, 4, q.sizes)) return s;
  return check_4d_contiguous(c, *a->out, "out");
}

template <typename T>
void attend(const Attention& a) {
  const etp_tensor &q = *a.q, &k = *a.k, &v = *a.v;
  const int64_t batch = q.sizes[0], rows = q.sizes[1], heads = q.sizes[2], dim = q.sizes[3];
  const int64_t kv_heads = k.sizes[2], kv_rows = k.sizes[1], group = heads / kv_heads;
  const T* qd = static_cast<const T*>(q.data);
  const T* kd = static_cast<const T*>(k.data);
  const T* vd = static_cast<const T*>(v.data);
  const float* mask = a.mask ? static_cast<const float*>(a.mask->data) : nullptr;
  T* od = static_cast<T*>(a.out->data);
  thread_local std::vector<float> scores, acc, query;
  scores.resize(static_cast<size_t>(a.num_keys));
  acc.resize(static_cast<size_t>(dim));
  query.resize(static_cast<size_t>(dim));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t hk = h / group;
      for (int64_t r = 0; r < rows; ++r) {
        const T* qr = qd + ((b * rows + r) * heads + h) * dim;
        for (int64_t d = 0; d < dim; ++d) query[d] = static_cast<float>(qr[d]);
        const int64_t keys = a.causal ? std::min(a.start_pos + r + 1, a.num_keys) : a.num_keys;
        float max = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < keys; ++j) {
          const T* kr = kd + ((b * kv_rows + j) * kv_heads + hk) * dim;
          float dot = 0;
          for (int64_t d = 0; d < dim; ++d) dot += query[d] * static_cast<float>(kr[d]);
          float s = dot * a.scale;
          if (mask) s += mask[r * kv_rows + j];
          scores[j] = s;
          max = std::max(max, s);
        }
        for (int64_t d = 0; d < dim; ++d) acc[d] = 0;
        float sum = 0;
        if (max != -std::numeric_limits<float>::infinity()) {
          for (int64_t j = 0; j < keys; ++j) {
            const float p = std::exp(scores[j] - max);
            sum += p;
            const T* vr = vd + ((b * kv_rows + j) * kv_heads + hk) * dim;
            for (int64_t d = 0; d < dim; ++d) acc[d] += p * static_cast<float>(vr[d]);
          }
        }
        // A fully masked row: 0 * (1 / 0) is NaN, as ExecuTorch's.
        const float inv = 1.0f / sum;
        T* orow = od + ((b * rows + r) * heads + h) * dim;
        for (int64_t d = 0; d < dim; ++d) orow[d] = static_cast<T>(acc[d] * inv);
      }
    }
  }
}

// Attends after check() has accepted `a`.
etp_status attend_checked(const Attention& a) {
  if (etp_sdk::numel(*a.out) == 0) return ETP_OK;  // nothing to write, however many keys there are
  switch (a.q->dtype) {
    case ETP_DTYPE_FLOAT16: attend<Half>(a); break;
    case ETP_DTYPE_BFLOAT16: attend<BFloat16>(a); break;
    default: attend<float>(a); break;
  }
  return ETP_OK;
}

// llama::custom_sdpa.out(Tensor query, Tensor key, Tensor value, SymInt start_pos, Tensor? attn_mask=None,
//     float drpout_p=0., bool is_causal=False, float? scale=None, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(custom_sdpa_out, "llama::custom_sdpa.out") {
  Attention a;
  etp_tensor *q, *k, *v, *mask, *out;
  double dropout = 0, scale = 0;
  bool has_scale = false;
  if (etp_status s = expect_args(c, 10)) return s;
  if (!tensor_arg(c, 0, &q) || !tensor_arg(c, 1, &k) || !tensor_arg(c, 2, &v) || !int_arg(c, 3, &a.start_pos) ||
      !optional_tensor_arg(c, 4, &mask) || !scalar_arg(c, 5, &dropout) || !bool_arg(c, 6, &a.causal) ||
      !optional_scale(c, 7, &has_scale, &scale) || !tensor_arg(c, 8, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  a.q = q, a.k = k, a.v = v, a.mask = mask, a.out = out;
  if (etp_status s = check(c, &a, has_scale, scale)) return s;
  return attend_checked(a);
}

// llama::sdpa_with_kv_cache.out(Tensor query, Tensor key, Tensor value, Tensor(a!) key_cache,
//     Tensor(b!) value_cache, SymInt start_pos, SymInt seq_len, Tensor? attn_mask=None, float drpout_p=0.,
//     bool is_causal=False, float? scale=None, *, Tensor(c!) out): writes key and value into the caches at
//     start_pos (seq_len only bounds-checks, as in ExecuTorch), then attends over the caches.
ETP_PORTABLE_KERNEL(sdpa_with_kv_cache_out, "llama::sdpa_with_kv_cache.out") {
  Attention a;
  etp_tensor *q, *k, *v, *k_cache, *v_cache, *mask, *out;
  int64_t seq_len = 0;
  double dropout = 0, scale = 0;
  bool has_scale = false;
  if (etp_status s = expect_args(c, 13)) return s;
  if (!tensor_arg(c, 0, &q) || !tensor_arg(c, 1, &k) || !tensor_arg(c, 2, &v) || !tensor_arg(c, 3, &k_cache) ||
      !tensor_arg(c, 4, &v_cache) || !int_arg(c, 5, &a.start_pos) || !int_arg(c, 6, &seq_len) ||
      !optional_tensor_arg(c, 7, &mask) || !scalar_arg(c, 8, &dropout) || !bool_arg(c, 9, &a.causal) ||
      !optional_scale(c, 10, &has_scale, &scale) || !tensor_arg(c, 11, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (seq_len < 0 || k_cache->rank != 4 || a.start_pos < 0 || a.start_pos > k_cache->sizes[1] - seq_len) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: start_pos %lld + seq_len %lld reaches past the cache", c.op,
                static_cast<long long>(a.start_pos), static_cast<long long>(seq_len));
  }
  // Check everything before the caches (or out) change, so a refused call leaves them as they were.
  if (etp_status s = check_cache_write(c, *k, *k_cache, a.start_pos, "key_cache")) return s;
  if (etp_status s = check_cache_write(c, *v, *v_cache, a.start_pos, "value_cache")) return s;
  a.q = q, a.k = k_cache, a.v = v_cache, a.mask = mask, a.out = out;
  if (etp_status s = check(c, &a, has_scale, scale)) return s;
  copy_rows(*k, *k_cache, a.start_pos);
  copy_rows(*v, *v_cache, a.start_pos);
  return attend_checked(a);
}

}  // namespace

ETP_KERNEL_FAMILY(sdpa_kernels, ETP_ENTRY(custom_sdpa_out), ETP_ENTRY(sdpa_with_kv_cache_out))

}  // namespace etp_llm
