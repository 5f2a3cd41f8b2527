#include "plugins/plugin_check_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace etp::plugins {
namespace {

// Argument layouts the checker can generate (schema arguments before `out`):
//   kUnary (self), kBinary (self, other), kBinaryAlpha (self, other, alpha),
//   kScalar (self, Scalar other), kScalarAlpha (self, Scalar other, alpha),
//   kCompare (self, other) with a bool out, kReduce (self, int[] dim, bool keepdim, dtype),
//   kSoftmax (self, int dim, bool half_to_float), kMatmul (self [n,k], mat2 [k,m]),
//   kPermute (self, int[] dims).
enum class Schema { kUnary, kBinary, kBinaryAlpha, kScalar, kScalarAlpha, kCompare, kReduce, kSoftmax, kMatmul, kPermute };

// The operators the checker can call: name, argument layout, whether integer dtypes apply.
struct OpSpec {
  const char* name;
  Schema schema;
  bool integers;
};

constexpr OpSpec kOps[] = {
    {"aten::add.out", Schema::kBinaryAlpha, true}, {"aten::sub.out", Schema::kBinaryAlpha, true},
    {"aten::mul.out", Schema::kBinary, true},      {"aten::div.out", Schema::kBinary, false},
    {"aten::maximum.out", Schema::kBinary, true},  {"aten::minimum.out", Schema::kBinary, true},
    {"aten::relu.out", Schema::kUnary, true},      {"aten::neg.out", Schema::kUnary, true},
    {"aten::abs.out", Schema::kUnary, true},       {"aten::exp.out", Schema::kUnary, false},
    {"aten::sigmoid.out", Schema::kUnary, false},  {"aten::tanh.out", Schema::kUnary, false},
    {"aten::sqrt.out", Schema::kUnary, false},     {"aten::hardtanh.out", Schema::kUnary, false},
    {"aten::add.Scalar_out", Schema::kScalarAlpha, true}, {"aten::sub.Scalar_out", Schema::kScalarAlpha, true},
    {"aten::mul.Scalar_out", Schema::kScalar, true},      {"aten::div.Scalar_out", Schema::kScalar, false},
    {"aten::eq.Tensor_out", Schema::kCompare, true},      {"aten::ne.Tensor_out", Schema::kCompare, true},
    {"aten::lt.Tensor_out", Schema::kCompare, true},      {"aten::le.Tensor_out", Schema::kCompare, true},
    {"aten::gt.Tensor_out", Schema::kCompare, true},      {"aten::ge.Tensor_out", Schema::kCompare, true},
    {"aten::sum.IntList_out", Schema::kReduce, false},    {"aten::mean.out", Schema::kReduce, false},
    {"aten::_softmax.out", Schema::kSoftmax, false},      {"aten::_log_softmax.out", Schema::kSoftmax, false},
    {"aten::mm.out", Schema::kMatmul, true},              {"aten::permute_copy.out", Schema::kPermute, true},
};

// Schemas whose generated cases take one tensor of the case's first shape.
bool one_input(Schema s) {
  return s == Schema::kUnary || s == Schema::kScalar || s == Schema::kScalarAlpha || s == Schema::kReduce ||
         s == Schema::kSoftmax || s == Schema::kPermute;
}

struct OwnedTensor;
std::vector<OwnedTensor*> g_live;  // tensors resize_checked_tensor may resize

// A tensor the checker owns, with the layout fields an etp_tensor points into.
struct OwnedTensor {
  std::vector<int64_t> sizes, strides;
  std::vector<uint8_t> dim_order;
  std::vector<uint8_t> bytes;
  etp_tensor t{};

  OwnedTensor(int32_t dtype, std::vector<int64_t> shape, std::vector<uint8_t> order, uint64_t capacity_bytes)
      : sizes(std::move(shape)), strides(sizes.size()), dim_order(std::move(order)), bytes(capacity_bytes) {
    if (dim_order.empty()) {
      for (size_t i = 0; i < sizes.size(); ++i) dim_order.push_back(static_cast<uint8_t>(i));
    }
    t.dtype = dtype;
    t.rank = static_cast<int32_t>(sizes.size());
    t.capacity = capacity_bytes;
    t.dynamism = ETP_DYNAMISM_STATIC;  // planned at its shape, as in a static program
    relayout();
    g_live.push_back(this);
  }
  ~OwnedTensor() { g_live.erase(std::find(g_live.begin(), g_live.end(), this)); }
  OwnedTensor(const OwnedTensor&) = delete;
  OwnedTensor& operator=(const OwnedTensor&) = delete;
  void relayout() {
    int64_t stride = 1;
    for (size_t i = dim_order.size(); i-- > 0;) {
      strides[dim_order[i]] = stride;
      stride *= sizes[dim_order[i]];
    }
    t.sizes = sizes.data();
    t.strides = strides.data();
    t.dim_order = dim_order.data();
    t.data = bytes.data();
    t.nbytes = static_cast<uint64_t>(stride) * element_size(t.dtype);
  }
  static uint64_t element_size(int32_t dtype) {
    return dtype == ETP_DTYPE_BOOL ? 1 : dtype == ETP_DTYPE_INT32 || dtype == ETP_DTYPE_FLOAT32 ? 4 : 8;
  }
  // Element at logical (row-major) index i, as double.
  double at(int64_t i) const {
    int64_t offset = 0;
    for (size_t d = sizes.size(); d-- > 0;) {
      offset += (i % sizes[d]) * strides[d];
      i /= sizes[d];
    }
    if (t.dtype == ETP_DTYPE_FLOAT32) return reinterpret_cast<const float*>(bytes.data())[offset];
    if (t.dtype == ETP_DTYPE_BOOL) return bytes[static_cast<size_t>(offset)] != 0 ? 1.0 : 0.0;
    return reinterpret_cast<const int32_t*>(bytes.data())[offset];
  }
  void fill(uint32_t seed) {
    uint32_t state = seed * 2654435761u + 12345u;
    for (int64_t i = 0; i < static_cast<int64_t>(t.nbytes / element_size(t.dtype)); ++i) {
      state = state * 1664525u + 1013904223u;
      const int v = static_cast<int>(state >> 24) % 19 - 9;  // -9..9, zeros included
      if (t.dtype == ETP_DTYPE_FLOAT32) {
        reinterpret_cast<float*>(bytes.data())[i] = static_cast<float>(v) * 0.37f;
      } else {
        reinterpret_cast<int32_t*>(bytes.data())[i] = v;
      }
    }
  }
};

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  return n;
}

// One generated case: input shapes (one or two), dim orders, and the broadcast output shape.
struct Case {
  std::string what;
  std::vector<int64_t> a, b;
  std::vector<uint8_t> order;  // for every tensor of rank 4 (channels last), else contiguous
};

// Matrix products: (self, mat2) shapes, including an empty product and an empty inner dim.
const std::vector<Case>& matmul_cases() {
  static const std::vector<Case> all = {
      {"[3,4] x [4,5]", {3, 4}, {4, 5}, {}},
      {"[1,7] x [7,1]", {1, 7}, {7, 1}, {}},
      {"[6,9] x [9,10]", {6, 9}, {9, 10}, {}},
      {"empty [0,3] x [3,2]", {0, 3}, {3, 2}, {}},
      {"[2,0] x [0,3]", {2, 0}, {0, 3}, {}},
  };
  return all;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"[2,3]", {2, 3}, {2, 3}, {}},
      {"[2,3] with [3]", {2, 3}, {3}, {}},
      {"[4,1] with [1,5]", {4, 1}, {1, 5}, {}},
      {"[1,3,4,5] channels-last", {1, 3, 4, 5}, {1, 3, 4, 5}, {0, 2, 3, 1}},
      {"empty [0,3]", {0, 3}, {0, 3}, {}},
      {"[1]", {1}, {1}, {}},
  };
  return all;
}

std::vector<int64_t> broadcast(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<int64_t> out(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t x = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    const int64_t y = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    out[i] = x == 1 ? y : x;
  }
  return out;
}

struct RunResult {
  etp_status status;
  std::unique_ptr<OwnedTensor> out;
};

// Runs one generated case. With `asker` (a plugin of ABI 1.2 or later that has
// accept_kernel_call), the case is first offered to it, as the host does at load: anything but
// ETP_OK is returned with `asked` set, and the kernel is not called.
RunResult run(const etp_kernel& k, const etp_host_api& host, const OpSpec& op, int32_t dtype, const Case& c,
              const etp_plugin* asker = nullptr, bool* asked = nullptr) {
  const auto order_for = [&](const std::vector<int64_t>& shape) {
    return shape.size() == 4 && !c.order.empty() ? c.order : std::vector<uint8_t>{};
  };
  OwnedTensor a(dtype, c.a, order_for(c.a), numel(c.a) * 8 + 8);
  OwnedTensor b(dtype, c.b, order_for(c.b), numel(c.b) * 8 + 8);
  a.fill(1);
  b.fill(2);
  const int64_t last = c.a.empty() ? 0 : static_cast<int64_t>(c.a.size()) - 1;
  std::vector<int64_t> shape = c.a, dims;  // out's shape; dims: the int[] argument
  int32_t out_dtype = dtype;
  std::vector<uint8_t> out_order = order_for(c.a);
  switch (op.schema) {
    case Schema::kBinary: case Schema::kBinaryAlpha: case Schema::kCompare:
      shape = broadcast(c.a, c.b);
      out_order = order_for(shape);
      if (op.schema == Schema::kCompare) out_dtype = ETP_DTYPE_BOOL;
      break;
    case Schema::kReduce:  // over the last dim, without keepdim
      dims = {last};
      shape.pop_back();
      out_order.clear();
      break;
    case Schema::kMatmul:
      shape = {c.a[0], c.b[1]};
      out_order.clear();
      break;
    case Schema::kPermute:  // dims reversed
      for (int64_t d = last; d >= 0; --d) dims.push_back(d);
      std::reverse(shape.begin(), shape.end());
      out_order.clear();
      break;
    default: break;
  }
  auto out = std::make_unique<OwnedTensor>(out_dtype, shape, out_order, numel(shape) * 8 + 8);
  std::vector<etp_value> values;
  auto tensor = [](etp_tensor* t) {
    etp_value v{};
    v.tag = ETP_VALUE_TENSOR;
    v.u.tensor = t;
    return v;
  };
  auto integer = [](int64_t i) {
    etp_value v{};
    v.tag = ETP_VALUE_INT;
    v.u.i = i;
    return v;
  };
  auto boolean = [](bool x) {
    etp_value v{};
    v.tag = ETP_VALUE_BOOL;
    v.u.b = x;
    return v;
  };
  auto scalar = [&](double d, int64_t i) {
    etp_value v{};
    if (dtype == ETP_DTYPE_FLOAT32) {
      v.tag = ETP_VALUE_DOUBLE;
      v.u.d = d;
    } else {
      v = integer(i);
    }
    return v;
  };
  values.push_back(tensor(&a.t));
  switch (op.schema) {
    case Schema::kBinary: case Schema::kCompare: case Schema::kMatmul: values.push_back(tensor(&b.t)); break;
    case Schema::kBinaryAlpha:
      values.push_back(tensor(&b.t));
      values.push_back(integer(1));
      break;
    case Schema::kScalar: values.push_back(scalar(1.25, 3)); break;
    case Schema::kScalarAlpha:
      values.push_back(scalar(1.25, 3));
      values.push_back(integer(1));
      break;
    case Schema::kReduce: {
      etp_value list{};
      list.tag = ETP_VALUE_INT_LIST;
      list.u.int_list = {dims.data(), dims.size()};
      values.push_back(list);
      values.push_back(boolean(false));
      values.push_back(etp_value{});  // dtype: None
      break;
    }
    case Schema::kSoftmax:
      values.push_back(integer(-1));
      values.push_back(boolean(false));
      break;
    case Schema::kPermute: {
      etp_value list{};
      list.tag = ETP_VALUE_INT_LIST;
      list.u.int_list = {dims.data(), dims.size()};
      values.push_back(list);
      break;
    }
    case Schema::kUnary:
      if (std::strcmp(op.name, "aten::hardtanh.out") == 0) {  // (self, min_val, max_val, out)
        etp_value lo{}, hi{};
        lo.tag = hi.tag = ETP_VALUE_DOUBLE;
        lo.u.d = -1.5;
        hi.u.d = 2.0;
        values.push_back(lo);
        values.push_back(hi);
      }
      break;
  }
  values.push_back(tensor(&out->t));
  values.push_back(tensor(&out->t));  // the return slot
  std::vector<etp_value*> args;
  for (etp_value& v : values) args.push_back(&v);
  if (asker != nullptr) {
    const etp_status accepted =
        asker->accept_kernel_call(asker->self, op.name, &k, args.data(), static_cast<uint32_t>(args.size()));
    *asked = accepted != ETP_OK;
    if (accepted != ETP_OK) return {accepted, std::move(out)};
  }
  const etp_status s = k.fn(k.self, &host, args.data(), static_cast<uint32_t>(args.size()));
  return {s, std::move(out)};
}

}  // namespace

etp_status resize_checked_tensor(etp_tensor* tensor, int32_t rank, const int64_t* sizes) {
  for (OwnedTensor* o : g_live) {
    if (&o->t != tensor) continue;
    if (rank != tensor->rank) return ETP_ERR_SHAPE;
    uint64_t n = 1;
    for (int32_t i = 0; i < rank; ++i) {
      if (sizes[i] < 0) return ETP_ERR_SHAPE;
      n *= static_cast<uint64_t>(sizes[i]);
    }
    if (n * OwnedTensor::element_size(tensor->dtype) > tensor->capacity) return ETP_ERR_SHAPE;
    o->sizes.assign(sizes, sizes + rank);
    o->relayout();
    return ETP_OK;
  }
  return ETP_ERR_SHAPE;
}

KernelDiff compare_kernels(const etp_plugin& candidate, const etp_plugin& reference, const etp_host_api& host) {
  KernelDiff d;
  int compared = 0, refused = 0, declined = 0, operators = 0;
  const etp_plugin* asker = &candidate;
  if (!ETP_ABI_HAS(asker, accept_kernel_call)) asker = nullptr;
  std::string refusals;
  for (const OpSpec& op : kOps) {
    etp_kernel mine{}, theirs{};
    if (candidate.resolve_kernel == nullptr || candidate.resolve_kernel(candidate.self, op.name, &mine) != ETP_OK)
      continue;
    if (reference.resolve_kernel == nullptr || reference.resolve_kernel(reference.self, op.name, &theirs) != ETP_OK)
      continue;
    ++operators;
    for (int32_t dtype : {ETP_DTYPE_FLOAT32, ETP_DTYPE_INT32}) {
      if (dtype == ETP_DTYPE_INT32 && !op.integers) continue;
      for (const Case& c : op.schema == Schema::kMatmul ? matmul_cases() : cases()) {
        if (one_input(op.schema) && c.a != c.b) continue;  // one shape per case
        if (op.schema == Schema::kReduce && c.a.empty()) continue;
        RunResult want = run(theirs, host, op, dtype, c);
        if (want.status != ETP_OK) continue;  // the reference does not serve this case
        bool asked = false;
        RunResult got = run(mine, host, op, dtype, c, asker, &asked);
        const std::string where =
            std::string(op.name) + " " + (dtype == ETP_DTYPE_FLOAT32 ? "float32 " : "int32 ") + c.what;
        if (asked && got.status == ETP_ERR_DECLINED) {  // the host gives this call to the next plugin
          ++declined;
          continue;
        }
        if (asked) {
          return {false, where + ": accept_kernel_call returned status " + std::to_string(got.status) +
                             " (expected ETP_OK or ETP_ERR_DECLINED)"};
        }
        if (got.status == ETP_ERR_DECLINED) {
          return {false, where + ": the kernel returned ETP_ERR_DECLINED when called (a call is declined at load, in "
                                 "accept_kernel_call)"};
        }
        if (got.status != ETP_OK) {
          ++refused;
          if (refused <= 3) refusals += (refusals.empty() ? "" : "; ") + where;
          continue;
        }
        ++compared;
        if (got.out->sizes != want.out->sizes) {
          return {false, where + ": output shape differs from the reference's"};
        }
        const int64_t n = numel(want.out->sizes);
        for (int64_t i = 0; i < n; ++i) {
          const double x = got.out->at(i), y = want.out->at(i);
          const bool same =
              (std::isnan(x) && std::isnan(y)) || x == y || std::fabs(x - y) <= 1e-6 + 1e-5 * std::fabs(y);
          if (!same) {
            char line[160];
            std::snprintf(line, sizeof line, ": element %lld is %g, the reference gives %g", static_cast<long long>(i),
                          x, y);
            return {false, where + line};
          }
        }
      }
    }
  }
  if (operators == 0) return {true, "none of its kernels is one the checker can generate cases for"};
  d.detail = std::to_string(compared) + " cases of " + std::to_string(operators) + " operator(s) match the reference";
  if (declined > 0) {
    d.detail += "; it declines " + std::to_string(declined) + " case(s) at load, which fall through to the next plugin";
  }
  if (refused > 0) {
    d.detail += "; it refuses " + std::to_string(refused) + " case(s) the reference serves (" + refusals +
                (refused > 3 ? ", ..." : "") + "): a model placing it first fails there";
  }
  return d;
}

}  // namespace etp::plugins
