// Tensors at the etp API: element types, metadata, caller-owned inputs (TensorRef), views of
// the runtime's outputs and state (TensorView), and owned copies (Tensor).
//
// Thread-safety: TensorRef and Tensor are plain values. A TensorView borrows memory owned by
// a Method; it is valid until that Method executes again, is given new inputs, or is destroyed,
// and follows the Method's rule (one thread at a time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "etp/status.h"

namespace etp {

// Element types, numbered as ExecuTorch's ScalarType (and the plugin ABI's etp_dtype), so
// values read from files pass through unchanged.
enum class DType : int32_t {
  kUInt8 = 0,
  kInt8 = 1,
  kInt16 = 2,
  kInt32 = 3,
  kInt64 = 4,
  kFloat16 = 5,
  kFloat32 = 6,
  kFloat64 = 7,
  kComplex32 = 8,
  kComplex64 = 9,
  kComplex128 = 10,
  kBool = 11,
  kQInt8 = 12,
  kQUInt8 = 13,
  kQInt32 = 14,
  kBFloat16 = 15,
  kUInt16 = 27,
  kUInt32 = 28,
  kUInt64 = 29,
};

// "float32", "int64", ... ("unknown" for a number etp has no name for).
const char* dtype_name(DType dtype);
// Bytes per element; 0 for an unknown dtype.
size_t dtype_size(DType dtype);

// A read-only view of `size` contiguous T.
template <typename T>
class Span {
 public:
  Span() = default;
  Span(const T* data, size_t size) : data_(data), size_(size) {}
  Span(const std::vector<T>& v) : data_(v.data()), size_(v.size()) {}  // NOLINT: implicit by design
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const T& operator[](size_t i) const { return data_[i]; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  std::vector<T> to_vector() const { return std::vector<T>(begin(), end()); }

 private:
  const T* data_ = nullptr;
  size_t size_ = 0;
};

// What a method input, output or state tensor looks like. For a dynamic tensor `sizes` is the
// planned upper bound; a static tensor always has exactly these sizes.
struct TensorInfo {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> sizes;
  std::vector<uint8_t> dim_order;  // outermost to innermost dim in memory; 0..rank-1 is row-major
  bool dynamic = false;            // sizes may shrink within the bound
  size_t nbytes() const;           // of `sizes`; SIZE_MAX when that does not fit a size_t
};

// Caller-owned input data: `sizes` and `nbytes` of elements in row-major (C) order. Borrowed for
// the duration of the call it is passed to, except where a call says it keeps it.
struct TensorRef {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> sizes;
  const void* data = nullptr;
  size_t nbytes = 0;
};

// An owned tensor: dtype, sizes and row-major bytes. Make inputs from it with ref().
struct Tensor {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> sizes;
  std::vector<uint8_t> data;

  int64_t numel() const;
  TensorRef ref() const { return {dtype, sizes, data.data(), data.size()}; }
  // Element i (row-major) as a double; NaN for dtypes without a numeric value or an index
  // outside the data.
  double value(int64_t i) const;
};

// A view of a tensor the runtime owns (a method's output or state). Its memory may be stored
// in any dim order; to_tensor() and copy_to() give row-major data whatever the order.
class TensorView {
 public:
  TensorView() = default;
  TensorView(DType dtype, Span<int64_t> sizes, Span<uint8_t> dim_order, Span<int64_t> strides, const void* data,
             size_t nbytes)
      : dtype_(dtype), sizes_(sizes), dim_order_(dim_order), strides_(strides), data_(data), nbytes_(nbytes) {}

  DType dtype() const { return dtype_; }
  size_t rank() const { return sizes_.size(); }
  Span<int64_t> sizes() const { return sizes_; }
  Span<uint8_t> dim_order() const { return dim_order_; }
  Span<int64_t> strides() const { return strides_; }  // in elements
  const void* data() const { return data_; }          // in storage order
  size_t nbytes() const { return nbytes_; }
  int64_t numel() const;
  // True when the storage order is row-major, so data() can be read as a C array.
  bool is_row_major() const;

  // Copies the elements in row-major order into `out`, which must hold exactly nbytes()
  // (kInvalidArgument otherwise; kInvalidState for a view without memory).
  Status copy_to(void* out, size_t out_nbytes) const;
  // An owned row-major copy (empty data for a view without memory).
  Tensor to_tensor() const;

 private:
  DType dtype_ = DType::kFloat32;
  Span<int64_t> sizes_;
  Span<uint8_t> dim_order_;
  Span<int64_t> strides_;
  const void* data_ = nullptr;
  size_t nbytes_ = 0;
};

// Values a method takes and returns (ExecuTorch's EValue kinds).
enum class ValueKind : int32_t {
  kNone = 0,
  kInt = 1,
  kDouble = 2,
  kBool = 3,
  kString = 4,
  kTensor = 5,
  kIntList = 6,
  kDoubleList = 7,
  kBoolList = 8,
  kTensorList = 9,
  kOptionalTensorList = 10,
};
const char* value_kind_name(ValueKind kind);  // "tensor", "int", ...

// One method input or output as the program declares it.
struct ValueInfo {
  ValueKind kind = ValueKind::kNone;
  TensorInfo tensor;  // when kind == kTensor
};

// A method output: a tensor view or a scalar (SymInt, float, bool outputs).
class Value {
 public:
  Value() = default;
  static Value of_tensor(TensorView view);
  static Value of_int(int64_t v);
  static Value of_double(double v);
  static Value of_bool(bool v);
  static Value of_kind(ValueKind kind);  // kinds without a payload here (lists, strings, none)

  ValueKind kind() const { return kind_; }
  bool is_tensor() const { return kind_ == ValueKind::kTensor; }
  const TensorView& tensor() const { return tensor_; }  // kind() == kTensor
  int64_t to_int() const { return int_; }               // kind() == kInt (or kBool)
  double to_double() const { return double_; }          // kind() == kDouble
  bool to_bool() const { return int_ != 0; }            // kind() == kBool
  // An owned copy: tensors as they are, Int/Double/Bool as 0-d int64/float64/bool tensors.
  // kNotSupported for other kinds.
  Result<Tensor> to_tensor() const;

 private:
  Value(ValueKind kind, TensorView tensor, int64_t i, double d)
      : kind_(kind), tensor_(tensor), int_(i), double_(d) {}
  ValueKind kind_ = ValueKind::kNone;
  TensorView tensor_;
  int64_t int_ = 0;
  double double_ = 0;
};

}  // namespace etp
