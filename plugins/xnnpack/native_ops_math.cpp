// Matrix kernels: batch matrix multiply, scaled dot-product attention.
#include <cmath>
#include <cstring>
#include <limits>

#include "native_ops.h"

namespace etp_xnnpack::native {
namespace {

// out[M, N] = a[M, K] * b[K, N]: i-k-j order so the inner loop streams rows of b and out.
void matmul(const float* a, const float* b, float* out, size_t m, size_t k, size_t n) {
  for (size_t i = 0; i < m; ++i) {
    float* o = out + i * n;
    for (size_t j = 0; j < n; ++j) o[j] = 0.0f;
    const float* a_row = a + i * k;
    for (size_t p = 0; p < k; ++p) {
      const float av = a_row[p];
      const float* b_row = b + p * n;
      for (size_t j = 0; j < n; ++j) o[j] += av * b_row[j];
    }
  }
}

// out[M, N] = a[M, K] * b[N, K]^T: each output is a dot product of two contiguous rows.
void matmul_transposed_b(const float* a, const float* b, float* out, size_t m, size_t k, size_t n) {
  for (size_t i = 0; i < m; ++i) {
    const float* a_row = a + i * k;
    for (size_t j = 0; j < n; ++j) {
      const float* b_row = b + j * k;
      float acc = 0.0f;
      for (size_t p = 0; p < k; ++p) acc += a_row[p] * b_row[p];
      out[i * n + j] = acc;
    }
  }
}

// Strides (in whole matrices) of one operand's batch dims against the broadcast batch shape: 0
// where the operand has size 1 or lacks the dim (it is right-aligned, like numpy).
void batch_strides(size_t rank, const size_t* dims, size_t out_batch_rank, size_t* strides) {
  const size_t batch_rank = rank - 2;
  const size_t pad = out_batch_rank - batch_rank;
  size_t stride = 1;
  for (size_t i = out_batch_rank; i-- > 0;) {
    if (i < pad) {
      strides[i] = 0;
      continue;
    }
    const size_t d = dims[i - pad];
    strides[i] = d == 1 ? 0 : stride;
    stride *= d;
  }
}

}  // namespace

bool batch_matmul_output_dims(size_t a_rank, const size_t* a_dims, size_t b_rank, const size_t* b_dims,
                              bool transpose_b, size_t* out_rank, size_t* out_dims) {
  if (a_rank < 2 || b_rank < 2 || a_rank > kMaxRank || b_rank > kMaxRank) return false;
  const size_t k = a_dims[a_rank - 1];
  const size_t b_k = transpose_b ? b_dims[b_rank - 1] : b_dims[b_rank - 2];
  if (k != b_k) return false;
  const size_t rank = a_rank > b_rank ? a_rank : b_rank;
  const size_t batch_rank = rank - 2;
  for (size_t i = 0; i < batch_rank; ++i) {
    // Right-aligned batch dims; a missing dim counts as 1.
    const size_t from_end = batch_rank - i;  // 1-based position from the end of the batch dims
    const size_t ad = from_end <= a_rank - 2 ? a_dims[a_rank - 2 - from_end] : 1;
    const size_t bd = from_end <= b_rank - 2 ? b_dims[b_rank - 2 - from_end] : 1;
    if (ad != bd && ad != 1 && bd != 1) return false;
    out_dims[i] = ad == 1 ? bd : ad;
  }
  out_dims[batch_rank] = a_dims[a_rank - 2];
  out_dims[batch_rank + 1] = transpose_b ? b_dims[b_rank - 2] : b_dims[b_rank - 1];
  *out_rank = rank;
  return true;
}

bool batch_matmul(const float* a, size_t a_rank, const size_t* a_dims, const float* b, size_t b_rank,
                  const size_t* b_dims, bool transpose_b, float* out) {
  size_t out_rank = 0;
  size_t out_dims[kMaxRank];
  if (!batch_matmul_output_dims(a_rank, a_dims, b_rank, b_dims, transpose_b, &out_rank, out_dims)) return false;
  const size_t batch_rank = out_rank - 2;
  const size_t m = out_dims[batch_rank];
  const size_t n = out_dims[batch_rank + 1];
  const size_t k = a_dims[a_rank - 1];
  const size_t batches = numel(batch_rank, out_dims);
  if (batches == 0 || m == 0 || n == 0) return true;
  size_t a_strides[kMaxRank], b_strides[kMaxRank];
  batch_strides(a_rank, a_dims, batch_rank, a_strides);
  batch_strides(b_rank, b_dims, batch_rank, b_strides);
  const size_t a_matrix = m * k, b_matrix = k * n, out_matrix = m * n;
  size_t idx[kMaxRank] = {};
  size_t a_batch = 0, b_batch = 0;  // current batch index of each operand, in matrices
  for (size_t bi = 0; bi < batches; ++bi) {
    const float* am = a + a_batch * a_matrix;
    const float* bm = b + b_batch * b_matrix;
    float* om = out + bi * out_matrix;
    if (transpose_b) {
      matmul_transposed_b(am, bm, om, m, k, n);
    } else {
      matmul(am, bm, om, m, k, n);
    }
    for (size_t d = batch_rank; d-- > 0;) {
      if (++idx[d] < out_dims[d]) {
        a_batch += a_strides[d];
        b_batch += b_strides[d];
        break;
      }
      a_batch -= (out_dims[d] - 1) * a_strides[d];
      b_batch -= (out_dims[d] - 1) * b_strides[d];
      idx[d] = 0;
    }
  }
  return true;
}

namespace {

// One attention row: out[D] = softmax_u(q.scale.k_u + mask_u) . v_u, computed in a single pass
// over the keys with a running maximum (online softmax), so no scratch buffer is needed.
void attention_row(const float* q, const float* scale, const float* k, const float* v, const float* mask,
                   size_t c, size_t u_count, size_t d_count, float* out) {
  float running_max = -std::numeric_limits<float>::infinity();
  float denominator = 0.0f;
  for (size_t d = 0; d < d_count; ++d) out[d] = 0.0f;
  for (size_t u = 0; u < u_count; ++u) {
    const float* k_row = k + u * c;
    float logit = 0.0f;
    for (size_t i = 0; i < c; ++i) logit += (q[i] * scale[i]) * k_row[i];
    if (mask != nullptr) logit += mask[u];
    if (logit == -std::numeric_limits<float>::infinity()) continue;  // weight exactly 0
    if (logit > running_max) {
      // Rescale what has been accumulated so far to the new maximum.
      const float factor = std::exp(running_max - logit);
      denominator *= factor;
      for (size_t d = 0; d < d_count; ++d) out[d] *= factor;
      running_max = logit;
    }
    const float weight = std::exp(logit - running_max);  // NaN logits propagate from here
    denominator += weight;
    const float* v_row = v + u * d_count;
    for (size_t d = 0; d < d_count; ++d) out[d] += weight * v_row[d];
  }
  // All logits -inf (or no keys): 0/0 = NaN, as a softmax over such a row gives.
  for (size_t d = 0; d < d_count; ++d) out[d] /= denominator;
}

}  // namespace

bool scaled_dot_product_attention(const float* query, size_t q_rank, const size_t* q_dims, const float* key,
                                  const float* value, size_t kv_rank, const size_t* k_dims, const size_t* v_dims,
                                  const float* scale, const float* mask, float* out) {
  if (q_rank < 3 || q_rank > kMaxRank) return false;
  const bool multi_query = kv_rank + 1 == q_rank;
  if (!multi_query && kv_rank != q_rank) return false;
  const size_t batch_rank = q_rank - 3;
  for (size_t i = 0; i < batch_rank; ++i) {
    if (k_dims[i] != q_dims[i] || v_dims[i] != q_dims[i]) return false;
  }
  const size_t heads = q_dims[batch_rank], t_count = q_dims[batch_rank + 1], c = q_dims[batch_rank + 2];
  if (!multi_query && (k_dims[batch_rank] != heads || v_dims[batch_rank] != heads)) return false;
  const size_t u_count = k_dims[kv_rank - 2];
  const size_t d_count = v_dims[kv_rank - 1];
  if (k_dims[kv_rank - 1] != c || v_dims[kv_rank - 2] != u_count) return false;

  const size_t batches = numel(batch_rank, q_dims);
  for (size_t b = 0; b < batches; ++b) {
    for (size_t h = 0; h < heads; ++h) {
      const size_t bh = b * heads + h;
      const size_t kv_index = multi_query ? b : bh;
      const float* k = key + kv_index * u_count * c;
      const float* v = value + kv_index * u_count * d_count;
      for (size_t t = 0; t < t_count; ++t) {
        const float* q = query + (bh * t_count + t) * c;
        const float* mask_row = mask != nullptr ? mask + t * u_count : nullptr;
        attention_row(q, scale, k, v, mask_row, c, u_count, d_count, out + (bh * t_count + t) * d_count);
      }
    }
  }
  return true;
}

}  // namespace etp_xnnpack::native
