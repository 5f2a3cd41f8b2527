#include "plugins/portable/kernel_harness.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace etp::test {

TestTensor::TestTensor(int32_t dtype, std::vector<int64_t> sizes, std::vector<uint8_t> dim_order,
                       int64_t capacity_elements, int32_t dynamism)
    : state_(new TensorState{}) {
  TensorState& s = *state_;
  s.tensor.rank = static_cast<int32_t>(sizes.size());
  int64_t numel = 1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    s.sizes[i] = sizes[i];
    s.dim_order[i] = dim_order.empty() ? static_cast<uint8_t>(i) : dim_order[i];
    numel *= sizes[i];
  }
  const int64_t capacity = capacity_elements < 0 ? numel : capacity_elements;
  s.capacity_bytes = static_cast<uint64_t>(capacity) * etp_sdk::dtype_size(dtype);
  const size_t words = (s.capacity_bytes + 7) / 8 + 2;  // + slack so empty tensors have an address
  storage_.reset(new uint64_t[words]());
  s.tensor.dtype = dtype;
  s.tensor.dynamism = dynamism;
  s.tensor.capacity = s.capacity_bytes;
  s.tensor.data = storage_.get();
  update(&s);
}

void TestTensor::update(TensorState* s) {
  int64_t stride = 1;
  for (int32_t i = s->tensor.rank; i-- > 0;) {
    s->strides[s->dim_order[i]] = stride;
    stride *= s->sizes[s->dim_order[i]];
  }
  s->tensor.sizes = s->sizes;
  s->tensor.dim_order = s->dim_order;
  s->tensor.strides = s->strides;
  s->tensor.nbytes = static_cast<uint64_t>(etp_sdk::numel(s->tensor)) * etp_sdk::dtype_size(s->tensor.dtype);
}

bool TestTensor::resize(TensorState* s, int32_t rank, const int64_t* sizes) {
  if (rank < 0 || rank > ETP_MAX_RANK) return false;
  uint64_t bytes = etp_sdk::dtype_size(s->tensor.dtype);
  bool same = rank == s->tensor.rank;
  for (int32_t i = 0; i < rank; ++i) {
    if (sizes[i] < 0) return false;
    bytes *= static_cast<uint64_t>(sizes[i]);
    same = same && sizes[i] == s->sizes[i];
  }
  if (bytes > s->capacity_bytes) return false;
  if (s->tensor.dynamism == ETP_DYNAMISM_STATIC && !same) return false;
  if (rank != s->tensor.rank) {
    if (!etp_sdk::is_contiguous_order(s->tensor)) return false;  // cannot re-rank a permuted order
    for (int32_t i = 0; i < rank; ++i) s->dim_order[i] = static_cast<uint8_t>(i);
  }
  s->tensor.rank = rank;
  for (int32_t i = 0; i < rank; ++i) s->sizes[i] = sizes[i];
  update(s);
  return true;
}

void* TestTensor::element(size_t logical_index) const {
  const TensorState& s = *state_;
  int64_t offset = 0;
  size_t rest = logical_index;
  for (int32_t d = s.tensor.rank; d-- > 0;) {
    const size_t size = static_cast<size_t>(s.sizes[d]);
    offset += static_cast<int64_t>(rest % size) * s.strides[d];
    rest /= size;
  }
  return static_cast<uint8_t*>(s.tensor.data) + offset * static_cast<int64_t>(etp_sdk::dtype_size(s.tensor.dtype));
}

TestValue TestValue::none() { return {}; }
TestValue TestValue::integer(int64_t v) {
  TestValue t;
  t.value.tag = ETP_VALUE_INT;
  t.value.u.i = v;
  return t;
}
TestValue TestValue::real(double v) {
  TestValue t;
  t.value.tag = ETP_VALUE_DOUBLE;
  t.value.u.d = v;
  return t;
}
TestValue TestValue::boolean(bool v) {
  TestValue t;
  t.value.tag = ETP_VALUE_BOOL;
  t.value.u.b = v;
  return t;
}
TestValue TestValue::tensor(TestTensor& tensor) {
  TestValue t;
  t.value.tag = ETP_VALUE_TENSOR;
  t.value.u.tensor = tensor.raw();
  return t;
}
// Lists point into the TestValue's own vectors, so a TestValue must not be copied after the
// list is built; the factories below return by value and the pointers are set in run().
TestValue TestValue::int_list(std::vector<int64_t> v) {
  TestValue t;
  t.value.tag = ETP_VALUE_INT_LIST;
  t.ints = std::move(v);
  return t;
}
TestValue TestValue::double_list(std::vector<double> v) {
  TestValue t;
  t.value.tag = ETP_VALUE_DOUBLE_LIST;
  t.doubles = std::move(v);
  return t;
}
TestValue TestValue::tensor_list(std::vector<TestTensor*> v, bool optional) {
  TestValue t;
  t.value.tag = optional ? ETP_VALUE_OPTIONAL_TENSOR_LIST : ETP_VALUE_TENSOR_LIST;
  for (TestTensor* tensor : v) t.tensors.push_back(tensor ? tensor->raw() : nullptr);
  return t;
}

KernelHarness::KernelHarness(const char* path, uint32_t threads)
    : pool_(std::make_unique<runtime::ThreadPool>(threads)) {
  library_ = ::dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (library_ == nullptr) {
    ADD_FAILURE() << "cannot load " << path << ": " << ::dlerror();
    return;
  }
  auto query = reinterpret_cast<etp_plugin_query_fn>(::dlsym(library_, ETP_PLUGIN_QUERY_SYMBOL));
  host_.header = ETP_ABI_HEADER(etp_host_api);
  host_.self = this;
  host_.log = &KernelHarness::log;
  host_.allocate = [](void*, uint64_t size, uint64_t alignment) -> void* {
    return std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
  };
  host_.free = [](void*, void* p) { std::free(p); };
  host_.resize_tensor = &KernelHarness::resize;
  host_.parallel_for = [](void* self, uint64_t count, uint64_t grain, etp_parallel_task task, void* context) {
    static_cast<KernelHarness*>(self)->pool_->parallel_for(count, grain, task, context);
  };
  host_.thread_count = [](void* self) { return static_cast<KernelHarness*>(self)->pool_->threads(); };
  plugin_ = query ? query(&host_) : nullptr;
  if (plugin_ == nullptr) ADD_FAILURE() << "the portable plugin refused the harness host";
}

KernelHarness::~KernelHarness() {
  if (library_ != nullptr) ::dlclose(library_);
}

void KernelHarness::log(void* self, int32_t level, const char* message) {
  if (level >= ETP_LOG_ERROR) static_cast<KernelHarness*>(self)->last_error_ = message;
}

etp_status KernelHarness::resize(void* self, etp_tensor* tensor, int32_t rank, const int64_t* sizes) {
  // Every tensor the harness hands out is the first member of a TensorState.
  if (!TestTensor::resize(reinterpret_cast<TensorState*>(tensor), rank, sizes)) {
    static_cast<KernelHarness*>(self)->last_error_ = "resize beyond capacity or of a static tensor";
    return ETP_ERR_SHAPE;
  }
  return ETP_OK;
}

bool KernelHarness::has(const std::string& op) const {
  etp_kernel kernel{};
  return plugin_ && plugin_->resolve_kernel(plugin_->self, op.c_str(), &kernel) == ETP_OK;
}

etp_status KernelHarness::run(const std::string& op, std::vector<TestValue*> values) {
  etp_kernel kernel{};
  if (!plugin_ || plugin_->resolve_kernel(plugin_->self, op.c_str(), &kernel) != ETP_OK) {
    ADD_FAILURE() << "portable plugin has no kernel " << op;
    return ETP_ERR_NOT_FOUND;
  }
  std::vector<etp_value*> args;
  for (TestValue* v : values) {
    switch (v->value.tag) {
      case ETP_VALUE_INT_LIST:
        v->value.u.int_list = {v->ints.data(), v->ints.size()};
        break;
      case ETP_VALUE_DOUBLE_LIST:
        v->value.u.double_list = {v->doubles.data(), v->doubles.size()};
        break;
      case ETP_VALUE_TENSOR_LIST:
      case ETP_VALUE_OPTIONAL_TENSOR_LIST:
        v->value.u.tensor_list = {v->tensors.data(), v->tensors.size()};
        break;
      default:
        break;
    }
    args.push_back(&v->value);
  }
  last_error_.clear();
  return kernel.fn(kernel.self, &host_, args.data(), static_cast<uint32_t>(args.size()));
}

}  // namespace etp::test
