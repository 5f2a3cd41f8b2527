// The host's prim operators on hostile values: overflow, division by zero and doubles with no
// integer value are errors, never undefined behaviour.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdint>

#include "core/npy.h"
#include "plugins/plugin_log.h"
#include "runtime/host_services.h"
#include "runtime/host_tensor.h"
#include "runtime/prim_ops.h"

namespace etp::runtime {
namespace {

etp_status call(const std::string& op, std::vector<etp_value> args) {
  etp_kernel kernel{};
  EXPECT_TRUE(find_prim_op(op, &kernel)) << op;
  std::vector<etp_value*> pointers;
  for (etp_value& v : args) pointers.push_back(&v);
  return kernel.fn(kernel.self, runtime::HostServices::get().api(), pointers.data(),
                   static_cast<uint32_t>(pointers.size()));
}

etp_value integer(int64_t v) {
  etp_value out{};
  out.tag = ETP_VALUE_INT;
  out.u.i = v;
  return out;
}
etp_value real(double v) {
  etp_value out{};
  out.tag = ETP_VALUE_DOUBLE;
  out.u.d = v;
  return out;
}

TEST(PrimOpsTest, IntegerOverflowAndDivisionByZeroAreErrors) {
  EXPECT_EQ(call("executorch_prim::add.Scalar", {integer(INT64_MAX), integer(1), integer(0)}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(call("executorch_prim::mul.Scalar", {integer(INT64_MAX), integer(2), integer(0)}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(call("executorch_prim::floordiv.Scalar", {integer(INT64_MIN), integer(-1), integer(0)}),
            ETP_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(call("executorch_prim::mod.int", {integer(5), integer(0), integer(0)}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(call("executorch_prim::neg.Scalar", {integer(INT64_MIN), integer(0)}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(plugins::PluginLog::take_last_error().find("executorch_prim"), std::string::npos);
}

TEST(PrimOpsTest, DoublesWithoutAnIntegerValueAreErrors) {
  EXPECT_EQ(call("executorch_prim::sym_int.Scalar", {real(std::nan("")), integer(0)}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(call("executorch_prim::ceil.Scalar", {real(1e300), integer(0)}), ETP_ERR_INVALID_ARGUMENT);
}

TEST(PrimOpsTest, PythonFloorSemanticsOnValidValues) {
  std::vector<etp_value> args = {integer(-7), integer(2), integer(0)};
  etp_kernel kernel{};
  ASSERT_TRUE(find_prim_op("executorch_prim::floordiv.Scalar", &kernel));
  etp_value* p[] = {&args[0], &args[1], &args[2]};
  ASSERT_EQ(kernel.fn(nullptr, runtime::HostServices::get().api(), p, 3), ETP_OK);
  EXPECT_EQ(args[2].u.i, -4);
}

etp_value tensor_value(HostTensor* t) {
  etp_value out{};
  out.tag = ETP_VALUE_TENSOR;
  out.u.tensor = &t->raw;
  return out;
}

// et_copy_index writes row `index` of a [rows, 3] bound tensor and sets its rows to index + 1;
// rows past the bound, mismatched ranks and dtypes are errors, never writes out of bounds.
TEST(PrimOpsTest, CopyIndexWritesRowsWithinTheBoundAndRefusesTheRest) {
  const uint8_t order[2] = {0, 1};
  const int32_t to_sizes[2] = {2, 3}, row_sizes[1] = {3};
  float to_data[6] = {}, row_data[3] = {1, 2, 3};
  HostTensor to, row;
  to.init(ETP_DTYPE_FLOAT32, 2, to_sizes, order, ETP_DYNAMISM_DYNAMIC_BOUND);
  to.raw.data = to_data;
  row.init(ETP_DTYPE_FLOAT32, 1, row_sizes, order, ETP_DYNAMISM_STATIC);
  row.raw.data = row_data;
  const std::string op = "executorch_prim::et_copy_index.tensor";
  ASSERT_EQ(call(op, {tensor_value(&to), tensor_value(&row), integer(0)}), ETP_OK);
  EXPECT_EQ(to.raw.sizes[0], 1);
  row_data[0] = 4;
  ASSERT_EQ(call(op, {tensor_value(&to), tensor_value(&row), integer(1)}), ETP_OK);
  EXPECT_EQ(to.raw.sizes[0], 2);
  EXPECT_EQ(std::vector<float>(to_data, to_data + 6), (std::vector<float>{1, 2, 3, 4, 2, 3}));
  // Row 2 would need a third row: past the planned bound of 2.
  EXPECT_EQ(call(op, {tensor_value(&to), tensor_value(&row), integer(2)}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(plugins::PluginLog::take_last_error().find("cannot grow copy_to"), std::string::npos);
  EXPECT_EQ(call(op, {tensor_value(&to), tensor_value(&row), integer(-1)}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(call(op, {tensor_value(&row), tensor_value(&row), integer(0)}), ETP_ERR_INVALID_ARGUMENT);  // ranks
  int32_t ints[3] = {};
  HostTensor int_row;
  int_row.init(ETP_DTYPE_INT32, 1, row_sizes, order, ETP_DYNAMISM_STATIC);
  int_row.raw.data = ints;
  EXPECT_EQ(call(op, {tensor_value(&to), tensor_value(&int_row), integer(0)}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(plugins::PluginLog::take_last_error().find("differ in dtype"), std::string::npos);
  EXPECT_EQ(std::vector<float>(to_data, to_data + 6), (std::vector<float>{1, 2, 3, 4, 2, 3}));  // untouched
  // A static copy_to keeps its [2, 3] shape: row 1 is written in place, row 2 does not fit.
  HostTensor fixed;
  fixed.init(ETP_DTYPE_FLOAT32, 2, to_sizes, order, ETP_DYNAMISM_STATIC);
  fixed.raw.data = to_data;
  ASSERT_EQ(call(op, {tensor_value(&fixed), tensor_value(&row), integer(0)}), ETP_OK);
  EXPECT_EQ(fixed.raw.sizes[0], 2);  // row 0 written, the static shape kept
  row_data[0] = 7;
  ASSERT_EQ(call(op, {tensor_value(&fixed), tensor_value(&row), integer(1)}), ETP_OK);
  EXPECT_EQ(fixed.raw.sizes[0], 2);
  EXPECT_EQ(to_data[3], 7.0f);
  EXPECT_EQ(call(op, {tensor_value(&fixed), tensor_value(&row), integer(2)}), ETP_ERR_INVALID_ARGUMENT);
  // A bounded tensor whose memory is smaller than its element bound (an et_view of a smaller
  // tensor) never grows past its memory, whatever max_numel says.
  HostTensor view;
  const int32_t view_sizes[2] = {1, 3};
  view.init(ETP_DTYPE_FLOAT32, 2, view_sizes, order, ETP_DYNAMISM_DYNAMIC_BOUND);
  view.raw.data = to_data;
  view.max_numel = 3000;  // as if declared [1000, 3]
  view.raw.capacity = 12;
  EXPECT_EQ(call(op, {tensor_value(&view), tensor_value(&row), integer(999)}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(view.raw.sizes[0], 1);
}

// A 0 makes the element count 0 whatever the other sizes are. Those must still leave the
// strides and every product of sizes in int64 (a 0 counted as 1, times the element size), or
// the host's own numel()/strides and the plugins' sub-products overflow on an empty tensor.
TEST(HostTensorTest, ResizeRefusesAnEmptyShapeWhoseOtherSizesOverflowInt64) {
  const uint8_t order[3] = {0, 1, 2};
  const int32_t sizes[3] = {2, 2, 2};
  float data[8] = {};
  HostTensor t;
  t.init(ETP_DTYPE_FLOAT32, 3, sizes, order, ETP_DYNAMISM_DYNAMIC_BOUND);
  t.raw.data = data;
  const int64_t big = int64_t{1} << 62;
  const int64_t wide[3] = {0, big, big};  // strides 2^124 and 2^62
  Status s = t.resize(3, wide);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("size overflow in [0, 4611686018427387904, 4611686018427387904]"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("(a 0 counted as 1) times the element size exceed INT64_MAX bytes"), std::string::npos);
  const int64_t prefix[3] = {big, 2, 0};  // the unsigned element count is 0, numel() overflowed at 2^63
  EXPECT_FALSE(t.resize(3, prefix).ok());
  const int64_t bytes[3] = {0, int64_t{1} << 31, int64_t{1} << 30};  // 2^61 elements of 4 bytes = 2^63 bytes
  EXPECT_FALSE(t.resize(3, bytes).ok());
  EXPECT_EQ(t.shape_string(), "[2, 2, 2]") << "unchanged by the failures";
  const int64_t empty[3] = {0, int64_t{1} << 30, int64_t{1} << 30};  // 2^62 bytes: still fine
  ASSERT_TRUE(t.resize(3, empty).ok());
  EXPECT_EQ(t.numel(), 0);
  EXPECT_EQ(t.raw.strides[0], int64_t{1} << 60);
  EXPECT_EQ(t.raw.nbytes, 0u);
}

// et_view's sizes go through the same bound: an empty self could otherwise be viewed as
// [0, 2^62, 2^62] (its known-size product overflowed, and so did the view's strides).
TEST(PrimOpsTest, ViewOfAnEmptyTensorWithSizesBeyondInt64IsAnError) {
  const uint8_t order[2] = {0, 1};
  const int32_t self_sizes[2] = {0, 2}, out_sizes[2] = {2, 2};
  float data[4] = {};
  HostTensor self, out;
  self.init(ETP_DTYPE_FLOAT32, 2, self_sizes, order, ETP_DYNAMISM_STATIC);
  self.raw.data = data;
  out.init(ETP_DTYPE_FLOAT32, 2, out_sizes, order, ETP_DYNAMISM_DYNAMIC_BOUND);
  int64_t huge[3] = {0, int64_t{1} << 62, int64_t{1} << 62};
  etp_value list{};
  list.tag = ETP_VALUE_INT_LIST;
  list.u.int_list.items = huge;
  list.u.int_list.count = 3;
  const std::string op = "executorch_prim::et_view.default";
  EXPECT_EQ(call(op, {tensor_value(&self), list, tensor_value(&out)}), ETP_ERR_INVALID_ARGUMENT);
  EXPECT_NE(plugins::PluginLog::take_last_error().find("view sizes (a 0 counted as 1)"), std::string::npos);
  int64_t fine[3] = {0, 4, 4};
  list.u.int_list.items = fine;
  ASSERT_EQ(call(op, {tensor_value(&self), list, tensor_value(&out)}), ETP_OK) << plugins::PluginLog::take_last_error();
  EXPECT_EQ(out.shape_string(), "[0, 4, 4]");
}

// Writes a version 1.0 .npy file with header dict `header` and `payload_bytes` zero bytes.
// (Named after the test and the process: ctest runs tests in parallel.)
std::string write_npy_file(const std::string& header, size_t payload_bytes) {
  const std::string path = ::testing::TempDir() + "etp_" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
                           std::to_string(::getpid()) + ".npy";
  FILE* f = std::fopen(path.c_str(), "wb");
  const std::string padded = header + std::string(64 - (10 + header.size() + 1) % 64, ' ') + "\n";
  const uint16_t len = static_cast<uint16_t>(padded.size());
  std::fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  std::fwrite(&len, 2, 1, f);
  std::fwrite(padded.data(), 1, padded.size(), f);
  const std::string payload(payload_bytes, '\0');
  std::fwrite(payload.data(), 1, payload.size(), f);
  std::fclose(f);
  return path;
}

std::string with_shape(const std::string& shape) {
  return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
}

TEST(NpyTest, ShapeDimensionOutOfRangeIsAnErrorNotAnException) {
  auto array = read_npy(write_npy_file(with_shape("(99999999999999999999999,)"), 0));
  ASSERT_FALSE(array.ok());
  EXPECT_NE(array.status().message().find("out of range"), std::string::npos) << array.status().message();
}

// A shape is a tuple of non-negative integers: anything else is refused, never read loosely
// (it once read (-2, -8) as (2, 8)).
TEST(NpyTest, ShapesThatAreNotTuplesOfNonNegativeIntegersAreRefused) {
  for (const char* shape : {"(-2, -8)", "(2, -8)", "(2, x)", "(,)", "(2 8)", "(2,,8)", "2", "(2.5,)", "[2, 8]"}) {
    auto array = read_npy(write_npy_file(with_shape(shape), 64));
    ASSERT_FALSE(array.ok()) << shape;
    EXPECT_NE(array.status().message().find("is not a tuple of non-negative integers"), std::string::npos)
        << shape << ": " << array.status().message();
  }
  const std::pair<const char*, std::vector<int64_t>> good[] = {
      {"()", {}}, {"(3,)", {3}}, {"(2, 8)", {2, 8}}, {"(0, 4)", {0, 4}}};
  for (const auto& [shape, dims] : good) {
    uint64_t count = 1;
    for (int64_t d : dims) count *= static_cast<uint64_t>(d);
    auto array = read_npy(write_npy_file(with_shape(shape), count * 4));
    ASSERT_TRUE(array.ok()) << shape << ": " << array.status().message();
    EXPECT_EQ(array->shape, dims) << shape;
  }
}

}  // namespace
}  // namespace etp::runtime
