// runtime::compare, the check behind `etp run --check`: every numeric dtype is decoded (a
// float16 mismatch must be seen), and a dtype without a numeric value never passes.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "runtime/tensor_io.h"

namespace etp::test {
namespace {

struct OneDim {
  int64_t size;
  uint8_t dim_order = 0;
  int64_t stride = 1;
  etp_tensor tensor{};
  etp_value value{};
  OneDim(int32_t dtype, void* data, int64_t n, size_t element) : size(n) {
    tensor.dtype = dtype;
    tensor.rank = 1;
    tensor.sizes = &size;
    tensor.dim_order = &dim_order;
    tensor.strides = &stride;
    tensor.data = data;
    tensor.nbytes = tensor.capacity = static_cast<uint64_t>(n) * element;
    value.tag = ETP_VALUE_TENSOR;
    value.u.tensor = &tensor;
  }
};

NpyArray expected_of(int32_t dtype, const void* data, int64_t n, size_t element) {
  NpyArray a;
  a.dtype = dtype;
  a.shape = {n};
  a.data.resize(static_cast<size_t>(n) * element);
  std::memcpy(a.data.data(), data, a.data.size());
  return a;
}

TEST(TensorCompareTest, Float16ValuesAreDecodedAndAMismatchIsReported) {
  uint16_t got[3] = {0x3c00, 0xc000, 0x3800};        // 1, -2, 0.5
  const uint16_t same[3] = {0x3c00, 0xc000, 0x3801};  // 0.5 + 1 ulp (0.00049)
  const uint16_t off[3] = {0x3c00, 0x4000, 0x3800};   // -2 became 2
  OneDim t(ETP_DTYPE_FLOAT16, got, 3, 2);
  const auto pass = runtime::compare(t.value, expected_of(ETP_DTYPE_FLOAT16, same, 3, 2), 0, 1e-3);
  EXPECT_TRUE(pass.ok) << pass.mismatch;
  EXPECT_NEAR(pass.max_abs_error, 0.00048828125, 1e-9);
  const auto fail = runtime::compare(t.value, expected_of(ETP_DTYPE_FLOAT16, off, 3, 2), 0, 1e-3);
  EXPECT_FALSE(fail.ok);
  EXPECT_NE(fail.mismatch.find("element 1: got -2"), std::string::npos) << fail.mismatch;
  EXPECT_DOUBLE_EQ(runtime::element_value(got, ETP_DTYPE_FLOAT16, 2), 0.5);
}

TEST(TensorCompareTest, DtypeWithoutANumericValueNeverPasses) {
  int8_t q[2] = {1, 2};
  OneDim t(ETP_DTYPE_QINT8, q, 2, 1);
  const auto result = runtime::compare(t.value, expected_of(ETP_DTYPE_QINT8, q, 2, 1), 0, 0);
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.mismatch.find("cannot compare dtype"), std::string::npos) << result.mismatch;
}

}  // namespace
}  // namespace etp::test
