// Checks every index and offset inside a program's execution plans, so code that runs a
// method can follow them without further checks. Used by ProgramFile::open.
#pragma once

#include <string>

#include "format/program_file.h"

namespace etp::format {

class ProgramValidator {
 public:
  explicit ProgramValidator(const ProgramFile& program) : program_(program) {}
  Status validate();

 private:
  Status validate_plan(const fb::ExecutionPlan& plan);
  Status validate_value(const fb::ExecutionPlan& plan, size_t index);
  Status validate_tensor(const fb::ExecutionPlan& plan, const fb::Tensor& tensor);
  Status validate_tensor_data(const fb::ExecutionPlan& plan, const fb::Tensor& tensor, uint64_t nbytes);
  Status validate_chain(const fb::ExecutionPlan& plan, const fb::Chain& chain);
  Status validate_instruction(const fb::ExecutionPlan& plan, const fb::Instruction& instruction,
                              size_t num_instructions);
  Status validate_delegate(const fb::BackendDelegate& delegate);
  Status check_value_index(int64_t index, const char* what);
  Status check_value_indices(const flatbuffers::Vector<int32_t>* indices, const char* what);
  Status fail(const std::string& message) const;

  const ProgramFile& program_;
  std::string where_;  // "method 'forward', value 12", for messages
  size_t num_values_ = 0;
};

}  // namespace etp::format
