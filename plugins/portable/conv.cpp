// aten::convolution.out for 1-D and 2-D inputs, plain and transposed, and the backward of the
// plain one (direct loops, float32/float64). A 1-D
// problem is run as 2-D with a unit height; every tensor is addressed through its strides, so
// NCHW and channels-last inputs, weights and outputs all work.
#include <utility>

#include "kernels.h"
#include "movement_util.h"

namespace etp_portable {
namespace {

using namespace movement;

// A 4-D [N, C, H, W] view of a rank-3 ([N, C, L], H = 1) or rank-4 tensor.
struct View4 {
  int64_t sizes[4];
  int64_t strides[4];
};

View4 as_4d(const etp_tensor& t) {
  View4 v;
  if (t.rank == 3) {
    const int64_t sizes[4] = {t.sizes[0], t.sizes[1], 1, t.sizes[2]};
    const int64_t strides[4] = {t.strides[0], t.strides[1], 0, t.strides[2]};
    for (int k = 0; k < 4; ++k) v.sizes[k] = sizes[k], v.strides[k] = strides[k];
  } else {
    for (int k = 0; k < 4; ++k) v.sizes[k] = t.sizes[k], v.strides[k] = t.strides[k];
  }
  return v;
}

// Reads an int list of 1 or `spatial` entries into [h, w] (1-D: h = `unit`, w = the entry).
bool spatial_arg(const Ctx& c, uint32_t i, int32_t spatial, int64_t unit, const char* what, int64_t min,
                 int64_t out[2]) {
  const int64_t* items;
  uint64_t count;
  if (!int_list_arg(c, i, &items, &count)) return false;
  if (count != 1 && count != static_cast<uint64_t>(spatial)) {
    fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: %s must have 1 or %d entries, got %llu", c.op, what, spatial,
         static_cast<unsigned long long>(count));
    return false;
  }
  if (spatial == 1) {
    out[0] = unit;
    out[1] = items[0];
  } else {
    out[0] = items[0];
    out[1] = items[count - 1];
  }
  return pair_at_least(c, what, out, min);
}

struct ConvParams {
  int64_t stride[2], padding[2], dilation[2], groups;
};

// The output size of spatial dim k (0 = h, 1 = w) for an input of size `in` and a kernel of size
// `kernel`. Every step is checked, since a program's stride, padding, dilation or output_padding
// can be anything: false (after failing, naming them) when one overflows int64, when the kernel
// extent exceeds the padded input or when a transposed output size is not positive.
bool conv_output_size(const Ctx& c, const ConvParams& p, int k, int64_t in, int64_t kernel, bool transposed,
                      int64_t output_padding, int64_t* out) {
  int64_t span = 0, two_pad = 0, padded = 0, size = 0;
  bool overflow = __builtin_mul_overflow(p.dilation[k], kernel - 1, &span) || __builtin_add_overflow(span, 1, &span) ||
                  __builtin_mul_overflow(p.padding[k], 2, &two_pad);
  if (transposed) {
    overflow = overflow || __builtin_mul_overflow(in - 1, p.stride[k], &size) ||
               __builtin_sub_overflow(size, two_pad, &size) || __builtin_add_overflow(size, span, &size) ||
               __builtin_add_overflow(size, output_padding, &size);
  } else {
    overflow = overflow || __builtin_add_overflow(in, two_pad, &padded) || __builtin_sub_overflow(padded, span, &size);
  }
  if (overflow) {
    fail(c.host, ETP_ERR_SHAPE,
         "%s: stride %lld, padding %lld, dilation %lld%s make the output size of spatial dim %d overflow int64 "
         "(input size %lld, kernel size %lld)",
         c.op, static_cast<long long>(p.stride[k]), static_cast<long long>(p.padding[k]),
         static_cast<long long>(p.dilation[k]), transposed ? " and output_padding" : "", k, static_cast<long long>(in),
         static_cast<long long>(kernel));
    return false;
  }
  if (transposed) {
    if (in == 0 || size <= 0) {
      fail(c.host, ETP_ERR_SHAPE, "%s: transposed convolution output size %lld is not positive", c.op,
           static_cast<long long>(size));
      return false;
    }
    *out = size;
    return true;
  }
  if (padded < span) {
    fail(c.host, ETP_ERR_SHAPE, "%s: kernel extent %lld exceeds the padded input size %lld", c.op,
         static_cast<long long>(span), static_cast<long long>(padded));
    return false;
  }
  *out = size / p.stride[k] + 1;
  return true;
}

// Weight sizes[1] * groups: the weight's input channels (or a transposed one's output channels),
// or false when groups is not positive or the product overflows.
bool grouped_channels(const View4& w, int64_t groups, int64_t* out) {
  return groups > 0 && !__builtin_mul_overflow(w.sizes[1], groups, out);
}

// Output planes (n, oc) spread over the host's thread pool when the convolution is large.
template <typename T>
void conv2d(const etp_host_api* host, const View4& x, const T* xd, const View4& w, const T* wd, const T* bias,
            int64_t bias_stride, const ConvParams& p, const View4& o, T* od) {
  const int64_t cout_per_group = o.sizes[1] / p.groups, cin_per_group = w.sizes[1];
  const int64_t plane_work = o.sizes[2] * o.sizes[3] * cin_per_group * w.sizes[2] * w.sizes[3];
  parallel_range(host, o.sizes[0] * o.sizes[1], plane_work, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t n = plane / o.sizes[1], oc = plane % o.sizes[1];
      const int64_t ic0 = (oc / cout_per_group) * cin_per_group;
      for (int64_t oh = 0; oh < o.sizes[2]; ++oh) {
        for (int64_t ow = 0; ow < o.sizes[3]; ++ow) {
          T acc = bias ? bias[oc * bias_stride] : T(0);
          for (int64_t ic = 0; ic < cin_per_group; ++ic) {
            const T* xc = xd + n * x.strides[0] + (ic0 + ic) * x.strides[1];
            const T* wc = wd + oc * w.strides[0] + ic * w.strides[1];
            for (int64_t kh = 0; kh < w.sizes[2]; ++kh) {
              const int64_t ih = oh * p.stride[0] - p.padding[0] + kh * p.dilation[0];
              if (ih < 0 || ih >= x.sizes[2]) continue;
              for (int64_t kw = 0; kw < w.sizes[3]; ++kw) {
                const int64_t iw = ow * p.stride[1] - p.padding[1] + kw * p.dilation[1];
                if (iw < 0 || iw >= x.sizes[3]) continue;
                acc += xc[ih * x.strides[2] + iw * x.strides[3]] * wc[kh * w.strides[2] + kw * w.strides[3]];
              }
            }
          }
          od[n * o.strides[0] + oc * o.strides[1] + oh * o.strides[2] + ow * o.strides[3]] = acc;
        }
      }
    }
  });
}

// Transposed convolution, computed per output element (a gather, so no two iterations write
// one element). Weight is [Cin, Cout / groups, kH, kW].
template <typename T>
void conv_transpose2d(const etp_host_api* host, const View4& x, const T* xd, const View4& w, const T* wd,
                      const T* bias, int64_t bias_stride, const ConvParams& p, const View4& o, T* od) {
  const int64_t cout_per_group = w.sizes[1], cin_per_group = x.sizes[1] / p.groups;
  const int64_t plane_work = o.sizes[2] * o.sizes[3] * cin_per_group * w.sizes[2] * w.sizes[3];
  parallel_range(host, o.sizes[0] * o.sizes[1], plane_work, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t n = plane / o.sizes[1], oc = plane % o.sizes[1];
      const int64_t g = oc / cout_per_group, oc_in_group = oc % cout_per_group;
      for (int64_t oh = 0; oh < o.sizes[2]; ++oh) {
        for (int64_t ow = 0; ow < o.sizes[3]; ++ow) {
          T acc = bias ? bias[oc * bias_stride] : T(0);
          for (int64_t ic = g * cin_per_group; ic < (g + 1) * cin_per_group; ++ic) {
            const T* xc = xd + n * x.strides[0] + ic * x.strides[1];
            const T* wc = wd + ic * w.strides[0] + oc_in_group * w.strides[1];
            for (int64_t kh = 0; kh < w.sizes[2]; ++kh) {
              const int64_t h = oh + p.padding[0] - kh * p.dilation[0];
              if (h < 0 || h % p.stride[0] != 0 || h / p.stride[0] >= x.sizes[2]) continue;
              for (int64_t kw = 0; kw < w.sizes[3]; ++kw) {
                const int64_t ww = ow + p.padding[1] - kw * p.dilation[1];
                if (ww < 0 || ww % p.stride[1] != 0 || ww / p.stride[1] >= x.sizes[3]) continue;
                acc += xc[(h / p.stride[0]) * x.strides[2] + (ww / p.stride[1]) * x.strides[3]] *
                       wc[kh * w.strides[2] + kw * w.strides[3]];
              }
            }
          }
          od[n * o.strides[0] + oc * o.strides[1] + oh * o.strides[2] + ow * o.strides[3]] = acc;
        }
      }
    }
  });
}

// aten::convolution.out(Tensor input, Tensor weight, Tensor? bias, SymInt[] stride,
//     SymInt[] padding, SymInt[] dilation, bool transposed, SymInt[] output_padding,
//     SymInt groups, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(convolution_out, "aten::convolution.out") {
  etp_tensor *in, *weight, *bias, *out;
  bool transposed = false;
  ConvParams p{};
  if (etp_status s = expect_args(c, 11)) return s;
  if (!tensor_arg(c, 0, &in) || !tensor_arg(c, 1, &weight) || !optional_tensor_arg(c, 2, &bias) ||
      !bool_arg(c, 6, &transposed) || !int_arg(c, 8, &p.groups) || !tensor_arg(c, 9, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (in->rank != 3 && in->rank != 4) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: input must have rank 3 (1-D) or 4 (2-D), got %d", c.op, in->rank);
  }
  if (weight->rank != in->rank) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: weight rank %d differs from input rank %d", c.op, weight->rank, in->rank);
  }
  const int32_t spatial = in->rank - 2;
  if (!spatial_arg(c, 3, spatial, 1, "stride", 1, p.stride) || !spatial_arg(c, 4, spatial, 0, "padding", 0, p.padding) ||
      !spatial_arg(c, 5, spatial, 1, "dilation", 1, p.dilation)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (etp_status s = same_dtype(c, *weight, in->dtype, "weight")) return s;
  if (etp_status s = same_dtype(c, *out, in->dtype, "out")) return s;
  const View4 x = as_4d(*in), w = as_4d(*weight);
  // Weight is [Cout, Cin / groups, ...], or [Cin, Cout / groups, ...] when transposed.
  int64_t grouped = 0;
  const bool groups_ok = grouped_channels(w, p.groups, &grouped);  // checks groups > 0 first
  const int64_t w_in = transposed ? w.sizes[0] : grouped;
  const int64_t cout = transposed ? grouped : w.sizes[0];
  if (!groups_ok || x.sizes[1] % p.groups != 0 || (!transposed && w.sizes[0] % p.groups != 0) || w_in != x.sizes[1]) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: %lld input channels, weight [%lld, %lld, ...] and groups=%lld disagree",
                c.op, static_cast<long long>(x.sizes[1]), static_cast<long long>(w.sizes[0]),
                static_cast<long long>(w.sizes[1]), static_cast<long long>(p.groups));
  }
  int64_t bias_stride = 0;
  if (bias != nullptr) {
    if (etp_status s = same_dtype(c, *bias, in->dtype, "bias")) return s;
    if (bias->rank != 1 || bias->sizes[0] != cout) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: bias must have shape [%lld]", c.op, static_cast<long long>(cout));
    }
    bias_stride = bias->strides[0];
  }
  int64_t o_hw[2];
  int64_t output_padding[2] = {0, 0};
  if (transposed && !spatial_arg(c, 7, spatial, 0, "output_padding", 0, output_padding)) return ETP_ERR_INVALID_ARGUMENT;
  for (int k = 0; k < 2; ++k) {
    if (!conv_output_size(c, p, k, x.sizes[2 + k], w.sizes[2 + k], transposed, output_padding[k], &o_hw[k])) {
      return ETP_ERR_SHAPE;
    }
  }
  int64_t sizes[4] = {x.sizes[0], cout, o_hw[0], o_hw[1]};
  if (spatial == 1) sizes[2] = o_hw[1];
  if (etp_status s = resize_out(c, out, in->rank, sizes)) return s;
  const View4 o = as_4d(*out);
  return dispatch_float(c, in->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* xd = static_cast<const T*>(in->data);
    const T* wd = static_cast<const T*>(weight->data);
    const T* bd = bias ? static_cast<const T*>(bias->data) : nullptr;
    if (transposed) {
      conv_transpose2d<T>(c.host, x, xd, w, wd, bd, bias_stride, p, o, static_cast<T*>(out->data));
    } else {
      conv2d<T>(c.host, x, xd, w, wd, bd, bias_stride, p, o, static_cast<T*>(out->data));
    }
    return ETP_OK;
  });
}


// aten::convolution_backward.out(Tensor grad_output, Tensor input, Tensor weight, SymInt[]? bias_sizes,
//     SymInt[] stride, SymInt[] padding, SymInt[] dilation, bool transposed, SymInt[] output_padding,
//     SymInt groups, bool[3] output_mask, *, Tensor(a!) out0, Tensor(b!) out1, Tensor(c!) out2):
// the gradients of a plain (not transposed) 1-D or 2-D convolution with respect to the input
// (out0), the weight (out1) and the bias (out2), each computed when its output_mask entry is
// set. Accumulated in the dtype, like the forward kernel.
ETP_PORTABLE_KERNEL(convolution_backward_out, "aten::convolution_backward.out") {
  etp_tensor *grad, *in, *weight, *grad_in, *grad_weight, *grad_bias;
  bool transposed = false;
  ConvParams p{};
  if (etp_status s = expect_args(c, 15)) return s;
  if (!tensor_arg(c, 0, &grad) || !tensor_arg(c, 1, &in) || !tensor_arg(c, 2, &weight) ||
      !bool_arg(c, 7, &transposed) || !int_arg(c, 9, &p.groups) || !tensor_arg(c, 11, &grad_in) ||
      !tensor_arg(c, 12, &grad_weight) || !tensor_arg(c, 13, &grad_bias)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  const etp_value& mask_arg = *c.args[10];
  if (mask_arg.tag != ETP_VALUE_BOOL_LIST || mask_arg.u.bool_list.count != 3) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: output_mask must be a list of 3 bools", c.op);
  }
  const bool* mask = mask_arg.u.bool_list.items;
  if (transposed) return fail(c.host, ETP_ERR_NOT_SUPPORTED, "%s: the backward of a transposed convolution", c.op);
  if ((in->rank != 3 && in->rank != 4) || weight->rank != in->rank || grad->rank != in->rank) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: grad_output, input and weight must all have rank 3 (1-D) or 4 (2-D)",
                c.op);
  }
  const int32_t spatial = in->rank - 2;
  if (!spatial_arg(c, 4, spatial, 1, "stride", 1, p.stride) || !spatial_arg(c, 5, spatial, 0, "padding", 0, p.padding) ||
      !spatial_arg(c, 6, spatial, 1, "dilation", 1, p.dilation)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  for (const auto& [t, what] : {std::pair<etp_tensor*, const char*>{grad, "grad_output"}, {weight, "weight"}}) {
    if (etp_status s = same_dtype(c, *t, in->dtype, what)) return s;
  }
  const View4 x = as_4d(*in), w = as_4d(*weight), g = as_4d(*grad);
  int64_t w_in = 0;
  if (!grouped_channels(w, p.groups, &w_in) || x.sizes[1] % p.groups != 0 || w.sizes[0] % p.groups != 0 ||
      w_in != x.sizes[1] || g.sizes[0] != x.sizes[0] || g.sizes[1] != w.sizes[0]) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: grad_output, input, weight and groups=%lld disagree", c.op,
                static_cast<long long>(p.groups));
  }
  for (int k = 0; k < 2; ++k) {  // grad_output must have the forward output's size
    int64_t want = 0;
    if (!conv_output_size(c, p, k, x.sizes[2 + k], w.sizes[2 + k], false, 0, &want)) return ETP_ERR_SHAPE;
    if (g.sizes[2 + k] != want) {
      return fail(c.host, ETP_ERR_SHAPE, "%s: grad_output does not have the convolution's output size", c.op);
    }
  }
  if (mask[0]) {
    if (etp_status s = same_dtype(c, *grad_in, in->dtype, "out0")) return s;
    if (etp_status s = resize_out(c, grad_in, in->rank, in->sizes, "out0")) return s;
  }
  if (mask[1]) {
    if (etp_status s = same_dtype(c, *grad_weight, in->dtype, "out1")) return s;
    if (etp_status s = resize_out(c, grad_weight, weight->rank, weight->sizes, "out1")) return s;
  }
  if (mask[2]) {
    if (etp_status s = same_dtype(c, *grad_bias, in->dtype, "out2")) return s;
    if (etp_status s = resize_out(c, grad_bias, 1, &w.sizes[0], "out2")) return s;
  }
  return dispatch_float(c, in->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* xd = static_cast<const T*>(in->data);
    const T* wd = static_cast<const T*>(weight->data);
    const T* gd = static_cast<const T*>(grad->data);
    const View4 gi = mask[0] ? as_4d(*grad_in) : x, gw = mask[1] ? as_4d(*grad_weight) : w;
    T* gid = mask[0] ? static_cast<T*>(grad_in->data) : nullptr;
    T* gwd = mask[1] ? static_cast<T*>(grad_weight->data) : nullptr;
    for (int64_t n = 0; mask[0] && n < gi.sizes[0]; ++n) {
      for (int64_t ch = 0; ch < gi.sizes[1]; ++ch) {
        for (int64_t h = 0; h < gi.sizes[2]; ++h) {
          for (int64_t ww = 0; ww < gi.sizes[3]; ++ww) {
            gid[n * gi.strides[0] + ch * gi.strides[1] + h * gi.strides[2] + ww * gi.strides[3]] = T(0);
          }
        }
      }
    }
    for (int64_t oc = 0; mask[1] && oc < gw.sizes[0]; ++oc) {
      for (int64_t ic = 0; ic < gw.sizes[1]; ++ic) {
        for (int64_t kh = 0; kh < gw.sizes[2]; ++kh) {
          for (int64_t kw = 0; kw < gw.sizes[3]; ++kw) {
            gwd[oc * gw.strides[0] + ic * gw.strides[1] + kh * gw.strides[2] + kw * gw.strides[3]] = T(0);
          }
        }
      }
    }
    const int64_t cout_per_group = w.sizes[0] / p.groups, cin_per_group = w.sizes[1];
    for (int64_t n = 0; n < g.sizes[0]; ++n) {
      for (int64_t oc = 0; oc < g.sizes[1]; ++oc) {
        const int64_t ic0 = (oc / cout_per_group) * cin_per_group;
        for (int64_t oh = 0; oh < g.sizes[2]; ++oh) {
          for (int64_t ow = 0; ow < g.sizes[3]; ++ow) {
            const T go = gd[n * g.strides[0] + oc * g.strides[1] + oh * g.strides[2] + ow * g.strides[3]];
            for (int64_t ic = 0; ic < cin_per_group; ++ic) {
              for (int64_t kh = 0; kh < w.sizes[2]; ++kh) {
                const int64_t ih = oh * p.stride[0] - p.padding[0] + kh * p.dilation[0];
                if (ih < 0 || ih >= x.sizes[2]) continue;
                for (int64_t kw = 0; kw < w.sizes[3]; ++kw) {
                  const int64_t iw = ow * p.stride[1] - p.padding[1] + kw * p.dilation[1];
                  if (iw < 0 || iw >= x.sizes[3]) continue;
                  if (mask[0]) {
                    gid[n * gi.strides[0] + (ic0 + ic) * gi.strides[1] + ih * gi.strides[2] + iw * gi.strides[3]] +=
                        go * wd[oc * w.strides[0] + ic * w.strides[1] + kh * w.strides[2] + kw * w.strides[3]];
                  }
                  if (mask[1]) {
                    gwd[oc * gw.strides[0] + ic * gw.strides[1] + kh * gw.strides[2] + kw * gw.strides[3]] +=
                        go * xd[n * x.strides[0] + (ic0 + ic) * x.strides[1] + ih * x.strides[2] + iw * x.strides[3]];
                  }
                }
              }
            }
          }
        }
      }
    }
    if (mask[2]) {
      T* gbd = static_cast<T*>(grad_bias->data);
      for (int64_t oc = 0; oc < g.sizes[1]; ++oc) {
        T acc = T(0);
        for (int64_t n = 0; n < g.sizes[0]; ++n) {
          for (int64_t oh = 0; oh < g.sizes[2]; ++oh) {
            for (int64_t ow = 0; ow < g.sizes[3]; ++ow) {
              acc += gd[n * g.strides[0] + oc * g.strides[1] + oh * g.strides[2] + ow * g.strides[3]];
            }
          }
        }
        gbd[oc * grad_bias->strides[0]] = acc;
      }
    }
    return ETP_OK;
  });
}

}  // namespace

ETP_KERNEL_FAMILY(conv_kernels, ETP_ENTRY(convolution_out), ETP_ENTRY(convolution_backward_out))

}  // namespace etp_portable
