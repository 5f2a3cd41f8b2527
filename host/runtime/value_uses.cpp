#include "runtime/value_uses.h"

#include <string>

#include "format/program_file.h"
#include "format/scalar_type.h"

namespace etp::runtime {
namespace {

namespace fb = ::executorch_flatbuffer;

// In-place operators are named with a trailing '_' before the overload: aten::copy_,
// aten::index_put_. Their first argument is updated.
bool is_in_place(const std::string& name) {
  const std::string base = name.substr(0, name.find('.'));
  return !base.empty() && base.back() == '_';
}

// Operators whose arguments etp knows the roles of: ATen's (out-variants write their out
// arguments and return slot; in-place ones their self) and ExecuTorch's prim operators. Any
// other (custom) operator may mutate any argument.
bool known_namespace(const std::string& name) {
  return name.rfind("aten::", 0) == 0 || name.rfind("executorch_prim::", 0) == 0;
}

}  // namespace

ValueUses::ValueUses(const fb::ExecutionPlan& plan)
    : plan_(plan),
      alias_(plan.values() ? plan.values()->size() : 0),
      written_(alias_.size(), false),
      delegated_(alias_.size(), false),
      moved_from_(alias_.size(), false),
      produced_(alias_.size(), false),
      in_place_(alias_.size(), false) {
  for (size_t v = 0; v < alias_.size(); ++v) alias_[v] = static_cast<uint32_t>(v);
  const auto* instructions = plan.chains() && plan.chains()->size() > 0 ? plan.chains()->Get(0)->instructions() : nullptr;
  for (flatbuffers::uoffset_t pc = 0; instructions && pc < instructions->size(); ++pc) {
    const fb::Instruction* ins = instructions->Get(pc);
    if (const fb::KernelCall* k = ins->instr_args_as_KernelCall()) {
      const std::string op = format::operator_name(*plan.operators()->Get(k->op_index()));
      const auto* args = k->args();
      if (args == nullptr || args->size() == 0) continue;
      const auto last = static_cast<uint32_t>(args->Get(args->size() - 1));
      if (op == "executorch_prim::et_view.default" && args->size() == 3) {
        alias_[last] = static_cast<uint32_t>(args->Get(0));  // shares the source's memory, writes nothing
        produced_[last] = true;
        continue;
      }
      if (!known_namespace(op)) {
        for (int32_t a : *args) mark_written(static_cast<uint32_t>(a));
      }
      if (is_in_place(op) || op == "executorch_prim::et_copy_index.tensor") {
        mark_written(static_cast<uint32_t>(args->Get(0)));
        if (is_in_place(op)) in_place_[args->Get(0)] = true;
      }
      mark_written(last);  // the return slot (the out argument, or a list of them)
    } else if (const fb::DelegateCall* d = ins->instr_args_as_DelegateCall()) {
      for (flatbuffers::uoffset_t j = 0; d->args() && j < d->args()->size(); ++j) delegated_[d->args()->Get(j)] = true;
    } else if (const fb::MoveCall* m = ins->instr_args_as_MoveCall()) {
      moved_from_[m->move_from()] = true;
      mark_written(static_cast<uint32_t>(m->move_to()));
    }
  }
}

// A value and, for a tensor list, every tensor in it; `produced` records that an instruction
// makes them (so whatever memory they overlap is written before it is read).
void ValueUses::mark_written(uint32_t value) {
  written_[value] = true;
  produced_[value] = true;
  const fb::EValue* v = plan_.values()->Get(value);
  const flatbuffers::Vector<int32_t>* items = nullptr;
  if (const fb::TensorList* list = v->val_as_TensorList()) items = list->items();
  if (const fb::OptionalTensorList* list = v->val_as_OptionalTensorList()) items = list->items();
  for (flatbuffers::uoffset_t i = 0; items && i < items->size(); ++i) {
    if (items->Get(i) >= 0) {
      written_[items->Get(i)] = true;
      produced_[items->Get(i)] = true;
    }
  }
}

uint32_t ValueUses::root(uint32_t value) const {
  for (size_t hops = 0; alias_[value] != value && hops < alias_.size(); ++hops) value = alias_[value];
  return value;
}

bool ValueUses::planned_range(uint32_t value, uint32_t* memory_id, uint64_t* begin, uint64_t* end) const {
  const fb::Tensor* t = plan_.values()->Get(value)->val_as_Tensor();
  if (t == nullptr || t->allocation_info() == nullptr) return false;
  const fb::AllocationDetails& a = *t->allocation_info();
  uint64_t bytes = format::scalar_type_size(static_cast<int>(t->scalar_type()));
  for (flatbuffers::uoffset_t d = 0; t->sizes() && d < t->sizes()->size(); ++d) {
    bytes *= static_cast<uint64_t>(t->sizes()->Get(d));  // verified to fit its planned buffer
  }
  *memory_id = a.memory_id();
  *begin = a.memory_offset_low() | (static_cast<uint64_t>(a.memory_offset_high()) << 32);
  *end = *begin + bytes;
  return true;
}

// ExecuTorch plans a static view of a tensor into the tensor's own bytes with no instruction to
// say so, and reuses an input's bytes for values made after its last use. A value there that an
// instruction produces is written before it is read; any other (a view that only reads, or a
// delegate argument, which may be either) reads the input through those bytes.
bool ValueUses::overlaps_unproduced(uint32_t input) const {
  uint32_t id = 0, other_id = 0;
  uint64_t begin = 0, end = 0, other_begin = 0, other_end = 0;
  if (!planned_range(input, &id, &begin, &end)) return false;
  for (uint32_t v = 0; v < alias_.size(); ++v) {
    if (v == input || (produced_[v] && !delegated_[v])) continue;
    if (planned_range(v, &other_id, &other_begin, &other_end) && other_id == id && other_begin < end &&
        begin < other_end) {
      return true;
    }
  }
  return false;
}

bool ValueUses::can_borrow(uint32_t value) const {
  for (uint32_t v = 0; v < alias_.size(); ++v) {  // the value and every view of it
    if (root(v) != value) continue;
    if (written_[v] || delegated_[v] || moved_from_[v]) return false;
  }
  return !overlaps_unproduced(value);
}

}  // namespace etp::runtime
