// Method: one loaded method of a Program, ready to run through plugins (see method_loader.h
// for how it is built). execute walks the instructions calling kernels and delegates; it
// allocates nothing. A Method runs on one thread at a time; different Methods may run
// concurrently.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "etp_plugin.h"
#include "plugins/registry.h"
#include "runtime/host_tensor.h"
#include "runtime/named_data_map.h"
#include "runtime/program.h"

namespace etp::runtime {

// A caller-owned tensor to pass as input: dtype, logical sizes, row-major data.
struct TensorInput {
  int32_t dtype = ETP_DTYPE_FLOAT32;
  std::vector<int64_t> sizes;
  const void* data = nullptr;
  size_t nbytes = 0;
};

// A tensor whose contents persist from one execute to the next and that the program itself
// writes: mutable buffers (KV caches, updated by an in-place operator such as aten::copy_),
// tensors with an initial value in the program's mutable segment, and planned EXTERNAL tensors
// (trainable weights).
struct StateTensor {
  std::string name;                  // the tensor's fully qualified name, or "value <index>"
  uint32_t value = 0;                // value index in the method
  const uint8_t* initial = nullptr;  // initial bytes (mapped), or null: starts as zeros
};

class Method {
 public:
  ~Method();
  Method(const Method&) = delete;
  Method& operator=(const Method&) = delete;

  const std::string& name() const { return name_; }
  size_t num_inputs() const { return inputs_.size(); }
  size_t num_outputs() const { return outputs_.size(); }
  const etp_value& input(size_t i) const { return values_[inputs_[i]]; }
  const etp_value& output(size_t i) const { return values_[outputs_[i]]; }

  // Copies `tensor` into input `index` (dtype must match; the shape must fit the planned
  // bound, or equal it for static inputs; data is in contiguous row-major order and is
  // written in the input's dim order). Errors: kInvalidArgument (index), kDtype, kShape.
  Status set_input(size_t index, const TensorInput& tensor);
  // Like set_input, but the input uses the caller's memory without a copy when that is safe:
  // the input is stored row-major, the data is aligned to its element size, and nothing but
  // the input itself can write or read that memory (ValueUses::can_borrow: no writer, no
  // delegate, no move, no value planned into its bytes). Otherwise it copies. Borrowed memory
  // must stay valid and unchanged until the input is set again or the method is destroyed.
  Status bind_input(size_t index, const TensorInput& tensor);
  // True when input `index` currently uses the caller's memory (bind_input borrowed it).
  bool input_borrowed(size_t index) const { return index < inputs_.size() && input_slots_[index].borrowed; }

  // Runs the method once. On failure the message names the program, method, instruction
  // index and operator or delegate, plus what the plugin logged; the code is the plugin's.
  Status execute();

  // The most instructions one execute may run before it fails (kInvalidState, naming the last
  // backward jump): a program whose control flow loops is stopped, not left spinning.
  static constexpr uint64_t kDefaultInstructionBudget = 10'000'000;  // ExecuTorch's own limit
  void set_instruction_budget(uint64_t budget) { instruction_budget_ = budget == 0 ? 1 : budget; }
  uint64_t instruction_budget() const { return instruction_budget_; }

  // The method's mutable state, in value order, and a way back to its initial contents.
  const std::vector<StateTensor>& state() const { return state_; }
  const etp_tensor& state_tensor(size_t i) const { return *values_[state_[i].value].u.tensor; }
  // Restores every state tensor to its initial contents (zeros for buffers without one).
  void reset_state();

  // Bytes of the memory-planned buffers this method allocated.
  uint64_t planned_bytes() const { return planned_bytes_; }
  const Program& program() const { return *program_; }

  // Which plugin serves each operator of this method ("host" for prim operators), then each
  // delegate backend ("backend <id>"). When fall-through split an operator's calls between
  // plugins, every serving plugin is named with its share: "fast (2 of 3 calls), portable (1 of 3)".
  std::vector<std::pair<std::string, std::string>> kernel_providers() const;
  // The same for operators, structured: per operator called, each serving plugin and its calls.
  struct OperatorService {
    std::string op;
    std::vector<std::pair<std::string, uint32_t>> plugins;  // (plugin, calls), in order of first call
  };
  std::vector<OperatorService> operator_services() const;
  // How `plugins` share an operator's calls: "portable", or "fast (2 of 3 calls), portable (1 of 3)".
  static std::string describe_shares(const std::vector<std::pair<std::string, uint32_t>>& plugins);
  // Identifies this loaded method to plugins (etp_backend_init_args.method_id).
  uint64_t id() const { return reinterpret_cast<uint64_t>(this); }
  // "<program>:<method>" of the live method with `method_id` ("method <id>" if none is live).
  static std::string label_of(uint64_t method_id);

  // Profiling: while on, execute times every kernel and delegate call (two clock reads each)
  // and adds it to that instruction's entry; off by default, and then costs nothing.
  struct InstructionTime {
    uint64_t calls = 0;
    uint64_t ns = 0;
  };
  void set_profiling(bool on);
  // One entry per instruction (all zero until profiled runs); clear_profile zeroes them.
  const std::vector<InstructionTime>& profile() const { return profile_; }
  void clear_profile();
  // What instruction `pc` calls, for profiles: (is a delegate, operator name or backend id,
  // plugin). Moves, jumps and frees give ("", "").
  struct Callee {
    bool delegate = false;
    std::string name, plugin;
  };
  Callee callee(size_t pc) const;

 private:
  friend class MethodLoader;
  Method() = default;
  Status check_input(size_t index, const TensorInput& tensor, HostTensor** out);
  Status copy_input(size_t index, const TensorInput& tensor, HostTensor* t);

  enum class Kind : uint8_t { kKernel, kDelegate, kMove, kJumpFalse, kFree };
  struct Instruction {
    Kind kind;
    uint32_t op = 0;                       // kKernel: operator index; kDelegate: delegate index
    uint32_t value = 0;                    // kMove: source value; kJumpFalse: condition value; kFree: freed value
    uint32_t destination = 0;              // kMove: destination value; kJumpFalse: instruction to jump to
    uint32_t first_arg = 0, num_args = 0;  // kKernel, kDelegate: range in args_
    uint32_t first_refresh = 0, num_refresh = 0;  // lists to refresh first, range in refresh_
    etp_kernel kernel{};
    uint32_t provider = 0;  // kKernel: index in providers_ of the plugin serving the call
  };
  struct IntList {
    std::vector<int64_t> items;
    std::vector<uint32_t> sources;  // value indices of the boxed ints
  };
  // A tensor list holds pointers; when a MoveCall rebinds one of its members, the pointers are
  // re-read from `sources` (value indices, -1 for None) before the next instruction using it.
  struct TensorList {
    std::vector<etp_tensor*> items;
    std::vector<int32_t> sources;
  };
  // A list whose items must be re-read from their source values before an instruction.
  struct Refresh {
    enum class ListKind : uint8_t { kInts, kTensors } kind;
    uint32_t list;  // index in int_lists_ or tensor_lists_
  };
  struct Delegate {
    const etp_backend* backend = nullptr;
    void* handle = nullptr;
    std::string id;
    std::string plugin;  // its name
  };
  // What set_input needs to know about one input.
  struct InputSlot {
    void* planned = nullptr;  // the input's own memory (planned), restored after a borrow
    uint64_t capacity = 0;
    bool can_borrow = false;  // see bind_input
    bool borrowed = false;
  };

  Status fail_at(size_t pc, etp_status status) const;
  void register_label();  // makes label_of(id()) name this method, until it is destroyed
  template <bool kProfile>
  Status run_instructions();

  std::string name_;
  std::string program_path_;
  std::shared_ptr<const Program> program_;  // keeps the mapping and registry alive
  const etp_host_api* host_ = nullptr;      // what kernel calls receive: the registry's host
  std::vector<etp_value> values_;
  std::unique_ptr<HostTensor[]> tensors_;
  std::vector<IntList> int_lists_;
  std::vector<TensorList> tensor_lists_;
  std::vector<std::unique_ptr<uint8_t, void (*)(void*)>>
      buffers_;                         // planned buffers by memory_id, then unplanned inputs
  std::vector<uint8_t*> buffer_bases_;  // their 64-byte aligned starts
  uint64_t planned_bytes_ = 0;
  std::shared_ptr<MemoryBudget> budget_;  // what planned_bytes_ was charged to, if anything
  std::vector<uint32_t> inputs_, outputs_;
  std::vector<InputSlot> input_slots_;
  std::vector<StateTensor> state_;
  std::vector<Instruction> instructions_;
  std::vector<etp_value*> args_;
  std::vector<Refresh> refresh_;
  std::vector<std::string> operator_names_;
  std::vector<std::string> providers_;  // names of the plugins serving kernel calls ("host" first)
  std::vector<std::shared_ptr<plugins::PluginLibrary>> plugins_;  // keep libraries loaded
  std::vector<std::unique_ptr<NamedDataMap>> named_data_;         // per backend plugin; outlive the handles
  std::vector<Delegate> delegates_;
  bool profiling_ = false;
  uint64_t instruction_budget_ = kDefaultInstructionBudget;
  // Tensors a FreeCall emptied during the current execute (ExecuTorch drops their data), with
  // the data to give back when it ends. While any is freed, an instruction reading one fails
  // instead of reading a null pointer (run_instructions).
  std::vector<std::pair<etp_tensor*, void*>> freed_;
  // The first freed tensor among instruction `ins`'s arguments (lists included), or -1.
  int64_t freed_argument(const Instruction& ins) const;
  std::vector<InstructionTime> profile_;
};

}  // namespace etp::runtime
