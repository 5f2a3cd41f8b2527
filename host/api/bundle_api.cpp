// Bundle and metadata: the public face of bundle::Bundle (manifests and bundles described in
// code), and method signatures read straight from the verified program.
#include <filesystem>

#include "api/api_internal.h"
#include "bundle/manifest.h"
#include "inspect/inspect.h"
#include "plugins/plugin_log.h"
#include "runtime/method_loader.h"

namespace etp {
namespace {

namespace fs = std::filesystem;
namespace fb = ::executorch_flatbuffer;

ValueInfo describe_value(const fb::EValue& v) {
  ValueInfo info;
  switch (v.val_type()) {
    case fb::KernelTypes::Int: info.kind = ValueKind::kInt; break;
    case fb::KernelTypes::Double: info.kind = ValueKind::kDouble; break;
    case fb::KernelTypes::Bool: info.kind = ValueKind::kBool; break;
    case fb::KernelTypes::String: info.kind = ValueKind::kString; break;
    case fb::KernelTypes::IntList: info.kind = ValueKind::kIntList; break;
    case fb::KernelTypes::DoubleList: info.kind = ValueKind::kDoubleList; break;
    case fb::KernelTypes::BoolList: info.kind = ValueKind::kBoolList; break;
    case fb::KernelTypes::TensorList: info.kind = ValueKind::kTensorList; break;
    case fb::KernelTypes::OptionalTensorList: info.kind = ValueKind::kOptionalTensorList; break;
    case fb::KernelTypes::Tensor: {
      const fb::Tensor& t = *v.val_as_Tensor();
      info.kind = ValueKind::kTensor;
      info.tensor.dtype = static_cast<DType>(t.scalar_type());
      if (t.sizes()) info.tensor.sizes.assign(t.sizes()->begin(), t.sizes()->end());
      if (t.dim_order()) info.tensor.dim_order.assign(t.dim_order()->begin(), t.dim_order()->end());
      info.tensor.dynamic = t.shape_dynamism() != fb::TensorShapeDynamism::STATIC;
      break;
    }
    default: info.kind = ValueKind::kNone; break;
  }
  return info;
}

std::string resolve(const std::string& folder, const std::string& path) {
  const fs::path p(path);
  return (p.is_absolute() ? p : fs::path(folder) / p).lexically_normal().string();
}

}  // namespace

const char* version() { return ETP_VERSION; }

void set_log_level(LogLevel level) { plugins::PluginLog::set_print_level(static_cast<int32_t>(level)); }

std::vector<std::string> default_plugins() { return {"portable", "xnnpack", "quantized", "llm"}; }

BundleSpec BundleSpec::for_program(const std::string& program, const std::vector<std::string>& data_files,
                                   const std::vector<std::string>& plugins, const std::string& model) {
  BundleSpec spec;
  for (const std::string& p : plugins) spec.plugins.push_back({"", p, {}});
  ModelSpec m{model, program, {}, "forward", ""};
  for (size_t i = 0; i < data_files.size(); ++i) {
    const std::string name = "data" + std::to_string(i);
    spec.data.push_back({name, data_files[i], "", ""});
    m.data.push_back(name);
  }
  spec.models.push_back(std::move(m));
  return spec;
}

const MethodInfo* ModelInfo::find_method(const std::string& name) const {
  for (const MethodInfo& m : methods) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

namespace api {

Result<bundle::Manifest> manifest_from_spec(const BundleSpec& spec) {
  bundle::Manifest m;
  m.folder = spec.folder.empty() ? "." : spec.folder;
  if (spec.threads > 256)
    return Status(StatusCode::kInvalidArgument, "threads must be from 1 to 256 (or 0: one per core)");
  m.threads = spec.threads;
  m.memory_budget = spec.memory_budget;
  for (const PluginSpec& p : spec.plugins) {
    std::string name = p.name;
    if (name.empty()) {  // from the library: "portable", "/x/libetp_portable.so.1" -> "portable"
      name = fs::path(p.library).filename().string();
      name = name.substr(0, name.find(".so"));
      if (name.rfind("libetp_", 0) == 0) name = name.substr(7);
    }
    m.plugins.push_back({name, p.library, p.options, {}});
  }
  for (const DataSpec& d : spec.data) {
    std::string sha = d.sha256;
    for (char& c : sha) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    m.data.push_back({d.name, resolve(m.folder, d.file), sha, d.weight_cache, {}});
  }
  for (const ModelSpec& model : spec.models) {
    bundle::ModelSpec out;
    out.name = model.name;
    out.program = resolve(m.folder, model.program);
    out.data = model.data;
    out.method = model.method.empty() ? "forward" : model.method;
    if (!model.tokenizer.empty()) out.tokenizer = resolve(m.folder, model.tokenizer);
    out.max_instructions = model.max_instructions;
    m.models.push_back(std::move(out));
  }
  ETP_CHECK_OK(bundle::check_manifest(m));
  return m;
}

Status replace_data_files(bundle::Manifest* manifest, const BundleOptions& options) {
  for (const auto& [name, file] : options.data_files) ETP_CHECK_OK(bundle::replace_data_file(manifest, name, file));
  return Status::success();
}

Result<Bundle> open_bundle(bundle::Manifest manifest, const BundleOptions& options, const std::string& path) {
  ETP_CHECK_OK(replace_data_files(&manifest, options));
  ETP_TRY(auto opened,
          bundle::Bundle::open(std::move(manifest),
                               {options.plugin_paths, options.use_environment,
                                options.read_files ? FileAccess::kRead : FileAccess::kMap, options.memory_budget}));
  auto impl = std::make_shared<Bundle::Impl>();
  impl->bundle = std::move(opened);
  impl->path = path;
  impl->max_instructions = options.max_instructions;
  return Access::bundle(std::move(impl));
}

MethodInfo describe_method(const fb::ExecutionPlan& plan) {
  MethodInfo info;
  info.name = plan.name()->str();
  // Indices were verified when the program was opened.
  for (int32_t i : *plan.inputs()) info.inputs.push_back(describe_value(*plan.values()->Get(i)));
  for (int32_t i : *plan.outputs()) info.outputs.push_back(describe_value(*plan.values()->Get(i)));
  for (flatbuffers::uoffset_t i = 0; plan.operators() && i < plan.operators()->size(); ++i) {
    info.operators.push_back(format::operator_name(*plan.operators()->Get(i)));
  }
  for (flatbuffers::uoffset_t i = 0; plan.delegates() && i < plan.delegates()->size(); ++i) {
    info.backends.push_back(plan.delegates()->Get(i)->id()->str());
  }
  return info;
}

}  // namespace api

Bundle::Bundle(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Bundle::Bundle(Bundle&&) noexcept = default;
Bundle& Bundle::operator=(Bundle&&) noexcept = default;
Bundle::~Bundle() = default;

Result<Bundle> Bundle::open(const std::string& manifest_path, const BundleOptions& options) {
  ETP_TRY(auto manifest, bundle::parse_manifest(manifest_path));
  return api::open_bundle(std::move(manifest), options, manifest_path);
}

Result<Bundle> Bundle::open(const BundleSpec& spec, const BundleOptions& options) {
  ETP_TRY(auto manifest, api::manifest_from_spec(spec));
  return api::open_bundle(std::move(manifest), options, "");
}

const std::string& Bundle::path() const { return impl_->path; }

std::vector<std::string> Bundle::models() const {
  std::vector<std::string> names;
  for (const bundle::ModelSpec& m : impl_->bundle->manifest().models) names.push_back(m.name);
  return names;
}

Result<ModelInfo> Bundle::model(const std::string& name) const {
  ETP_TRY(auto program, impl_->bundle->program(name));
  const bundle::ModelSpec& spec = *impl_->bundle->manifest().find_model(name);
  ModelInfo info;
  info.name = name;
  info.program = program->path();
  for (const runtime::DataSource& d : program->data()) info.data_files.push_back(d.file->path());
  info.default_method = spec.method;
  info.tokenizer = spec.tokenizer;
  if (spec.train) {
    const bundle::TrainSpec& t = *spec.train;
    info.train = TrainData{t.inputs, t.eval, t.batch_size, t.shuffle, t.seed};
  }
  const format::ProgramFile& file = program->file();
  for (size_t i = 0; i < file.num_plans(); ++i) info.methods.push_back(api::describe_method(file.plan(i)));
  return info;
}

Result<Method> Bundle::load_method(const std::string& model, const std::string& method) const {
  ETP_TRY(auto program, impl_->bundle->program(model));
  const bundle::ModelSpec& spec = *impl_->bundle->manifest().find_model(model);
  const std::string name = method.empty() ? spec.method : method;
  ETP_TRY(const auto* plan, program->file().find_plan(name));
  ETP_TRY(auto loaded, runtime::load_method(*program, *plan));
  if (const uint64_t budget = impl_->max_instructions ? impl_->max_instructions : spec.max_instructions) {
    loaded->set_instruction_budget(budget);
  }
  auto impl = std::make_unique<Method::Impl>();
  impl->model = model;
  impl->info = api::describe_method(*plan);
  impl->method = std::move(loaded);
  return Method(std::move(impl));
}

std::vector<PluginInfo> Bundle::plugins() const {
  std::vector<PluginInfo> out;
  for (const auto& plugin : impl_->bundle->registry().plugins()) out.push_back(api::describe_plugin(*plugin, false));
  return out;
}

Result<std::string> inspect_json(const std::string& path) {
  ETP_TRY(auto description, inspect::describe_file(path));
  return description.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace etp
