#include "format/program_validator.h"

#include "format/byte_reader.h"
#include "format/scalar_type.h"
#include "format/tensor_shape.h"

namespace etp::format {

Status ProgramValidator::fail(const std::string& message) const {
  return Status(StatusCode::kMalformed, program_.path() + ": " + where_ + ": " + message);
}

Status ProgramValidator::validate() {
  const auto* plans = program_.root().execution_plan();
  if (plans == nullptr || plans->size() == 0) {
    return Status(StatusCode::kMalformed, program_.path() + ": program has no execution plans (methods)");
  }
  for (flatbuffers::uoffset_t i = 0; i < plans->size(); ++i) {
    const fb::ExecutionPlan* plan = plans->Get(i);
    if (plan->name() == nullptr) {
      return Status(StatusCode::kMalformed, program_.path() + ": execution plan " + str(uint64_t{i}) + " has no name");
    }
    where_ = "method '" + plan->name()->str() + "'";
    ETP_CHECK_OK(validate_plan(*plan));
  }
  const auto* delegates_data = program_.root().backend_delegate_data();
  for (flatbuffers::uoffset_t i = 0; delegates_data && i < delegates_data->size(); ++i) {
    if (delegates_data->Get(i)->data() == nullptr) {
      return Status(StatusCode::kMalformed,
                    program_.path() + ": backend_delegate_data[" + str(uint64_t{i}) + "] has no data");
    }
  }
  return Status::success();
}

Status ProgramValidator::validate_plan(const fb::ExecutionPlan& plan) {
  num_values_ = plan.values() ? plan.values()->size() : 0;
  // ExecuTorch refuses a plan without these; so does etp (and its loader relies on them).
  if (plan.inputs() == nullptr || plan.outputs() == nullptr) return fail("has no inputs or outputs list");
  if (plan.chains() == nullptr || plan.chains()->size() == 0) return fail("has no chains");
  ETP_CHECK_OK(check_u64_vector(program_.path(), "non_const_buffer_sizes", plan.non_const_buffer_sizes()));
  if (const auto* sizes = plan.non_const_buffer_sizes()) {
    for (flatbuffers::uoffset_t i = 0; i < sizes->size(); ++i) {
      if (sizes->Get(i) < 0) return fail("planned buffer " + str(uint64_t{i}) + " has negative size");
    }
  }
  const std::string plan_where = where_;
  for (size_t i = 0; i < num_values_; ++i) {
    where_ = plan_where + ", value " + str(uint64_t{i});
    ETP_CHECK_OK(validate_value(plan, i));
  }
  where_ = plan_where;
  ETP_CHECK_OK(check_value_indices(plan.inputs(), "input"));
  ETP_CHECK_OK(check_value_indices(plan.outputs(), "output"));
  const auto* operators = plan.operators();
  for (flatbuffers::uoffset_t i = 0; operators && i < operators->size(); ++i) {
    if (operators->Get(i)->name() == nullptr) return fail("operator " + str(uint64_t{i}) + " has no name");
  }
  const auto* delegates = plan.delegates();
  for (flatbuffers::uoffset_t i = 0; delegates && i < delegates->size(); ++i) {
    where_ = plan_where + ", delegate " + str(uint64_t{i});
    ETP_CHECK_OK(validate_delegate(*delegates->Get(i)));
  }
  const auto* chains = plan.chains();
  for (flatbuffers::uoffset_t i = 0; chains && i < chains->size(); ++i) {
    where_ = plan_where + ", chain " + str(uint64_t{i});
    ETP_CHECK_OK(validate_chain(plan, *chains->Get(i)));
  }
  where_ = plan_where;
  return Status::success();
}

Status ProgramValidator::check_value_index(int64_t index, const char* what) {
  if (index < 0 || static_cast<uint64_t>(index) >= num_values_) {
    return fail(std::string(what) + " refers to value " + str(index) + " but the method has " +
                str(uint64_t{num_values_}) + " values");
  }
  return Status::success();
}

Status ProgramValidator::check_value_indices(const flatbuffers::Vector<int32_t>* indices, const char* what) {
  for (flatbuffers::uoffset_t i = 0; indices && i < indices->size(); ++i) {
    ETP_CHECK_OK(check_value_index(indices->Get(i), what));
  }
  return Status::success();
}

Status ProgramValidator::validate_value(const fb::ExecutionPlan& plan, size_t index) {
  const fb::EValue* value = plan.values()->Get(static_cast<flatbuffers::uoffset_t>(index));
  const fb::KernelTypes type = value->val_type();
  if (type == fb::KernelTypes::NONE) return Status::success();  // read as None, like Null
  if (type > fb::KernelTypes::MAX) {
    return fail("unknown value type " + str(uint64_t{static_cast<uint8_t>(type)}) + " (expected 1..11)");
  }
  if (value->val() == nullptr) return fail(std::string(fb::EnumNameKernelTypes(type)) + " value has no payload");
  const fb::ExecutionPlan* p = &plan;
  auto element_types = [&](const auto* items, fb::KernelTypes want, bool allow_none,  // a flatbuffers::Vector
                           const char* what) -> Status {
    for (flatbuffers::uoffset_t i = 0; items && i < items->size(); ++i) {
      const int64_t item = items->Get(i);
      if (allow_none && item == -1) continue;
      ETP_CHECK_OK(check_value_index(item, what));
      const fb::KernelTypes got = p->values()->Get(static_cast<flatbuffers::uoffset_t>(item))->val_type();
      if (got != want && !(allow_none && (got == fb::KernelTypes::Null || got == fb::KernelTypes::NONE))) {
        return fail(std::string(what) + " item " + str(uint64_t{i}) + " (value " + str(item) + ") is " +
                    fb::EnumNameKernelTypes(got) + ", expected " + fb::EnumNameKernelTypes(want));
      }
    }
    return Status::success();
  };
  switch (type) {
    case fb::KernelTypes::Tensor:
      return validate_tensor(plan, *value->val_as_Tensor());
    case fb::KernelTypes::IntList:
      ETP_CHECK_OK(check_u64_vector(program_.path(), "IntList.items", value->val_as_IntList()->items()));
      return element_types(value->val_as_IntList()->items(), fb::KernelTypes::Int, false, "IntList");
    case fb::KernelTypes::DoubleList:
      return check_u64_vector(program_.path(), "DoubleList.items", value->val_as_DoubleList()->items());
    case fb::KernelTypes::TensorList:
      return element_types(value->val_as_TensorList()->items(), fb::KernelTypes::Tensor, false, "TensorList");
    case fb::KernelTypes::OptionalTensorList:
      return element_types(value->val_as_OptionalTensorList()->items(), fb::KernelTypes::Tensor, true,
                           "OptionalTensorList");
    default: return Status::success();
  }
}

Status ProgramValidator::validate_tensor(const fb::ExecutionPlan& plan, const fb::Tensor& tensor) {
  auto nbytes = checked_tensor_nbytes(static_cast<int>(tensor.scalar_type()), tensor.sizes(), tensor.dim_order());
  if (!nbytes.ok()) return fail("tensor " + nbytes.status().message());
  if (tensor.storage_offset() != 0) {
    return fail("tensor storage_offset " + str(int64_t{tensor.storage_offset()}) + " is not 0");
  }
  if (static_cast<int>(tensor.shape_dynamism()) > static_cast<int>(fb::TensorShapeDynamism::MAX)) {
    return fail("unknown shape_dynamism " + str(uint64_t{static_cast<uint8_t>(tensor.shape_dynamism())}));
  }
  if (const fb::AllocationDetails* allocation = tensor.allocation_info()) {
    const auto* sizes = plan.non_const_buffer_sizes();
    const uint32_t id = allocation->memory_id();
    // memory_id is 1-based; entry 0 of non_const_buffer_sizes is a placeholder.
    if (sizes == nullptr || id == 0 || id >= sizes->size()) {
      return fail("tensor memory_id " + str(uint64_t{id}) + " has no planned buffer (buffers 1.." +
                  str(uint64_t{sizes && sizes->size() ? sizes->size() - 1 : 0}) + ")");
    }
    const uint64_t offset =
        allocation->memory_offset_low() | (static_cast<uint64_t>(allocation->memory_offset_high()) << 32);
    if (!range_fits(offset, *nbytes, static_cast<uint64_t>(sizes->Get(id)))) {
      return fail("tensor of " + str(*nbytes) + " bytes at offset " + str(offset) + " overflows planned buffer " +
                  str(uint64_t{id}) + " (" + str(int64_t{sizes->Get(id)}) + " bytes)");
    }
    // Planned buffers are allocated aligned, so an aligned offset gives aligned elements; kernels
    // read the tensor as its element type.
    const size_t element_size = scalar_type_size(static_cast<int>(tensor.scalar_type()));
    if (*nbytes > 0 && element_size > 0 && offset % element_size != 0) {
      return fail("allocation_info.memory_offset " + str(offset) + " of a tensor in planned buffer " +
                  str(uint64_t{id}) + " is not a multiple of its element size (" + str(uint64_t{element_size}) +
                  " bytes)");
    }
  }
  return validate_tensor_data(plan, tensor, *nbytes);
}

Status ProgramValidator::validate_tensor_data(const fb::ExecutionPlan&, const fb::Tensor& tensor,
                                              uint64_t nbytes) {
  const fb::ExtraTensorInfo* extra = tensor.extra_tensor_info();
  if (extra != nullptr) {
    if (static_cast<int>(extra->location()) > static_cast<int>(fb::TensorDataLocation::MAX)) {
      return fail("unknown tensor data location " + str(uint64_t{static_cast<uint8_t>(extra->location())}));
    }
    if (extra->location() == fb::TensorDataLocation::EXTERNAL) {
      if (extra->fully_qualified_name() == nullptr) return fail("EXTERNAL tensor has no fully_qualified_name");
      return Status::success();  // its bytes are checked against the data file at method load
    }
  }
  const uint32_t index = tensor.data_buffer_idx();
  if (index == 0) return Status::success();
  const size_t element_size = scalar_type_size(static_cast<int>(tensor.scalar_type()));
  ByteSpan data;
  if (tensor.allocation_info() != nullptr) {
    // A planned tensor with an initial value (e.g. trainable weights): mutable_data_segments[0].
    const auto* mutables = program_.root().mutable_data_segments();
    const auto* offsets = mutables && mutables->size() ? mutables->Get(0)->offsets() : nullptr;
    if (offsets == nullptr || index >= offsets->size()) {
      return fail("tensor initial value " + str(uint64_t{index}) + " is out of range (" +
                  str(uint64_t{offsets ? offsets->size() : 0}) + " mutable data entries)");
    }
    data = program_.mutable_data(index);
  } else {
    const size_t count = program_.num_constants();
    if (index >= count) {
      return fail("tensor constant " + str(uint64_t{index}) + " is out of range (" + str(uint64_t{count}) +
                  " constants)");
    }
    data = program_.constant(index);
  }
  if (data.size < nbytes) {
    return fail("tensor needs " + str(nbytes) + " bytes but its data has " + str(uint64_t{data.size}));
  }
  if (nbytes > 0 && reinterpret_cast<uintptr_t>(data.data) % element_size != 0) {
    return fail("tensor data is not aligned to its element size (" + str(uint64_t{element_size}) + ")");
  }
  return Status::success();
}

Status ProgramValidator::validate_chain(const fb::ExecutionPlan& plan, const fb::Chain& chain) {
  ETP_CHECK_OK(check_value_indices(chain.inputs(), "chain input"));
  ETP_CHECK_OK(check_value_indices(chain.outputs(), "chain output"));
  const auto* instructions = chain.instructions();
  const size_t count = instructions ? instructions->size() : 0;
  const std::string chain_where = where_;
  for (size_t i = 0; i < count; ++i) {
    where_ = chain_where + ", instruction " + str(uint64_t{i});
    ETP_CHECK_OK(validate_instruction(plan, *instructions->Get(static_cast<flatbuffers::uoffset_t>(i)), count));
  }
  where_ = chain_where;
  return Status::success();
}

Status ProgramValidator::validate_instruction(const fb::ExecutionPlan& plan, const fb::Instruction& instruction,
                                              size_t num_instructions) {
  const fb::InstructionArguments type = instruction.instr_args_type();
  if (type == fb::InstructionArguments::NONE || type > fb::InstructionArguments::MAX) {
    return fail("unknown instruction type " + str(uint64_t{static_cast<uint8_t>(type)}) + " (expected 1..5)");
  }
  if (instruction.instr_args() == nullptr) return fail("instruction has no arguments");
  switch (type) {
    case fb::InstructionArguments::KernelCall: {
      const fb::KernelCall* call = instruction.instr_args_as_KernelCall();
      const size_t num_ops = plan.operators() ? plan.operators()->size() : 0;
      if (call->op_index() < 0 || static_cast<size_t>(call->op_index()) >= num_ops) {
        return fail("kernel call refers to operator " + str(int64_t{call->op_index()}) + " but the method has " +
                    str(uint64_t{num_ops}));
      }
      return check_value_indices(call->args(), "kernel argument");
    }
    case fb::InstructionArguments::DelegateCall: {
      const fb::DelegateCall* call = instruction.instr_args_as_DelegateCall();
      const size_t num_delegates = plan.delegates() ? plan.delegates()->size() : 0;
      if (call->delegate_index() < 0 || static_cast<size_t>(call->delegate_index()) >= num_delegates) {
        return fail("delegate call refers to delegate " + str(int64_t{call->delegate_index()}) +
                    " but the method has " + str(uint64_t{num_delegates}));
      }
      return check_value_indices(call->args(), "delegate argument");
    }
    case fb::InstructionArguments::MoveCall: {
      const fb::MoveCall* call = instruction.instr_args_as_MoveCall();
      ETP_CHECK_OK(check_value_index(call->move_from(), "move source"));
      return check_value_index(call->move_to(), "move destination");
    }
    case fb::InstructionArguments::JumpFalseCall: {
      const fb::JumpFalseCall* call = instruction.instr_args_as_JumpFalseCall();
      ETP_CHECK_OK(check_value_index(call->cond_value_index(), "jump condition"));
      // Jumping to the end of the chain (== count) ends the method; the exporter emits it.
      if (call->destination_instruction() < 0 || static_cast<size_t>(call->destination_instruction()) > num_instructions) {
        return fail("jump destination " + str(int64_t{call->destination_instruction()}) + " is outside the chain (" +
                    str(uint64_t{num_instructions}) + " instructions)");
      }
      return Status::success();
    }
    case fb::InstructionArguments::FreeCall:
      return check_value_index(instruction.instr_args_as_FreeCall()->value_index(), "free");
    default: return Status::success();
  }
}

Status ProgramValidator::validate_delegate(const fb::BackendDelegate& delegate) {
  if (delegate.id() == nullptr) return fail("delegate has no backend id");
  const fb::BackendDelegateDataReference* ref = delegate.processed();
  if (ref == nullptr) return fail("delegate '" + delegate.id()->str() + "' has no payload reference");
  const auto* inline_data = program_.root().backend_delegate_data();
  switch (ref->location()) {
    case fb::DataLocation::INLINE:
      if (inline_data == nullptr || ref->index() >= inline_data->size()) {
        return fail("delegate '" + delegate.id()->str() + "' refers to inline payload " + str(uint64_t{ref->index()}) +
                    " but the program has " + str(uint64_t{inline_data ? inline_data->size() : 0}));
      }
      break;
    case fb::DataLocation::SEGMENT:
      if (ref->index() >= program_.num_segments()) {
        return fail("delegate '" + delegate.id()->str() + "' refers to segment " + str(uint64_t{ref->index()}) +
                    " but the program has " + str(uint64_t{program_.num_segments()}));
      }
      break;
    default:
      return fail("delegate '" + delegate.id()->str() + "' has unknown payload location " +
                  str(uint64_t{static_cast<uint8_t>(ref->location())}));
  }
  const auto* specs = delegate.compile_specs();
  for (flatbuffers::uoffset_t i = 0; specs && i < specs->size(); ++i) {
    if (specs->Get(i)->key() == nullptr) return fail("compile spec " + str(uint64_t{i}) + " has no key");
  }
  return Status::success();
}

}  // namespace etp::format
