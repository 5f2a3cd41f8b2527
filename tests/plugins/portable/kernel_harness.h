// Runs single portable kernels from the real built plugin (loaded with dlopen) on tensors
// built in the test, through a minimal host that enforces capacity on resize like the real
// one. For kernel edge-case tests; the host runtime has its own tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "etp_plugin.h"
#include "runtime/thread_pool.h"
#include "etp_plugin.hpp"

namespace etp::test {

// The harness's tensor: an etp_tensor first (so the harness host can find the rest from the
// pointer a kernel passes to resize), then fixed-size shape arrays. Standard layout.
struct TensorState {
  etp_tensor tensor;
  int64_t sizes[ETP_MAX_RANK];
  uint8_t dim_order[ETP_MAX_RANK];
  int64_t strides[ETP_MAX_RANK];
  uint64_t capacity_bytes;
};

// A tensor owning its shape and data. `capacity_elements` bounds resizes. Movable: the state
// and data live on the heap, so the etp_tensor address stays stable.
class TestTensor {
 public:
  TestTensor(int32_t dtype, std::vector<int64_t> sizes, std::vector<uint8_t> dim_order = {},
             int64_t capacity_elements = -1, int32_t dynamism = ETP_DYNAMISM_DYNAMIC_BOUND);

  template <typename T>
  static TestTensor of(int32_t dtype, std::vector<int64_t> sizes, std::initializer_list<T> values,
                       std::vector<uint8_t> dim_order = {}) {
    TestTensor t(dtype, std::move(sizes), std::move(dim_order));
    t.set_logical<T>(std::vector<T>(values));
    return t;
  }

  etp_tensor* raw() { return &state_->tensor; }
  const etp_tensor& view() const { return state_->tensor; }
  std::vector<int64_t> sizes() const { return {state_->sizes, state_->sizes + state_->tensor.rank}; }

  // Elements in logical (row-major) order regardless of dim order.
  template <typename T>
  std::vector<T> logical() const {
    std::vector<T> out(static_cast<size_t>(etp_sdk::numel(state_->tensor)));
    for (size_t i = 0; i < out.size(); ++i) std::memcpy(&out[i], element(i), sizeof(T));
    return out;
  }
  template <typename T>
  void set_logical(const std::vector<T>& values) {
    for (size_t i = 0; i < values.size(); ++i) std::memcpy(element(i), &values[i], sizeof(T));
  }

  // Applies a resize to a harness tensor (contiguous dim order when the rank changes); false
  // beyond capacity or for a static tensor whose shape would change.
  static bool resize(TensorState* state, int32_t rank, const int64_t* sizes);

 private:
  void* element(size_t logical_index) const;
  static void update(TensorState* state);

  std::unique_ptr<TensorState> state_;
  std::unique_ptr<uint64_t[]> storage_;  // 8-byte aligned
};

// A value the harness passes to a kernel; keeps list storage alive.
struct TestValue {
  etp_value value{};
  std::vector<int64_t> ints;
  std::vector<double> doubles;
  std::vector<etp_tensor*> tensors;

  static TestValue none();
  static TestValue integer(int64_t v);
  static TestValue real(double v);
  static TestValue boolean(bool v);
  static TestValue tensor(TestTensor& t);
  static TestValue int_list(std::vector<int64_t> v);
  static TestValue double_list(std::vector<double> v);
  static TestValue tensor_list(std::vector<TestTensor*> v, bool optional = false);
};

class KernelHarness {
 public:
  // Loads the plugin library at `path` (by default the portable plugin); fails the test if it
  // cannot. Its host serves parallel_for (ABI 1.2) with a pool of `threads` threads.
  explicit KernelHarness(const char* path = ETP_PORTABLE_PLUGIN_PATH, uint32_t threads = 1);
  ~KernelHarness();

  bool has(const std::string& op) const;
  // Resolves `op` and runs it on `values` (schema args + the return slot). Returns the status;
  // the last error message the kernel logged is in last_error().
  etp_status run(const std::string& op, std::vector<TestValue*> values);
  const std::string& last_error() const { return last_error_; }
  const etp_plugin* plugin() const { return plugin_; }
  const runtime::ThreadPool& pool() const { return *pool_; }

 private:
  static void log(void* self, int32_t level, const char* message);
  static etp_status resize(void* self, etp_tensor* tensor, int32_t rank, const int64_t* sizes);

  void* library_ = nullptr;
  const etp_plugin* plugin_ = nullptr;
  etp_host_api host_{};
  std::unique_ptr<runtime::ThreadPool> pool_;
  std::string last_error_;
};

}  // namespace etp::test
