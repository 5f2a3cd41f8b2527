#include "runtime/method_loader.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <unistd.h>

#include "format/scalar_type.h"
#include "plugins/plugin_log.h"
#include "runtime/host_services.h"
#include "runtime/method.h"
#include "runtime/prim_ops.h"
#include "runtime/program.h"
#include "runtime/value_uses.h"

namespace etp::runtime {

namespace {

// Bytes of RAM this machine has: an allocation above it can never be used.
uint64_t physical_memory() {
  static const uint64_t physical = [] {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : UINT64_MAX;
  }();
  return physical;
}

}  // namespace

namespace fb = ::executorch_flatbuffer;

class MethodLoader {
 public:
  MethodLoader(const Program& program, const fb::ExecutionPlan& plan) : program_(program), plan_(plan) {}
  Result<std::unique_ptr<Method>> load();

 private:
  Status allocate_buffers();
  Status parse_values();
  Status parse_tensor(size_t index, const fb::Tensor& t, HostTensor* out);
  Status resolve_tensor_data(size_t index, const fb::Tensor& t, HostTensor* out);
  Status parse_lists();
  Status resolve_kernels();
  Status choose_kernel(size_t pc, Method::Instruction* ins);
  Status init_delegates();
  Status build_instructions();
  Status allocate_unplanned_inputs();
  Status check_memory_and_conditions();
  void find_inputs_and_state();
  Status charge(uint64_t bytes, const std::string& what);
  Status fail(const std::string& what, StatusCode code = StatusCode::kInvalidArgument) const {
    return Status(code, program_.path() + ": method '" + method_->name_ + "': " + what);
  }

  const Program& program_;
  const fb::ExecutionPlan& plan_;
  std::unique_ptr<Method> method_;
  std::vector<bool> dynamic_ints_;
  std::vector<int32_t> int_list_of_value_;                        // value index -> int_lists_ index, or -1
  std::vector<int32_t> tensor_list_of_value_;                     // value index -> tensor_lists_ index, or -1
  std::vector<bool> moved_;                                       // value is a MoveCall destination
  std::vector<const uint8_t*> initial_;                           // initial bytes of planned tensors that have one
  std::vector<std::vector<plugins::ResolvedKernel>> candidates_;  // per operator: plugins providing it, in order
};

Result<std::unique_ptr<Method>> MethodLoader::load() {
  method_.reset(new Method());
  method_->name_ = plan_.name()->str();
  method_->program_path_ = program_.path();
  method_->program_ = program_.shared_from_this();
  method_->host_ = program_.registry().host() ? program_.registry().host() : HostServices::get().api();
  method_->register_label();
  ETP_CHECK_OK(allocate_buffers());
  ETP_CHECK_OK(parse_values());
  ETP_CHECK_OK(parse_lists());
  ETP_CHECK_OK(resolve_kernels());
  ETP_CHECK_OK(init_delegates());
  ETP_CHECK_OK(build_instructions());
  ETP_CHECK_OK(allocate_unplanned_inputs());
  ETP_CHECK_OK(check_memory_and_conditions());
  for (int32_t i : *plan_.outputs()) method_->outputs_.push_back(static_cast<uint32_t>(i));
  find_inputs_and_state();
  return std::move(method_);
}

Result<std::unique_ptr<Method>> load_method(const Program& program, const fb::ExecutionPlan& plan) {
  return MethodLoader(program, plan).load();
}

// Charges `bytes` of planned memory to the program's budget before they are allocated; the
// method gives them back when it goes.
Status MethodLoader::charge(uint64_t bytes, const std::string& what) {
  const std::shared_ptr<MemoryBudget>& budget = program_.memory_budget();
  if (budget && bytes > 0 && !budget->charge(bytes)) {
    return fail(what + " needs " + std::to_string(bytes) + " bytes, " + budget->refusal(), StatusCode::kOutOfMemory);
  }
  if (budget) method_->budget_ = budget;
  method_->planned_bytes_ += bytes;
  return Status::success();
}

Status MethodLoader::allocate_buffers() {
  const auto* sizes = plan_.non_const_buffer_sizes();
  uint64_t total = 0;
  for (flatbuffers::uoffset_t i = 1; sizes && i < sizes->size(); ++i) {
    if (__builtin_add_overflow(total, static_cast<uint64_t>(sizes->Get(i)), &total)) total = UINT64_MAX;
  }
  ETP_CHECK_OK(charge(total, "its planned memory"));
  // Entry 0 is a placeholder; buffer i serves memory_id i. Zeroed: programs read planned
  // memory they never wrote (masked KV-cache slots), and ExecuTorch's arenas start at zero.
  for (flatbuffers::uoffset_t i = 0; sizes && i < sizes->size(); ++i) {
    const size_t size = i == 0 ? 0 : static_cast<size_t>(sizes->Get(i));
    // calloc: large buffers come from the kernel's zero pages, so planned memory costs RSS only
    // once used, and a size no machine can give fails here instead of being zeroed page by page.
    const uint64_t physical = physical_memory();
    if (size > physical) {
      return fail("planned buffer " + std::to_string(i) + " needs " + std::to_string(size) +
                      " bytes, more than this machine's memory (" + std::to_string(physical) + ")",
                  StatusCode::kOutOfMemory);
    }
    void* memory = size <= SIZE_MAX - 128 ? std::calloc(1, size + 128) : nullptr;
    if (memory == nullptr) {
      return fail("cannot allocate planned buffer " + std::to_string(i) + " of " + std::to_string(size) + " bytes",
                  StatusCode::kOutOfMemory);
    }
    method_->buffers_.emplace_back(static_cast<uint8_t*>(memory), &std::free);
    const uintptr_t aligned = (reinterpret_cast<uintptr_t>(memory) + 63) / 64 * 64;  // 64 bytes of slack remain
    method_->buffer_bases_.push_back(reinterpret_cast<uint8_t*>(aligned));
  }
  return Status::success();
}

Status MethodLoader::parse_values() {
  const size_t count = plan_.values() ? plan_.values()->size() : 0;
  method_->values_.assign(count, etp_value{});
  method_->tensors_.reset(new HostTensor[count]);
  method_->int_lists_.reserve(count);
  method_->tensor_lists_.reserve(count);
  dynamic_ints_.assign(count, false);
  int_list_of_value_.assign(count, -1);
  tensor_list_of_value_.assign(count, -1);
  moved_.assign(count, false);
  initial_.assign(count, nullptr);
  for (size_t i = 0; i < count; ++i) {
    const fb::EValue* v = plan_.values()->Get(static_cast<flatbuffers::uoffset_t>(i));
    etp_value& out = method_->values_[i];
    switch (v->val_type()) {
      case fb::KernelTypes::Int:
        out.tag = ETP_VALUE_INT;
        out.u.i = v->val_as_Int()->int_val();
        break;
      case fb::KernelTypes::Double:
        out.tag = ETP_VALUE_DOUBLE;
        out.u.d = v->val_as_Double()->double_val();
        break;
      case fb::KernelTypes::Bool:
        out.tag = ETP_VALUE_BOOL;
        out.u.b = v->val_as_Bool()->bool_val();
        break;
      case fb::KernelTypes::String: {
        const flatbuffers::String* s = v->val_as_String()->string_val();
        out.tag = ETP_VALUE_STRING;
        out.u.string = {s ? s->c_str() : "", s ? s->size() : 0};
        break;
      }
      case fb::KernelTypes::Tensor:
        out.tag = ETP_VALUE_TENSOR;
        out.u.tensor = &method_->tensors_[i].raw;
        ETP_CHECK_OK(parse_tensor(i, *v->val_as_Tensor(), &method_->tensors_[i]));
        break;
      case fb::KernelTypes::DoubleList: {
        const auto* items = v->val_as_DoubleList()->items();
        out.tag = ETP_VALUE_DOUBLE_LIST;
        out.u.double_list = {items ? items->data() : nullptr, items ? items->size() : 0};
        break;
      }
      case fb::KernelTypes::BoolList: {
        const auto* items = v->val_as_BoolList()->items();
        // Plugins read the items as bool: a byte other than 0 or 1 there is undefined behaviour.
        for (flatbuffers::uoffset_t k = 0; items && k < items->size(); ++k) {
          if (items->Get(k) > 1) {
            return fail("value " + std::to_string(i) + ": bool list item " + std::to_string(k) + " is " +
                            std::to_string(items->Get(k)) + ", not 0 or 1",
                        StatusCode::kMalformed);
          }
        }
        out.tag = ETP_VALUE_BOOL_LIST;
        out.u.bool_list = {items ? reinterpret_cast<const bool*>(items->data()) : nullptr, items ? items->size() : 0};
        break;
      }
      case fb::KernelTypes::IntList:
        out.tag = ETP_VALUE_INT_LIST;
        break;  // filled by parse_lists once every Int is known
      case fb::KernelTypes::TensorList: out.tag = ETP_VALUE_TENSOR_LIST; break;
      case fb::KernelTypes::OptionalTensorList: out.tag = ETP_VALUE_OPTIONAL_TENSOR_LIST; break;
      default: out.tag = ETP_VALUE_NONE; break;
    }
  }
  return Status::success();
}

Status MethodLoader::parse_tensor(size_t index, const fb::Tensor& t, HostTensor* out) {
  if (t.shape_dynamism() == fb::TensorShapeDynamism::DYNAMIC_UNBOUND) {
    return Status(StatusCode::kNotSupported,
                  program_.path() + ": method '" + method_->name_ + "': value " + std::to_string(index) +
                      " is a tensor with unbounded dynamic shape, which etp does not support");
  }
  const int32_t rank = t.sizes() ? static_cast<int32_t>(t.sizes()->size()) : 0;
  out->init(static_cast<int32_t>(t.scalar_type()), rank, t.sizes() ? t.sizes()->data() : nullptr,
            t.dim_order() ? t.dim_order()->data() : nullptr,
            t.shape_dynamism() == fb::TensorShapeDynamism::STATIC ? ETP_DYNAMISM_STATIC : ETP_DYNAMISM_DYNAMIC_BOUND);
  return resolve_tensor_data(index, t, out);
}

// Where a tensor's bytes come from, in ExecuTorch's order of rules.
Status MethodLoader::resolve_tensor_data(size_t index, const fb::Tensor& t, HostTensor* out) {
  const std::string where = "value " + std::to_string(index);
  uint8_t* planned = nullptr;
  if (const fb::AllocationDetails* a = t.allocation_info()) {
    const uint64_t offset = a->memory_offset_low() | (static_cast<uint64_t>(a->memory_offset_high()) << 32);
    planned = method_->buffer_bases_[a->memory_id()] + offset;  // bounds verified by ProgramFile
  }
  const fb::ExtraTensorInfo* extra = t.extra_tensor_info();
  if (extra != nullptr && extra->location() == fb::TensorDataLocation::EXTERNAL) {
    const std::string key = extra->fully_qualified_name()->str();
    const DataSource* source = nullptr;
    const format::DataEntry* entry = find_in_files(program_.data(), key, &source);
    if (entry == nullptr) {
      std::string files;
      for (const DataSource& s : program_.data()) files += (files.empty() ? "" : ", ") + s.file->path();
      return fail(where + ": tensor '" + key + "' is stored externally but no data file has it (searched: " +
                      (files.empty() ? std::string("no data files given") : files) + ")",
                  StatusCode::kNotFound);
    }
    if (!entry->layout) {
      return fail(where + ": data file " + source->file->path() + " has no layout for '" + key + "'",
                  StatusCode::kMalformed);
    }
    const format::TensorLayout& layout = *entry->layout;
    bool same = layout.scalar_type == out->raw.dtype && static_cast<int32_t>(layout.sizes.size()) == out->raw.rank;
    for (int32_t d = 0; same && d < out->raw.rank; ++d) {
      same = layout.sizes[d] == out->sizes[d] && layout.dim_order[d] == out->dim_order[d];
    }
    if (!same) {
      std::string found = format::scalar_type_name(layout.scalar_type) + std::string("[");
      for (size_t d = 0; d < layout.sizes.size(); ++d) found += (d ? ", " : "") + std::to_string(layout.sizes[d]);
      return fail(where + ": tensor '" + key + "' in " + source->file->path() + " has layout " + found +
                  "], expected " + format::scalar_type_name(out->raw.dtype) + out->shape_string() +
                  " (dtype, sizes and dim order must match exactly)");
    }
    if (planned != nullptr) {  // trainable weights: a private, writable copy
      std::memcpy(planned, entry->bytes.data, layout.nbytes);
      initial_[index] = entry->bytes.data;
      out->raw.data = planned;
    } else {
      out->raw.data = const_cast<uint8_t*>(entry->bytes.data);  // read-only mapping: zero copy
      advise_sparse_reads(entry->bytes);
    }
    return Status::success();
  }
  const uint32_t buffer = t.data_buffer_idx();
  if (buffer > 0 && planned == nullptr) {
    out->raw.data = const_cast<uint8_t*>(program_.file().constant(buffer).data);
    advise_sparse_reads(program_.file().constant(buffer));  // a table inside the program, as in a data file
  } else if (buffer > 0) {
    std::memcpy(planned, program_.file().mutable_data(buffer).data, out->raw.nbytes);
    initial_[index] = program_.file().mutable_data(buffer).data;
    out->raw.data = planned;
  } else {
    out->raw.data = planned;  // activation, or null until set_input / a kernel provides it
  }
  return Status::success();
}

Status MethodLoader::parse_lists() {
  // An Int that an instruction writes (a return slot, or a move destination) is symbolic:
  // lists holding it are refreshed before each instruction that reads them.
  for (const fb::Chain* chain : *plan_.chains()) {
    for (flatbuffers::uoffset_t i = 0; chain->instructions() && i < chain->instructions()->size(); ++i) {
      const fb::Instruction* ins = chain->instructions()->Get(i);
      if (const fb::KernelCall* k = ins->instr_args_as_KernelCall()) {
        if (k->args() && k->args()->size() > 0) dynamic_ints_[k->args()->Get(k->args()->size() - 1)] = true;
      } else if (const fb::MoveCall* m = ins->instr_args_as_MoveCall()) {
        dynamic_ints_[m->move_to()] = true;
        moved_[m->move_to()] = true;
      }
    }
  }
  for (size_t i = 0; i < method_->values_.size(); ++i) {
    const fb::EValue* v = plan_.values()->Get(static_cast<flatbuffers::uoffset_t>(i));
    etp_value& out = method_->values_[i];
    if (const fb::IntList* list = v->val_as_IntList()) {
      Method::IntList parsed;
      for (flatbuffers::uoffset_t j = 0; list->items() && j < list->items()->size(); ++j) {
        const auto source = static_cast<uint32_t>(list->items()->Get(j));
        parsed.items.push_back(method_->values_[source].u.i);
        if (dynamic_ints_[source]) parsed.sources.push_back(source);
      }
      if (!parsed.sources.empty()) {  // keep every source so refresh rewrites the whole list
        parsed.sources.clear();
        for (flatbuffers::uoffset_t j = 0; j < list->items()->size(); ++j) {
          parsed.sources.push_back(static_cast<uint32_t>(list->items()->Get(j)));
        }
      }
      method_->int_lists_.push_back(std::move(parsed));
      const Method::IntList& stored = method_->int_lists_.back();
      out.u.int_list = {stored.items.data(), stored.items.size()};
      int_list_of_value_[i] = static_cast<int32_t>(method_->int_lists_.size() - 1);
    } else if (v->val_type() == fb::KernelTypes::TensorList || v->val_type() == fb::KernelTypes::OptionalTensorList) {
      const auto* items = v->val_type() == fb::KernelTypes::TensorList ? v->val_as_TensorList()->items()
                                                                       : v->val_as_OptionalTensorList()->items();
      Method::TensorList list;
      for (flatbuffers::uoffset_t j = 0; items && j < items->size(); ++j) {
        const int32_t item = items->Get(j);
        list.sources.push_back(item);
        list.items.push_back(
            item < 0 || method_->values_[item].tag != ETP_VALUE_TENSOR ? nullptr : method_->values_[item].u.tensor);
      }
      method_->tensor_lists_.push_back(std::move(list));
      const auto& stored = method_->tensor_lists_.back();
      out.u.tensor_list = {stored.items.data(), stored.items.size()};
      tensor_list_of_value_[i] = static_cast<int32_t>(method_->tensor_lists_.size() - 1);
    }
  }
  return Status::success();
}

Status MethodLoader::resolve_kernels() {
  std::vector<std::string> missing;
  method_->providers_.push_back("host");
  for (flatbuffers::uoffset_t i = 0; plan_.operators() && i < plan_.operators()->size(); ++i) {
    const std::string name = format::operator_name(*plan_.operators()->Get(i));
    plugins::ResolvedKernel prim;
    prim.provider = "host";
    candidates_.push_back(find_prim_op(name, &prim.kernel) ? std::vector<plugins::ResolvedKernel>{prim}
                                                           : program_.registry().kernel_candidates(name));
    if (candidates_.back().empty()) missing.push_back(name);
    method_->operator_names_.push_back(name);
  }
  if (!missing.empty()) {
    std::string list;
    for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
    return Status(StatusCode::kNotFound, program_.path() + ": method '" + method_->name_ + "' needs " +
                                             std::to_string(missing.size()) +
                                             " operator(s) that no loaded plugin provides: " + list +
                                             " (plugins loaded: " + program_.registry().plugin_names() + ")");
  }
  return Status::success();
}

namespace {

// "float32[2, 3] (dim order 1, 0)" for messages about a call's arguments.
std::string describe_arg(const etp_value& v) {
  switch (v.tag) {
    case ETP_VALUE_TENSOR: {
      const etp_tensor& t = *v.u.tensor;
      const std::string s = format::scalar_type_name(t.dtype) + HostTensor::from(&t)->shape_string();
      if (is_contiguous(t)) return s;
      std::string order;
      for (int32_t d = 0; d < t.rank; ++d) order += (d ? ", " : "") + std::to_string(t.dim_order[d]);
      return s + " (dim order " + order + ")";
    }
    case ETP_VALUE_INT: return std::to_string(v.u.i);
    case ETP_VALUE_DOUBLE: return std::to_string(v.u.d);
    case ETP_VALUE_BOOL: return v.u.b ? "True" : "False";
    case ETP_VALUE_NONE: return "None";
    default: return "list";
  }
}

}  // namespace

// The first plugin, in order, that provides the operator and accepts this call (ABI 1.2: a
// plugin without accept_kernel_call accepts every call). Decided once, here, so the execute
// loop has no fallback branch.
Status MethodLoader::choose_kernel(size_t pc, Method::Instruction* ins) {
  const std::string& op = method_->operator_names_[ins->op];
  etp_value* const* args = method_->args_.data() + ins->first_arg;  // a call may have no arguments
  std::string declined;
  for (const plugins::ResolvedKernel& candidate : candidates_[ins->op]) {
    if (candidate.plugin) {
      const etp_plugin& table = candidate.plugin->table();
      if (ETP_ABI_HAS(&table, accept_kernel_call)) {
        plugins::PluginLog::take_last_error();
        const etp_status s = table.accept_kernel_call(table.self, op.c_str(), &candidate.kernel, args, ins->num_args);
        if (s == ETP_ERR_DECLINED) {
          declined += (declined.empty() ? "" : ", ") + candidate.provider;
          continue;
        }
        if (s != ETP_OK) {
          const std::string why = plugins::PluginLog::take_last_error();
          return fail("instruction " + std::to_string(pc) + ", " + op + ": plugin " + candidate.provider +
                          " failed to consider the call (status " + std::to_string(s) + ")" +
                          (why.empty() ? "" : ": " + why),
                      status_code_from_plugin(s));
        }
      }
      if (std::find(method_->plugins_.begin(), method_->plugins_.end(), candidate.plugin) == method_->plugins_.end()) {
        method_->plugins_.push_back(candidate.plugin);
      }
    }
    auto& providers = method_->providers_;
    ins->kernel = candidate.kernel;
    ins->provider =
        static_cast<uint32_t>(std::find(providers.begin(), providers.end(), candidate.provider) - providers.begin());
    if (ins->provider == providers.size()) providers.push_back(candidate.provider);
    return Status::success();
  }
  std::string described;
  for (uint32_t i = 0; i < ins->num_args; ++i) described += (i ? ", " : "") + describe_arg(*args[i]);
  return fail("instruction " + std::to_string(pc) + ", " + op +
                  ": every plugin providing the operator declined the call (" + declined + "); arguments: " + described,
              StatusCode::kNotFound);
}

}  // namespace etp::runtime

namespace etp::runtime {

Status MethodLoader::init_delegates() {
  const auto* delegates = plan_.delegates();
  for (flatbuffers::uoffset_t i = 0; delegates && i < delegates->size(); ++i) {
    const fb::BackendDelegate* d = delegates->Get(i);
    const std::string id = d->id()->str();
    auto backend = program_.registry().find_backend(id);
    if (!backend.ok()) {
      return fail("delegate " + std::to_string(i) + " needs backend '" + id + "': " + backend.status().message(),
                  backend.status().code());
    }
    // One named-data map per serving plugin: it tells the plugin which files its cache owns.
    NamedDataMap* map = nullptr;
    for (auto& m : method_->named_data_) {
      if (m->asking_plugin() == backend->plugin->name()) map = m.get();
    }
    if (map == nullptr) {
      method_->named_data_.push_back(
          std::make_unique<NamedDataMap>(program_.data(), program_.shared_file(), backend->plugin->name()));
      map = method_->named_data_.back().get();
    }
    std::vector<etp_compile_spec> specs;
    for (flatbuffers::uoffset_t s = 0; d->compile_specs() && s < d->compile_specs()->size(); ++s) {
      const fb::CompileSpec* spec = d->compile_specs()->Get(s);
      specs.push_back({spec->key()->c_str(), spec->value() ? spec->value()->data() : nullptr,
                       spec->value() ? spec->value()->size() : 0});
    }
    const ByteSpan payload = program_.file().delegate_blob(*d);
    etp_backend_init_args args{};
    args.header = ETP_ABI_HEADER(etp_backend_init_args);
    args.payload = payload.data;
    args.payload_size = payload.size;
    args.compile_specs = specs.data();
    args.num_compile_specs = static_cast<uint32_t>(specs.size());
    args.named_data = map->handle();
    args.program_name = program_.path().c_str();
    args.method_name = method_->name_.c_str();
    args.delegate_index = i;
    args.method_id = method_->id();
    // The method keeps the budget alive until its delegates are destroyed (~Method).
    method_->budget_ = program_.memory_budget();
    args.memory_budget = reinterpret_cast<etp_memory_budget*>(method_->budget_.get());
    void* handle = nullptr;
    plugins::PluginLog::take_last_error();
    const etp_status status = backend->backend->init(backend->backend->self, &args, &handle);
    if (status != ETP_OK) {
      const std::string why = plugins::PluginLog::take_last_error();
      return fail("delegate " + std::to_string(i) + " (" + id + ", plugin " + backend->plugin->path() +
                      ") failed to initialise (status " + std::to_string(status) + ")" +
                      (why.empty() ? "" : ": " + why),
                  status_code_from_plugin(status));
    }
    method_->delegates_.push_back({backend->backend, handle, id, backend->plugin->name()});
    bool known = false;
    for (const auto& p : method_->plugins_) known = known || p == backend->plugin;
    if (!known) method_->plugins_.push_back(backend->plugin);
  }
  return Status::success();
}

Status MethodLoader::build_instructions() {
  const auto* chains = plan_.chains();
  if (chains == nullptr || chains->size() == 0) return fail("has no chains", StatusCode::kMalformed);
  if (chains->size() > 1)
    return Status(StatusCode::kNotSupported, program_.path() + ": method '" + method_->name_ + "' has " +
                                                 std::to_string(chains->size()) +
                                                 " chains; etp runs single-chain methods");
  const auto* instructions = chains->Get(0)->instructions();
  for (flatbuffers::uoffset_t pc = 0; instructions && pc < instructions->size(); ++pc) {
    const fb::Instruction* ins = instructions->Get(pc);
    Method::Instruction out{};
    auto add_args = [&](const flatbuffers::Vector<int32_t>* args) {
      out.first_arg = static_cast<uint32_t>(method_->args_.size());
      out.first_refresh = static_cast<uint32_t>(method_->refresh_.size());
      for (flatbuffers::uoffset_t j = 0; args && j < args->size(); ++j) {
        const int32_t v = args->Get(j);
        method_->args_.push_back(&method_->values_[v]);
        const int32_t list = int_list_of_value_[v];
        if (list >= 0 && !method_->int_lists_[list].sources.empty()) {
          method_->refresh_.push_back({Method::Refresh::ListKind::kInts, static_cast<uint32_t>(list)});
        }
        const int32_t tensors = tensor_list_of_value_[v];
        if (tensors >= 0) {
          const auto& sources = method_->tensor_lists_[tensors].sources;
          if (std::any_of(sources.begin(), sources.end(), [&](int32_t s) { return s >= 0 && moved_[s]; })) {
            method_->refresh_.push_back({Method::Refresh::ListKind::kTensors, static_cast<uint32_t>(tensors)});
          }
        }
      }
      out.num_args = static_cast<uint32_t>(method_->args_.size() - out.first_arg);
      out.num_refresh = static_cast<uint32_t>(method_->refresh_.size() - out.first_refresh);
    };
    switch (ins->instr_args_type()) {
      case fb::InstructionArguments::KernelCall: {
        const fb::KernelCall* k = ins->instr_args_as_KernelCall();
        out.kind = Method::Kind::kKernel;
        out.op = static_cast<uint32_t>(k->op_index());
        add_args(k->args());
        ETP_CHECK_OK(choose_kernel(pc, &out));
        break;
      }
      case fb::InstructionArguments::DelegateCall: {
        const fb::DelegateCall* d = ins->instr_args_as_DelegateCall();
        out.kind = Method::Kind::kDelegate;
        out.op = static_cast<uint32_t>(d->delegate_index());
        add_args(d->args());
        break;
      }
      case fb::InstructionArguments::MoveCall:
        out.kind = Method::Kind::kMove;
        out.value = static_cast<uint32_t>(ins->instr_args_as_MoveCall()->move_from());
        out.destination = static_cast<uint32_t>(ins->instr_args_as_MoveCall()->move_to());
        break;
      case fb::InstructionArguments::JumpFalseCall:
        out.kind = Method::Kind::kJumpFalse;
        out.value = static_cast<uint32_t>(ins->instr_args_as_JumpFalseCall()->cond_value_index());
        out.destination = static_cast<uint32_t>(ins->instr_args_as_JumpFalseCall()->destination_instruction());
        break;
      case fb::InstructionArguments::FreeCall:
        out.kind = Method::Kind::kFree;
        out.value = static_cast<uint32_t>(ins->instr_args_as_FreeCall()->value_index());
        break;
      default: return fail("instruction " + std::to_string(pc) + " has an unknown type");  // unreachable: verified
    }
    method_->instructions_.push_back(out);
  }
  return Status::success();
}

}  // namespace etp::runtime

namespace etp::runtime {

// Input tensors the program does not plan (ExecuTorch's llama export leaves the token input
// unplanned: its runtime then reads the caller's buffer) get memory of their own, zeroed and
// sized for their largest shape, so set_input copies into it like into planned memory (and
// bind_input may still borrow the caller's).
Status MethodLoader::allocate_unplanned_inputs() {
  for (int32_t i : *plan_.inputs()) {
    if (i < 0 || static_cast<size_t>(i) >= method_->values_.size()) continue;  // reported by the validator
    etp_value& v = method_->values_[static_cast<size_t>(i)];
    if (v.tag != ETP_VALUE_TENSOR || v.u.tensor->data != nullptr || v.u.tensor->capacity == 0) continue;
    const uint64_t size = v.u.tensor->capacity;
    ETP_CHECK_OK(charge(size, "unplanned input value " + std::to_string(i)));
    if (size > physical_memory()) {
      return fail("unplanned input value " + std::to_string(i) + " needs " + std::to_string(size) +
                      " bytes, more than this machine's memory (" + std::to_string(physical_memory()) + ")",
                  StatusCode::kOutOfMemory);
    }
    void* memory = size <= SIZE_MAX - 64 ? std::calloc(1, size + 64) : nullptr;
    if (memory == nullptr) {
      return fail("cannot allocate " + std::to_string(size) + " bytes for unplanned input value " + std::to_string(i),
                  StatusCode::kOutOfMemory);
    }
    method_->buffers_.emplace_back(static_cast<uint8_t*>(memory), &std::free);
    v.u.tensor->data = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(memory) + 63) / 64 * 64);
  }
  return Status::success();
}

// Every tensor a plugin can see must have memory (the ABI allows data == NULL only for empty
// tensors): planned, constant, external, or made by et_view at run time. And a jump's
// condition must be a Bool or a Bool tensor, as ExecuTorch requires.
Status MethodLoader::check_memory_and_conditions() {
  std::vector<bool> viewed(method_->values_.size(), false);
  for (const Method::Instruction& ins : method_->instructions_) {
    if (ins.kind == Method::Kind::kKernel && ins.num_args > 0 &&
        method_->operator_names_[ins.op] == "executorch_prim::et_view.default") {
      const etp_value* out = method_->args_[ins.first_arg + ins.num_args - 1];
      viewed[static_cast<size_t>(out - method_->values_.data())] = true;
    }
    if (ins.kind == Method::Kind::kJumpFalse) {
      const etp_value& cond = method_->values_[ins.value];
      const bool is_bool =
          cond.tag == ETP_VALUE_BOOL || (cond.tag == ETP_VALUE_TENSOR && cond.u.tensor->dtype == ETP_DTYPE_BOOL);
      if (!is_bool) {
        return fail("a jump's condition (value " + std::to_string(ins.value) + ") is not a Bool or Bool tensor",
                    StatusCode::kMalformed);
      }
    }
  }
  for (size_t i = 0; i < method_->values_.size(); ++i) {
    const etp_value& v = method_->values_[i];
    if (v.tag != ETP_VALUE_TENSOR || v.u.tensor->data != nullptr || v.u.tensor->nbytes == 0 || viewed[i]) continue;
    return Status(StatusCode::kNotSupported, program_.path() + ": method '" + method_->name_ + "': value " +
                                                 std::to_string(i) +
                                                 " is a tensor without memory (not memory-planned, "
                                                 "constant or produced by et_view); etp needs planned memory for it");
  }
  return Status::success();
}

}  // namespace etp::runtime

namespace etp::runtime {

// Which inputs may borrow the caller's memory (runtime/value_uses.h), and which tensors are the
// method's state: planned tensors with an initial value (mutable segment, or trainable weights
// in a data file) and planned tensors an in-place operator updates (ExecuTorch writes a mutated
// buffer back with aten::copy_), except the method's own inputs.
void MethodLoader::find_inputs_and_state() {
  const ValueUses uses(plan_);
  std::vector<bool> is_input(method_->values_.size(), false);
  for (int32_t i : *plan_.inputs()) {
    const auto v = static_cast<uint32_t>(i);
    is_input[v] = true;
    method_->inputs_.push_back(v);
    Method::InputSlot slot;
    if (method_->values_[v].tag == ETP_VALUE_TENSOR) {
      const etp_tensor& t = *method_->values_[v].u.tensor;
      slot.planned = t.data;
      slot.capacity = t.capacity;
      slot.can_borrow = is_contiguous(t) && uses.can_borrow(v);
    }
    method_->input_slots_.push_back(slot);
  }
  for (size_t v = 0; v < method_->values_.size(); ++v) {
    const fb::Tensor* t = plan_.values()->Get(static_cast<flatbuffers::uoffset_t>(v))->val_as_Tensor();
    if (t == nullptr || t->allocation_info() == nullptr || is_input[v]) continue;
    if (initial_[v] == nullptr && !uses.updated_in_place(static_cast<uint32_t>(v))) continue;
    const fb::ExtraTensorInfo* extra = t->extra_tensor_info();
    std::string name = extra && extra->fully_qualified_name() && extra->fully_qualified_name()->size() > 0
                           ? extra->fully_qualified_name()->str()
                           : "value " + std::to_string(v);
    method_->state_.push_back({std::move(name), static_cast<uint32_t>(v), initial_[v]});
  }
}

}  // namespace etp::runtime
