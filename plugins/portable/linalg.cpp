// Matrix products (mm, bmm, addmm, baddbmm, linear) and distances (_pdist_forward, _cdist_forward). One strided batched
// kernel serves all of them, so operands may have any dim order; accumulation is in the operands' dtype like
// ExecuTorch's portable kernels. All tensors must share one real dtype (bool is rejected).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels.h"
#include "movement_util.h"
#include "pointwise_util.h"

namespace etp_portable {
namespace {

using namespace movement;

// A batch of matrices: element (b, r, c) lives at data[b*sb + r*sr + c*sc].
template <typename T>
struct Mat {
  T* data;
  int64_t sb, sr, sc;
};

// Four float lanes (GCC/clang vector extension: SSE on any x86-64, NEON on arm64). A product then
// a sum, never fused, exactly like the scalar loop.
typedef float f32x4 __attribute__((vector_size(16)));

inline f32x4 load4(const float* p) {
  f32x4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// A full 4 x 8 float tile: 8 vector accumulators in registers, each w row segment loaded once.
inline void matmul_tile_f32(const float* abase, int64_t asr, int64_t asc, const float* wbase, int64_t wsr, int64_t k,
                            float (*acc)[8]) {
  f32x4 c00{}, c01{}, c10{}, c11{}, c20{}, c21{}, c30{}, c31{};
  for (int64_t p = 0; p < k; ++p) {
    const float* wp = wbase + p * wsr;
    const f32x4 w0 = load4(wp), w1 = load4(wp + 4);
    const float* ap = abase + p * asc;
    const f32x4 x0 = f32x4{} + ap[0], x1 = f32x4{} + ap[asr], x2 = f32x4{} + ap[2 * asr], x3 = f32x4{} + ap[3 * asr];
    c00 += x0 * w0;
    c01 += x0 * w1;
    c10 += x1 * w0;
    c11 += x1 * w1;
    c20 += x2 * w0;
    c21 += x2 * w1;
    c30 += x3 * w0;
    c31 += x3 * w1;
  }
  const f32x4* rows[4][2] = {{&c00, &c01}, {&c10, &c11}, {&c20, &c21}, {&c30, &c31}};
  for (int r = 0; r < 4; ++r) {
    std::memcpy(acc[r], rows[r][0], sizeof(f32x4));
    std::memcpy(acc[r] + 4, rows[r][1], sizeof(f32x4));
  }
}

// acc += x * y, wrapping in int32/int64 as PyTorch does (a signed overflow otherwise); other
// types compute exactly as written.
template <typename T>
inline void mul_add(T& acc, T x, T y) {
  if constexpr (kWraps<T>) {
    acc = wrap_add(acc, wrap_mul(x, y));
  } else {
    acc += x * y;
  }
}

// One R x C tile of o = a * w: rows [i0, i0 + rows) and columns [j0, j0 + cols) of batch b, with
// rows <= R and cols <= C, each w row segment read once for all its rows.
template <int64_t R, int64_t C, typename T, typename Finish>
void matmul_tile(int64_t b, int64_t i0, int64_t j0, int64_t rows, int64_t cols, int64_t k, Mat<const T> a,
                 Mat<const T> w, Mat<T> o, Finish& finish) {
  T acc[R][C] = {};
  const T* abase = a.data + b * a.sb + i0 * a.sr;
  const T* wbase = w.data + b * w.sb + j0;
  if constexpr (std::is_same_v<T, float> && R == 4 && C == 8) {
    if (rows == R && cols == C) {
      matmul_tile_f32(abase, a.sr, a.sc, wbase, w.sr, k, acc);
      for (int64_t r = 0; r < R; ++r) {
        T* orow = o.data + b * o.sb + (i0 + r) * o.sr + j0;
        for (int64_t c = 0; c < C; ++c) orow[c] = finish(acc[r][c], b, i0 + r, j0 + c);
      }
      return;
    }
  }
  if (rows == R && cols == C) {
    for (int64_t p = 0; p < k; ++p) {
      const T* wp = wbase + p * w.sr;
      for (int64_t r = 0; r < R; ++r) {
        const T x = abase[r * a.sr + p * a.sc];
        for (int64_t c = 0; c < C; ++c) mul_add(acc[r][c], x, wp[c]);
      }
    }
  } else {
    for (int64_t p = 0; p < k; ++p) {
      const T* wp = wbase + p * w.sr;
      for (int64_t r = 0; r < rows; ++r) {
        const T x = abase[r * a.sr + p * a.sc];
        for (int64_t c = 0; c < cols; ++c) mul_add(acc[r][c], x, wp[c]);
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    T* orow = o.data + b * o.sb + (i0 + r) * o.sr + j0;
    for (int64_t c = 0; c < cols; ++c) orow[c] = finish(acc[r][c], b, i0 + r, j0 + c);
  }
}

// o[b, i, j] = finish(sum_k a[b, i, k] * w[b, k, j], b, i, j) for every b < B, i < n, j < m.
// Every sum runs over k in order from 0 whichever loop computes it, so both paths give the same
// bits (and the same as ExecuTorch's portable kernel's loop). When w's and o's rows are
// contiguous, o is computed in register tiles of 4 rows x 8 columns, which vectorize over the
// columns; otherwise as one dot product per element. Tiles (or rows) spread over the host's
// thread pool when the product is large (parallel_range); each is computed by one thread.
template <typename T, typename Finish>
void batched_matmul(const etp_host_api* host, int64_t B, int64_t n, int64_t k, int64_t m, Mat<const T> a,
                    Mat<const T> w, Mat<T> o, Finish finish) {
  if (w.sc == 1 && o.sc == 1 && m > 1) {
    constexpr int64_t R = 4, C = 8;
    const int64_t row_tiles = (n + R - 1) / R, col_tiles = (m + C - 1) / C;
    // Tile t is (b, row tile, column tile) with the column fastest: the serial order.
    parallel_range(host, B * row_tiles * col_tiles, R * C * k, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t b = t / (row_tiles * col_tiles), i0 = t / col_tiles % row_tiles * R, j0 = t % col_tiles * C;
        matmul_tile<R, C>(b, i0, j0, std::min(R, n - i0), std::min(C, m - j0), k, a, w, o, finish);
      }
    });
    return;
  }
  parallel_range(host, B * n, m * k, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t b = r / n, i = r % n;
      const T* arow = a.data + b * a.sb + i * a.sr;
      for (int64_t j = 0; j < m; ++j) {
        const T* wcol = w.data + b * w.sb + j * w.sc;
        T acc = T(0);
        for (int64_t p = 0; p < k; ++p) mul_add(acc, arow[p * a.sc], wcol[p * w.sr]);
        o.data[b * o.sb + i * o.sr + j * o.sc] = finish(acc, b, i, j);
      }
    }
  });
}

etp_status check_rank(const Ctx& c, const etp_tensor& t, int32_t rank, const char* what) {
  if (t.rank != rank) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: %s must have rank %d, got %d", c.op, what, rank, t.rank);
  }
  return ETP_OK;
}

etp_status check_inner(const Ctx& c, int64_t a, int64_t b) {
  if (a != b) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: inner dimensions differ (%lld vs %lld)", c.op, static_cast<long long>(a),
                static_cast<long long>(b));
  }
  return ETP_OK;
}

// Checks that `self` broadcasts to `sizes` (rank `rank`) and writes its broadcast strides.
etp_status broadcast_self(const Ctx& c, const etp_tensor& self, int32_t rank, const int64_t* sizes, int64_t* strides) {
  bool ok = self.rank <= rank;
  for (int32_t d = 0; ok && d < self.rank; ++d) {
    const int64_t s = self.sizes[d], t = sizes[d + rank - self.rank];
    ok = s == t || s == 1;
  }
  if (!ok) return fail(c.host, ETP_ERR_SHAPE, "%s: self does not broadcast to the product's shape", c.op);
  broadcast_strides(self, rank, strides);
  return ETP_OK;
}

// Shared body of mm/bmm/addmm/baddbmm. a: [B?, n, k], w: [B?, k, m]; `self` (optional) is
// added as beta*self + alpha*product. `batched` selects the rank-3 forms.
etp_status matmul_op(const Ctx& c, const etp_tensor* self, const etp_tensor& a, const etp_tensor& w, double beta,
                     double alpha, bool batched, etp_tensor* out) {
  const int32_t rank = batched ? 3 : 2;
  if (etp_status s = check_rank(c, a, rank, "the first matrix")) return s;
  if (etp_status s = check_rank(c, w, rank, "the second matrix")) return s;
  const int32_t off = batched ? 1 : 0;
  const int64_t B = batched ? a.sizes[0] : 1, n = a.sizes[off], k = a.sizes[off + 1], m = w.sizes[off + 1];
  if (etp_status s = check_inner(c, k, w.sizes[off])) return s;
  if (batched && w.sizes[0] != B) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: batch sizes differ (%lld vs %lld)", c.op, static_cast<long long>(B),
                static_cast<long long>(w.sizes[0]));
  }
  if (etp_status s = same_dtype(c, w, a.dtype, "the second matrix")) return s;
  if (etp_status s = same_dtype(c, *out, a.dtype, "out")) return s;
  if (self != nullptr) {
    if (etp_status s = same_dtype(c, *self, a.dtype, "self")) return s;
  }
  const int64_t sizes[3] = {B, n, m};
  const int64_t* out_sizes = batched ? sizes : sizes + 1;
  int64_t self_strides[3] = {0, 0, 0};  // [batch, row, col]; zero when broadcast
  if (self != nullptr) {
    if (etp_status s = broadcast_self(c, *self, rank, out_sizes, self_strides + (batched ? 0 : 1))) return s;
  }
  if (etp_status s = resize_out(c, out, rank, out_sizes)) return s;
  return dispatch_real(c, a.dtype, [&](auto zero) {
    using T = decltype(zero);
    const Mat<const T> ma{static_cast<const T*>(a.data), batched ? a.strides[0] : 0, a.strides[off],
                          a.strides[off + 1]};
    const Mat<const T> mw{static_cast<const T*>(w.data), batched ? w.strides[0] : 0, w.strides[off],
                          w.strides[off + 1]};
    const Mat<T> mo{static_cast<T*>(out->data), batched ? out->strides[0] : 0, out->strides[off],
                    out->strides[off + 1]};
    if (self == nullptr) {
      batched_matmul<T>(c.host, B, n, k, m, ma, mw, mo, [](T acc, int64_t, int64_t, int64_t) { return acc; });
      return ETP_OK;
    }
    const T* sd = static_cast<const T*>(self->data);
    const T tb = convert<T>(beta), ta = convert<T>(alpha);
    // beta == 0 ignores self entirely (NaN/inf in self do not propagate), as in PyTorch.
    batched_matmul<T>(c.host, B, n, k, m, ma, mw, mo, [&](T acc, int64_t b, int64_t i, int64_t j) {
      const int64_t at = b * self_strides[0] + i * self_strides[1] + j * self_strides[2];
      if constexpr (kWraps<T>) {  // int32/int64 wrap, as PyTorch
        const T prod = wrap_mul(ta, acc);
        return beta == 0 ? prod : wrap_add(wrap_mul(tb, sd[at]), prod);
      } else {
        const T prod = static_cast<T>(ta * acc);
        return beta == 0 ? prod : static_cast<T>(tb * sd[at] + prod);
      }
    });
    return ETP_OK;
  });
}

// aten::mm.out(Tensor self, Tensor mat2, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(mm_out, "aten::mm.out") {
  etp_tensor *a, *w, *out;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_arg(c, 0, &a) || !tensor_arg(c, 1, &w) || !tensor_arg(c, 2, &out)) return ETP_ERR_INVALID_ARGUMENT;
  return matmul_op(c, nullptr, *a, *w, 0, 1, /*batched=*/false, out);
}

// aten::bmm.out(Tensor self, Tensor mat2, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(bmm_out, "aten::bmm.out") {
  etp_tensor *a, *w, *out;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_arg(c, 0, &a) || !tensor_arg(c, 1, &w) || !tensor_arg(c, 2, &out)) return ETP_ERR_INVALID_ARGUMENT;
  return matmul_op(c, nullptr, *a, *w, 0, 1, /*batched=*/true, out);
}

// Shared argument reading of addmm/baddbmm:
// (Tensor self, Tensor m1, Tensor m2, *, Scalar beta=1, Scalar alpha=1, Tensor(a!) out)
etp_status add_matmul(const Ctx& c, bool batched) {
  etp_tensor *self, *a, *w, *out;
  double beta = 1, alpha = 1;
  if (etp_status s = expect_args(c, 7)) return s;
  if (!tensor_arg(c, 0, &self) || !tensor_arg(c, 1, &a) || !tensor_arg(c, 2, &w) || !scalar_arg(c, 3, &beta) ||
      !scalar_arg(c, 4, &alpha) || !tensor_arg(c, 5, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  return matmul_op(c, self, *a, *w, beta, alpha, batched, out);
}

ETP_PORTABLE_KERNEL(addmm_out, "aten::addmm.out") { return add_matmul(c, /*batched=*/false); }
ETP_PORTABLE_KERNEL(baddbmm_out, "aten::baddbmm.out") { return add_matmul(c, /*batched=*/true); }

// aten::linear.out(Tensor input, Tensor weight, Tensor? bias=None, *, Tensor(a!) out):
// out[..., j] = sum_k input[..., k] * weight[j, k] + bias[j].
ETP_PORTABLE_KERNEL(linear_out, "aten::linear.out") {
  etp_tensor *in, *w, *bias, *out;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &in) || !tensor_arg(c, 1, &w) || !optional_tensor_arg(c, 2, &bias) || !tensor_arg(c, 3, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (in->rank < 1) return fail(c.host, ETP_ERR_SHAPE, "%s: input must have rank >= 1", c.op);
  if (etp_status s = check_rank(c, *w, 2, "weight")) return s;
  const int32_t lead = in->rank - 1;
  const int64_t k = in->sizes[lead], n = w->sizes[0];
  if (etp_status s = check_inner(c, k, w->sizes[1])) return s;
  if (etp_status s = same_dtype(c, *w, in->dtype, "weight")) return s;
  if (etp_status s = same_dtype(c, *out, in->dtype, "out")) return s;
  int64_t bias_stride = 0;
  if (bias != nullptr) {
    if (etp_status s = same_dtype(c, *bias, in->dtype, "bias")) return s;
    const bool ok = bias->rank == 0 || (bias->rank == 1 && (bias->sizes[0] == n || bias->sizes[0] == 1));
    if (!ok)
      return fail(c.host, ETP_ERR_SHAPE, "%s: bias must have shape [%lld] or [1]", c.op, static_cast<long long>(n));
    bias_stride = bias->rank == 1 && bias->sizes[0] == n ? bias->strides[0] : 0;
  }
  int64_t sizes[ETP_MAX_RANK] = {0};
  for (int32_t d = 0; d < lead; ++d) sizes[d] = in->sizes[d];
  sizes[lead] = n;
  if (etp_status s = resize_out(c, out, in->rank, sizes)) return s;
  return dispatch_real(c, in->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(in->data);
    const T* wd = static_cast<const T*>(w->data);
    const T* bd = bias ? static_cast<const T*>(bias->data) : nullptr;
    T* o = static_cast<T*>(out->data);
    const int64_t xs = in->strides[lead], os = out->strides[lead], w0 = w->strides[0], w1 = w->strides[1];
    // One row of the leading index space at a time.
    for_each_strided(lead, in->sizes, out->strides, in->strides, nullptr, [&](int64_t ob, int64_t xb, int64_t) {
      for (int64_t j = 0; j < n; ++j) {
        T acc = T(0);
        for (int64_t p = 0; p < k; ++p) mul_add(acc, x[xb + p * xs], wd[j * w0 + p * w1]);
        o[ob + j * os] = bd ? wrap_add(acc, bd[j * bias_stride]) : acc;
      }
    });
    return ETP_OK;
  });
}

// ---------------------------------------------------------------------------------------------
// Distances: _pdist_forward (rows of one matrix) and _cdist_forward (rows of two batches).

// The p-norm distance of two rows of `m` elements: p = 0 counts the differing elements, p = inf
// takes the largest difference, otherwise (sum |d|^p)^(1/p). Accumulated in double.
template <typename T>
double row_distance(const T* a, int64_t sa, const T* b, int64_t sb, int64_t m, double p) {
  double acc = 0;
  for (int64_t k = 0; k < m; ++k) {
    const double d = std::fabs(static_cast<double>(a[k * sa]) - static_cast<double>(b[k * sb]));
    if (p == 0) {
      acc += d != 0 ? 1 : 0;
    } else if (std::isinf(p)) {
      acc = std::max(acc, d);
    } else if (p == 1) {
      acc += d;
    } else if (p == 2) {
      acc += d * d;
    } else {
      acc += std::pow(d, p);
    }
  }
  if (p == 0 || p == 1 || std::isinf(p)) return acc;
  return p == 2 ? std::sqrt(acc) : std::pow(acc, 1.0 / p);
}

bool check_p(const Ctx& c, double p) {
  if (p >= 0) return true;  // NaN fails too
  fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: p must be >= 0, got %g", c.op, p);
  return false;
}

// aten::_pdist_forward.out(Tensor self, float p=2, *, Tensor(a!) out): for an [N, M] input, the
// N(N-1)/2 distances between rows i < j, in row-major (i, j) order.
ETP_PORTABLE_KERNEL(pdist_forward_out, "aten::_pdist_forward.out") {
  etp_tensor *in, *out;
  double p = 2;
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_arg(c, 0, &in) || !scalar_arg(c, 1, &p) || !tensor_arg(c, 2, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (!check_p(c, p)) return ETP_ERR_INVALID_ARGUMENT;
  if (in->rank != 2) return fail(c.host, ETP_ERR_SHAPE, "%s: input must be 2-D [N, M], got rank %d", c.op, in->rank);
  if (etp_status s = same_dtype(c, *out, in->dtype, "out")) return s;
  const int64_t n = in->sizes[0], m = in->sizes[1], pairs = n * (n - 1) / 2;
  if (etp_status s = resize_out(c, out, 1, &pairs)) return s;
  return dispatch_float(c, in->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(in->data);
    T* o = static_cast<T*>(out->data);
    int64_t next = 0;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = i + 1; j < n; ++j) {
        o[next++ * out->strides[0]] = static_cast<T>(
            row_distance(x + i * in->strides[0], in->strides[1], x + j * in->strides[0], in->strides[1], m, p));
      }
    }
    return ETP_OK;
  });
}

// aten::_cdist_forward.out(Tensor x1, Tensor x2, float p, int? compute_mode, *, Tensor(a!) out):
// x1 [B..., P, M] and x2 [B..., R, M] (batch dims broadcast) give [B..., P, R] distances.
// compute_mode only picks a matrix-product shortcut in PyTorch; the result is the same here.
ETP_PORTABLE_KERNEL(cdist_forward_out, "aten::_cdist_forward.out") {
  etp_tensor *x1, *x2, *out;
  double p = 2;
  if (etp_status s = expect_args(c, 6)) return s;
  if (!tensor_arg(c, 0, &x1) || !tensor_arg(c, 1, &x2) || !scalar_arg(c, 2, &p) || !tensor_arg(c, 4, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (!check_p(c, p)) return ETP_ERR_INVALID_ARGUMENT;
  if (x1->rank < 2 || x2->rank < 2 || x1->sizes[x1->rank - 1] != x2->sizes[x2->rank - 1]) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: x1 [..., P, M] and x2 [..., R, M] need rank >= 2 and one M", c.op);
  }
  if (etp_status s = same_dtype(c, *x2, x1->dtype, "x2")) return s;
  if (etp_status s = same_dtype(c, *out, x1->dtype, "out")) return s;
  // The batch dims broadcast like two tensors of those dims.
  etp_tensor b1 = *x1, b2 = *x2;
  b1.rank -= 2;
  b2.rank -= 2;
  int32_t batch_rank = 0;
  int64_t sizes[ETP_MAX_RANK] = {0}, s1[ETP_MAX_RANK] = {0}, s2[ETP_MAX_RANK] = {0};
  if (!broadcast_shape(c, b1, b2, &batch_rank, sizes)) return ETP_ERR_SHAPE;
  if (batch_rank + 2 > ETP_MAX_RANK) return fail(c.host, ETP_ERR_SHAPE, "%s: rank too large", c.op);
  broadcast_strides(b1, batch_rank, s1);
  broadcast_strides(b2, batch_rank, s2);
  const int64_t rows1 = x1->sizes[x1->rank - 2], rows2 = x2->sizes[x2->rank - 2], m = x1->sizes[x1->rank - 1];
  sizes[batch_rank] = rows1;
  sizes[batch_rank + 1] = rows2;
  if (etp_status s = resize_out(c, out, batch_rank + 2, sizes)) return s;
  return dispatch_float(c, x1->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* a = static_cast<const T*>(x1->data);
    const T* b = static_cast<const T*>(x2->data);
    T* o = static_cast<T*>(out->data);
    const int64_t a_row = x1->strides[x1->rank - 2], a_col = x1->strides[x1->rank - 1];
    const int64_t b_row = x2->strides[x2->rank - 2], b_col = x2->strides[x2->rank - 1];
    const int64_t o_row = out->strides[batch_rank], o_col = out->strides[batch_rank + 1];
    for_each_strided(batch_rank, sizes, out->strides, s1, s2, [&](int64_t oo, int64_t ao, int64_t bo) {
      for (int64_t i = 0; i < rows1; ++i) {
        for (int64_t j = 0; j < rows2; ++j) {
          o[oo + i * o_row + j * o_col] =
              static_cast<T>(row_distance(a + ao + i * a_row, a_col, b + bo + j * b_row, b_col, m, p));
        }
      }
    });
    return ETP_OK;
  });
}

}  // namespace

ETP_KERNEL_FAMILY(linalg_kernels, ETP_ENTRY(mm_out), ETP_ENTRY(bmm_out), ETP_ENTRY(addmm_out), ETP_ENTRY(baddbmm_out),
                  ETP_ENTRY(linear_out), ETP_ENTRY(pdist_forward_out), ETP_ENTRY(cdist_forward_out))

}  // namespace etp_portable
