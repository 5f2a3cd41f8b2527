// The public tensor types (include/etp/tensor.h) over the host's dtype table and copy loops.
#include <cmath>
#include <cstring>

#include "api/api_internal.h"
#include "etp/tensor.h"
#include "format/scalar_type.h"
#include "runtime/host_tensor.h"
#include "runtime/tensor_io.h"

namespace etp {
namespace {

int64_t product(Span<int64_t> sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

}  // namespace

const char* dtype_name(DType dtype) { return format::scalar_type_name(static_cast<int>(dtype)); }
size_t dtype_size(DType dtype) { return format::scalar_type_size(static_cast<int>(dtype)); }

const char* value_kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::kNone: return "none";
    case ValueKind::kInt: return "int";
    case ValueKind::kDouble: return "double";
    case ValueKind::kBool: return "bool";
    case ValueKind::kString: return "string";
    case ValueKind::kTensor: return "tensor";
    case ValueKind::kIntList: return "int list";
    case ValueKind::kDoubleList: return "double list";
    case ValueKind::kBoolList: return "bool list";
    case ValueKind::kTensorList: return "tensor list";
    case ValueKind::kOptionalTensorList: return "optional tensor list";
  }
  return "unknown";
}

size_t TensorInfo::nbytes() const {
  size_t bytes = dtype_size(dtype);
  for (int64_t s : sizes) {
    if (s < 0 || __builtin_mul_overflow(bytes, static_cast<size_t>(s), &bytes)) return SIZE_MAX;
  }
  return bytes;
}

int64_t Tensor::numel() const { return product(sizes); }

double Tensor::value(int64_t i) const {
  const size_t size = dtype_size(dtype);
  if (i < 0 || i >= numel() || size == 0 || static_cast<size_t>(i) >= data.size() / size ||
      !runtime::has_numeric_value(static_cast<int32_t>(dtype))) {
    return std::nan("");
  }
  return runtime::element_value(data.data(), static_cast<int32_t>(dtype), i);
}

int64_t TensorView::numel() const { return product(sizes_); }

bool TensorView::is_row_major() const {
  for (size_t d = 0; d < dim_order_.size(); ++d) {
    if (dim_order_[d] != d) return false;
  }
  return true;
}

Status TensorView::copy_to(void* out, size_t out_nbytes) const {
  if (out_nbytes != nbytes_) {
    return Status(StatusCode::kInvalidArgument, "copy_to: the destination holds " + std::to_string(out_nbytes) +
                                                    " bytes, the tensor " + std::to_string(nbytes_));
  }
  if (nbytes_ == 0) return Status::success();
  if (data_ == nullptr) return Status(StatusCode::kInvalidState, "copy_to: the tensor has no memory (freed?)");
  if (is_row_major()) {
    std::memcpy(out, data_, nbytes_);
    return Status::success();
  }
  etp_tensor t{};
  t.dtype = static_cast<int32_t>(dtype_);
  t.rank = static_cast<int32_t>(sizes_.size());
  t.sizes = sizes_.data();
  t.dim_order = dim_order_.data();
  t.strides = strides_.data();
  t.data = const_cast<void*>(data_);
  t.nbytes = nbytes_;
  runtime::copy_logical(t, static_cast<const uint8_t*>(data_), static_cast<uint8_t*>(out), /*to_tensor=*/false);
  return Status::success();
}

Tensor TensorView::to_tensor() const {
  Tensor out{dtype_, sizes_.to_vector(), std::vector<uint8_t>(data_ != nullptr ? nbytes_ : 0)};
  if (data_ != nullptr) (void)copy_to(out.data.data(), out.data.size());  // sizes match by construction
  return out;
}

Value Value::of_tensor(TensorView view) { return Value(ValueKind::kTensor, view, 0, 0); }
Value Value::of_int(int64_t i) { return Value(ValueKind::kInt, {}, i, static_cast<double>(i)); }
Value Value::of_double(double d) { return Value(ValueKind::kDouble, {}, 0, d); }
Value Value::of_bool(bool b) { return Value(ValueKind::kBool, {}, b, b); }
Value Value::of_kind(ValueKind kind) { return Value(kind, {}, 0, 0); }

Result<Tensor> Value::to_tensor() const {
  auto scalar = [](DType dtype, const void* bytes, size_t size) {
    Tensor t{dtype, {}, std::vector<uint8_t>(size)};
    std::memcpy(t.data.data(), bytes, size);
    return t;
  };
  switch (kind_) {
    case ValueKind::kTensor: return tensor_.to_tensor();
    case ValueKind::kInt: return scalar(DType::kInt64, &int_, sizeof(int_));
    case ValueKind::kDouble: return scalar(DType::kFloat64, &double_, sizeof(double_));
    case ValueKind::kBool: {
      const uint8_t b = int_ != 0;
      return scalar(DType::kBool, &b, 1);
    }
    default:
      return Status(StatusCode::kNotSupported,
                    std::string("a value of kind '") + value_kind_name(kind_) + "' cannot be made a tensor");
  }
}

namespace api {

TensorView view_of(const etp_tensor& t) {
  const auto rank = static_cast<size_t>(t.rank);
  return TensorView(static_cast<DType>(t.dtype), Span<int64_t>(t.sizes, rank), Span<uint8_t>(t.dim_order, rank),
                    Span<int64_t>(t.strides, rank), t.data, t.nbytes);
}

Value value_of(const etp_value& v) {
  switch (v.tag) {
    case ETP_VALUE_TENSOR: return Value::of_tensor(view_of(*v.u.tensor));
    case ETP_VALUE_INT: return Value::of_int(v.u.i);
    case ETP_VALUE_DOUBLE: return Value::of_double(v.u.d);
    case ETP_VALUE_BOOL: return Value::of_bool(v.u.b);
    default: return Value::of_kind(static_cast<ValueKind>(v.tag));
  }
}

runtime::TensorInput to_input(const TensorRef& ref) {
  return {static_cast<int32_t>(ref.dtype), ref.sizes, ref.data, ref.nbytes};
}

}  // namespace api
}  // namespace etp
