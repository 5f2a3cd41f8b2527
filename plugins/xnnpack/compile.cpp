#include "compile.h"

#include <algorithm>
#include <limits>

namespace etp_xnnpack {
namespace {

size_t doz(size_t a, size_t b) { return a > b ? a - b : 0; }

// Kernel extent with dilation; false when a parameter is 0 or a padding is out of proportion
// (XNNPACK adds paddings as size_t: a huge one means a huge output, not a wrap).
bool window_checks(size_t in, uint32_t pad_a, uint32_t pad_b, uint32_t kernel, uint32_t stride, uint32_t dilation,
                   size_t* effective, std::string* error) {
  if (kernel == 0 || stride == 0 || dilation == 0) return *error = "kernel, stride and dilation must be positive", false;
  *effective = (size_t{kernel} - 1) * dilation + 1;
  if (uint64_t{pad_a} + pad_b > uint64_t{in} + *effective) {
    return *error = "padding exceeds the input plus the kernel extent", false;
  }
  return true;
}

// xnn_compute_convolution_output_dimension: doz(padded, effective) / stride + 1.
bool window_out(size_t in, uint32_t pad_a, uint32_t pad_b, uint32_t kernel, uint32_t stride, uint32_t dilation,
                size_t* out, std::string* error) {
  size_t effective = 0;
  if (!window_checks(in, pad_a, pad_b, kernel, stride, dilation, &effective, error)) return false;
  *out = doz(in + size_t{pad_a} + pad_b, effective) / stride + 1;
  return true;
}

// xnn_compute_deconvolution_output_dimension: doz(stride * (in - 1) + adjustment + effective, padding).
bool deconv_out(size_t in, uint32_t pad_a, uint32_t pad_b, uint32_t adjustment, uint32_t kernel, uint32_t stride,
                uint32_t dilation, size_t* out, std::string* error) {
  size_t effective = 0;
  if (!window_checks(in, pad_a, pad_b, kernel, stride, dilation, &effective, error)) return false;
  if (in == 0) return *error = "transposed convolution of an empty input", false;
  *out = doz(size_t{stride} * (in - 1) + adjustment + effective, size_t{pad_a} + pad_b);
  return true;
}

}  // namespace

std::pair<float, float> output_bounds(const fb_xnnpack::XNode& node) {
  if (const fb_xnnpack::OutputMinMax* m = node.output_min_max()) return {m->output_min(), m->output_max()};
  return {-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()};
}

bool conv_output_hw(const fb_xnnpack::_XNNNodeConv& n, bool transposed, size_t in_h, size_t in_w, size_t* out_h,
                    size_t* out_w, std::string* error) {
  if (transposed) {
    return deconv_out(in_h, n.padding_top(), n.padding_bottom(), n.adjustment_height(), n.kernel_height(),
                      n.subsampling_height(), n.dilation_height(), out_h, error) &&
           deconv_out(in_w, n.padding_left(), n.padding_right(), n.adjustment_width(), n.kernel_width(),
                      n.subsampling_width(), n.dilation_width(), out_w, error);
  }
  return window_out(in_h, n.padding_top(), n.padding_bottom(), n.kernel_height(), n.subsampling_height(),
                    n.dilation_height(), out_h, error) &&
         window_out(in_w, n.padding_left(), n.padding_right(), n.kernel_width(), n.subsampling_width(),
                    n.dilation_width(), out_w, error);
}

bool pool_output_hw(const fb_xnnpack::_XNNPooling2D& n, bool max, size_t in_h, size_t in_w, size_t* out_h,
                    size_t* out_w, std::string* error) {
  // The exporter may leave dilation 0 (meaning 1); max pooling is created with max(1, dilation).
  const uint32_t dil_h = max ? std::max(1u, n.dilation_height()) : 1, dil_w = max ? std::max(1u, n.dilation_width()) : 1;
  return window_out(in_h, n.padding_top(), n.padding_bottom(), n.pooling_height(), n.stride_height(), dil_h, out_h,
                    error) &&
         window_out(in_w, n.padding_left(), n.padding_right(), n.pooling_width(), n.stride_width(), dil_w, out_w, error);
}

bool compile_node(Delegate& d, size_t index, std::string* error) {
  const fb_xnnpack::XNode& node = *d.graph().root().xnodes()->Get(static_cast<flatbuffers::uoffset_t>(index));
  bool handled = false;
  const bool ok = compile_xnnpack_node(d, node, error, &handled);
  if (handled) return ok;
  const bool native_ok = compile_native_node(d, node, error, &handled);
  if (handled) return native_ok;
  *error = "this node type is not supported by the XNNPACK plugin";
  return false;
}

}  // namespace etp_xnnpack
