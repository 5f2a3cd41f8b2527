#include "delegate.h"
#include "compile.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include <unistd.h>

namespace etp_xnnpack {
namespace {

constexpr size_t kAlignment = 64;

size_t align_up(size_t v) { return (v + kAlignment - 1) / kAlignment * kAlignment; }

// The delegate-call dtype that carries a graph input or output of `type` (ExecuTorch passes
// quantized tensors as plain int8 / uint8 / int32 tensors).
int external_dtype(Datatype type) {
  switch (type) {
    case Datatype::xnn_datatype_fp32: return ETP_DTYPE_FLOAT32;
    case Datatype::xnn_datatype_fp16: return ETP_DTYPE_FLOAT16;
    case Datatype::xnn_datatype_qint8: return ETP_DTYPE_INT8;
    case Datatype::xnn_datatype_quint8: return ETP_DTYPE_UINT8;
    case Datatype::xnn_datatype_int32:
    case Datatype::xnn_datatype_qint32: return ETP_DTYPE_INT32;
    default: return -1;
  }
}

}  // namespace

Delegate::~Delegate() {
  for (const auto& op : ops_) plugin_.cache.release(op, user_);
}

etp_status Delegate::fail(etp_status status, const std::string& message) const {
  const std::string where = running_step_ != nullptr ? running_step_->name + ": " : "";
  const std::string text = "XnnpackBackend " + user_.name + ": " + where + message;
  plugin_.host->log(plugin_.host->self, ETP_LOG_ERROR, text.c_str());
  return status;
}

void Delegate::add_step(const std::string& type_name, std::function<etp_status(Delegate&)> run) {
  steps_.push_back({"node " + std::to_string(compiling_node_) + " (" + type_name + ")", std::move(run)});
}

std::shared_ptr<PackedOp> Delegate::packed_op(const std::string& key, uint64_t file_id, bool weights,
                                              const std::function<xnn_status(xnn_operator_t*)>& create,
                                              xnn_status* status) {
  return packed(
      key, file_id, weights, [&](PackedOp& p) { return create(&p.op); }, status);
}

std::shared_ptr<PackedOp> Delegate::packed(const std::string& key, uint64_t file_id, bool weights,
                                           const std::function<xnn_status(PackedOp&)>& create, xnn_status* status) {
  auto op = plugin_.cache.acquire(key, file_id, weights, user_, create, status);
  if (op) ops_.push_back(op);
  return op;
}

etp_status Delegate::init(const etp_backend_init_args* args) {
  std::string error;
  if (!graph_.parse(plugin_.host, args, &error)) return fail(ETP_ERR_MALFORMED, error);
  if (!plan_arena(args, &error)) return error.empty() ? ETP_ERR_OUT_OF_MEMORY : fail(ETP_ERR_OUT_OF_MEMORY, error);
  for (const Value& v : graph_.values()) dims_.push_back(v.dims);
  if (!compile(&error)) return fail(ETP_ERR_NOT_SUPPORTED, error);
  // Packed weights are copies: the raw bytes in the data files are no longer needed here.
  if (ETP_ABI_HAS(plugin_.host, release_named_data)) {
    for (const std::string& key : graph_.named_keys()) {
      plugin_.host->release_named_data(plugin_.host->self, args->named_data, key.c_str());
    }
  }
  return ETP_OK;
}

// Every value that is neither external nor constant gets a slot in one arena (64-byte
// aligned, plus XNN_EXTRA_BYTES because XNNPACK may read that far past an input); values whose
// lifetimes do not overlap share space. Constants that no operator packs are copied in too
// (a mapped file may end right after them), each in a slot of its own.
// Weights and biases of operators that pack them need no arena copy: packing reads them once.
// That holds only when every reference to the value is such a slot; a value any other node
// reads is copied, since the named data it points into is released after init.
std::vector<bool> packed_only(const Graph& graph) {
  std::vector<bool> packed_ref(graph.values().size(), false), other_ref(graph.values().size(), false);
  const auto* nodes = graph.root().xnodes();
  for (flatbuffers::uoffset_t i = 0; nodes && i < nodes->size(); ++i) {
    const NodeType* type = node_type(nodes->Get(i)->xnode_union_type());
    const bool packs = type != nullptr && type->packs_weights;  // inputs: {input1, filter, bias}
    const NodeIds& ids = graph.node_ids(i);
    for (size_t slot = 0; slot < ids.in.size(); ++slot) {
      const int index = graph.find(ids.in[slot]);
      if (index >= 0) (packs && slot >= 1 ? packed_ref : other_ref)[static_cast<size_t>(index)] = true;
    }
    for (uint32_t id : ids.out) {
      const int index = graph.find(id);
      if (index >= 0) other_ref[static_cast<size_t>(index)] = true;
    }
  }
  std::vector<bool> packed(graph.values().size(), false);
  for (size_t v = 0; v < packed.size(); ++v) packed[v] = packed_ref[v] && !other_ref[v];
  return packed;
}

// Offsets in one arena for the values that need memory, reusing space between values whose
// lifetimes (first write to last read, in node order) do not overlap. Values no node touches
// live for the whole graph. Greedy, largest first; graphs are small.
size_t plan_offsets(const Graph& graph, const std::vector<bool>& needs, const std::vector<size_t>& bytes,
                    std::vector<size_t>* offsets) {
  const size_t n = graph.values().size();
  const auto* nodes = graph.root().xnodes();
  const size_t count = nodes ? nodes->size() : 0;
  std::vector<size_t> first(n, 0), last(n, count);
  std::vector<bool> seen(n, false);
  for (size_t i = 0; i < count; ++i) {
    const NodeIds& io = graph.node_ids(i);
    for (const auto* ids : {&io.in, &io.out}) {
      for (uint32_t id : *ids) {
        const int v = graph.find(id);
        if (v < 0) continue;
        if (!seen[v]) first[v] = i, last[v] = i, seen[v] = true;
        last[v] = std::max(last[v], i);
      }
    }
  }
  std::vector<size_t> order;
  for (size_t v = 0; v < n; ++v) {
    if (needs[v]) order.push_back(v);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return bytes[a] > bytes[b]; });
  std::vector<size_t> placed;
  size_t total = 0;
  for (size_t v : order) {
    // Lowest offset that overlaps no placed value alive at the same time.
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t p : placed) {
      if (first[p] <= last[v] && first[v] <= last[p]) busy.emplace_back((*offsets)[p], (*offsets)[p] + bytes[p]);
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& [begin, end] : busy) {
      if (offset + bytes[v] <= begin) break;
      offset = std::max(offset, end);
    }
    (*offsets)[v] = offset;
    total = std::max(total, offset + bytes[v]);
    placed.push_back(v);
  }
  return total;
}

bool Delegate::plan_arena(const etp_backend_init_args* args, std::string* error) {
  std::vector<Value>& values = graph_.values();
  pointers_.assign(values.size(), nullptr);
  const std::vector<bool> skip = packed_only(graph_);
  std::vector<bool> intermediate(values.size(), false);
  std::vector<size_t> bytes(values.size(), 0), offsets(values.size(), 0);
  size_t constant_total = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const Value& v = values[i];
    bytes[i] = align_up(storage_bytes(v) + XNN_EXTRA_BYTES);
    if (v.external_id != UINT32_MAX) continue;
    if (v.constant == nullptr) {
      intermediate[i] = true;
    } else if (!skip[i]) {
      offsets[i] = constant_total;
      constant_total += bytes[i];
    }  // else packed by its operator and read by nothing else: no copy, no pointer
  }
  constants_ = allocate_zeroed(constant_total + kAlignment);
  if (!constants_) return *error = "cannot allocate " + std::to_string(constant_total) + " bytes of constants", false;
  uint8_t* base = reinterpret_cast<uint8_t*>(align_up(reinterpret_cast<uintptr_t>(constants_.get())));
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].external_id == UINT32_MAX && values[i].constant != nullptr && !skip[i]) {
      pointers_[i] = base + offsets[i];
      std::memcpy(pointers_[i], values[i].constant, values[i].constant_bytes);
    }
  }
  std::vector<size_t> scratch_offsets(values.size(), 0);
  const size_t scratch_total = plan_offsets(graph_, intermediate, bytes, &scratch_offsets);
  for (size_t i = 0; i < values.size(); ++i) {
    if (intermediate[i]) scratch_.emplace_back(static_cast<int>(i), scratch_offsets[i]);
  }
  const uint64_t method_id = ETP_ABI_HAS_FIELD(args, method_id) ? args->method_id : 0;
  etp_memory_budget* budget = ETP_ABI_HAS_FIELD(args, memory_budget) ? args->memory_budget : nullptr;
  workspace_ = plugin_.workspace(method_id, budget);
  bool over_budget = false;
  if (workspace_->reserve(scratch_total, &over_budget) != ETP_OK) {
    if (over_budget) return error->clear(), false;
    return *error = "cannot allocate a " + std::to_string(scratch_total) + "-byte workspace", false;
  }
  return true;
}

ZeroedBytes allocate_zeroed(size_t bytes) {
  // More than the machine's memory can never be used: refuse it before asking (a hostile graph
  // can declare any size; sanitizer allocators abort rather than fail on such requests).
  static const uint64_t physical = [] {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : UINT64_MAX;
  }();
  if (bytes > physical) return nullptr;
  return ZeroedBytes(static_cast<uint8_t*>(std::calloc(1, bytes)));
}

Workspace::~Workspace() {
  if (budget != nullptr && size > 0) host->release_memory(host->self, budget, size);
}

etp_status Workspace::reserve(size_t bytes, bool* over_budget) {
  *over_budget = false;
  if (bytes <= size && memory) return ETP_OK;
  const size_t growth = bytes - size;  // size is 0 without memory
  if (budget != nullptr && growth > 0 && host->charge_memory(host->self, budget, growth) != ETP_OK) {
    *over_budget = true;
    return ETP_ERR_OUT_OF_MEMORY;
  }
  ZeroedBytes grown = allocate_zeroed(bytes + kAlignment);
  if (!grown) {
    if (budget != nullptr && growth > 0) host->release_memory(host->self, budget, growth);
    return ETP_ERR_OUT_OF_MEMORY;
  }
  memory = std::move(grown);
  size = bytes;
  return ETP_OK;
}

uint8_t* Workspace::base() const {
  return reinterpret_cast<uint8_t*>(align_up(reinterpret_cast<uintptr_t>(memory.get())));
}

std::shared_ptr<Workspace> PluginState::workspace(uint64_t method_id, etp_memory_budget* budget) {
  auto make = [&] {
    auto created = std::make_shared<Workspace>();
    if (budget != nullptr && ETP_ABI_HAS(host, charge_memory) && ETP_ABI_HAS(host, release_memory)) {
      created->host = host;
      created->budget = budget;
    }
    return created;
  };
  if (method_id == 0) return make();
  std::lock_guard<std::mutex> lock(workspaces_mutex);
  for (auto it = workspaces.begin(); it != workspaces.end();) {  // forget freed ones
    it = it->second.expired() ? workspaces.erase(it) : std::next(it);
  }
  if (auto live = workspaces[method_id].lock()) return live;
  auto created = make();
  workspaces[method_id] = created;
  return created;
}

// A node may write only intermediates and external outputs: writing a constant would clobber
// shared or released data, writing an input the caller's tensor.
bool check_outputs(const Graph& graph, size_t node, std::string* error) {
  for (uint32_t id : graph.node_ids(node).out) {
    const int index = graph.find(id);
    if (index < 0) continue;  // reported by the node's compiler
    const Value& v = graph.values()[static_cast<size_t>(index)];
    if (v.constant != nullptr) return *error = "output value id " + std::to_string(id) + " is a constant", false;
    if (v.is_input) return *error = "output value id " + std::to_string(id) + " is an external input", false;
  }
  return true;
}

bool Delegate::compile(std::string* error) {
  const auto* nodes = graph_.root().xnodes();
  for (flatbuffers::uoffset_t i = 0; nodes && i < nodes->size(); ++i) {
    compiling_node_ = i;
    if (!check_outputs(graph_, i, error) || !compile_node(*this, i, error)) {
      *error = "node " + std::to_string(i) + " (" + node_name(nodes->Get(i)->xnode_union_type()) + "): " + *error;
      return false;
    }
  }
  return true;
}

size_t Delegate::numel(int index) const {
  size_t n = 1;
  for (size_t d : dims_[static_cast<size_t>(index)]) n *= d;
  return n;
}

// Binds the call's tensors: inputs are read through their dim order (XNNPACK sees physical,
// e.g. NHWC, shapes); a shape other than the current one re-derives every value's dims, within
// the exported (upper-bound) sizes. Outputs are resized to their dims through the host.
etp_status Delegate::bind(etp_value* const* args, uint32_t num_args) {
  const std::vector<Value>& values = graph_.values();
  // A failed call may have left dims_ half-updated: derive them again whatever the shapes.
  bool changed = !dims_valid_;
  dims_valid_ = false;
  widen_.clear();
  for (size_t i = 0; i < values.size(); ++i) {
    const Value& v = values[i];
    if (v.external_id == UINT32_MAX) continue;
    if (v.external_id >= num_args || args[v.external_id]->tag != ETP_VALUE_TENSOR) {
      return fail(ETP_ERR_INVALID_ARGUMENT, "argument " + std::to_string(v.external_id) + " is not a tensor");
    }
    etp_tensor* t = args[v.external_id]->u.tensor;
    // An int32 output may be an int64 tensor: XNNPACK writes int32 into its first half and
    // execute widens the values in place afterwards (as ExecuTorch's XNNPACK runtime does).
    const bool widened =
        v.is_output && !v.is_input && v.is(Datatype::xnn_datatype_int32) && t->dtype == ETP_DTYPE_INT64;
    if (widened) widen_.push_back(static_cast<int>(i));
    if (!widened && t->dtype != external_dtype(v.datatype)) {
      return fail(ETP_ERR_DTYPE, "argument " + std::to_string(v.external_id) + " has dtype " +
                                     std::to_string(t->dtype) + ", the graph's " + datatype_name(v.datatype) +
                                     " value needs dtype " + std::to_string(external_dtype(v.datatype)));
    }
    pointers_[i] = t->data;
    if (!v.is_input || (t->rank == 0 && v.numel == 1)) continue;  // XNNPACK has no rank 0: scalars are [1]
    if (static_cast<size_t>(t->rank) != v.dims.size()) {
      return fail(ETP_ERR_SHAPE, "argument " + std::to_string(v.external_id) + " has rank " + std::to_string(t->rank) +
                                     ", the graph expects " + std::to_string(v.dims.size()));
    }
    std::vector<size_t>& current = dims_[i];
    for (size_t d = 0; d < v.dims.size(); ++d) {
      const size_t size = static_cast<size_t>(t->sizes[t->dim_order[d]]);
      if (size > v.dims[d]) {
        return fail(ETP_ERR_SHAPE, "argument " + std::to_string(v.external_id) + " dim " + std::to_string(d) + " is " +
                                       std::to_string(size) + ", above the exported bound " +
                                       std::to_string(v.dims[d]));
      }
      changed = changed || current[d] != size;
      current[d] = size;
    }
  }
  if (changed) {
    binding_generation_ = 0;  // new dims: the next execute starts a new binding
    if (etp_status s = reshape()) return s;
  }
  dims_valid_ = true;  // consistent with the inputs; a failed output resize does not change them
  for (size_t i = 0; i < values.size(); ++i) {
    const Value& v = values[i];
    if (!v.is_output) continue;
    etp_tensor* t = args[v.external_id]->u.tensor;
    if (t->rank == 0 && v.numel == 1) continue;
    if (static_cast<size_t>(t->rank) != v.dims.size()) {
      return fail(ETP_ERR_SHAPE, "output argument " + std::to_string(v.external_id) + " has rank " +
                                     std::to_string(t->rank) + ", the graph expects " + std::to_string(v.dims.size()));
    }
    int64_t sizes[ETP_MAX_RANK];
    for (size_t d = 0; d < v.dims.size(); ++d) sizes[t->dim_order[d]] = static_cast<int64_t>(dims_[i][d]);
    if (plugin_.host->resize_tensor(plugin_.host->self, t, t->rank, sizes) != ETP_OK) {
      return fail(ETP_ERR_SHAPE, "cannot resize output argument " + std::to_string(v.external_id));
    }
  }
  return ETP_OK;
}

etp_status Delegate::reshape() {
  const auto* nodes = graph_.root().xnodes();
  std::string error;
  for (flatbuffers::uoffset_t i = 0; nodes && i < nodes->size(); ++i) {
    if (!infer_node_dims(*this, i, &error)) {
      return fail(ETP_ERR_SHAPE,
                  "node " + std::to_string(i) + " (" + node_name(nodes->Get(i)->xnode_union_type()) + "): " + error);
    }
  }
  const std::vector<Value>& values = graph_.values();
  for (size_t i = 0; i < values.size(); ++i) {
    if (dims_[i].size() != values[i].dims.size() || numel(static_cast<int>(i)) > values[i].numel) {
      return fail(ETP_ERR_SHAPE, "value " + std::to_string(i) + " would need more than its exported size (" +
                                     std::to_string(values[i].numel) + " elements); input shapes exceed the bound");
    }
  }
  return ETP_OK;
}

etp_status Delegate::execute(etp_value* const* args, uint32_t num_args) {
  // The workspace may have grown since this delegate's init (a later delegate of the method
  // needed more), so intermediates are placed afresh from its current base.
  uint8_t* base = workspace_->base();
  for (const auto& [value, offset] : scratch_) pointers_[static_cast<size_t>(value)] = base + offset;
  if (etp_status s = bind(args, num_args)) {
    binding_generation_ = 0;  // never matches an operator's setup
    return s;
  }
  if (binding_generation_ == 0 || pointers_ != bound_pointers_) {
    static std::atomic<uint64_t> generations{0};
    binding_generation_ = generations.fetch_add(1, std::memory_order_relaxed) + 1;
    bound_pointers_ = pointers_;
  }
  for (const Step& step : steps_) {
    running_step_ = &step;  // fail() names it: the host keeps only the last error line
    const etp_status s = step.run(*this);
    running_step_ = nullptr;
    if (s != ETP_OK) return s;
  }
  for (int i : widen_) {  // back to front: element k's int64 slot covers int32 slots 2k and 2k+1 >= k
    uint8_t* bytes = as<uint8_t>(i);
    for (size_t k = numel(i); k-- > 0;) {
      int32_t narrow;
      std::memcpy(&narrow, bytes + 4 * k, sizeof(narrow));
      const int64_t wide = narrow;
      std::memcpy(bytes + 8 * k, &wide, sizeof(wide));
    }
  }
  return ETP_OK;
}

}  // namespace etp_xnnpack
