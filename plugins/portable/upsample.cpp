// aten::upsample_bilinear2d.vec_out (float32/float64) and upsample_nearest2d.vec_out (any dtype):
// resizes of [N, C, H, W] tensors with PyTorch's source-index rules, any dim order; and
// grid_sampler_2d, sampling at given points.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels.h"

namespace etp_portable {
namespace {

// Scale from output to input coordinates, as PyTorch's area_pixel_compute_scale.
double source_scale(int64_t in, int64_t out, bool align_corners, double scale_factor) {
  if (align_corners) return out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
  return scale_factor > 0 ? 1.0 / scale_factor : static_cast<double>(in) / static_cast<double>(out);
}

// Source position of output index `dst` (clamped at 0 for half-pixel centres).
double source_index(double scale, int64_t dst, bool align_corners) {
  if (align_corners) return scale * static_cast<double>(dst);
  const double src = scale * (static_cast<double>(dst) + 0.5) - 0.5;
  return src < 0 ? 0 : src;
}

// The [N, C, H, W] output size from `output_size` (two ints) or `scale_factors` (two positive
// floats; the size is floor(in * scale) and the scale is kept for the source index).
etp_status output_size(const Ctx& c, const etp_tensor& in, const etp_value* size_arg, const etp_value* scale_arg,
                       int64_t sizes[4], double scales[2]) {
  if (in.rank != 4)
    return fail(c.host, ETP_ERR_SHAPE, "%s: input must be 4-D [N, C, H, W], got rank %d", c.op, in.rank);
  sizes[0] = in.sizes[0];
  sizes[1] = in.sizes[1];
  if (size_arg->tag == ETP_VALUE_INT_LIST) {
    if (size_arg->u.int_list.count != 2)
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: output_size needs 2 entries", c.op);
    sizes[2] = size_arg->u.int_list.items[0];
    sizes[3] = size_arg->u.int_list.items[1];
  } else if (scale_arg->tag == ETP_VALUE_DOUBLE_LIST && scale_arg->u.double_list.count == 2) {
    for (int k = 0; k < 2; ++k) {
      scales[k] = scale_arg->u.double_list.items[k];
      if (!(scales[k] > 0)) return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: scale factors must be positive", c.op);
      const double size = std::floor(static_cast<double>(in.sizes[2 + k]) * scales[k]);
      if (!(size < 9.2e18)) {  // inf or NaN, or beyond int64 (where the cast is undefined)
        return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: scale factor %g makes an output size beyond int64", c.op,
                    scales[k]);
      }
      sizes[2 + k] = static_cast<int64_t>(size);
    }
  } else {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: give output_size or two scale_factors", c.op);
  }
  if (sizes[2] <= 0 || sizes[3] <= 0 || in.sizes[2] <= 0 || in.sizes[3] <= 0) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: input and output spatial sizes must be positive", c.op);
  }
  return ETP_OK;
}

// aten::upsample_bilinear2d.vec_out(Tensor input, SymInt[]? output_size, bool align_corners,
//     float[]? scale_factors, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(upsample_bilinear2d_vec_out, "aten::upsample_bilinear2d.vec_out") {
  etp_tensor *in, *out;
  bool align_corners = false;
  if (etp_status s = expect_args(c, 6)) return s;
  if (!tensor_arg(c, 0, &in) || !bool_arg(c, 2, &align_corners) || !tensor_arg(c, 4, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (out->dtype != in->dtype) return fail(c.host, ETP_ERR_DTYPE, "%s: out dtype must equal the input's", c.op);
  double scales[2] = {0, 0};
  int64_t sizes[4] = {0, 0, 0, 0};
  if (etp_status s = output_size(c, *in, c.args[1], c.args[3], sizes, scales)) return s;
  if (etp_status s = etp_sdk::resize(c.host, out, 4, sizes)) return fail(c.host, s, "%s: cannot resize out", c.op);
  // With N or C = 0 any output_size passes the resize; the loops below run over it outside
  // the (empty) planes, so return first (after the dtype check the loops would make).
  if (etp_sdk::numel(*out) == 0) return dispatch_float(c, in->dtype, [](auto) { return ETP_OK; });
  const double sh = source_scale(in->sizes[2], sizes[2], align_corners, scales[0]);
  const double sw = source_scale(in->sizes[3], sizes[3], align_corners, scales[1]);
  return dispatch_float(c, in->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(in->data);
    T* y = static_cast<T*>(out->data);
    for (int64_t oh = 0; oh < sizes[2]; ++oh) {
      const double h = source_index(sh, oh, align_corners);
      const int64_t h0 = std::min<int64_t>(static_cast<int64_t>(h), in->sizes[2] - 1);
      const int64_t h1 = std::min<int64_t>(h0 + 1, in->sizes[2] - 1);
      const T lh = static_cast<T>(h - static_cast<double>(h0));
      for (int64_t ow = 0; ow < sizes[3]; ++ow) {
        const double w = source_index(sw, ow, align_corners);
        const int64_t w0 = std::min<int64_t>(static_cast<int64_t>(w), in->sizes[3] - 1);
        const int64_t w1 = std::min<int64_t>(w0 + 1, in->sizes[3] - 1);
        const T lw = static_cast<T>(w - static_cast<double>(w0));
        for (int64_t n = 0; n < sizes[0]; ++n) {
          for (int64_t ch = 0; ch < sizes[1]; ++ch) {
            const T* xc = x + n * in->strides[0] + ch * in->strides[1];
            auto at = [&](int64_t hh, int64_t ww) { return xc[hh * in->strides[2] + ww * in->strides[3]]; };
            const T top = at(h0, w0) * (1 - lw) + at(h0, w1) * lw;
            const T bottom = at(h1, w0) * (1 - lw) + at(h1, w1) * lw;
            y[n * out->strides[0] + ch * out->strides[1] + oh * out->strides[2] + ow * out->strides[3]] =
                top * (1 - lh) + bottom * lh;
          }
        }
      }
    }
    return ETP_OK;
  });
}

// aten::upsample_nearest2d.vec_out(Tensor input, SymInt[]? output_size, float[]? scale_factors, *,
// Tensor(a!) out): output index o reads input floor(o * in / out) (or floor(o / scale) when a
// scale factor is given), clamped to the last index, as PyTorch's "nearest". Any dtype.
ETP_PORTABLE_KERNEL(upsample_nearest2d_vec_out, "aten::upsample_nearest2d.vec_out") {
  etp_tensor *in, *out;
  if (etp_status s = expect_args(c, 5)) return s;
  if (!tensor_arg(c, 0, &in) || !tensor_arg(c, 3, &out)) return ETP_ERR_INVALID_ARGUMENT;
  if (out->dtype != in->dtype) return fail(c.host, ETP_ERR_DTYPE, "%s: out dtype must equal the input's", c.op);
  const size_t elem = etp_sdk::dtype_size(in->dtype);
  if (elem == 0) return fail(c.host, ETP_ERR_DTYPE, "%s: unsupported dtype %s", c.op, etp_sdk::dtype_name(in->dtype));
  double scales[2] = {0, 0};
  int64_t sizes[4] = {0, 0, 0, 0};
  if (etp_status s = output_size(c, *in, c.args[1], c.args[2], sizes, scales)) return s;
  if (etp_status s = etp_sdk::resize(c.host, out, 4, sizes)) return fail(c.host, s, "%s: cannot resize out", c.op);
  if (etp_sdk::numel(*out) == 0) return ETP_OK;  // (the loops run over output_size outside the planes)
  auto source = [&](int k, int64_t o) {
    const double scale =
        scales[k] > 0 ? 1.0 / scales[k] : static_cast<double>(in->sizes[2 + k]) / static_cast<double>(sizes[2 + k]);
    return std::min<int64_t>(static_cast<int64_t>(std::floor(static_cast<double>(o) * scale)), in->sizes[2 + k] - 1);
  };
  const uint8_t* x = static_cast<const uint8_t*>(in->data);
  uint8_t* y = static_cast<uint8_t*>(out->data);
  const int64_t e = static_cast<int64_t>(elem);
  for (int64_t oh = 0; oh < sizes[2]; ++oh) {
    const int64_t ih = source(0, oh);
    for (int64_t ow = 0; ow < sizes[3]; ++ow) {
      const int64_t iw = source(1, ow);
      for (int64_t n = 0; n < sizes[0]; ++n) {
        for (int64_t ch = 0; ch < sizes[1]; ++ch) {
          std::memcpy(
              y + (n * out->strides[0] + ch * out->strides[1] + oh * out->strides[2] + ow * out->strides[3]) * e,
              x + (n * in->strides[0] + ch * in->strides[1] + ih * in->strides[2] + iw * in->strides[3]) * e, elem);
        }
      }
    }
  }
  return ETP_OK;
}

// ---------------------------------------------------------------------------------------------
// grid_sampler_2d: PyTorch's F.grid_sample for 4-D inputs.

// Grid coordinate in [-1, 1] to pixel position (corner pixels' centres, or the image edges).
double unnormalize(double coord, int64_t size, bool align_corners) {
  return align_corners ? (coord + 1) / 2 * static_cast<double>(size - 1)
                       : ((coord + 1) * static_cast<double>(size) - 1) / 2;
}

// Reflects `x` into [twice_low / 2, twice_high / 2] (PyTorch's reflect_coordinates).
double reflect(double x, int64_t twice_low, int64_t twice_high) {
  if (twice_low == twice_high) return 0;
  const double low = static_cast<double>(twice_low) / 2, span = static_cast<double>(twice_high - twice_low) / 2;
  x = std::fabs(x - low);
  const double extra = std::fmod(x, span);
  const bool even_flips = std::fmod(std::floor(x / span), 2.0) == 0;  // in double: x may be huge or NaN
  return even_flips ? extra + low : span - extra + low;
}

// Applies the padding mode to a pixel position: 0 zeros (unchanged), 1 border (clamped),
// 2 reflection (mirrored at the edges, then clamped).
double pad_coordinate(double x, int64_t size, int64_t padding, bool align_corners) {
  auto clip = [&](double v) { return std::min(static_cast<double>(size - 1), std::max(v, 0.0)); };
  if (padding == 1) return clip(x);
  if (padding == 2) {
    x = align_corners ? reflect(x, 0, 2 * (size - 1)) : reflect(x, -1, 2 * size - 1);
    return clip(x);
  }
  return x;
}

double cubic1(double x, double a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }
double cubic2(double x, double a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }

// Interpolates four taps at fraction t with PyTorch's bicubic kernel (A = -0.75).
double cubic_interp(const double v[4], double t) {
  const double a = -0.75;
  const double w[4] = {cubic2(t + 1, a), cubic1(t, a), cubic1(1 - t, a), cubic2(2 - t, a)};
  return v[0] * w[0] + v[1] * w[1] + v[2] * w[2] + v[3] * w[3];
}

// aten::grid_sampler_2d.out(Tensor input, Tensor grid, int interpolation_mode, int padding_mode,
//     bool align_corners, *, Tensor(a!) out): input [N, C, H, W] sampled at grid [N, Ho, Wo, 2]
// ((x, y) in [-1, 1]) into [N, C, Ho, Wo]. Interpolation 0 bilinear, 1 nearest (half to even),
// 2 bicubic; padding 0 zeros, 1 border, 2 reflection; all as torch.nn.functional.grid_sample.
ETP_PORTABLE_KERNEL(grid_sampler_2d_out, "aten::grid_sampler_2d.out") {
  etp_tensor *in, *grid, *out;
  int64_t mode = 0, padding = 0;
  bool align_corners = false;
  if (etp_status s = expect_args(c, 7)) return s;
  if (!tensor_arg(c, 0, &in) || !tensor_arg(c, 1, &grid) || !int_arg(c, 2, &mode) || !int_arg(c, 3, &padding) ||
      !bool_arg(c, 4, &align_corners) || !tensor_arg(c, 5, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  if (mode < 0 || mode > 2 || padding < 0 || padding > 2) {
    return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: interpolation mode %lld or padding mode %lld is unknown", c.op,
                static_cast<long long>(mode), static_cast<long long>(padding));
  }
  if (in->rank != 4 || grid->rank != 4 || grid->sizes[3] != 2 || grid->sizes[0] != in->sizes[0]) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: expected input [N, C, H, W] and grid [N, Ho, Wo, 2]", c.op);
  }
  if (grid->dtype != in->dtype || out->dtype != in->dtype) {
    return fail(c.host, ETP_ERR_DTYPE, "%s: input, grid and out must share one floating dtype", c.op);
  }
  const int64_t sizes[4] = {in->sizes[0], in->sizes[1], grid->sizes[1], grid->sizes[2]};
  if (etp_status s = etp_sdk::resize(c.host, out, 4, sizes)) return fail(c.host, s, "%s: cannot resize out", c.op);
  const int64_t H = in->sizes[2], W = in->sizes[3];
  return dispatch_float(c, in->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(in->data);
    const T* g = static_cast<const T*>(grid->data);
    T* y = static_cast<T*>(out->data);
    for (int64_t n = 0; n < sizes[0]; ++n) {
      for (int64_t oh = 0; oh < sizes[2]; ++oh) {
        for (int64_t ow = 0; ow < sizes[3]; ++ow) {
          const T* point = g + n * grid->strides[0] + oh * grid->strides[1] + ow * grid->strides[2];
          const double gx = static_cast<double>(point[0]), gy = static_cast<double>(point[grid->strides[3]]);
          for (int64_t ch = 0; ch < sizes[1]; ++ch) {
            const T* plane = x + n * in->strides[0] + ch * in->strides[1];
            // Zero outside the image; positions stay doubles until known in range (NaN and huge
            // grid values are outside).
            auto at = [&](double h, double w) {
              if (!(h >= 0 && h < static_cast<double>(H) && w >= 0 && w < static_cast<double>(W))) return 0.0;
              return static_cast<double>(
                  plane[static_cast<int64_t>(h) * in->strides[2] + static_cast<int64_t>(w) * in->strides[3]]);
            };
            double value = 0;
            if (mode == 2) {  // bicubic: padding applies to each tap
              const double ix = unnormalize(gx, W, align_corners), iy = unnormalize(gy, H, align_corners);
              const double fx = std::floor(ix), fy = std::floor(iy);
              double rows[4];
              for (int i = 0; i < 4; ++i) {
                double taps[4];
                for (int j = 0; j < 4; ++j) {
                  const double px = pad_coordinate(fx - 1 + j, W, padding, align_corners);
                  const double py = pad_coordinate(fy - 1 + i, H, padding, align_corners);
                  taps[j] = at(py, px);
                }
                rows[i] = cubic_interp(taps, ix - fx);
              }
              value = cubic_interp(rows, iy - fy);
            } else {
              const double ix = pad_coordinate(unnormalize(gx, W, align_corners), W, padding, align_corners);
              const double iy = pad_coordinate(unnormalize(gy, H, align_corners), H, padding, align_corners);
              if (mode == 1) {
                value = at(std::nearbyint(iy), std::nearbyint(ix));
              } else {
                const double x0 = std::floor(ix), y0 = std::floor(iy), tx = ix - x0, ty = iy - y0;
                value = at(y0, x0) * (1 - tx) * (1 - ty) + at(y0, x0 + 1) * tx * (1 - ty) +
                        at(y0 + 1, x0) * (1 - tx) * ty + at(y0 + 1, x0 + 1) * tx * ty;
              }
            }
            y[n * out->strides[0] + ch * out->strides[1] + oh * out->strides[2] + ow * out->strides[3]] =
                static_cast<T>(value);
          }
        }
      }
    }
    return ETP_OK;
  });
}

// ---------------------------------------------------------------------------------------------
// _upsample_bilinear2d_aa: bilinear resize with antialiasing, as F.interpolate(..., antialias=True).
// Separable: each output index takes a normalized triangle-filter average of the input pixels
// within `support` of its centre; when downscaling the filter widens by the scale.

// The input range [first, first + weights.size()) and normalized weights of output index `i`.
void aa_weights(int64_t i, int64_t in_size, double scale, std::vector<double>* weights, int64_t* first) {
  const double support = scale >= 1 ? scale : 1.0;  // interp size 2, halved, times the scale
  const double center = scale * (static_cast<double>(i) + 0.5);
  const double invscale = scale >= 1 ? 1 / scale : 1.0;
  // Clamped in double first: a tiny scales_h/scales_w makes `scale` (and these) far beyond int64.
  const double size = static_cast<double>(in_size);
  const int64_t lo = static_cast<int64_t>(std::clamp(center - support + 0.5, 0.0, size));
  const int64_t hi = static_cast<int64_t>(std::clamp(center + support + 0.5, 0.0, size));
  weights->assign(static_cast<size_t>(std::max<int64_t>(hi - lo, 0)), 0.0);
  double total = 0;
  for (int64_t j = lo; j < hi; ++j) {
    const double x = std::fabs((static_cast<double>(j) - center + 0.5) * invscale);
    const double w = x < 1 ? 1 - x : 0;
    (*weights)[static_cast<size_t>(j - lo)] = w;
    total += w;
  }
  if (total != 0) {
    for (double& w : *weights) w /= total;
  }
  *first = lo;
}

// aten::_upsample_bilinear2d_aa.out(Tensor self, SymInt[2] output_size, bool align_corners,
//     float? scales_h=None, float? scales_w=None, *, Tensor(a!) out)
ETP_PORTABLE_KERNEL(upsample_bilinear2d_aa_out, "aten::_upsample_bilinear2d_aa.out") {
  etp_tensor *in, *out;
  const int64_t* size = nullptr;
  uint64_t count = 0;
  bool align_corners = false;
  if (etp_status s = expect_args(c, 7)) return s;
  if (!tensor_arg(c, 0, &in) || !int_list_arg(c, 1, &size, &count) || !bool_arg(c, 2, &align_corners) ||
      !tensor_arg(c, 5, &out)) {
    return ETP_ERR_INVALID_ARGUMENT;
  }
  double given[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    const etp_value& v = *c.args[3 + k];
    if (v.tag == ETP_VALUE_DOUBLE)
      given[k] = v.u.d;
    else if (v.tag != ETP_VALUE_NONE)
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: scales must be floats or None", c.op);
    if (given[k] > 0 && !std::isfinite(1.0 / given[k])) {  // the filter's centre and support would be inf
      return fail(c.host, ETP_ERR_INVALID_ARGUMENT, "%s: %s %g has no finite reciprocal", c.op,
                  k == 0 ? "scales_h" : "scales_w", given[k]);
    }
  }
  if (in->rank != 4)
    return fail(c.host, ETP_ERR_SHAPE, "%s: input must be 4-D [N, C, H, W], got rank %d", c.op, in->rank);
  if (count != 2 || size[0] <= 0 || size[1] <= 0 || in->sizes[2] <= 0 || in->sizes[3] <= 0) {
    return fail(c.host, ETP_ERR_SHAPE, "%s: output_size needs two positive entries (and the input positive sizes)",
                c.op);
  }
  if (out->dtype != in->dtype) return fail(c.host, ETP_ERR_DTYPE, "%s: out dtype must equal the input's", c.op);
  const int64_t sizes[4] = {in->sizes[0], in->sizes[1], size[0], size[1]};
  if (etp_status s = etp_sdk::resize(c.host, out, 4, sizes)) return fail(c.host, s, "%s: cannot resize out", c.op);
  // Nothing to compute, and the per-index weights below are sized by output_size.
  if (etp_sdk::numel(*out) == 0) return dispatch_float(c, in->dtype, [](auto) { return ETP_OK; });
  // Per axis: each output index's input range and weights.
  std::vector<std::vector<double>> weights[2];
  std::vector<int64_t> firsts[2];
  for (int k = 0; k < 2; ++k) {
    const double scale = source_scale(in->sizes[2 + k], sizes[2 + k], align_corners, given[k] > 0 ? given[k] : 0);
    weights[k].resize(static_cast<size_t>(sizes[2 + k]));
    firsts[k].resize(static_cast<size_t>(sizes[2 + k]));
    for (int64_t i = 0; i < sizes[2 + k]; ++i) {
      aa_weights(i, in->sizes[2 + k], scale, &weights[k][static_cast<size_t>(i)], &firsts[k][static_cast<size_t>(i)]);
    }
  }
  return dispatch_float(c, in->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(in->data);
    T* y = static_cast<T*>(out->data);
    std::vector<double> rows(static_cast<size_t>(in->sizes[2] * sizes[3]));  // width pass, per plane
    for (int64_t n = 0; n < sizes[0]; ++n) {
      for (int64_t ch = 0; ch < sizes[1]; ++ch) {
        const T* plane = x + n * in->strides[0] + ch * in->strides[1];
        for (int64_t h = 0; h < in->sizes[2]; ++h) {
          for (int64_t ow = 0; ow < sizes[3]; ++ow) {
            const std::vector<double>& w = weights[1][static_cast<size_t>(ow)];
            const int64_t first = firsts[1][static_cast<size_t>(ow)];
            double acc = 0;
            for (size_t j = 0; j < w.size(); ++j) {
              acc += w[j] * static_cast<double>(
                                plane[h * in->strides[2] + (first + static_cast<int64_t>(j)) * in->strides[3]]);
            }
            rows[static_cast<size_t>(h * sizes[3] + ow)] = acc;
          }
        }
        for (int64_t oh = 0; oh < sizes[2]; ++oh) {
          const std::vector<double>& w = weights[0][static_cast<size_t>(oh)];
          const int64_t first = firsts[0][static_cast<size_t>(oh)];
          for (int64_t ow = 0; ow < sizes[3]; ++ow) {
            double acc = 0;
            for (size_t j = 0; j < w.size(); ++j) {
              acc += w[j] * rows[static_cast<size_t>((first + static_cast<int64_t>(j)) * sizes[3] + ow)];
            }
            y[n * out->strides[0] + ch * out->strides[1] + oh * out->strides[2] + ow * out->strides[3]] =
                static_cast<T>(acc);
          }
        }
      }
    }
    return ETP_OK;
  });
}

}  // namespace

ETP_KERNEL_FAMILY(upsample_kernels, ETP_ENTRY(upsample_bilinear2d_vec_out), ETP_ENTRY(upsample_nearest2d_vec_out),
                  ETP_ENTRY(grid_sampler_2d_out), ETP_ENTRY(upsample_bilinear2d_aa_out))

}  // namespace etp_portable
