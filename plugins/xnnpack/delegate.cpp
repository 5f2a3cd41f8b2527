#include "delegate.h"

#include <cstring>

namespace etp_xnnpack {
namespace {

constexpr size_t kAlignment = 64;

size_t align_up(size_t v) { return (v + kAlignment - 1) / kAlignment * kAlignment; }

}  // namespace

namespace {

}  // namespace

Delegate::~Delegate() {
  for (const auto& op : ops_) plugin_.cache.release(op, name_);
}

etp_status Delegate::fail(etp_status status, const std::string& message) const {
  const std::string text = "XnnpackBackend " + name_ + ": " + message;
  plugin_.host->log(plugin_.host->self, ETP_LOG_ERROR, text.c_str());
  return status;
}

void Delegate::add_step(std::string name, std::function<etp_status(Delegate&)> run) {
  steps_.push_back({std::move(name), std::move(run)});
}

std::shared_ptr<PackedOp> Delegate::packed_op(const std::string& key, uint64_t file_id, bool weights,
                                              const std::function<xnn_status(xnn_operator_t*)>& create,
                                              xnn_status* status) {
  auto op = plugin_.cache.acquire(key, file_id, weights, name_, create, status);
  if (op) ops_.push_back(op);
  return op;
}

etp_status Delegate::init(const etp_backend_init_args* args) {
  std::string error;
  if (!graph_.parse(plugin_.host, args, &error)) return fail(ETP_ERR_MALFORMED, error);
  if (!plan_arena(&error)) return fail(ETP_ERR_OUT_OF_MEMORY, error);
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
// aligned, plus XNN_EXTRA_BYTES because XNNPACK may read that far past an input). Constants
// that no operator packs are copied in too, for the same reason: a mapped file may end there.
// Weights and biases of operators that pack them need no arena copy: packing reads them once.
std::vector<bool> packed_only(const Graph& graph) {
  std::vector<bool> packed(graph.values().size(), false);
  auto mark = [&](uint32_t id) {
    const int index = graph.find(id);
    if (index >= 0) packed[static_cast<size_t>(index)] = true;
  };
  const auto* nodes = graph.root().xnodes();
  for (flatbuffers::uoffset_t i = 0; nodes && i < nodes->size(); ++i) {
    const fb_xnnpack::XNode* node = nodes->Get(i);
    if (const auto* fc = node->xnode_union_as_XNNFullyConnected()) {
      mark(fc->filter_id());
      mark(fc->bias_id());
    }
    const fb_xnnpack::_XNNNodeConv* conv = node->xnode_union_as_XNNConv2d();
    if (conv == nullptr) conv = node->xnode_union_as_XNNDepthwiseConv2d();
    if (conv != nullptr) {
      mark(conv->filter_id());
      mark(conv->bias_id());
    }
  }
  return packed;
}

bool Delegate::plan_arena(std::string* error) {
  std::vector<Value>& values = graph_.values();
  pointers_.assign(values.size(), nullptr);
  std::vector<size_t> offsets(values.size(), 0);
  const std::vector<bool> skip = packed_only(graph_);
  size_t total = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].external_id != UINT32_MAX || (skip[i] && values[i].constant != nullptr)) continue;
    offsets[i] = total;
    total += align_up(values[i].numel * sizeof(float) + XNN_EXTRA_BYTES);
  }
  arena_.reset(new (std::nothrow) uint8_t[total + kAlignment]());
  if (!arena_) return *error = "cannot allocate a " + std::to_string(total) + "-byte arena", false;
  uint8_t* base = reinterpret_cast<uint8_t*>(align_up(reinterpret_cast<uintptr_t>(arena_.get())));
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].external_id != UINT32_MAX) continue;
    if (skip[i] && values[i].constant != nullptr) {
      // Not copied; still addressable in case another node reads it (the native kernels
      // never read past a tensor's end, so the mapped bytes suffice for them).
      pointers_[i] = const_cast<float*>(values[i].constant);
      continue;
    }
    pointers_[i] = reinterpret_cast<float*>(base + offsets[i]);
    if (values[i].constant != nullptr) std::memcpy(pointers_[i], values[i].constant, values[i].constant_bytes);
  }
  return true;
}

bool Delegate::compile(std::string* error) {
  const auto* nodes = graph_.root().xnodes();
  for (flatbuffers::uoffset_t i = 0; nodes && i < nodes->size(); ++i) {
    if (!compile_node(*this, i, error)) {
      *error = "node " + std::to_string(i) + " (" + node_name(nodes->Get(i)->xnode_union_type()) + "): " + *error;
      return false;
    }
  }
  return true;
}

// Binds the call's tensors: inputs must have the compiled physical shape (sizes permuted by
// their dim order); outputs are resized to it through the host.
etp_status Delegate::bind(etp_value* const* args, uint32_t num_args) {
  const std::vector<Value>& values = graph_.values();
  for (size_t i = 0; i < values.size(); ++i) {
    const Value& v = values[i];
    if (v.external_id == UINT32_MAX) continue;
    if (v.external_id >= num_args || args[v.external_id]->tag != ETP_VALUE_TENSOR) {
      return fail(ETP_ERR_INVALID_ARGUMENT, "argument " + std::to_string(v.external_id) + " is not a tensor");
    }
    etp_tensor* t = args[v.external_id]->u.tensor;
    if (t->dtype != ETP_DTYPE_FLOAT32) {
      return fail(ETP_ERR_DTYPE, "argument " + std::to_string(v.external_id) + " must be float32");
    }
    if (t->rank == 0 && v.numel == 1) {  // XNNPACK has no rank 0; the exporter writes scalars as [1]
      pointers_[i] = static_cast<float*>(t->data);
      continue;
    }
    if (static_cast<size_t>(t->rank) != v.dims.size()) {
      return fail(ETP_ERR_SHAPE, "argument " + std::to_string(v.external_id) + " has rank " + std::to_string(t->rank) +
                                     ", the graph expects " + std::to_string(v.dims.size()));
    }
    if (v.is_output) {
      int64_t sizes[ETP_MAX_RANK];
      for (size_t d = 0; d < v.dims.size(); ++d) sizes[t->dim_order[d]] = static_cast<int64_t>(v.dims[d]);
      if (plugin_.host->resize_tensor(plugin_.host->self, t, t->rank, sizes) != ETP_OK) {
        return fail(ETP_ERR_SHAPE, "cannot resize output argument " + std::to_string(v.external_id));
      }
    } else {
      for (size_t d = 0; d < v.dims.size(); ++d) {
        if (static_cast<size_t>(t->sizes[t->dim_order[d]]) != v.dims[d]) {
          return fail(ETP_ERR_NOT_SUPPORTED, "argument " + std::to_string(v.external_id) +
                                                 " does not have the compiled shape (shapes other than the "
                                                 "exported ones are not supported yet)");
        }
      }
    }
    pointers_[i] = static_cast<float*>(t->data);
  }
  return ETP_OK;
}

etp_status Delegate::execute(etp_value* const* args, uint32_t num_args) {
  if (etp_status s = bind(args, num_args)) return s;
  for (const Step& step : steps_) {
    if (etp_status s = step.run(*this)) return s;
  }
  return ETP_OK;
}

}  // namespace etp_xnnpack
