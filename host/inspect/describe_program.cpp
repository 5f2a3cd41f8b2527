#include <algorithm>
#include <map>
#include <set>

#include "format/scalar_type.h"
#include "format/xnnpack_blob.h"
#include "inspect/inspect.h"
#include "xnnpack_graph_generated.h"

namespace etp::inspect {
namespace {

using nlohmann::json;
namespace fb = ::executorch_flatbuffer;

const char* dynamism_name(fb::TensorShapeDynamism d) {
  switch (d) {
    case fb::TensorShapeDynamism::STATIC: return "static";
    case fb::TensorShapeDynamism::DYNAMIC_BOUND: return "dynamic_bound";
    case fb::TensorShapeDynamism::DYNAMIC_UNBOUND: return "dynamic_unbound";
  }
  return "unknown";
}

uint64_t tensor_nbytes(const fb::Tensor& t) {
  uint64_t n = format::scalar_type_size(static_cast<int>(t.scalar_type()));
  if (t.sizes() == nullptr) return n;
  for (int32_t s : *t.sizes()) n *= static_cast<uint64_t>(s);  // verified not to overflow
  return n;
}

json describe_value(const fb::ExecutionPlan& plan, int32_t index) {
  const fb::EValue* v = plan.values()->Get(index);
  json out = {{"value", index}};
  if (v->val_type() != fb::KernelTypes::Tensor) {
    out["type"] = v->val_type() == fb::KernelTypes::NONE ? "None" : fb::EnumNameKernelTypes(v->val_type());
    return out;
  }
  const fb::Tensor* t = v->val_as_Tensor();
  out["type"] = "Tensor";
  out["dtype"] = format::scalar_type_name(static_cast<int>(t->scalar_type()));
  out["shape"] = t->sizes() ? std::vector<int32_t>(t->sizes()->begin(), t->sizes()->end()) : std::vector<int32_t>{};
  out["dim_order"] =
      t->dim_order() ? std::vector<int>(t->dim_order()->begin(), t->dim_order()->end()) : std::vector<int>{};
  out["dynamism"] = dynamism_name(t->shape_dynamism());
  return out;
}

json describe_io(const fb::ExecutionPlan& plan, const flatbuffers::Vector<int32_t>* indices) {
  json list = json::array();
  for (flatbuffers::uoffset_t i = 0; indices && i < indices->size(); ++i) {
    list.push_back(describe_value(plan, indices->Get(i)));
  }
  return list;
}

// Counts tensors by where their bytes come from.
json describe_constants(const fb::ExecutionPlan& plan) {
  uint64_t in_program = 0, in_program_bytes = 0, mutable_init = 0, mutable_bytes = 0;
  json external = json::array(), external_mutable = json::array();
  uint64_t external_bytes = 0;
  for (flatbuffers::uoffset_t i = 0; plan.values() && i < plan.values()->size(); ++i) {
    const fb::Tensor* t = plan.values()->Get(i)->val_as_Tensor();
    if (t == nullptr) continue;
    const fb::ExtraTensorInfo* extra = t->extra_tensor_info();
    const bool planned = t->allocation_info() != nullptr;
    if (extra != nullptr && extra->location() == fb::TensorDataLocation::EXTERNAL) {
      (planned ? external_mutable : external).push_back(extra->fully_qualified_name()->str());
      external_bytes += tensor_nbytes(*t);
    } else if (t->data_buffer_idx() > 0) {
      (planned ? mutable_init : in_program) += 1;
      (planned ? mutable_bytes : in_program_bytes) += tensor_nbytes(*t);
    }
  }
  return {{"in_program", {{"count", in_program}, {"bytes", in_program_bytes}}},
          {"mutable_with_initial_value", {{"count", mutable_init}, {"bytes", mutable_bytes}}},
          {"external", {{"count", external.size() + external_mutable.size()},
                        {"bytes", external_bytes},
                        {"keys", external},
                        {"mutable_keys", external_mutable}}}};
}

json describe_xnnpack(ByteSpan blob, const std::string& name) {
  auto parsed = format::XnnpackBlob::parse(blob, name);
  if (!parsed.ok()) return {{"error", parsed.status().message()}};
  const fb_xnnpack::XNNGraph& g = parsed->graph();
  std::map<std::string, uint64_t> nodes, values;
  for (flatbuffers::uoffset_t i = 0; g.xnodes() && i < g.xnodes()->size(); ++i) {
    nodes[format::xnnpack_node_name(static_cast<int>(g.xnodes()->Get(i)->xnode_union_type()))]++;
  }
  for (flatbuffers::uoffset_t i = 0; g.xvalues() && i < g.xvalues()->size(); ++i) {
    const fb_xnnpack::XValue* v = g.xvalues()->Get(i);
    const fb_xnnpack::XNNTensorValue* t = v->xvalue_union_as_XNNTensorValue();
    std::string kind = "tensor";
    if (const auto* q = v->xvalue_union_as_XNNQuantizedTensorValue()) {
      t = q->tensor_value();
      kind = "quantized tensor";
    }
    const char* dtype = t ? format::xnnpack_datatype_name(static_cast<int>(t->datatype())) : "unknown";
    values[std::string(dtype) + " " + kind]++;
  }
  uint64_t named = 0, in_blob = 0;
  for (flatbuffers::uoffset_t i = 1; g.constant_data() && i < g.constant_data()->size(); ++i) {
    (g.constant_data()->Get(i)->named_key() ? named : in_blob) += 1;
  }
  return {{"identifier", parsed->identifier()},
          {"header", parsed->header().present},
          {"num_externs", g.num_externs()},
          {"num_nodes", g.xnodes() ? g.xnodes()->size() : 0},
          {"num_values", g.xvalues() ? g.xvalues()->size() : 0},
          {"nodes", nodes},
          {"values", values},
          {"constants", {{"named", named}, {"in_blob", in_blob}}},
          {"constant_data_bytes", parsed->constant_data().size}};
}

std::string printable_spec_value(const flatbuffers::Vector<uint8_t>* value) {
  if (value == nullptr) return "";
  const bool text = std::all_of(value->begin(), value->end(), [](uint8_t c) { return c >= 0x20 && c < 0x7f; });
  if (text) return std::string(value->begin(), value->end());
  static const char* hex = "0123456789abcdef";
  std::string out = "0x";
  for (uint8_t c : *value) out += {hex[c >> 4], hex[c & 15]};
  return out;
}

json describe_delegates(const format::ProgramFile& program, const fb::ExecutionPlan& plan) {
  json list = json::array();
  for (flatbuffers::uoffset_t i = 0; plan.delegates() && i < plan.delegates()->size(); ++i) {
    const fb::BackendDelegate* d = plan.delegates()->Get(i);
    const ByteSpan blob = program.delegate_blob(*d);
    json specs = json::array();
    for (flatbuffers::uoffset_t s = 0; d->compile_specs() && s < d->compile_specs()->size(); ++s) {
      const fb::CompileSpec* spec = d->compile_specs()->Get(s);
      specs.push_back({{"key", spec->key()->str()}, {"value", printable_spec_value(spec->value())}});
    }
    json entry = {{"index", i},
                  {"backend", d->id()->str()},
                  {"location", d->processed()->location() == fb::DataLocation::SEGMENT ? "segment" : "inline"},
                  {"payload_index", d->processed()->index()},
                  {"blob_bytes", blob.size},
                  {"compile_specs", specs}};
    if (d->id()->string_view() == "XnnpackBackend") {
      entry["xnnpack"] = describe_xnnpack(blob, program.path() + ": delegate " + std::to_string(i));
    }
    list.push_back(entry);
  }
  return list;
}

json describe_method(const format::ProgramFile& program, const fb::ExecutionPlan& plan) {
  std::set<std::string> ops;
  for (flatbuffers::uoffset_t i = 0; plan.operators() && i < plan.operators()->size(); ++i) {
    ops.insert(format::operator_name(*plan.operators()->Get(i)));
  }
  std::map<std::string, uint64_t> instructions;
  for (flatbuffers::uoffset_t c = 0; plan.chains() && c < plan.chains()->size(); ++c) {
    const auto* list = plan.chains()->Get(c)->instructions();
    for (flatbuffers::uoffset_t i = 0; list && i < list->size(); ++i) {
      instructions[fb::EnumNameInstructionArguments(list->Get(i)->instr_args_type())]++;
    }
  }
  std::vector<int64_t> planned;
  if (const auto* sizes = plan.non_const_buffer_sizes()) {
    for (flatbuffers::uoffset_t i = 1; i < sizes->size(); ++i) planned.push_back(sizes->Get(i));
  }
  return {{"name", plan.name()->str()},
          {"inputs", describe_io(plan, plan.inputs())},
          {"outputs", describe_io(plan, plan.outputs())},
          {"num_values", plan.values() ? plan.values()->size() : 0},
          {"num_chains", plan.chains() ? plan.chains()->size() : 0},
          {"instructions", instructions},
          {"operators", ops},
          {"delegates", describe_delegates(program, plan)},
          {"constants", describe_constants(plan)},
          {"planned_buffers", planned}};
}

}  // namespace

json describe_program(const format::ProgramFile& program) {
  const fb::Program& root = program.root();
  const format::ProgramHeader& h = program.header();
  json segments = json::array();
  for (size_t i = 0; i < program.num_segments(); ++i) {
    const fb::DataSegment* s = root.segments()->Get(static_cast<flatbuffers::uoffset_t>(i));
    segments.push_back({{"index", i}, {"offset", s->offset()}, {"size", s->size()}});
  }
  json named = json::array();
  for (flatbuffers::uoffset_t i = 0; root.named_data() && i < root.named_data()->size(); ++i) {
    const fb::NamedData* n = root.named_data()->Get(i);
    named.push_back({{"key", n->key()->str()},
                     {"segment", n->segment_index()},
                     {"bytes", program.segment(n->segment_index()).size}});
  }
  json methods = json::array();
  std::set<std::string> ops, backends;
  for (size_t i = 0; i < program.num_plans(); ++i) {
    json m = describe_method(program, program.plan(i));
    for (const auto& op : m["operators"]) ops.insert(op.get<std::string>());
    for (const auto& d : m["delegates"]) backends.insert(d["backend"].get<std::string>());
    methods.push_back(std::move(m));
  }
  json constant_segment = nullptr;
  if (const fb::SubsegmentOffsets* c = root.constant_segment()) {
    constant_segment = {{"segment", c->segment_index()},
                        {"entries", c->offsets() ? c->offsets()->size() : 0},
                        {"bytes", c->segment_index() < program.num_segments() ? program.segment(c->segment_index()).size : 0}};
  }
  return {{"file", program.path()},
          {"kind", "program"},
          {"bytes", program.file().size()},
          {"header",
           {{"extended", h.present},
            {"program_size", h.program_size},
            {"segment_base_offset", h.segment_base_offset},
            {"segment_data_size", h.has_segment_data_size ? json(h.segment_data_size) : json(nullptr)}}},
          {"version", root.version()},
          {"methods", methods},
          {"operators", ops},
          {"backends", backends},
          {"segments", segments},
          {"constant_segment", constant_segment},
          {"named_data", named}};
}

}  // namespace etp::inspect
