// Program and Method: a loaded .pte and one of its methods, ready to run through plugins.
//
// Program::load_method parses the method's values once (constants point into the mapped
// files, EXTERNAL tensors come from the model's data files after an exact layout check,
// planned buffers are allocated once and zeroed), resolves every operator through the
// registry (all missing names reported together), and initialises every delegate with the
// plugin that serves its backend id. Method::execute then walks the instructions calling
// kernels and delegates; it allocates nothing. A Method runs on one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "etp_plugin.h"
#include "format/program_file.h"
#include "plugins/registry.h"
#include "runtime/host_tensor.h"
#include "runtime/named_data_map.h"

namespace etp::runtime {

class Method;

class Program : public std::enable_shared_from_this<Program> {
 public:
  // Opens `path` with the data files the model uses (in manifest order).
  static Result<std::shared_ptr<Program>> open(const std::string& path, std::vector<DataSource> data,
                                               std::shared_ptr<const plugins::Registry> registry);

  const format::ProgramFile& file() const { return *file_; }
  const std::string& path() const { return file_->path(); }
  Result<std::unique_ptr<Method>> load_method(const std::string& name) const;

 private:
  friend class MethodLoader;
  std::shared_ptr<const format::ProgramFile> file_;
  std::vector<DataSource> data_;
  std::shared_ptr<const plugins::Registry> registry_;
};

// A caller-owned tensor to pass as input: dtype, logical sizes (row-major data).
struct TensorInput {
  int32_t dtype = ETP_DTYPE_FLOAT32;
  std::vector<int64_t> sizes;
  const void* data = nullptr;
  size_t nbytes = 0;
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
  // written in the input's dim order).
  Status set_input(size_t index, const TensorInput& tensor);
  // Runs the method once. On failure the message names the program, method, instruction
  // index and operator or delegate, plus what the plugin logged.
  Status execute();

  // Bytes of the memory-planned buffers this method allocated.
  uint64_t planned_bytes() const { return planned_bytes_; }
  const Program& program() const { return *program_; }

  // Which plugin serves each operator of this method ("host" for prim operators).
  std::vector<std::pair<std::string, std::string>> kernel_providers() const;

 private:
  friend class MethodLoader;
  Method() = default;

  enum class Kind : uint8_t { kKernel, kDelegate, kMove, kJumpFalse, kFree };
  struct Instruction {
    Kind kind;
    uint32_t a = 0, b = 0;        // move from/to, jump cond/destination, free value, op or delegate index
    uint32_t first_arg = 0, num_args = 0;      // range in args_
    uint32_t first_refresh = 0, num_refresh = 0;  // lists to refresh, range in refresh_
    etp_kernel kernel{};
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
  struct Refresh {
    bool tensors;   // false: int_lists_[list], true: tensor_lists_[list]
    uint32_t list;
  };
  struct Delegate {
    const etp_backend* backend = nullptr;
    void* handle = nullptr;
    std::string id;
  };

  Status fail_at(size_t pc, etp_status status) const;

  std::string name_;
  std::string program_path_;
  std::shared_ptr<const Program> program_;  // keeps the mapping and registry alive
  std::vector<etp_value> values_;
  std::unique_ptr<HostTensor[]> tensors_;
  std::vector<IntList> int_lists_;
  std::vector<TensorList> tensor_lists_;
  std::vector<std::unique_ptr<uint8_t, void (*)(void*)>> buffers_;  // allocations, by memory_id
  std::vector<uint8_t*> buffer_bases_;                               // their 64-byte aligned starts
  uint64_t planned_bytes_ = 0;
  std::vector<uint32_t> inputs_, outputs_;
  std::vector<Instruction> instructions_;
  std::vector<etp_value*> args_;
  std::vector<Refresh> refresh_;
  std::vector<std::string> operator_names_;
  std::vector<std::string> operator_providers_;
  std::vector<std::shared_ptr<plugins::PluginLibrary>> plugins_;  // keep libraries loaded
  std::vector<std::unique_ptr<NamedDataMap>> named_data_;  // per backend plugin; outlive the handles
  std::vector<Delegate> delegates_;
};

}  // namespace etp::runtime
