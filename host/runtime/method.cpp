// Method execution and inputs. The loop is short on purpose: call, check, report.
#include "runtime/method.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>

#include "format/scalar_type.h"
#include "plugins/plugin_log.h"
#include "runtime/host_services.h"

namespace etp::runtime {
namespace {

bool condition_true(const etp_value& v) {
  if (v.tag == ETP_VALUE_BOOL) return v.u.b;
  if (v.tag == ETP_VALUE_TENSOR && v.u.tensor->dtype == ETP_DTYPE_BOOL) {
    // Bytes, not bool: a byte other than 0 or 1 read as bool is undefined (nonzero is true).
    const uint8_t* data = static_cast<const uint8_t*>(v.u.tensor->data);
    for (uint64_t i = 0; i < v.u.tensor->nbytes; ++i) {
      if (data[i] == 0) return false;
    }
    return true;
  }
  return false;
}

bool is_freed(const etp_tensor* t) { return t != nullptr && t->data == nullptr && t->nbytes > 0; }

// Live methods by id, so plugin reports that name a method_id can be shown as program:method.
std::mutex g_labels_mutex;
std::map<uint64_t, std::string> g_labels;

}  // namespace

void Method::register_label() {
  const std::lock_guard<std::mutex> lock(g_labels_mutex);
  g_labels[id()] = program_path_ + ":" + name_;
}

std::string Method::label_of(uint64_t method_id) {
  const std::lock_guard<std::mutex> lock(g_labels_mutex);
  auto it = g_labels.find(method_id);
  return it == g_labels.end() ? "method " + std::to_string(method_id) : it->second;
}

Method::~Method() {
  for (Delegate& d : delegates_) d.backend->destroy(d.backend->self, d.handle);
  if (budget_) budget_->release(planned_bytes_);
  const std::lock_guard<std::mutex> lock(g_labels_mutex);
  g_labels.erase(id());
}

// Checks `input` against input `index` and gives its tensor the input's shape, pointing at the
// input's own memory again (a later copy must not write into memory an earlier call borrowed).
Status Method::check_input(size_t index, const TensorInput& input, HostTensor** out) {
  // Built only when there is an error to report: set_input sits in timed loops.
  auto where = [&] { return program_path_ + ": method '" + name_ + "' input " + std::to_string(index); };
  if (index >= inputs_.size()) {
    return Status(StatusCode::kInvalidArgument,
                  where() + ": the method has " + std::to_string(inputs_.size()) + " inputs");
  }
  etp_value& value = values_[inputs_[index]];
  if (value.tag != ETP_VALUE_TENSOR) {
    return Status(StatusCode::kNotSupported, where() + ": only tensor inputs can be set (this input is not a tensor)");
  }
  HostTensor& t = *HostTensor::from(value.u.tensor);
  if (input.dtype != t.raw.dtype) {
    return Status(StatusCode::kDtype, where() + ": dtype " + format::scalar_type_name(input.dtype) + ", expected " +
                                          format::scalar_type_name(t.raw.dtype));
  }
  InputSlot& slot = input_slots_[index];
  t.raw.data = slot.planned;
  t.raw.capacity = slot.capacity;
  slot.borrowed = false;
  if (Status s = t.resize(static_cast<int32_t>(input.sizes.size()), input.sizes.data()); !s.ok()) {
    return Status(StatusCode::kShape, where() + ": " + s.message() + " (expected shape " + t.shape_string() +
                                          (t.raw.dynamism == ETP_DYNAMISM_STATIC ? ")" : " at most)"));
  }
  if (input.nbytes != t.raw.nbytes) {
    return Status(StatusCode::kInvalidArgument, where() + ": " + std::to_string(input.nbytes) + " bytes of data for " +
                                                    std::to_string(t.raw.nbytes) + " bytes of tensor");
  }
  if (input.data == nullptr && input.nbytes > 0) return Status(StatusCode::kInvalidArgument, where() + ": no data");
  *out = &t;
  return Status::success();
}

// Copies a checked input into the tensor's own (planned) memory.
Status Method::copy_input(size_t index, const TensorInput& input, HostTensor* t) {
  if (t->raw.data == nullptr && t->raw.nbytes > 0) {
    return Status(StatusCode::kNotSupported,
                  program_path_ + ": method '" + name_ + "' input " + std::to_string(index) +
                      ": input is not memory-planned; etp copies inputs into planned memory");
  }
  copy_logical(t->raw, static_cast<const uint8_t*>(input.data), static_cast<uint8_t*>(t->raw.data), /*to_tensor=*/true);
  return Status::success();
}

Status Method::set_input(size_t index, const TensorInput& input) {
  HostTensor* t = nullptr;
  ETP_CHECK_OK(check_input(index, input, &t));
  return copy_input(index, input, t);
}

Status Method::bind_input(size_t index, const TensorInput& input) {
  HostTensor* t = nullptr;
  ETP_CHECK_OK(check_input(index, input, &t));
  const size_t element = element_size(input.dtype);
  const bool aligned = element == 0 || reinterpret_cast<uintptr_t>(input.data) % element == 0;
  if (!input_slots_[index].can_borrow || !aligned || input.nbytes == 0) return copy_input(index, input, t);
  t->raw.data = const_cast<void*>(input.data);  // read only: can_borrow excludes every writer
  t->raw.capacity = input.nbytes;
  input_slots_[index].borrowed = true;
  return Status::success();
}

void Method::reset_state() {
  for (const StateTensor& s : state_) {
    const etp_tensor& t = *values_[s.value].u.tensor;
    if (s.initial != nullptr) {
      std::memcpy(t.data, s.initial, t.nbytes);
    } else {
      std::memset(t.data, 0, t.nbytes);
    }
  }
}

Status Method::fail_at(size_t pc, etp_status status) const {
  const Instruction& ins = instructions_[pc];
  std::string what;
  if (ins.kind == Kind::kKernel) {
    what = operator_names_[ins.op] + " (plugin " + providers_[ins.provider] + ")";
  } else {
    what = "delegate " + std::to_string(ins.op) + " (" + delegates_[ins.op].id + ")";
  }
  std::string why = plugins::PluginLog::take_last_error();
  if (status == ETP_ERR_DECLINED) {
    why += std::string(why.empty() ? "" : "; ") +
           "a kernel cannot decline when called: it declines at load, in accept_kernel_call";
  }
  return Status(status_code_from_plugin(status), program_path_ + ": method '" + name_ + "', instruction " +
                                                     std::to_string(pc) + ", " + what + " failed with status " +
                                                     std::to_string(status) + (why.empty() ? "" : ": " + why));
}

Status Method::execute() {
  Status status = profiling_ ? run_instructions<true>() : run_instructions<false>();
  // What FreeCalls emptied gets its memory back for the next execute.
  for (const auto& [tensor, data] : freed_) tensor->data = data;
  freed_.clear();
  return status;
}

int64_t Method::freed_argument(const Instruction& ins) const {
  for (uint32_t a = 0; a < ins.num_args; ++a) {
    const etp_value& v = *args_[ins.first_arg + a];
    if (v.tag == ETP_VALUE_TENSOR && is_freed(v.u.tensor)) return HostTensor::from(v.u.tensor) - tensors_.get();
    if (v.tag == ETP_VALUE_TENSOR_LIST || v.tag == ETP_VALUE_OPTIONAL_TENSOR_LIST) {
      for (uint64_t i = 0; i < v.u.tensor_list.count; ++i) {
        if (is_freed(v.u.tensor_list.items[i])) return HostTensor::from(v.u.tensor_list.items[i]) - tensors_.get();
      }
    }
  }
  return -1;
}

template <bool kProfile>
Status Method::run_instructions() {
  using Clock = std::chrono::steady_clock;
  const etp_host_api* host = host_;
  plugins::PluginLog::take_last_error();  // a failure must not quote an older message
  const size_t count = instructions_.size();
  size_t pc = 0;
  size_t back_jump = count;  // the last jump taken backwards: where a runaway loop turns
  for (uint64_t steps = 0; pc < count; ++steps) {
    if (steps == instruction_budget_) {
      std::string where = "no jump was taken backwards";
      if (back_jump < count) {
        where = "the last backward jump was instruction " + std::to_string(back_jump) + " (JumpFalseCall to " +
                std::to_string(instructions_[back_jump].destination) + ")";
      }
      return Status(StatusCode::kInvalidState,
                    program_path_ + ": method '" + name_ + "' ran " + std::to_string(steps) +
                        " instructions without finishing, its instruction budget (" + where +
                        "); a longer loop needs a larger budget: max_instructions in the manifest, "
                        "--max-instructions, or Method::set_instruction_budget");
    }
    const Instruction& ins = instructions_[pc];
    for (uint32_t r = 0; r < ins.num_refresh; ++r) {
      const Refresh& refresh = refresh_[ins.first_refresh + r];
      if (refresh.kind == Refresh::ListKind::kTensors) {
        TensorList& list = tensor_lists_[refresh.list];
        for (size_t j = 0; j < list.sources.size(); ++j) {
          const int32_t v = list.sources[j];
          list.items[j] = v >= 0 && values_[v].tag == ETP_VALUE_TENSOR ? values_[v].u.tensor : nullptr;
        }
      } else {
        IntList& list = int_lists_[refresh.list];
        for (size_t j = 0; j < list.sources.size(); ++j) list.items[j] = values_[list.sources[j]].u.i;
      }
    }
    if (!freed_.empty() && (ins.kind == Kind::kKernel || ins.kind == Kind::kDelegate ||
                            (ins.kind == Kind::kJumpFalse && values_[ins.value].tag == ETP_VALUE_TENSOR &&
                             is_freed(values_[ins.value].u.tensor)))) {
      const int64_t freed = ins.kind == Kind::kJumpFalse ? static_cast<int64_t>(ins.value) : freed_argument(ins);
      if (freed >= 0) {
        return Status(StatusCode::kInvalidState,
                      program_path_ + ": method '" + name_ + "', instruction " + std::to_string(pc) +
                          " reads value " + std::to_string(freed) +
                          ", which a FreeCall emptied earlier in this execute");
      }
    }
    etp_status status = ETP_OK;
    Clock::time_point start;
    if constexpr (kProfile) start = Clock::now();
    switch (ins.kind) {
      case Kind::kKernel:
        status = ins.kernel.fn(ins.kernel.self, host, args_.data() + ins.first_arg, ins.num_args);
        ++pc;
        break;
      case Kind::kDelegate: {
        const Delegate& d = delegates_[ins.op];
        status = d.backend->execute(d.backend->self, d.handle, args_.data() + ins.first_arg, ins.num_args);
        ++pc;
        break;
      }
      case Kind::kMove:
        values_[ins.destination] = values_[ins.value];
        ++pc;
        break;
      case Kind::kJumpFalse:
        if (condition_true(values_[ins.value])) {
          ++pc;
        } else {
          if (ins.destination <= pc) back_jump = pc;
          pc = ins.destination;
        }
        break;
      case Kind::kFree:
        if (values_[ins.value].tag == ETP_VALUE_TENSOR && values_[ins.value].u.tensor->data != nullptr) {
          etp_tensor* t = values_[ins.value].u.tensor;
          freed_.emplace_back(t, t->data);
          t->data = nullptr;
        }
        ++pc;
        break;
    }
    if constexpr (kProfile) {
      if (ins.kind == Kind::kKernel || ins.kind == Kind::kDelegate) {
        InstructionTime& t = profile_[&ins - instructions_.data()];
        t.calls += 1;
        t.ns +=
            static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
      }
    }
    if (status != ETP_OK) return fail_at(pc - 1, status);
  }
  return Status::success();
}

void Method::set_profiling(bool on) {
  profiling_ = on;
  if (on && profile_.size() != instructions_.size()) profile_.assign(instructions_.size(), {});
}

void Method::clear_profile() { std::fill(profile_.begin(), profile_.end(), InstructionTime{}); }

Method::Callee Method::callee(size_t pc) const {
  if (pc >= instructions_.size()) return {};
  const Instruction& ins = instructions_[pc];
  if (ins.kind == Kind::kKernel) return {false, operator_names_[ins.op], providers_[ins.provider]};
  if (ins.kind == Kind::kDelegate) return {true, delegates_[ins.op].id, delegates_[ins.op].plugin};
  return {};
}

std::vector<Method::OperatorService> Method::operator_services() const {
  std::vector<OperatorService> per_op(operator_names_.size());
  for (const Instruction& ins : instructions_) {
    if (ins.kind != Kind::kKernel) continue;
    auto& plugins = per_op[ins.op].plugins;
    const std::string& name = providers_[ins.provider];
    auto it = std::find_if(plugins.begin(), plugins.end(), [&](const auto& p) { return p.first == name; });
    if (it == plugins.end()) {
      plugins.emplace_back(name, 1);
    } else {
      ++it->second;
    }
  }
  std::vector<OperatorService> out;
  for (size_t op = 0; op < per_op.size(); ++op) {
    if (per_op[op].plugins.empty()) continue;  // in the program's operator table but never called
    per_op[op].op = operator_names_[op];
    out.push_back(std::move(per_op[op]));
  }
  return out;
}

std::string Method::describe_shares(const std::vector<std::pair<std::string, uint32_t>>& plugins) {
  if (plugins.size() == 1) return plugins.front().first;
  uint32_t total = 0;
  for (const auto& p : plugins) total += p.second;
  std::string out;
  for (size_t i = 0; i < plugins.size(); ++i) {
    out += (i ? ", " : "") + plugins[i].first + " (" + std::to_string(plugins[i].second) + " of " +
           std::to_string(total) + (i ? ")" : " calls)");
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Method::kernel_providers() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const OperatorService& s : operator_services()) out.emplace_back(s.op, describe_shares(s.plugins));
  std::vector<std::string> backends;
  for (const Delegate& d : delegates_) {
    if (std::find(backends.begin(), backends.end(), d.id) != backends.end()) continue;
    backends.push_back(d.id);
    out.emplace_back("backend " + d.id, d.plugin);
  }
  return out;
}

}  // namespace etp::runtime
