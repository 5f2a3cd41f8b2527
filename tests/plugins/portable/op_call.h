// Small conveniences for the portable kernel tests: run an operator from a list of argument
// values (the return slot is appended as a copy of the last one), compare float vectors and
// build float32 tensors holding 0, 1, 2, ... in logical order.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "plugins/portable/kernel_harness.h"

namespace etp::test {

using V = TestValue;

// Runs `op` on `args` plus a return slot equal to the last argument (the out tensor).
inline etp_status call(KernelHarness& h, const std::string& op, std::vector<TestValue> args) {
  args.push_back(args.back());
  std::vector<TestValue*> pointers;
  for (TestValue& a : args) pointers.push_back(&a);
  return h.run(op, pointers);
}

// Element-wise |actual - expected| <= tol; NaN matches NaN and infinities match exactly.
template <typename T>
void expect_near(const std::vector<T>& actual, const std::vector<double>& expected, double tol = 1e-5) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(static_cast<double>(actual[i]))) << "at " << i;
    } else if (std::isinf(expected[i])) {
      EXPECT_EQ(static_cast<double>(actual[i]), expected[i]) << "at " << i;
    } else {
      EXPECT_NEAR(static_cast<double>(actual[i]), expected[i], tol) << "at " << i;
    }
  }
}

// A float32 tensor of `sizes` (dim order `order`, default contiguous) holding 0, 1, 2, ... in
// logical (row-major) order.
inline TestTensor range(std::vector<int64_t> sizes, std::vector<uint8_t> order = {}) {
  TestTensor t(ETP_DTYPE_FLOAT32, sizes, std::move(order));
  size_t n = 1;
  for (int64_t s : sizes) n *= static_cast<size_t>(s);
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.0f);
  t.set_logical(v);
  return t;
}

// True when the last error names the operator.
inline bool names(const KernelHarness& h, const std::string& op) { return h.last_error().find(op) != std::string::npos; }

}  // namespace etp::test
