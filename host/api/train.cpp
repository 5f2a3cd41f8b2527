// Training sessions over ExecuTorch's joint forward-backward methods, and the optimizers
// (include/etp/train.h).
#include "etp/train.h"

#include <cmath>

#include <cstring>

#include "api/api_internal.h"
#include "core/error.h"
#include "format/data_file.h"
#include "format/data_file_writer.h"

namespace etp {
namespace {

Status model_error(const std::string& model, const std::string& what) {
  return Status(StatusCode::kInvalidArgument, "model '" + model + "': " + what);
}

// The single int a helper method returns.
Result<int64_t> index_method(const Bundle& bundle, const std::string& model, const std::string& name) {
  ETP_TRY(Method m, bundle.load_method(model, name));
  ETP_CHECK_OK(m.execute());
  if (m.num_outputs() != 1 || m.output(0).kind() != ValueKind::kInt) {
    return model_error(model, "training helper '" + name + "' must return one int");
  }
  return m.output(0).to_int();
}

}  // namespace

Result<TrainingSession> TrainingSession::load(const Bundle& bundle, const std::string& model,
                                              const std::string& method_name) {
  ETP_TRY(ModelInfo info, bundle.model(model));
  const std::string grads = "__et_training_gradients_index_" + method_name;
  const std::string params = "__et_training_parameters_index_" + method_name;
  const std::string fqns = "__et_training_fqn_" + method_name;
  for (const std::string& helper : {grads, params, fqns}) {
    if (info.find_method(helper) == nullptr) {
      return model_error(model, "method '" + method_name + "' is not a joint forward-backward graph (no '" + helper +
                                    "' method; export it with torch.export.experimental._export_forward_backward)");
    }
  }
  ETP_TRY(int64_t grads_begin, index_method(bundle, model, grads));
  ETP_TRY(int64_t params_begin, index_method(bundle, model, params));
  ETP_TRY(Method fqn_method, bundle.load_method(model, fqns));
  ETP_CHECK_OK(fqn_method.execute());
  std::vector<std::string> names;
  const runtime::Method& raw = *fqn_method.impl()->method;  // strings are not public Values
  for (size_t i = 0; i < fqn_method.num_outputs(); ++i) {
    const etp_value& v = raw.output(i);
    if (v.tag != ETP_VALUE_STRING) return model_error(model, "'" + fqns + "' must return strings");
    names.emplace_back(v.u.string.data, v.u.string.size);
  }
  ETP_TRY(Method method, bundle.load_method(model, method_name));
  const size_t outputs = method.num_outputs(), n = names.size();
  if (grads_begin < 1 || params_begin != grads_begin + static_cast<int64_t>(n) ||
      static_cast<size_t>(params_begin) + n != outputs) {
    return model_error(model, "method '" + method_name + "' has " + std::to_string(outputs) +
                                  " outputs; its helpers say gradients start at " + std::to_string(grads_begin) +
                                  " and parameters at " + std::to_string(params_begin) + " for " + std::to_string(n) +
                                  " parameters (expected user outputs, then one gradient and one parameter each)");
  }
  const MethodInfo& mi = method.info();
  for (size_t i = 0; i < n; ++i) {
    const ValueInfo &g = mi.outputs[static_cast<size_t>(grads_begin) + i],
                    &p = mi.outputs[static_cast<size_t>(params_begin) + i];
    if (g.kind != ValueKind::kTensor || p.kind != ValueKind::kTensor || g.tensor.dtype != DType::kFloat32 ||
        p.tensor.dtype != DType::kFloat32 || g.tensor.sizes != p.tensor.sizes) {
      return model_error(model, "parameter '" + names[i] +
                                    "' and its gradient must be float32 tensors of one shape (other dtypes are not "
                                    "trained yet)");
    }
  }
  TrainingSession s(model, std::move(method));
  s.names_ = std::move(names);
  for (size_t i = 0; i < s.names_.size(); ++i) s.index_.emplace(s.names_[i], i);
  s.gradients_begin_ = static_cast<size_t>(grads_begin);
  s.parameters_begin_ = static_cast<size_t>(params_begin);
  return s;
}

Status TrainingSession::forward_backward(const std::vector<TensorRef>& inputs) {
  ETP_CHECK_OK(method_.set_inputs(inputs));
  ETP_CHECK_OK(method_.execute());
  ran_ = true;
  return Status::success();
}

double TrainingSession::loss() const {
  if (!ran_) return std::nan("");
  const Value v = method_.output(0);
  if (!v.is_tensor() || v.tensor().numel() != 1) return std::nan("");
  return v.tensor().to_tensor().value(0);
}

Value TrainingSession::user_output(size_t index) const { return method_.output(index); }

float* TrainingSession::output_data(size_t index, int64_t* numel) const {
  const Value v = method_.output(index);
  if (!v.is_tensor() || !v.tensor().is_row_major()) return nullptr;
  if (numel != nullptr) *numel = v.tensor().numel();
  // The joint method's parameter outputs are the trainable weights' own memory (as ExecuTorch's
  // TrainingModule relies on), and gradients are planned buffers rewritten by each run.
  return static_cast<float*>(const_cast<void*>(v.tensor().data()));
}

const size_t* TrainingSession::index_of(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &it->second;
}

float* TrainingSession::parameter(const std::string& name, int64_t* numel) {
  const size_t* i = index_of(name);
  return i == nullptr ? nullptr : output_data(parameters_begin_ + *i, numel);
}

float* TrainingSession::gradient(const std::string& name, int64_t* numel) {
  const size_t* i = index_of(name);
  return i == nullptr || !ran_ ? nullptr : output_data(gradients_begin_ + *i, numel);
}

TensorView TrainingSession::parameter_view(const std::string& name) const {
  const size_t* i = index_of(name);
  return i == nullptr ? TensorView{} : method_.output(parameters_begin_ + *i).tensor();
}

Status Sgd::step(TrainingSession& session) {
  const SgdOptions& o = options_;
  for (const std::string& name : session.parameter_names()) {
    int64_t n = 0, gn = 0;
    float* p = session.parameter(name, &n);
    float* d = session.gradient(name, &gn);
    if (p == nullptr || d == nullptr || n != gn) {
      return Status(StatusCode::kInvalidState, "sgd: no gradient for '" + name + "' (run forward_backward first)");
    }
    // In ExecuTorch's order, each float op computed in double and rounded once (a + b * alpha).
    if (o.weight_decay != 0) {
      for (int64_t i = 0; i < n; ++i) d[i] = static_cast<float>(d[i] + p[i] * o.weight_decay);
    }
    const float* update = d;
    if (o.momentum != 0) {
      std::vector<float>& buf = state_.buffers["momentum_buffer/" + name];
      if (buf.empty()) {
        buf.assign(d, d + n);
      } else {
        for (int64_t i = 0; i < n; ++i) buf[i] = static_cast<float>(buf[i] * o.momentum);
        for (int64_t i = 0; i < n; ++i) buf[i] = static_cast<float>(buf[i] + d[i] * (1 - o.dampening));
      }
      if (o.nesterov) {
        for (int64_t i = 0; i < n; ++i) d[i] = static_cast<float>(d[i] + buf[i] * o.momentum);
      } else {
        update = buf.data();
      }
    }
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(p[i] + update[i] * (-1 * o.lr));
  }
  ++state_.step;
  return Status::success();
}

Status AdamW::step(TrainingSession& session) {
  const AdamWOptions& o = options_;
  const int64_t t = ++state_.step;
  const double bias1 = 1 - std::pow(o.beta1, static_cast<double>(t));
  const double bias2 = 1 - std::pow(o.beta2, static_cast<double>(t));
  for (const std::string& name : session.parameter_names()) {
    int64_t n = 0, gn = 0;
    float* p = session.parameter(name, &n);
    const float* g = session.gradient(name, &gn);
    if (p == nullptr || g == nullptr || n != gn) {
      --state_.step;
      return Status(StatusCode::kInvalidState, "adamw: no gradient for '" + name + "' (run forward_backward first)");
    }
    std::vector<float>& m = state_.buffers["exp_avg/" + name];
    std::vector<float>& v = state_.buffers["exp_avg_sq/" + name];
    m.resize(static_cast<size_t>(n), 0.0f);
    v.resize(static_cast<size_t>(n), 0.0f);
    // torch's single-tensor AdamW, operation by operation: scalars are computed in double and
    // enter each float op cast to float, as a Python number does.
    const float decay = static_cast<float>(1 - o.lr * o.weight_decay);
    const float w1 = static_cast<float>(1 - o.beta1), b2 = static_cast<float>(o.beta2),
                w2 = static_cast<float>(1 - o.beta2);
    const float step_size = static_cast<float>(o.lr / bias1), bias2_sqrt = static_cast<float>(std::sqrt(bias2)),
                eps = static_cast<float>(o.eps);
    for (int64_t i = 0; i < n; ++i) {
      p[i] = p[i] * decay;                                           // param.mul_
      const float diff = g[i] - m[i];                                // exp_avg.lerp_(grad, w1):
      m[i] = w1 < 0.5f ? m[i] + w1 * diff : g[i] - diff * (1 - w1);  // torch's lerp formula
      v[i] = v[i] * b2;                                              // exp_avg_sq.mul_
      v[i] = v[i] + w2 * g[i] * g[i];                                // .addcmul_(g, g, value=w2)
      const float denom = std::sqrt(v[i]) / bias2_sqrt + eps;        // (sqrt / bc2_sqrt).add_(eps)
      p[i] = p[i] + (-step_size) * (m[i] / denom);                   // param.addcdiv_
    }
  }
  return Status::success();
}

namespace {

constexpr const char* kOptimizerPrefix = "etp.optimizer/";
constexpr int32_t kFloat32 = 6, kInt64 = 4;  // ExecuTorch ScalarType codes

}  // namespace

Status save_checkpoint(TrainingSession& session, const Optimizer* optimizer, const std::string& path) {
  std::vector<format::TensorToWrite> tensors;
  std::vector<std::string> keys;  // own the key strings of optimizer entries
  for (const std::string& name : session.parameter_names()) {
    const TensorView v = session.parameter_view(name);
    if (v.data() == nullptr || !v.is_row_major()) {
      return Status(StatusCode::kInvalidState, path + ": parameter '" + name + "' has no row-major data");
    }
    format::TensorToWrite t;
    t.key = name;
    t.scalar_type = kFloat32;
    for (int64_t d : v.sizes()) t.sizes.push_back(static_cast<int32_t>(d));
    t.data = v.data();
    t.nbytes = v.nbytes();
    tensors.push_back(std::move(t));
  }
  int64_t step = 0;
  if (optimizer != nullptr) {
    const std::string prefix = std::string(kOptimizerPrefix) + optimizer->name() + "/";
    step = optimizer->state().step;
    tensors.push_back({prefix + "step", kInt64, {1}, {}, &step, sizeof(step)});
    for (const auto& [slot, values] : optimizer->state().buffers) {
      tensors.push_back({prefix + slot,
                         kFloat32,
                         {static_cast<int32_t>(values.size())},
                         {},
                         values.data(),
                         values.size() * sizeof(float)});
    }
  }
  return format::write_data_file(path, std::move(tensors));
}

Status load_checkpoint(TrainingSession& session, Optimizer* optimizer, const std::string& path) {
  ETP_TRY(format::DataFile file, format::DataFile::open(path));
  // Everything is checked before anything is written, so a refused checkpoint changes nothing.
  std::vector<std::pair<float*, const format::DataEntry*>> copies;
  for (const std::string& name : session.parameter_names()) {
    const format::DataEntry* e = file.find(name);
    if (e == nullptr) return Status(StatusCode::kNotFound, path + ": no tensor '" + name + "' in the checkpoint");
    int64_t n = 0;
    float* p = session.parameter(name, &n);
    const TensorView view = session.parameter_view(name);
    bool same = p != nullptr && e->layout && e->layout->scalar_type == kFloat32 &&
                e->layout->sizes.size() == view.rank() && e->layout->nbytes == static_cast<uint64_t>(n) * sizeof(float);
    for (size_t d = 0; same && d < view.rank(); ++d) same = e->layout->sizes[d] == view.sizes()[d];
    if (!same) {
      return Status(StatusCode::kShape, path + ": tensor '" + name + "' does not have the parameter's float32 shape");
    }
    copies.emplace_back(p, e);
  }
  OptimizerState state;
  if (optimizer != nullptr) {
    const std::string mine = std::string(kOptimizerPrefix) + optimizer->name() + "/";
    for (const format::DataEntry& e : file.entries()) {
      const std::string key(e.key);
      if (key.rfind(kOptimizerPrefix, 0) != 0) continue;
      if (key.rfind(mine, 0) != 0) {
        return Status(StatusCode::kInvalidArgument,
                      path + ": holds the state of another optimizer ('" + key + "'), not " + optimizer->name() + "'s");
      }
      const std::string slot = key.substr(mine.size());
      if (!e.layout) return Status(StatusCode::kMalformed, path + ": '" + key + "' has no tensor layout");
      if (slot == "step") {
        if (e.layout->scalar_type != kInt64 || e.layout->nbytes != sizeof(int64_t)) {
          return Status(StatusCode::kMalformed, path + ": '" + key + "' must be one int64");
        }
        std::memcpy(&state.step, e.bytes.data, sizeof(int64_t));
      } else {
        if (e.layout->scalar_type != kFloat32 || e.layout->nbytes % sizeof(float) != 0) {
          return Status(StatusCode::kMalformed, path + ": '" + key + "' must be float32");
        }
        std::vector<float>& values = state.buffers[slot];
        values.resize(e.layout->nbytes / sizeof(float));
        std::memcpy(values.data(), e.bytes.data, e.layout->nbytes);
      }
    }
  }
  for (const auto& [p, e] : copies) std::memcpy(p, e->bytes.data, e->layout->nbytes);
  if (optimizer != nullptr) optimizer->set_state(std::move(state));
  return Status::success();
}

}  // namespace etp
