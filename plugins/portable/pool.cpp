// 2-D pooling: avg_pool2d, max_pool2d_with_indices (and its backward) and adaptive average
// pooling, float32 and float64, on [C, H, W] or [N, C, H, W] inputs in any dim order. Output sizes, padding limits,
// ceil_mode and the averaging divisor follow PyTorch's rules.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels.h"
#include "movement_util.h"

namespace etp_portable {
namespace {

using namespace movement;

// A [N, C, H, W] view of a rank-3 (N = 1) or rank-4 tensor.
struct Planes {
  int64_t sizes[4];
  int64_t strides[4];
  // Element offset of [n, ch, h, w].
  int64_t at(int64_t n, int64_t ch, int64_t h, int64_t w) const {
    return n * strides[0] + ch * strides[1] + h * strides[2] + w * strides[3];
  }
};

Planes as_nchw(const etp_tensor& t) {
  Planes p;
  const int32_t lead = 4 - t.rank;
  for (int k = 0; k < 4; ++k) {
    p.sizes[k] = k < lead ? 1 : t.sizes[k - lead];
    p.strides[k] = k < lead ? 0 : t.strides[k - lead];
  }
  return p;
}

// Calls fn(n, ch, oh, ow) for every element of the [N, C, out_hw] output of pooling `x`, in order.
template <typename F>
void for_each_pooled(const Planes& x, const int64_t out_hw[2], F&& fn) {
  for (int64_t n = 0; n < x.sizes[0]; ++n) {
    for (int64_t ch = 0; ch < x.sizes[1]; ++ch) {
      for (int64_t oh = 0; oh < out_hw[0]; ++oh) {
        for (int64_t ow = 0; ow < out_hw[1]; ++ow) fn(n, ch, oh, ow);
      }
    }
  }
}

// Resizes `out` to the shape of `in` with the last two dims replaced by out_hw.
etp_status resize_planes(const Ctx& c, const etp_tensor& in, etp_tensor* out, const int64_t out_hw[2],
                         const char* which) {
  int64_t sizes[4] = {0};
  for (int32_t d = 0; d < in.rank - 2; ++d) sizes[d] = in.sizes[d];
  sizes[in.rank - 2] = out_hw[0];
  sizes[in.rank - 1] = out_hw[1];
  return resize_out(c, out, in.rank, sizes, which);
}

etp_status check_input(const Ctx& c, const etp_tensor& in, const etp_tensor& out) {
  if (in.rank != 3 && in.rank != 4) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: input must have rank 3 or 4, got %d", c.op, in.rank);
  }
  if (etp_status s = same_dtype(c, out, in.dtype, "out")) return s;
  return dispatch_float(c, in.dtype, [](auto) { return ETP_OK; });
}

// [h, w] from an int list of 1 or 2 entries; empty gives `fallback` (stride defaults to kernel).
bool pair_arg(const Ctx& c, uint32_t i, const char* what, const int64_t* fallback, int64_t min, int64_t out[2]) {
  const int64_t* items;
  uint64_t count;
  if (!int_list_arg(c, i, &items, &count)) return false;
  if (count == 0 && fallback != nullptr) {
    out[0] = fallback[0];
    out[1] = fallback[1];
  } else if (count == 1 || count == 2) {
    out[0] = items[0];
    out[1] = items[count - 1];
  } else {
    fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: %s must have 1 or 2 entries, got %llu", c.op, what,
         static_cast<unsigned long long>(count));
    return false;
  }
  return pair_at_least(c, what, out, min);
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); }

// PyTorch's pooling_output_shape for an effective kernel extent `span` (padding at most half of
// it), or false when in + 2 * pad overflows. ceil_mode rounds up without adding stride - 1, and
// the last-window test treats an overflowing (out - 1) * stride as past the end, so a huge
// stride is no overflow either.
bool pooled_size(int64_t in, int64_t span, int64_t pad, int64_t stride, bool ceil_mode, int64_t* out) {
  int64_t rest = 0;
  if (__builtin_add_overflow(in, 2 * pad, &rest)) return false;
  rest -= span;
  int64_t o = (ceil_mode ? rest / stride + (rest % stride > 0 ? 1 : 0) : floor_div(rest, stride)) + 1;
  int64_t last = 0;
  if (ceil_mode && o >= 1 && (__builtin_mul_overflow(o - 1, stride, &last) || last >= in + pad)) --o;
  *out = o;
  return true;
}

// The pooled [h, w] of `in`, every step checked: a program's kernel, stride, padding and dilation
// can be anything.
etp_status pooled_hw(const Ctx& c, const etp_tensor& in, const int64_t kernel[2], const int64_t stride[2],
                     const int64_t pad[2], const int64_t dilation[2], bool ceil_mode, int64_t out_hw[2]) {
  for (int k = 0; k < 2; ++k) {
    const int64_t size = in.sizes[in.rank - 2 + k];
    int64_t span = 0;
    if (__builtin_mul_overflow(dilation[k], kernel[k] - 1, &span) || __builtin_add_overflow(span, 1, &span)) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: kernel size %lld with dilation %lld overflows int64", c.op,
                  static_cast<long long>(kernel[k]), static_cast<long long>(dilation[k]));
    }
    if (pad[k] > span / 2) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: padding %lld exceeds half of the kernel extent %lld", c.op,
                  static_cast<long long>(pad[k]), static_cast<long long>(span));
    }
    if (!pooled_size(size, span, pad[k], stride[k], ceil_mode, &out_hw[k])) {
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: padding %lld on an input of size %lld overflows int64", c.op,
                  static_cast<long long>(pad[k]), static_cast<long long>(size));
    }
    if (out_hw[k] < 0 || (out_hw[k] == 0 && size > 0)) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: the pooled output would be empty (input size %lld, kernel %lld)", c.op,
                  static_cast<long long>(size), static_cast<long long>(kernel[k]));
    }
  }
  return ETP_OK;
}

// Computes and applies the output shape.
etp_status resize_pooled(const Ctx& c, const etp_tensor& in, etp_tensor* out, const int64_t kernel[2],
                         const int64_t stride[2], const int64_t pad[2], const int64_t dilation[2], bool ceil_mode,
                         const char* which, int64_t out_hw[2]) {
  if (etp_status s = pooled_hw(c, in, kernel, stride, pad, dilation, ceil_mode, out_hw)) return s;
  return resize_planes(c, in, out, out_hw, which);
}

// aten::avg_pool2d.out(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0,
//     bool ceil_mode=False, bool count_include_pad=True, int? divisor_override=None, *,
//     Tensor(a!) out)
ETP_PORTABLE_KERNEL(avg_pool2d_out, "aten::avg_pool2d.out") {
  etp_tensor *in, *out;
  int64_t kernel[2], stride[2], pad[2], divisor = 0;
  const int64_t ones[2] = {1, 1};
  bool ceil_mode = false, include_pad = true, has_divisor = false;
  if (etp_status s = expect_args(c, 9)) return s;
  if (!tensor_arg(c, 0, &in) || !tensor_arg(c, 7, &out) || !pair_arg(c, 1, "kernel_size", nullptr, 1, kernel) ||
      !pair_arg(c, 2, "stride", kernel, 1, stride) || !pair_arg(c, 3, "padding", nullptr, 0, pad) ||
      !bool_arg(c, 4, &ceil_mode) || !bool_arg(c, 5, &include_pad) ||
      !optional_int_arg(c, 6, &has_divisor, &divisor)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (has_divisor && divisor == 0) return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: divisor_override is 0", c.op);
  if (etp_status s = check_input(c, *in, *out)) return s;
  int64_t ohw[2];
  if (etp_status s = resize_pooled(c, *in, out, kernel, stride, pad, ones, ceil_mode, "out", ohw)) return s;
  const Planes x = as_nchw(*in), o = as_nchw(*out);
  return dispatch_float(c, in->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* xd = static_cast<const T*>(in->data);
    T* od = static_cast<T*>(out->data);
    const int64_t H = x.sizes[2], W = x.sizes[3];
    for_each_pooled(x, ohw, [&](int64_t n, int64_t ch, int64_t oh, int64_t ow) {
      const T* plane = xd + x.at(n, ch, 0, 0);
      int64_t h0 = oh * stride[0] - pad[0], w0 = ow * stride[1] - pad[1];
      // min(h0 + kernel, H + pad) without overflowing for a huge kernel (h0 >= -pad).
      int64_t h1 = h0 + std::min(kernel[0], H + pad[0] - h0), w1 = w0 + std::min(kernel[1], W + pad[1] - w0);
      // Each factor may be as large as a (padded) kernel: the product can pass int64.
      const double pool_size = static_cast<double>(h1 - h0) * static_cast<double>(w1 - w0);
      h0 = std::max<int64_t>(h0, 0);
      w0 = std::max<int64_t>(w0, 0);
      h1 = std::min(h1, H);
      w1 = std::min(w1, W);
      T& dst = od[o.at(n, ch, oh, ow)];
      if (h0 >= h1 || w0 >= w1) {
        dst = T(0);
        return;
      }
      T sum = T(0);
      for (int64_t ih = h0; ih < h1; ++ih) {
        for (int64_t iw = w0; iw < w1; ++iw) sum += plane[ih * x.strides[2] + iw * x.strides[3]];
      }
      double div = include_pad ? pool_size : static_cast<double>((h1 - h0) * (w1 - w0));
      if (has_divisor) div = static_cast<double>(divisor);
      dst = sum / static_cast<T>(div);
    });
    return ETP_OK;
  });
}

// aten::max_pool2d_with_indices.out(Tensor self, int[2] kernel_size, int[2] stride=[],
//     int[2] padding=0, int[2] dilation=1, bool ceil_mode=False, *, Tensor(a!) out,
//     Tensor(b!) indices). indices (int64) hold h * W + w within each input plane; a NaN wins.
ETP_PORTABLE_KERNEL(max_pool2d_with_indices_out, "aten::max_pool2d_with_indices.out") {
  etp_tensor *in, *out, *indices;
  int64_t kernel[2], stride[2], pad[2], dilation[2];
  const int64_t ones[2] = {1, 1};
  bool ceil_mode = false;
  if (etp_status s = expect_args(c, 9)) return s;
  if (!tensor_arg(c, 0, &in) || !tensor_arg(c, 6, &out) || !tensor_arg(c, 7, &indices) ||
      !pair_arg(c, 1, "kernel_size", nullptr, 1, kernel) || !pair_arg(c, 2, "stride", kernel, 1, stride) ||
      !pair_arg(c, 3, "padding", nullptr, 0, pad) || !pair_arg(c, 4, "dilation", ones, 1, dilation) ||
      !bool_arg(c, 5, &ceil_mode)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_status s = check_input(c, *in, *out)) return s;
  if (etp_status s = same_dtype(c, *indices, ETP_DTYPE_INT64, "indices")) return s;
  int64_t ohw[2];
  if (etp_status s = resize_pooled(c, *in, out, kernel, stride, pad, dilation, ceil_mode, "out", ohw)) return s;
  if (etp_status s = resize_out(c, indices, out->rank, out->sizes, "indices")) return s;
  const Planes x = as_nchw(*in), o = as_nchw(*out), ix = as_nchw(*indices);
  return dispatch_float(c, in->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* xd = static_cast<const T*>(in->data);
    T* od = static_cast<T*>(out->data);
    int64_t* id = static_cast<int64_t*>(indices->data);
    const int64_t H = x.sizes[2], W = x.sizes[3];
    for_each_pooled(x, ohw, [&](int64_t n, int64_t ch, int64_t oh, int64_t ow) {
      const T* plane = xd + x.at(n, ch, 0, 0);
      int64_t h0 = oh * stride[0] - pad[0], w0 = ow * stride[1] - pad[1];
      // min(h0 + span, H) without overflowing for a huge span (pooled_hw checked the span; h0 >= -pad).
      const int64_t h1 = h0 + std::min((kernel[0] - 1) * dilation[0] + 1, H - h0);
      const int64_t w1 = w0 + std::min((kernel[1] - 1) * dilation[1] + 1, W - w0);
      // The first tap at or after 0, in one step (a loop of pad / dilation steps could run for ever).
      if (h0 < 0) h0 = (dilation[0] - (-h0) % dilation[0]) % dilation[0];
      if (w0 < 0) w0 = (dilation[1] - (-w0) % dilation[1]) % dilation[1];
      T best = -std::numeric_limits<T>::infinity();
      // A window with no tap inside the input (possible with a dilation past it) keeps index -1.
      int64_t best_index = h0 < H && w0 < W ? h0 * W + w0 : -1;
      // The steps stop at h1 / w1 rather than adding a dilation that could pass INT64_MAX.
      for (int64_t ih = h0; ih < h1; ih = (h1 - ih > dilation[0]) ? ih + dilation[0] : h1) {
        for (int64_t iw = w0; iw < w1; iw = (w1 - iw > dilation[1]) ? iw + dilation[1] : w1) {
          const T v = plane[ih * x.strides[2] + iw * x.strides[3]];
          if (v > best || std::isnan(v)) {
            best = v;
            best_index = ih * W + iw;
            if (std::isnan(v)) ih = h1, iw = w1;  // a NaN is final
          }
        }
      }
      od[o.at(n, ch, oh, ow)] = best;
      id[ix.at(n, ch, oh, ow)] = best_index;
    });
    return ETP_OK;
  });
}

// Shared body of adaptive_avg_pool2d.out / _adaptive_avg_pool2d.out(Tensor self,
// SymInt[2] output_size, *, Tensor(a!) out): bin i of n over size L spans
// [floor(i * L / n), ceil((i + 1) * L / n)).
etp_status adaptive_avg_pool2d(const Ctx& c) {
  etp_tensor *in, *out;
  int64_t osz[2];
  if (etp_status s = expect_args(c, 4)) return s;
  if (!tensor_arg(c, 0, &in) || !tensor_arg(c, 2, &out) || !pair_arg(c, 1, "output_size", nullptr, 0, osz)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_status s = check_input(c, *in, *out)) return s;
  const int64_t H = in->sizes[in->rank - 2], W = in->sizes[in->rank - 1];
  if ((H == 0 && osz[0] > 0) || (W == 0 && osz[1] > 0)) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: cannot pool an empty plane to a non-empty output", c.op);
  }
  if (etp_status s = resize_planes(c, *in, out, osz, "out")) return s;
  const Planes x = as_nchw(*in), o = as_nchw(*out);
  return dispatch_float(c, in->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* xd = static_cast<const T*>(in->data);
    T* od = static_cast<T*>(out->data);
    for_each_pooled(x, osz, [&](int64_t n, int64_t ch, int64_t oh, int64_t ow) {
      const T* plane = xd + x.at(n, ch, 0, 0);
      const int64_t h0 = oh * H / osz[0], h1 = ((oh + 1) * H + osz[0] - 1) / osz[0];
      const int64_t w0 = ow * W / osz[1], w1 = ((ow + 1) * W + osz[1] - 1) / osz[1];
      T sum = T(0);
      for (int64_t ih = h0; ih < h1; ++ih) {
        for (int64_t iw = w0; iw < w1; ++iw) sum += plane[ih * x.strides[2] + iw * x.strides[3]];
      }
      od[o.at(n, ch, oh, ow)] = sum / static_cast<T>((h1 - h0) * (w1 - w0));
    });
    return ETP_OK;
  });
}

ETP_PORTABLE_KERNEL(adaptive_avg_pool2d_out, "aten::adaptive_avg_pool2d.out") { return adaptive_avg_pool2d(c); }
ETP_PORTABLE_KERNEL(adaptive_avg_pool2d_private_out, "aten::_adaptive_avg_pool2d.out") {
  return adaptive_avg_pool2d(c);
}


// aten::max_pool2d_with_indices_backward.grad_input(Tensor grad_output, Tensor self, int[2] kernel_size,
//     int[2] stride, int[2] padding, int[2] dilation, bool ceil_mode, Tensor indices, *,
//     Tensor(a!) grad_input): zeros of self's shape, then each grad_output element added at the
// flat [H, W] position its index names (windows that overlap accumulate).
ETP_PORTABLE_KERNEL(max_pool2d_with_indices_backward_grad_input,
                    "aten::max_pool2d_with_indices_backward.grad_input") {
  etp_tensor *grad_out, *in, *indices, *grad_in;
  int64_t kernel[2], stride[2], pad[2], dilation[2];
  const int64_t ones[2] = {1, 1};
  bool ceil_mode = false;
  if (etp_status s = expect_args(c, 10)) return s;
  if (!tensor_arg(c, 0, &grad_out) || !tensor_arg(c, 1, &in) || !tensor_arg(c, 7, &indices) ||
      !tensor_arg(c, 8, &grad_in) || !pair_arg(c, 2, "kernel_size", nullptr, 1, kernel) ||
      !pair_arg(c, 3, "stride", kernel, 1, stride) || !pair_arg(c, 4, "padding", nullptr, 0, pad) ||
      !pair_arg(c, 5, "dilation", ones, 1, dilation) || !bool_arg(c, 6, &ceil_mode)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_status s = check_input(c, *in, *grad_in)) return s;
  if (etp_status s = same_dtype(c, *grad_out, in->dtype, "grad_output")) return s;
  if (etp_status s = same_dtype(c, *indices, ETP_DTYPE_INT64, "indices")) return s;
  int64_t ohw[2];
  if (etp_status s = pooled_hw(c, *in, kernel, stride, pad, dilation, ceil_mode, ohw)) return s;
  bool shapes = grad_out->rank == in->rank && indices->rank == in->rank;
  for (int32_t d = 0; shapes && d < in->rank; ++d) {
    const int64_t want = d < in->rank - 2 ? in->sizes[d] : ohw[d - (in->rank - 2)];
    shapes = grad_out->sizes[d] == want && indices->sizes[d] == want;
  }
  if (!shapes) return fail(c.host, ETP_ERR_SHAPE, "%s: grad_output and indices must have the pooled shape", c.op);
  if (etp_status s = resize_out(c, grad_in, in->rank, in->sizes, "grad_input")) return s;
  const Planes g = as_nchw(*grad_out), ix = as_nchw(*indices), gi = as_nchw(*grad_in);
  const int64_t H = gi.sizes[2], W = gi.sizes[3];
  return dispatch_float(c, in->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* gd = static_cast<const T*>(grad_out->data);
    const int64_t* id = static_cast<const int64_t*>(indices->data);
    T* out = static_cast<T*>(grad_in->data);
    for (int64_t n = 0; n < gi.sizes[0]; ++n) {
      for (int64_t ch = 0; ch < gi.sizes[1]; ++ch) {
        for (int64_t h = 0; h < H; ++h) {
          for (int64_t w = 0; w < W; ++w) out[gi.at(n, ch, h, w)] = T(0);
        }
      }
    }
    etp_status status = ETP_OK;
    for_each_pooled(gi, ohw, [&](int64_t n, int64_t ch, int64_t oh, int64_t ow) {
      const int64_t flat = id[ix.at(n, ch, oh, ow)];
      if (flat < 0 || flat >= H * W) {
        if (status == ETP_OK) {
          status = fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: index %lld is outside the %lld x %lld input", c.op,
                        static_cast<long long>(flat), static_cast<long long>(H), static_cast<long long>(W));
        }
        return;
      }
      out[gi.at(n, ch, flat / W, flat % W)] += gd[g.at(n, ch, oh, ow)];
    });
    return status;
  });
}

}  // namespace

ETP_KERNEL_FAMILY(pool_kernels, ETP_ENTRY(avg_pool2d_out), ETP_ENTRY(max_pool2d_with_indices_out),
                  ETP_ENTRY(adaptive_avg_pool2d_out), ETP_ENTRY(adaptive_avg_pool2d_private_out),
                  ETP_ENTRY(max_pool2d_with_indices_backward_grad_input))

}  // namespace etp_portable
