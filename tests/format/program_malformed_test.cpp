// Malformed programs: each corruption of a real fixture fails to open with an error that
// names the file and the problem, never a crash (these also run under ASan + UBSan).
#include <gtest/gtest.h>

#include <functional>
#include <limits>

#include "format/program_file.h"
#include "format/tensor_shape.h"
#include "inspect/inspect.h"
#include "support/fixtures.h"
#include "support/patch.h"

namespace etp::format {
namespace {

using test::PatchedFile;

// The program of the first fixture whose program satisfies `want`.
std::string program_with(const std::function<bool(const fb::Program&)>& want) {
  for (const auto& f : test::all_fixtures()) {
    const std::string path = test::fixture_path(f["program"]);
    auto program = ProgramFile::open(path);
    if (program.ok() && want(program->root())) return path;
  }
  ADD_FAILURE() << "no fixture has the structure this test corrupts";
  return test::fixture_path("missing.pte");
}

const fb::ExecutionPlan& first_plan(const PatchedFile& file) {
  return *fb::GetProgram(file.data())->execution_plan()->Get(0);
}

bool has_kernel_calls(const fb::Program& p) {
  const auto* instructions = p.execution_plan()->Get(0)->chains()->Get(0)->instructions();
  return instructions && instructions->size() > 0 &&
         instructions->Get(0)->instr_args_type() == fb::InstructionArguments::KernelCall;
}

bool has_constants(const fb::Program& p) {
  return p.constant_segment() && p.constant_segment()->offsets() && p.constant_segment()->offsets()->size() > 1;
}

bool has_segment_delegate(const fb::Program& p) {
  const auto* d = p.execution_plan()->Get(0)->delegates();
  return d && d->size() > 0 && d->Get(0)->processed()->location() == fb::DataLocation::SEGMENT;
}

bool has_named_data(const fb::Program& p) { return p.named_data() && p.named_data()->size() > 0; }

// Opens the patched file and expects failure mentioning every string in `expected`.
void expect_program_error(const PatchedFile& file, std::initializer_list<const char*> expected) {
  const std::string path = file.write();
  auto program = ProgramFile::open(path);
  ASSERT_FALSE(program.ok()) << "a corrupt program opened";
  const std::string& message = program.status().message();
  EXPECT_NE(message.find(path), std::string::npos) << "message does not name the file: " << message;
  for (const char* text : expected) EXPECT_NE(message.find(text), std::string::npos) << message;
}

const fb::Tensor* first_tensor(const fb::ExecutionPlan& plan, const std::function<bool(const fb::Tensor&)>& want) {
  for (flatbuffers::uoffset_t i = 0; i < plan.values()->size(); ++i) {
    const fb::Tensor* t = plan.values()->Get(i)->val_as_Tensor();
    if (t && want(*t)) return t;
  }
  throw std::runtime_error("no such tensor in this fixture");
}

TEST(ProgramMalformedTest, EmptyFileFails) {
  PatchedFile file(program_with(has_kernel_calls));
  file.truncate(0);
  expect_program_error(file, {"empty file"});
}

TEST(ProgramMalformedTest, FileShorterThanIdentifierFails) {
  PatchedFile file(program_with(has_kernel_calls));
  file.truncate(6);
  expect_program_error(file, {"truncated"});
}

TEST(ProgramMalformedTest, WrongIdentifierFails) {
  PatchedFile file(program_with(has_kernel_calls));
  file.set_at<uint32_t>(4, 0x21505a5a);  // "ZZP!"
  expect_program_error(file, {"not a .pte program", "expected 'ET12'"});
}

TEST(ProgramMalformedTest, FutureFormatVersionIsRefusedByName) {
  PatchedFile file(program_with(has_kernel_calls));
  file.bytes()[7] = '9';  // ET19
  const std::string path = file.write();
  auto program = ProgramFile::open(path);
  ASSERT_FALSE(program.ok());
  EXPECT_EQ(program.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(program.status().message().find("'ET19'"), std::string::npos);
}

TEST(ProgramMalformedTest, TruncatedExtendedHeaderFails) {
  PatchedFile file(program_with(has_constants));
  file.truncate(20);
  expect_program_error(file, {"truncated extended header"});
}

TEST(ProgramMalformedTest, ProgramSizePastEndOfFileFails) {
  PatchedFile file(program_with(has_constants));
  file.set_at<uint64_t>(16, file.bytes().size() + 1);
  expect_program_error(file, {"program_size"});
}

TEST(ProgramMalformedTest, TruncatedSegmentDataFails) {
  PatchedFile file(program_with(has_constants));
  file.truncate(file.bytes().size() - 1);
  expect_program_error(file, {"truncated: segment data"});
}

TEST(ProgramMalformedTest, SegmentBasePastEndOfFileFails) {
  PatchedFile file(program_with(has_constants));
  file.set_at<uint64_t>(24, file.bytes().size() + 4096);
  expect_program_error(file, {"segment_base_offset"});
}

TEST(ProgramMalformedTest, SegmentPastEndOfFileFails) {
  PatchedFile file(program_with(has_constants));
  const fb::Program* root = fb::GetProgram(file.data());
  const fb::DataSegment* segment = root->segments()->Get(root->constant_segment()->segment_index());
  file.set_field<uint64_t>(segment, fb::DataSegment::VT_SIZE, 1u << 30);
  expect_program_error(file, {"segment", "lies past the end"});
}

TEST(ProgramMalformedTest, SegmentOffsetOverflowFails) {
  // The last segment of a program with three or more starts past 0, so its offset is stored.
  PatchedFile file(program_with([](const fb::Program& p) { return p.segments() && p.segments()->size() >= 3; }));
  const fb::Program* root = fb::GetProgram(file.data());
  const fb::DataSegment* segment = root->segments()->Get(root->segments()->size() - 1);
  file.set_field<uint64_t>(segment, fb::DataSegment::VT_OFFSET, std::numeric_limits<uint64_t>::max() - 8);
  expect_program_error(file, {"segment", "lies past the end"});
}

TEST(ProgramMalformedTest, CorruptRootOffsetFailsVerification) {
  PatchedFile file(program_with(has_kernel_calls));
  file.set_at<uint32_t>(0, 0x7ffffff0);
  expect_program_error(file, {"failed verification"});
}

TEST(ProgramMalformedTest, OperatorIndexOutOfRangeFails) {
  // Index 0 is the default and not stored, so corrupt a program with several operators.
  PatchedFile file(program_with([](const fb::Program& p) {
    return has_kernel_calls(p) && p.execution_plan()->Get(0)->operators()->size() > 1;
  }));
  const auto* instructions = first_plan(file).chains()->Get(0)->instructions();
  for (flatbuffers::uoffset_t i = 0; i < instructions->size(); ++i) {
    const fb::KernelCall* call = instructions->Get(i)->instr_args_as_KernelCall();
    if (call && test::field_address(call, fb::KernelCall::VT_OP_INDEX)) {
      file.set_field<int32_t>(call, fb::KernelCall::VT_OP_INDEX, 999);
      return expect_program_error(file, {"instruction", "operator 999"});
    }
  }
  FAIL() << "no kernel call with a stored op_index";
}

TEST(ProgramMalformedTest, KernelArgumentValueIndexOutOfRangeFails) {
  PatchedFile file(program_with(has_kernel_calls));
  const fb::KernelCall* call = first_plan(file).chains()->Get(0)->instructions()->Get(0)->instr_args_as_KernelCall();
  file.set(call->args()->Data(), int32_t{100000});
  expect_program_error(file, {"instruction 0", "kernel argument refers to value 100000"});
}

TEST(ProgramMalformedTest, NegativeValueIndexFails) {
  PatchedFile file(program_with(has_kernel_calls));
  file.set(first_plan(file).outputs()->Data(), int32_t{-5});
  expect_program_error(file, {"output refers to value -5"});
}

TEST(ProgramMalformedTest, MethodInputIndexOutOfRangeFails) {
  PatchedFile file(program_with(has_kernel_calls));
  file.set(first_plan(file).inputs()->Data(), int32_t{4096});
  expect_program_error(file, {"method '", "input refers to value 4096"});
}

TEST(ProgramMalformedTest, UnknownValueTypeFails) {
  PatchedFile file(program_with(has_kernel_calls));
  const fb::EValue* value = first_plan(file).values()->Get(0);
  file.set_field<uint8_t>(value, fb::EValue::VT_VAL_TYPE, 99);
  expect_program_error(file, {"value 0", "unknown value type 99"});
}

TEST(ProgramMalformedTest, UnknownInstructionTypeFails) {
  PatchedFile file(program_with(has_kernel_calls));
  const fb::Instruction* instruction = first_plan(file).chains()->Get(0)->instructions()->Get(0);
  file.set_field<uint8_t>(instruction, fb::Instruction::VT_INSTR_ARGS_TYPE, 42);
  expect_program_error(file, {"unknown instruction type 42"});
}

TEST(ProgramMalformedTest, UnknownScalarTypeFails) {
  PatchedFile file(program_with(has_kernel_calls));
  const fb::Tensor* t = first_tensor(first_plan(file), [](const fb::Tensor& t) {
    return test::field_address(&t, fb::Tensor::VT_SCALAR_TYPE) != nullptr;
  });
  file.set_field<int8_t>(t, fb::Tensor::VT_SCALAR_TYPE, 77);
  expect_program_error(file, {"unknown scalar type 77"});
}

TEST(ProgramMalformedTest, DimOrderThatIsNotAPermutationFails) {
  PatchedFile file(program_with(has_kernel_calls));
  const fb::Tensor* t = first_tensor(first_plan(file), [](const fb::Tensor& t) { return t.dim_order() && t.dim_order()->size() >= 2; });
  file.set<uint8_t>(t->dim_order()->Data(), t->dim_order()->Get(1));
  expect_program_error(file, {"dim_order is not a permutation"});
}

TEST(ProgramMalformedTest, NegativeTensorSizeFails) {
  PatchedFile file(program_with(has_kernel_calls));
  const fb::Tensor* t = first_tensor(first_plan(file), [](const fb::Tensor& t) { return t.sizes() && t.sizes()->size() >= 1; });
  file.set(t->sizes()->Data(), int32_t{-3});
  expect_program_error(file, {"is negative"});
}

// A 0 made the byte count 0, so the other dims went unbounded: [0, 2^31-1, 2^31-1] of float
// loaded, with a dim-0 stride of about 2^62 elements (2^64 bytes), and any product of sizes
// that leaves the 0 out (a reduction's inner size, conv's plane) could overflow int64.
TEST(ProgramMalformedTest, EmptyTensorWhoseOtherSizesOverflowInt64Fails) {
  auto rank3_float = [](const fb::Tensor& t) {
    return t.scalar_type() == fb::ScalarType::FLOAT && t.sizes() && t.sizes()->size() == 3;
  };
  PatchedFile file(program_with([&](const fb::Program& p) {
    const fb::ExecutionPlan& plan = *p.execution_plan()->Get(0);
    for (flatbuffers::uoffset_t i = 0; i < plan.values()->size(); ++i) {
      const fb::Tensor* t = plan.values()->Get(i)->val_as_Tensor();
      if (t && rank3_float(*t)) return true;
    }
    return false;
  }));
  const fb::Tensor* t = first_tensor(first_plan(file), rank3_float);
  const uint8_t* sizes = t->sizes()->Data();
  file.set(sizes, int32_t{0});
  file.set(sizes + 4, std::numeric_limits<int32_t>::max());
  file.set(sizes + 8, std::numeric_limits<int32_t>::max());
  expect_program_error(file, {"tensor shape [0, 2147483647, 2147483647] is too large",
                              "(a 0 counted as 1) times the element size exceed INT64_MAX bytes"});
}

TEST(TensorShapeTest, SpanCountsZeroSizesAsOneAndIncludesTheElementSize) {
  const int64_t max = std::numeric_limits<int64_t>::max(), two31 = int64_t{1} << 31;
  const int64_t fits[] = {0, max}, too_big[] = {two31, two31, 0, 2}, edge[] = {two31, two31, 0};
  EXPECT_TRUE(shape_span_fits_int64(fits, 2, 1));
  EXPECT_FALSE(shape_span_fits_int64(fits, 2, 2)) << "the dim-0 stride in bytes would be 2 * INT64_MAX";
  EXPECT_FALSE(shape_span_fits_int64(too_big, 4, 1)) << "2^63 with the 0 left out";
  EXPECT_TRUE(shape_span_fits_int64(edge, 3, 1));
  EXPECT_FALSE(shape_span_fits_int64(edge, 3, 2)) << "2^62 * 2 bytes = 2^63";
}

TEST(ProgramMalformedTest, PlannedTensorPastItsBufferFails) {
  PatchedFile file(program_with(has_kernel_calls));
  const fb::Tensor* t = first_tensor(first_plan(file), [](const fb::Tensor& t) {
    return t.allocation_info() && test::field_address(t.allocation_info(), fb::AllocationDetails::VT_MEMORY_OFFSET_LOW);
  });
  file.set_field<uint32_t>(t->allocation_info(), fb::AllocationDetails::VT_MEMORY_OFFSET_LOW, 0xfffffff0u);
  expect_program_error(file, {"overflows planned buffer"});
}

// Found by fuzz/method_fuzz: an odd memory offset put a bfloat16 tensor at an odd address, and
// the portable layer_norm kernel read it misaligned (UBSan).
TEST(ProgramMalformedTest, MisalignedPlannedTensorFails) {
  PatchedFile file(program_with(has_kernel_calls));
  const fb::Tensor* t = first_tensor(first_plan(file), [](const fb::Tensor& t) {
    return t.allocation_info() && t.scalar_type() == fb::ScalarType::FLOAT &&
           t.allocation_info()->memory_offset_low() > 0 && t.sizes() && t.sizes()->size() > 0 && t.sizes()->Get(0) > 0;
  });
  // One byte lower stays inside the buffer, so only the alignment is wrong.
  file.set_field<uint32_t>(t->allocation_info(), fb::AllocationDetails::VT_MEMORY_OFFSET_LOW,
                           t->allocation_info()->memory_offset_low() - 1);
  expect_program_error(file, {"memory_offset", "is not a multiple of its element size (4 bytes)"});
}

TEST(ProgramMalformedTest, PlannedBufferIdOutOfRangeFails) {
  PatchedFile file(program_with(has_kernel_calls));
  const fb::Tensor* t = first_tensor(first_plan(file), [](const fb::Tensor& t) {
    return t.allocation_info() && test::field_address(t.allocation_info(), fb::AllocationDetails::VT_MEMORY_ID);
  });
  file.set_field<uint32_t>(t->allocation_info(), fb::AllocationDetails::VT_MEMORY_ID, 7);
  expect_program_error(file, {"memory_id 7 has no planned buffer"});
}

TEST(ProgramMalformedTest, ConstantIndexOutOfRangeFails) {
  PatchedFile file(program_with(has_constants));
  const fb::Tensor* t = first_tensor(first_plan(file), [](const fb::Tensor& t) {
    return t.data_buffer_idx() > 0 && !t.allocation_info();
  });
  file.set_field<uint32_t>(t, fb::Tensor::VT_DATA_BUFFER_IDX, 5000);
  expect_program_error(file, {"tensor constant 5000 is out of range"});
}

TEST(ProgramMalformedTest, ConstantPastItsSegmentFails) {
  PatchedFile file(program_with(has_constants));
  const auto* offsets = fb::GetProgram(file.data())->constant_segment()->offsets();
  file.set(offsets->Data() + 8 * (offsets->size() - 1), uint64_t{1} << 40);
  expect_program_error(file, {"lies past the constant segment"});
}

TEST(ProgramMalformedTest, MisalignedConstantDataFails) {
  PatchedFile file(program_with(has_constants));
  const fb::Tensor* t = first_tensor(first_plan(file), [](const fb::Tensor& t) {
    return t.data_buffer_idx() > 0 && !t.allocation_info() && t.scalar_type() == fb::ScalarType::FLOAT;
  });
  const auto* offsets = fb::GetProgram(file.data())->constant_segment()->offsets();
  const uint8_t* slot = offsets->Data() + 8 * t->data_buffer_idx();
  file.set(slot, offsets->Get(t->data_buffer_idx()) + 1);
  expect_program_error(file, {"not aligned"});
}

TEST(ProgramMalformedTest, DelegateSegmentIndexOutOfRangeFails) {
  PatchedFile file(program_with(has_segment_delegate));
  const fb::BackendDelegate* d = first_plan(file).delegates()->Get(0);
  file.set_field<uint32_t>(d->processed(), fb::BackendDelegateDataReference::VT_INDEX, 77);
  expect_program_error(file, {"delegate 0", "refers to segment 77"});
}

TEST(ProgramMalformedTest, NamedDataSegmentIndexOutOfRangeFails) {
  PatchedFile file(program_with(has_named_data));
  const fb::NamedData* named = fb::GetProgram(file.data())->named_data()->Get(0);
  file.set_field<uint32_t>(named, fb::NamedData::VT_SEGMENT_INDEX, 999);
  expect_program_error(file, {"named data '", "refers to segment 999"});
}

TEST(ProgramMalformedTest, RandomByteFlipsNeverCrash) {
  // Not a proof, a smoke test: every single-byte corruption of a small program either
  // opens (the byte was slack) or fails cleanly. ASan/UBSan catch what a crash would hide.
  const std::string path = program_with(has_constants);
  const std::vector<uint8_t> original = test::read_bytes(path);
  PatchedFile file(path);
  const size_t stride = std::max<size_t>(1, original.size() / 512);
  for (size_t i = 0; i < original.size(); i += stride) {
    file.bytes() = original;
    file.bytes()[i] ^= 0x5a;
    auto program = ProgramFile::open(file.write());
    if (!program.ok()) {
      EXPECT_FALSE(program.status().message().empty());
    } else {
      inspect::describe_program(*program);  // every accessor must stay in bounds
    }
  }
}

}  // namespace
}  // namespace etp::format
