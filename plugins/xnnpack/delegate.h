// Delegate: one compiled XNNPACK payload. init parses the graph, plans one arena for every
// intermediate value, and turns each node into a Step: an XNNPACK operator (weights packed
// at creation, shared through the WeightCache when the manifest says so) or a plugin-native
// kernel for what this XNNPACK lacks. execute binds the call's tensors by external id
// (honouring dim order) and runs the steps. One thread at a time per delegate.
#pragma once

#include <pthreadpool.h>
#include <xnnpack.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "etp_plugin.h"
#include "graph.h"
#include "weight_cache.h"

namespace etp_xnnpack {

// Scratch memory for the intermediate values of every delegate of one loaded method. Those
// delegates never run at the same time, so they share it (ExecuTorch's per-model workspace).
// Grown at delegate init, never during execute.
// Zeroed memory from calloc: large blocks come straight from the kernel's zero pages, so memory
// a (possibly hostile) graph plans but never touches costs nothing, and a block beyond what the
// machine can give fails cleanly instead of being zeroed page by page.
struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};
using ZeroedBytes = std::unique_ptr<uint8_t, FreeDeleter>;
ZeroedBytes allocate_zeroed(size_t bytes);  // null when the allocation fails

struct Workspace {
  const etp_host_api* host = nullptr;
  etp_memory_budget* budget = nullptr;  // what `size` is charged to (ABI 1.3), if anything
  ZeroedBytes memory;
  size_t size = 0;
  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace();
  // Grows to at least `bytes`, charging the growth to the budget before allocating; keeps
  // nothing (contents are scratch between delegate calls). ETP_OK, or ETP_ERR_OUT_OF_MEMORY
  // with *over_budget set when the budget refused (the host has the message), clear when the
  // allocation failed.
  etp_status reserve(size_t bytes, bool* over_budget);
  uint8_t* base() const;  // 64-byte aligned
};

struct PluginState {
  const etp_host_api* host = nullptr;
  pthreadpool_t threadpool = nullptr;
  size_t threads = 0;
  WeightCache cache;
  std::mutex workspaces_mutex;
  std::map<uint64_t, std::weak_ptr<Workspace>> workspaces;  // by etp_backend_init_args.method_id

  // The workspace of method `method_id` (0: a private one), charged to `budget` (the same for
  // every delegate of a method).
  std::shared_ptr<Workspace> workspace(uint64_t method_id, etp_memory_budget* budget);
};

class Delegate;

// One node, ready to run. `run` returns ETP_OK or logs and returns an error.
struct Step {
  std::string name;  // "node 3 (XNNFullyConnected)"
  std::function<etp_status(Delegate&)> run;
};

class Delegate {
 public:
  Delegate(PluginState& plugin, CacheUser user) : plugin_(plugin), user_(std::move(user)) {}
  ~Delegate();

  etp_status init(const etp_backend_init_args* args);
  etp_status execute(etp_value* const* args, uint32_t num_args);

  // Data of value `index` for the current call: as fp32 (for fp32 values), or untyped.
  float* data(int index) { return static_cast<float*>(pointers_[static_cast<size_t>(index)]); }
  void* raw(int index) { return pointers_[static_cast<size_t>(index)]; }
  template <typename T>
  T* as(int index) {
    return static_cast<T*>(pointers_[static_cast<size_t>(index)]);
  }
  // Current physical dims of value `index`: the exported ones, or those the last call's input
  // shapes implied (bounded dynamic shapes). Steps read them at run time.
  const std::vector<size_t>& dims(int index) const { return dims_[static_cast<size_t>(index)]; }
  std::vector<size_t>& mutable_dims(int index) { return dims_[static_cast<size_t>(index)]; }
  size_t numel(int index) const;
  const Value& value(int index) const { return graph_.values()[static_cast<size_t>(index)]; }
  pthreadpool_t threadpool() const { return plugin_.threadpool; }
  const std::string& name() const { return user_.name; }
  // Logs `message` as one ERROR line (naming the running step, if any) and returns `status`.
  etp_status fail(etp_status status, const std::string& message) const;

  // Used by the node compilers (compile_*.cpp).
  Graph& graph() { return graph_; }
  // Identifies the current binding of pointers and dims: changes whenever a call binds other
  // tensors, shapes or workspace addresses; unique across delegates (run_op skips setup on it).
  uint64_t binding_generation() const { return binding_generation_; }
  const void* running_step() const { return running_step_; }
  // Appends the step of the node being compiled; `type_name` is its node type.
  void add_step(const std::string& type_name, std::function<etp_status(Delegate&)> run);
  // An operator with packed weights: shared when `key` is not empty.
  // `weights`: the operator packs weights (reported as private packed weights when not shared).
  std::shared_ptr<PackedOp> packed_op(const std::string& key, uint64_t file_id, bool weights,
                                      const std::function<xnn_status(xnn_operator_t*)>& create, xnn_status* status);
  // The same for any packed form (`create` fills the entry: an operator or native weights).
  std::shared_ptr<PackedOp> packed(const std::string& key, uint64_t file_id, bool weights,
                                   const std::function<xnn_status(PackedOp&)>& create, xnn_status* status);

 private:
  // False with *error set, or with *error empty when the memory budget refused (the host has
  // the message).
  bool plan_arena(const etp_backend_init_args* args, std::string* error);
  bool compile(std::string* error);
  etp_status bind(etp_value* const* args, uint32_t num_args);
  // Recomputes every value's dims from the inputs' (node by node); fails when a value would
  // exceed its exported size, which is the bound its memory was planned for.
  etp_status reshape();

  PluginState& plugin_;
  CacheUser user_;  // name and identity in the host's terms
  Graph graph_;
  std::vector<void*> pointers_;
  std::vector<std::vector<size_t>> dims_;
  bool dims_valid_ = true;  // false after a failed call: dims_ may be half-updated
  uint64_t binding_generation_ = 0;
  std::vector<void*> bound_pointers_;            // pointers_ at the last execute
  size_t compiling_node_ = 0;                    // node index add_step names its step with
  const Step* running_step_ = nullptr;           // named in fail() messages during execute
  ZeroedBytes constants_;                        // constants no operator packs, copied (private)
  std::shared_ptr<Workspace> workspace_;         // intermediates, shared with the method's delegates
  std::vector<std::pair<int, size_t>> scratch_;  // (value, offset in the workspace)
  std::vector<Step> steps_;
  std::vector<int> widen_;  // int32 outputs bound to int64 tensors this call
  std::vector<std::shared_ptr<PackedOp>> ops_;
};

// Compiles node `index` of the graph into steps of `d`; false with `error` set if the node
// type or its parameters are not supported (the message names the node type).
bool compile_node(Delegate& d, size_t index, std::string* error);

// Sets the current dims of node `index`'s outputs from its inputs' current dims; false with
// `error` set when they do not fit together.
bool infer_node_dims(Delegate& d, size_t index, std::string* error);

}  // namespace etp_xnnpack
