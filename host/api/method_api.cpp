// Method: the public face of runtime::Method.
#include "api/api_internal.h"

namespace etp {

Method::Method(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Method::Method(Method&&) noexcept = default;
Method& Method::operator=(Method&&) noexcept = default;
Method::~Method() = default;

const std::string& Method::model() const { return impl_->model; }
const std::string& Method::name() const { return impl_->info.name; }
const MethodInfo& Method::info() const { return impl_->info; }
size_t Method::num_inputs() const { return impl_->method->num_inputs(); }
size_t Method::num_outputs() const { return impl_->method->num_outputs(); }

Status Method::set_input(size_t index, const TensorRef& tensor) {
  return impl_->method->set_input(index, api::to_input(tensor));
}

Status Method::bind_input(size_t index, const TensorRef& tensor) {
  return impl_->method->bind_input(index, api::to_input(tensor));
}

bool Method::input_borrowed(size_t index) const { return impl_->method->input_borrowed(index); }

Status Method::set_inputs(const std::vector<TensorRef>& tensors) {
  const runtime::Method& m = *impl_->method;
  if (tensors.size() != m.num_inputs()) {
    return Status(StatusCode::kInvalidArgument, m.program().path() + ": method '" + m.name() + "' takes " +
                                                    std::to_string(m.num_inputs()) + " inputs, got " +
                                                    std::to_string(tensors.size()));
  }
  for (size_t i = 0; i < tensors.size(); ++i) ETP_CHECK_OK(set_input(i, tensors[i]));
  return Status::success();
}

Status Method::execute() { return impl_->method->execute(); }

Value Method::output(size_t index) const {
  if (index >= impl_->method->num_outputs()) return Value();
  return api::value_of(impl_->method->output(index));
}

Result<std::vector<Tensor>> Method::run(const std::vector<TensorRef>& inputs) {
  ETP_CHECK_OK(set_inputs(inputs));
  ETP_CHECK_OK(execute());
  std::vector<Tensor> outputs;
  for (size_t i = 0; i < num_outputs(); ++i) {
    auto tensor = output(i).to_tensor();
    if (!tensor.ok()) return std::move(tensor).status().with_context("output " + std::to_string(i));
    outputs.push_back(std::move(*tensor));
  }
  return outputs;
}

std::vector<StateInfo> Method::state() const {
  std::vector<StateInfo> out;
  const runtime::Method& m = *impl_->method;
  for (size_t i = 0; i < m.state().size(); ++i) out.push_back({m.state()[i].name, api::view_of(m.state_tensor(i))});
  return out;
}

void Method::reset_state() { impl_->method->reset_state(); }

std::vector<std::pair<std::string, std::string>> Method::kernel_providers() const {
  return impl_->method->kernel_providers();
}

uint64_t Method::planned_bytes() const { return impl_->method->planned_bytes(); }

void Method::set_profiling(bool on) { impl_->method->set_profiling(on); }
void Method::set_instruction_budget(uint64_t instructions) { impl_->method->set_instruction_budget(instructions); }
uint64_t Method::instruction_budget() const { return impl_->method->instruction_budget(); }

std::vector<InstructionProfile> Method::profile() const {
  const runtime::Method& m = *impl_->method;
  std::vector<InstructionProfile> out;
  for (size_t pc = 0; pc < m.profile().size(); ++pc) {
    runtime::Method::Callee callee = m.callee(pc);
    if (callee.name.empty()) continue;  // a move, jump or free
    out.push_back({pc, callee.delegate, std::move(callee.name), std::move(callee.plugin), m.profile()[pc].calls,
                   static_cast<double>(m.profile()[pc].ns) / 1e6});
  }
  return out;
}

void Method::clear_profile() { impl_->method->clear_profile(); }

}  // namespace etp
