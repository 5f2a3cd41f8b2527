// Bad inputs and bad data at method load and execute: each a clear error, nothing crashes.
#include <gtest/gtest.h>

#include <cstdio>
#include <optional>

#include "core/npy.h"
#include "format/data_file_writer.h"
#include "program_generated.h"
#include "runtime/host_services.h"
#include "runtime/runtime_support.h"
#include "runtime/tensor_io.h"
#include "support/fixtures.h"
#include "support/patch.h"
#include "support/status.h"

namespace etp::test {
namespace {

using test::PatchedFile;

std::unique_ptr<runtime::Method> load(const std::string& model, const std::string& backend = "portable") {
  auto program = open_fixture(find_fixture(model, backend), portable_registry());
  EXPECT_TRUE(program.ok()) << program.status().message();
  auto method = (*program)->load_method(find_fixture(model, backend)["methods"][0]);
  EXPECT_TRUE(method.ok()) << method.status().message();
  return method.ok() ? std::move(*method) : nullptr;
}

// `status` failed with `code` (when given) and a message containing `expected`.
void expect_message(const Status& status, const std::string& expected, std::optional<StatusCode> code = {}) {
  ASSERT_FALSE(status.ok()) << "expected an error containing: " << expected;
  EXPECT_NE(status.message().find(expected), std::string::npos) << status.message();
  if (code) {
    EXPECT_EQ(status_code_name(status.code()), std::string(status_code_name(*code))) << status.message();
  }
}

TEST(MethodErrorsTest, WrongInputDtypeIsNamed) {
  auto method = load("add");
  std::vector<int64_t> data(24);
  expect_message(method->set_input(0, {ETP_DTYPE_INT64, {2, 3, 4}, data.data(), data.size() * 8}),
                 "input 0: dtype int64, expected float32", StatusCode::kDtype);
}

TEST(MethodErrorsTest, WrongShapeOfAStaticInputIsNamed) {
  auto method = load("add");
  std::vector<float> data(6);
  expect_message(method->set_input(1, {ETP_DTYPE_FLOAT32, {2, 3, 1}, data.data(), 24}),
                 "cannot resize a static tensor of shape [2, 3, 4] to [2, 3, 1]", StatusCode::kShape);
}

TEST(MethodErrorsTest, DynamicInputWithinItsBoundRunsAndBeyondItFails) {
  auto method = load("dynamic");
  std::vector<float> data(9 * 16, 1.0f);
  const int64_t features = runtime::HostTensor::from(method->input(0).u.tensor)->sizes[1];
  EXPECT_OK(method->set_input(0, {ETP_DTYPE_FLOAT32, {2, features}, data.data(), size_t(2 * features * 4)}));
  EXPECT_OK(method->execute());
  EXPECT_EQ(method->output(0).u.tensor->sizes[0], 2);
  expect_message(method->set_input(0, {ETP_DTYPE_FLOAT32, {9, features}, data.data(), size_t(9 * features * 4)}),
                 "more than the planned bound");
}

TEST(MethodErrorsTest, InputIndexOutOfRangeIsNamed) {
  auto method = load("add");
  float x = 0;
  expect_message(method->set_input(5, {ETP_DTYPE_FLOAT32, {1}, &x, 4}), "input 5: the method has 2 inputs");
}

// Writes `tensors` as a data file at `path` and loads linear_portable's method over it; returns
// the load error ("" if it loaded).
std::string load_linear_over(const std::string& path, std::vector<format::TensorToWrite> tensors) {
  EXPECT_OK(format::write_data_file(path, std::move(tensors)));
  auto file = format::DataFile::open(path);
  EXPECT_TRUE(file.ok());
  auto program = runtime::Program::open(fixture_path("linear_portable.pte"),
                                        {{std::make_shared<const format::DataFile>(std::move(*file)), 1, ""}},
                                        portable_registry());
  EXPECT_TRUE(program.ok());
  auto method = (*program)->load_method("forward");
  std::remove(path.c_str());
  return method.ok() ? "" : method.status().message();
}

// A data file lacking a key the program needs fails at load, naming the key and the file.
TEST(MethodErrorsTest, MissingExternalKeyIsNamed) {
  const std::string path = "/tmp/etp_missing_key.ptd";
  std::vector<float> bias(4);
  const std::string message = load_linear_over(path, {{"bias", ETP_DTYPE_FLOAT32, {4}, {}, bias.data(), 16}});
  EXPECT_NE(message.find("tensor 'weight' is stored externally but no data file has it"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

// A data file whose layout for a key differs from the program's fails with both layouts.
TEST(MethodErrorsTest, LayoutMismatchNamesKeyExpectedAndFound) {
  const std::string path = "/tmp/etp_wrong_layout.ptd";
  std::vector<float> weight(32), bias(4);
  const std::string message = load_linear_over(path, {{"weight", ETP_DTYPE_FLOAT32, {8, 4}, {}, weight.data(), 128},
                                                      {"bias", ETP_DTYPE_FLOAT32, {4}, {}, bias.data(), 16}});
  EXPECT_NE(message.find("tensor 'weight' in " + path + " has layout float32[8, 4], expected float32[4, 8]"),
            std::string::npos)
      << message;
}

// A failing kernel is reported with the instruction, the operator, the plugin and its words.
TEST(MethodErrorsTest, KernelFailureNamesInstructionOperatorAndPlugin) {
  auto registry = std::make_shared<plugins::Registry>();
  auto shadow = plugins::PluginLibrary::load(kTestPlugins + "/libetp_shadow.so", *runtime::HostServices::get().api());
  ASSERT_TRUE(shadow.ok());
  ASSERT_OK(registry->add(*shadow));
  auto program = open_fixture(find_fixture("add", "portable"), registry);
  ASSERT_TRUE(program.ok());
  auto method = (*program)->load_method("forward");
  ASSERT_TRUE(method.ok()) << method.status().message();
  expect_message((*method)->execute(),
                 "method 'forward', instruction 0, aten::add.out (plugin shadow) failed with status 101: "
                 "shadow: aten::add.out refuses to run",
                 StatusCode::kNotSupported);  // the plugin's own status (101), not a generic code
}

TEST(MethodErrorsTest, MethodThatDoesNotExistListsTheMethods) {
  auto program = open_fixture(find_fixture("multi_method", "portable"), portable_registry());
  ASSERT_TRUE(program.ok());
  auto method = (*program)->load_method("forwrd");
  ASSERT_FALSE(method.ok());
  EXPECT_NE(method.status().message().find("no method 'forwrd'; the program has: decode, encode"), std::string::npos)
      << method.status().message();
}

// map_loop's loop jumps on a Bool. Pointing the jump at an Int must fail at load, naming the
// value: a JumpFalseCall reads its condition as a Bool (or Bool tensor) only.
TEST(MethodErrorsTest, JumpOnANonBoolConditionFailsAtLoad) {
  PatchedFile file(fixture_path("map_loop.pte"));
  const auto* program = executorch_flatbuffer::GetProgram(file.data());
  const auto* plan = program->execution_plan()->Get(0);
  const executorch_flatbuffer::JumpFalseCall* jump = nullptr;
  for (const auto* ins : *plan->chains()->Get(0)->instructions()) {
    if (ins->instr_args_as_JumpFalseCall() != nullptr) jump = ins->instr_args_as_JumpFalseCall();
  }
  ASSERT_NE(jump, nullptr) << "map_loop has no JumpFalseCall";
  int32_t int_value = -1;
  for (flatbuffers::uoffset_t i = 0; i < plan->values()->size(); ++i) {
    if (plan->values()->Get(i)->val_as_Int() != nullptr) int_value = static_cast<int32_t>(i);
  }
  ASSERT_GE(int_value, 0);
  file.set_field<int32_t>(jump, executorch_flatbuffer::JumpFalseCall::VT_COND_VALUE_INDEX, int_value);
  auto opened = runtime::Program::open(file.write(), {}, portable_registry());
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  auto method = (*opened)->load_method("forward");
  ASSERT_FALSE(method.ok());
  EXPECT_NE(method.status().message().find("a jump's condition (value " + std::to_string(int_value) +
                                           ") is not a Bool or Bool tensor"),
            std::string::npos)
      << method.status().message();
}

// map_loop with its loop jump pointed at itself loops for ever: execute
// stops at the instruction budget, naming the method and the jump; a budget too small for a
// real run stops it too, and the default lets it finish.
TEST(MethodErrorsTest, ARunawayLoopStopsAtTheInstructionBudgetNamingTheJump) {
  auto set_inputs = [](runtime::Method& m) {
    for (size_t i = 0; i < 2; ++i) {
      auto array = read_npy(fixture_path("map_loop.run0.in" + std::to_string(i) + ".npy"));
      ASSERT_TRUE(array.ok()) << array.status().message();
      ASSERT_OK(m.set_input(i, runtime::as_input(*array)));
    }
  };
  auto fine = runtime::Program::open(fixture_path("map_loop.pte"), {}, portable_registry());
  ASSERT_TRUE(fine.ok()) << fine.status().message();
  auto method = (*fine)->load_method("forward");
  ASSERT_TRUE(method.ok()) << method.status().message();
  EXPECT_EQ((*method)->instruction_budget(), runtime::Method::kDefaultInstructionBudget);
  set_inputs(**method);
  ASSERT_OK((*method)->execute());
  (*method)->set_instruction_budget(5);
  const Status short_budget = (*method)->execute();
  EXPECT_EQ(short_budget.code(), StatusCode::kInvalidState);
  EXPECT_NE(short_budget.message().find("method 'forward' ran 5 instructions without finishing"), std::string::npos)
      << short_budget.message();

  // The loop's one jump goes back to instruction 1 until the row counter reaches the row count;
  // pointed at itself, it reads the same false condition for ever.
  PatchedFile file(fixture_path("map_loop.pte"));
  const auto* plan = executorch_flatbuffer::GetProgram(file.data())->execution_plan()->Get(0);
  const executorch_flatbuffer::JumpFalseCall* loop_jump = nullptr;
  size_t jump_pc = 0, pc = 0;
  for (const auto* ins : *plan->chains()->Get(0)->instructions()) {
    if (ins->instr_args_as_JumpFalseCall() != nullptr) loop_jump = ins->instr_args_as_JumpFalseCall(), jump_pc = pc;
    ++pc;
  }
  ASSERT_NE(loop_jump, nullptr) << "map_loop has no JumpFalseCall";
  ASSERT_EQ(loop_jump->destination_instruction(), 1);
  file.set_field<int32_t>(loop_jump, executorch_flatbuffer::JumpFalseCall::VT_DESTINATION_INSTRUCTION,
                          static_cast<int32_t>(jump_pc));
  auto looping = runtime::Program::open(file.write(), {}, portable_registry());
  ASSERT_TRUE(looping.ok()) << looping.status().message();
  auto runaway = (*looping)->load_method("forward");
  ASSERT_TRUE(runaway.ok()) << runaway.status().message();
  set_inputs(**runaway);
  (*runaway)->set_instruction_budget(100000);
  const Status stopped = (*runaway)->execute();
  EXPECT_EQ(stopped.code(), StatusCode::kInvalidState);
  EXPECT_NE(stopped.message().find("method 'forward' ran 100000 instructions without finishing, its instruction "
                                   "budget (the last backward jump was instruction " +
                                   std::to_string(jump_pc) + " (JumpFalseCall to " + std::to_string(jump_pc) + "))"),
            std::string::npos)
      << stopped.message();
}

// A tensor that is neither planned, constant nor made by et_view would reach kernels with no
// memory: the load must refuse it. Removing allocation_info from map_loop's tensors (by zeroing
// the vtable entry, which the tensors of one layout share) makes such tensors.
TEST(MethodErrorsTest, TensorWithoutMemoryFailsAtLoad) {
  PatchedFile file(fixture_path("map_loop.pte"));
  const auto* plan = executorch_flatbuffer::GetProgram(file.data())->execution_plan()->Get(0);
  const executorch_flatbuffer::Tensor* planned = nullptr;
  for (const auto* v : *plan->values()) {
    const auto* t = v->val_as_Tensor();
    if (t != nullptr && t->allocation_info() != nullptr && t->sizes()->size() == 1) planned = t;
  }
  ASSERT_NE(planned, nullptr) << "map_loop has no planned 1-D tensor";
  const uint8_t* table = reinterpret_cast<const uint8_t*>(planned);
  int32_t to_vtable = 0;
  std::memcpy(&to_vtable, table, sizeof(to_vtable));
  file.set<uint16_t>(table - to_vtable + executorch_flatbuffer::Tensor::VT_ALLOCATION_INFO, 0);
  auto opened = runtime::Program::open(file.write(), {}, portable_registry());
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  auto method = (*opened)->load_method("forward");
  ASSERT_FALSE(method.ok());
  EXPECT_NE(method.status().message().find("is a tensor without memory"), std::string::npos)
      << method.status().message();
}

// Found by fuzz/method_fuzz: a kernel call without arguments (KernelCall.args absent) was given
// &args[first_arg] past the end of the method's argument list. The call must reach the kernel
// with no arguments and fail there, naming the instruction and operator.
TEST(MethodErrorsTest, KernelCallWithoutArgumentsFailsCleanly) {
  PatchedFile file(fixture_path("add.pte"));
  const auto* plan = executorch_flatbuffer::GetProgram(file.data())->execution_plan()->Get(0);
  const auto* call = plan->chains()->Get(0)->instructions()->Get(0)->instr_args_as_KernelCall();
  ASSERT_NE(call, nullptr) << "add's first instruction is not a kernel call";
  const uint8_t* table = reinterpret_cast<const uint8_t*>(call);
  int32_t to_vtable = 0;
  std::memcpy(&to_vtable, table, sizeof(to_vtable));
  file.set<uint16_t>(table - to_vtable + executorch_flatbuffer::KernelCall::VT_ARGS, 0);  // args: absent
  auto opened = runtime::Program::open(file.write(), {}, portable_registry());
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  auto method = (*opened)->load_method("forward");
  const Status status = method.ok() ? (*method)->execute() : method.status();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("aten::add.out"), std::string::npos) << status.message();
}

// Plugins read a BoolList's items as bool, so a byte other than 0 or 1 there is refused at load.
// No exported fixture holds a BoolList, so this minimal program is built here with the
// flatbuffers builder (one plan, one BoolList value, an empty chain); it is not an ExecuTorch file.
TEST(MethodErrorsTest, ABoolListItemOtherThanZeroOrOneIsRefusedAtLoad) {
  namespace fb = executorch_flatbuffer;
  auto program_with = [](uint8_t second) {
    flatbuffers::FlatBufferBuilder b;
    const std::vector<uint8_t> items = {1, second};
    auto list = fb::CreateBoolList(b, b.CreateVector(items));
    auto value = fb::CreateEValue(b, fb::KernelTypes::BoolList, list.Union());
    auto chain = fb::CreateChain(b, b.CreateVector(std::vector<int32_t>{}), b.CreateVector(std::vector<int32_t>{}),
                                 b.CreateVector(std::vector<flatbuffers::Offset<fb::Instruction>>{}));
    auto plan = fb::CreateExecutionPlan(
        b, b.CreateString("forward"), 0, b.CreateVector(std::vector<flatbuffers::Offset<fb::EValue>>{value}),
        b.CreateVector(std::vector<int32_t>{}), b.CreateVector(std::vector<int32_t>{}),
        b.CreateVector(std::vector<flatbuffers::Offset<fb::Chain>>{chain}),
        b.CreateVector(std::vector<flatbuffers::Offset<fb::Operator>>{}), 0, b.CreateVector(std::vector<int64_t>{0}));
    b.Finish(fb::CreateProgram(b, 0, b.CreateVector(std::vector<flatbuffers::Offset<fb::ExecutionPlan>>{plan})),
             fb::ProgramIdentifier());
    const std::string path = ::testing::TempDir() + "etp_bool_list_" + std::to_string(second) + ".pte";
    std::FILE* f = std::fopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    if (f != nullptr) {
      std::fwrite(b.GetBufferPointer(), 1, b.GetSize(), f);
      std::fclose(f);
    }
    return path;
  };
  auto valid = runtime::Program::open(program_with(1), {}, portable_registry());
  ASSERT_TRUE(valid.ok()) << valid.status().message();
  EXPECT_TRUE((*valid)->load_method("forward").ok()) << "items 0 and 1 load";
  auto bad = runtime::Program::open(program_with(2), {}, portable_registry());
  ASSERT_TRUE(bad.ok()) << bad.status().message();
  auto method = (*bad)->load_method("forward");
  ASSERT_FALSE(method.ok());
  EXPECT_EQ(method.status().code(), StatusCode::kMalformed);
  EXPECT_NE(method.status().message().find("value 0: bool list item 1 is 2, not 0 or 1"), std::string::npos)
      << method.status().message();
}

// Found by fuzz/method_fuzz: a FreeCall empties a tensor (ExecuTorch drops its data), and a later
// kernel read it through a null pointer. Reading a freed tensor is an error naming the
// instruction and the value, every execute (the freed data is given back when one ends).
TEST(MethodErrorsTest, ReadingATensorAFreeCallEmptiedFailsCleanly) {
  // maximum(x, y), then minimum(x, y); x is value 0.
  PatchedFile file(fixture_path("cf_maximum_minimum.pte"));
  const auto* plan = executorch_flatbuffer::GetProgram(file.data())->execution_plan()->Get(0);
  ASSERT_EQ(plan->inputs()->Get(0), 0);
  const auto* first = plan->chains()->Get(0)->instructions()->Get(0);
  ASSERT_NE(first->instr_args_as_KernelCall(), nullptr);
  ASSERT_EQ(first->instr_args_as_KernelCall()->op_index(), 0);
  // Instruction 0 becomes FreeCall(0): a FreeCall's value_index is slot 0, as KernelCall's op_index.
  file.set_field<uint8_t>(first, executorch_flatbuffer::Instruction::VT_INSTR_ARGS_TYPE,
                          static_cast<uint8_t>(executorch_flatbuffer::InstructionArguments::FreeCall));
  auto opened = runtime::Program::open(file.write(), {}, portable_registry());
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  auto method = (*opened)->load_method("forward");
  ASSERT_TRUE(method.ok()) << method.status().message();
  for (int run = 0; run < 2; ++run) {
    const Status status = (*method)->execute();
    ASSERT_FALSE(status.ok());
    EXPECT_NE(status.message().find("instruction 1 reads value 0, which a FreeCall emptied earlier in this execute"),
              std::string::npos)
        << status.message();
  }
}

// ExecuTorch's llama export leaves its token input unplanned; etp gives such an input memory at
// load, but never more than the machine has (a program declaring a huge bound is refused).
TEST(MethodErrorsTest, AnUnplannedInputLargerThanMemoryFailsAtLoad) {
  auto fine = runtime::Program::open(fixture_path("llama_et_portable.pte"), {}, full_registry());
  ASSERT_TRUE(fine.ok()) << fine.status().message();
  ASSERT_TRUE((*fine)->load_method("forward").ok()) << "the unplanned token input gets memory";
  PatchedFile file(fixture_path("llama_et_portable.pte"));
  const auto* plan = executorch_flatbuffer::GetProgram(file.data())->execution_plan()->Get(0);
  const auto* tokens =
      plan->values()->Get(static_cast<flatbuffers::uoffset_t>(plan->inputs()->Get(0)))->val_as_Tensor();
  ASSERT_NE(tokens, nullptr);
  ASSERT_EQ(tokens->allocation_info(), nullptr) << "the fixture's token input is unplanned";
  file.set<int32_t>(tokens->sizes()->data(), 64);  // [64, 2^31 - 1] int64: 1 TiB
  file.set<int32_t>(tokens->sizes()->data() + 1, INT32_MAX);
  auto opened = runtime::Program::open(file.write(), {}, full_registry());
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  auto method = (*opened)->load_method("forward");
  ASSERT_FALSE(method.ok());
  EXPECT_NE(method.status().message().find("more than this machine's memory"), std::string::npos)
      << method.status().message();
}

}  // namespace
}  // namespace etp::test
