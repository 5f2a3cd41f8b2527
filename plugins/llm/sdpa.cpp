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
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
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
  int64_t num_keys = 0;   // keys each row may see at most (before the causal limit)
  bool seq_at_2 = false;  // [batch, heads, seq, head_dim] instead of [batch, seq, heads, head_dim]
  // custom_quantized_sdpa: int8 q, k, v with per-(token, head) zero points (int8) and scales (float32)
  const etp_tensor* zero_points[3] = {nullptr, nullptr, nullptr};
  const etp_tensor* scales[3] = {nullptr, nullptr, nullptr};

  // Sizes by meaning, whatever the layout.
  int64_t seq(const etp_tensor& t) const { return t.sizes[seq_at_2 ? 2 : 1]; }
  int64_t heads(const etp_tensor& t) const { return t.sizes[seq_at_2 ? 1 : 2]; }
  // Index of the head_dim row of (b, s, h) in a contiguous tensor with `rows` positions and `heads` heads.
  int64_t row(int64_t b, int64_t s, int64_t h, int64_t rows, int64_t nheads) const {
    return seq_at_2 ? (b * nheads + h) * rows + s : (b * rows + s) * nheads + h;
  }
};

// The optional `float? scale` argument.
bool optional_scale(const Ctx& c, uint32_t i, bool* has, double* value) {
  *has = c.args[i]->tag != ETP_VALUE_NONE;
  return !*has || scalar_arg(c, i, value);
}

etp_status check(const Ctx& c, Attention* a, bool has_scale, double scale, bool quantized = false) {
  const etp_tensor &q = *a->q, &k = *a->k, &v = *a->v;
  if (etp_status s = check_4d_contiguous(c, q, "query")) return s;
  if (etp_status s = check_4d_contiguous(c, k, "key")) return s;
  if (etp_status s = check_4d_contiguous(c, v, "value")) return s;
  const bool float_ok = q.dtype == ETP_DTYPE_FLOAT32 || q.dtype == ETP_DTYPE_FLOAT16 || q.dtype == ETP_DTYPE_BFLOAT16;
  if (q.dtype != k.dtype || q.dtype != v.dtype || (quantized ? q.dtype != ETP_DTYPE_INT8 : !float_ok)) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: query, key and value must share %s, got %s, %s, %s", c.op,
                quantized ? "int8" : "float32, float16 or bfloat16", etp_sdk::dtype_name(q.dtype),
                etp_sdk::dtype_name(k.dtype), etp_sdk::dtype_name(v.dtype));
  }
  const int64_t batch = q.sizes[0], heads = a->heads(q), dim = q.sizes[3];
  const int64_t kv_heads = a->heads(k), kv_rows = a->seq(v);
  if (k.sizes[0] != batch || v.sizes[0] != batch || k.sizes[3] != dim || v.sizes[3] != dim || a->heads(v) != kv_heads ||
      a->seq(k) != kv_rows) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: key and value must be [%lld, rows, kv_heads, %lld] alike", c.op,
                static_cast<long long>(batch), static_cast<long long>(dim));
  }
  if (kv_heads <= 0 || heads % kv_heads != 0) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: %lld query heads are not a multiple of %lld key/value heads", c.op,
                static_cast<long long>(heads), static_cast<long long>(kv_heads));
  }
  if (a->mask != nullptr) {
    if (a->causal)
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: attn_mask and is_causal cannot be combined", c.op);
    const etp_tensor& m = *a->mask;
    if (m.dtype != ETP_DTYPE_FLOAT32 || m.rank != 2 || m.sizes[0] != a->seq(q) || m.sizes[1] != kv_rows ||
        (m.sizes[1] != 1 && m.strides[1] != 1) || (m.sizes[0] != 1 && m.strides[0] != m.sizes[1])) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: attn_mask must be a contiguous float32 [%lld, %lld]", c.op,
                  static_cast<long long>(a->seq(q)), static_cast<long long>(kv_rows));
    }
    a->num_keys = kv_rows;
  } else {
    if (a->start_pos < 0 || a->start_pos > kv_rows - a->seq(q)) {
      return fail(
          c.host, ETP_ERR_INVALID_ARGUMENT, "%s: start_pos %lld with %lld queries reaches past %lld cached rows", c.op,
          static_cast<long long>(a->start_pos), static_cast<long long>(a->seq(q)), static_cast<long long>(kv_rows));
    }
    a->num_keys = a->start_pos + a->seq(q);
  }
  a->scale = static_cast<float>(has_scale ? scale : 1.0 / std::sqrt(static_cast<double>(dim)));
  const int32_t out_dtype = quantized ? ETP_DTYPE_FLOAT32 : q.dtype;
  if (a->out->dtype != out_dtype) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: out has dtype %s, expected %s", c.op, etp_sdk::dtype_name(a->out->dtype),
                etp_sdk::dtype_name(out_dtype));
  }
  if (quantized) {  // zero points int8 and scales float32, shaped like their tensor with a last dim of 1
    const etp_tensor* xs[3] = {a->q, a->k, a->v};
    static const char* const names[3] = {"q", "k", "v"};
    for (int i = 0; i < 3; ++i) {
      const etp_tensor *zp = a->zero_points[i], *sc = a->scales[i];
      if (zp == nullptr || sc == nullptr) {
        return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: %s_zero_points and %s_scales are required", c.op, names[i],
                    names[i]);
      }
      for (const etp_tensor* p : {zp, sc}) {
        bool same = p->rank == 4 && p->sizes[3] == 1;
        for (int32_t d = 0; same && d < 3; ++d) same = p->sizes[d] == xs[i]->sizes[d];
        if (!same) {
          return fail(c.host, ETP_ERR_SHAPE,
                      "%s: %s's quantization parameters must have its shape with a last dim of 1", c.op, names[i]);
        }
        if (etp_status s = check_4d_contiguous(c, *p, "a quantization parameter")) return s;
      }
      if (zp->dtype != ETP_DTYPE_INT8 || sc->dtype != ETP_DTYPE_FLOAT32) {
        return fail(c.host, ETP_ERR_DTYPE, "%s: %s_zero_points must be int8 and %s_scales float32, got %s and %s", c.op,
                    names[i], names[i], etp_sdk::dtype_name(zp->dtype), etp_sdk::dtype_name(sc->dtype));
      }
    }
  }
  if (etp_status s = resize_out(c, a->out, 4, q.sizes)) return s;
  return check_4d_contiguous(c, *a->out, "out");
}

// q.k over head_dim values, in eight partial sums the compiler keeps in vector registers.
inline float dot(const float* q, const float* k, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) s[l] += q[i + l] * k[i + l];
  }
  float tail = 0;
  for (; i < n; ++i) tail += q[i] * k[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + tail;
}

// The attention of one (batch, query head) over rows of head_dim values: `row(which, index,
// scratch)` gives row `index` (see Attention::row) of q (0), k (1) or v (2) as floats (in place
// for float32, else converted into scratch); `store(index, src)` writes an output row.
template <typename Row, typename Store>
void attend_head(const Attention& a, int64_t b, int64_t h, Row row, Store store) {
  const etp_tensor &q = *a.q, &k = *a.k;
  const int64_t rows = a.seq(q), heads = a.heads(q), dim = q.sizes[3];
  const int64_t kv_heads = a.heads(k), kv_rows = a.seq(k), hk = h / (heads / kv_heads);
  const float* mask = a.mask ? static_cast<const float*>(a.mask->data) : nullptr;
  thread_local std::vector<float> scores, acc, query, key;  // per worker thread, reused
  scores.resize(static_cast<size_t>(a.num_keys));
  acc.resize(static_cast<size_t>(dim));
  query.resize(static_cast<size_t>(dim));
  key.resize(static_cast<size_t>(dim));
  for (int64_t r = 0; r < rows; ++r) {
    const float* qr = row(0, a.row(b, r, h, rows, heads), query.data());
    const int64_t keys = a.causal ? std::min(a.start_pos + r + 1, a.num_keys) : a.num_keys;
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < keys; ++j) {
      float s = dot(qr, row(1, a.row(b, j, hk, kv_rows, kv_heads), key.data()), dim) * a.scale;
      if (mask) s += mask[r * kv_rows + j];
      scores[j] = s;
      max = std::max(max, s);
    }
    float* out = acc.data();
    for (int64_t d = 0; d < dim; ++d) out[d] = 0;
    float sum = 0;
    if (max != -std::numeric_limits<float>::infinity()) {
      for (int64_t j = 0; j < keys; ++j) {
        const float p = std::exp(scores[j] - max);
        sum += p;
        const float* vr = row(2, a.row(b, j, hk, kv_rows, kv_heads), key.data());
        for (int64_t d = 0; d < dim; ++d) out[d] += p * vr[d];
      }
    }
    // A fully masked row: 0 * (1 / 0) is NaN, as ExecuTorch's.
    const float inv = 1.0f / sum;
    for (int64_t d = 0; d < dim; ++d) out[d] *= inv;
    store(a.row(b, r, h, rows, heads), out);
  }
}

// Every (batch, query head) of `a`, on the plugin's thread pool when the work pays for it.
template <typename Row, typename Store>
void attend_rows(const Attention& a, Row row, Store store) {
  const int64_t batch = a.q->sizes[0], heads = a.heads(*a.q);
  const int64_t work = batch * heads * a.seq(*a.q) * a.num_keys * a.q->sizes[3];  // multiply-adds of q.k
  auto task = [&](size_t i) {
    attend_head(a, static_cast<int64_t>(i) / heads, static_cast<int64_t>(i) % heads, row, store);
  };
  parallel_for(static_cast<size_t>(batch * heads), work >= kParallelWork, task);
}

template <typename T>
void attend(const Attention& a) {
  const int64_t dim = a.q->sizes[3];
  const T* data[3] = {static_cast<const T*>(a.q->data), static_cast<const T*>(a.k->data),
                      static_cast<const T*>(a.v->data)};
  T* out = static_cast<T*>(a.out->data);
  attend_rows(
      a,
      [&](int which, int64_t index, float* scratch) -> const float* {
        const T* src = data[which] + index * dim;
        if constexpr (std::is_same_v<T, float>) {
          return src;
        } else {
          for (int64_t d = 0; d < dim; ++d) scratch[d] = static_cast<float>(src[d]);
          return scratch;
        }
      },
      [&](int64_t index, const float* src) {
        for (int64_t d = 0; d < dim; ++d) out[index * dim + d] = static_cast<T>(src[d]);
      });
}

// int8 rows dequantized with their (token, head) zero point and scale: (x - zp) * scale.
void attend_quantized(const Attention& a) {
  const int64_t dim = a.q->sizes[3];
  const etp_tensor* xs[3] = {a.q, a.k, a.v};
  float* out = static_cast<float*>(a.out->data);
  attend_rows(
      a,
      [&](int which, int64_t index, float* scratch) -> const float* {
        const int8_t* src = static_cast<const int8_t*>(xs[which]->data) + index * dim;
        const float zp = static_cast<const int8_t*>(a.zero_points[which]->data)[index];
        const float sc = static_cast<const float*>(a.scales[which]->data)[index];
        for (int64_t d = 0; d < dim; ++d) scratch[d] = (static_cast<float>(src[d]) - zp) * sc;
        return scratch;
      },
      [&](int64_t index, const float* src) {
        for (int64_t d = 0; d < dim; ++d) out[index * dim + d] = src[d];
      });
}

// Attends after check() has accepted `a`.
etp_status attend_checked(const Attention& a) {
  if (etp_sdk::numel(*a.out) == 0) return ETP_OK;  // nothing to write, however many keys there are
  switch (a.q->dtype) {
    case ETP_DTYPE_INT8: attend_quantized(a); break;
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

// llama::custom_quantized_sdpa.out(Tensor query, Tensor key, Tensor value, SymInt start_pos,
//     Tensor? attn_mask=None, float drpout_p=0., bool is_causal=False, float? scale=None,
//     Tensor? q_zero_points=None, Tensor? q_scales=None, Tensor? k_zero_points=None, Tensor? k_scales=None,
//     Tensor? v_zero_points=None, Tensor? v_scales=None, bool is_seq_at_dim_2=False, *, Tensor(a!) out):
//     custom_sdpa over int8 q, k, v dequantized per (token, head); float32 out of the query's shape.
//     Every zero point and scale is required (ExecuTorch's check means to; it tests q twice).
ETP_PORTABLE_KERNEL(custom_quantized_sdpa_out, "llama::custom_quantized_sdpa.out") {
  Attention a;
  etp_tensor *q, *k, *v, *mask, *out, *params[6];
  double dropout = 0, scale = 0;
  bool has_scale = false;
  if (etp_status s = expect_args(c, 17)) return s;
  if (!tensor_arg(c, 0, &q) || !tensor_arg(c, 1, &k) || !tensor_arg(c, 2, &v) || !int_arg(c, 3, &a.start_pos) ||
      !optional_tensor_arg(c, 4, &mask) || !scalar_arg(c, 5, &dropout) || !bool_arg(c, 6, &a.causal) ||
      !optional_scale(c, 7, &has_scale, &scale) || !bool_arg(c, 14, &a.seq_at_2) || !tensor_arg(c, 15, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  for (uint32_t i = 0; i < 6; ++i) {
    if (!optional_tensor_arg(c, 8 + i, &params[i])) return ETP_ERR_INVALID_ARGUMENT;
  }
  a.q = q, a.k = k, a.v = v, a.mask = mask, a.out = out;
  for (int i = 0; i < 3; ++i) {
    a.zero_points[i] = params[2 * i];
    a.scales[i] = params[2 * i + 1];
  }
  if (etp_status s = check(c, &a, has_scale, scale, /*quantized=*/true)) return s;
  return attend_checked(a);
}

}  // namespace

ETP_KERNEL_FAMILY(sdpa_kernels, ETP_ENTRY(custom_sdpa_out), ETP_ENTRY(sdpa_with_kv_cache_out),
                  ETP_ENTRY(custom_quantized_sdpa_out))

}  // namespace etp_llm
