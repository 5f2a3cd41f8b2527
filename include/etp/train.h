// Training on device, as ExecuTorch exports it: a joint forward-backward method whose outputs are
// [user outputs (the loss first)..., gradients..., parameters...], partitioned by the helper
// methods __et_training_gradients_index_<m> and __et_training_parameters_index_<m> and named by
// __et_training_fqn_<m>. The parameter outputs are the program's trainable weights themselves
// (mutable state, in the program or in an external .ptd), so an optimizer that writes them trains
// the model; frozen constants are not outputs and stay shared and read-only.
//
//   auto session = etp::TrainingSession::load(*bundle, "xor");
//   etp::Sgd sgd({/*lr=*/0.5});
//   for (int step = 0; step < 100; ++step) {
//     auto loss = session->forward_backward({x.ref(), y.ref()});
//     sgd.step(*session);
//   }
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "etp/etp.h"
#include "etp/status.h"

namespace etp {

class TrainingSession {
 public:
  // Loads `method` of `model` and reads its helper methods once. kInvalidArgument when the
  // program has no joint graph for it, or its outputs do not partition as the helpers say.
  static Result<TrainingSession> load(const Bundle& bundle, const std::string& model,
                                      const std::string& method = "forward");

  // Runs the joint method: afterwards loss(), user_output() and gradient() show this step.
  Status forward_backward(const std::vector<TensorRef>& inputs);
  // The first output (a float scalar), as double.
  double loss() const;
  size_t num_user_outputs() const { return gradients_begin_; }
  Value user_output(size_t index) const;  // 0 is the loss

  // Trainable parameters by fully qualified name, in the program's order.
  const std::vector<std::string>& parameter_names() const { return names_; }
  // Writable views of a parameter and (after forward_backward) its gradient: float32, row-major.
  // Null data for an unknown name.
  float* parameter(const std::string& name, int64_t* numel = nullptr);
  float* gradient(const std::string& name, int64_t* numel = nullptr);
  TensorView parameter_view(const std::string& name) const;

  const std::string& model() const { return model_; }
  Method& method() { return method_; }

 private:
  TrainingSession(std::string model, Method method) : model_(std::move(model)), method_(std::move(method)) {}
  float* output_data(size_t index, int64_t* numel) const;

  std::string model_;
  Method method_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, size_t> index_;  // name -> position in names_
  const size_t* index_of(const std::string& name) const;
  size_t gradients_begin_ = 0, parameters_begin_ = 0;
  bool ran_ = false;
};

// ExecuTorch's SGD (extension/training/optimizer/sgd), in its order: d = grad (+ weight_decay *
// p); with momentum the buffer starts as d, then buf = momentum * buf + (1 - dampening) * d; d =
// d + momentum * buf with nesterov, else buf; p = p - lr * d. Each operation rounds to float from
// double, as ExecuTorch's float-by-double arithmetic does.
struct SgdOptions {
  double lr = 0.01;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

// AdamW with torch's semantics (torch.optim.AdamW, amsgrad off): p *= 1 - lr * weight_decay;
// m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2; p -= lr * (m / (1 - beta1^t)) /
// (sqrt(v / (1 - beta2^t)) + eps).
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
};

// An optimizer's state (momentum buffers, moments, the step count) by name, for checkpoints.
struct OptimizerState {
  int64_t step = 0;
  std::map<std::string, std::vector<float>> buffers;  // "<slot>/<parameter fqn>"
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Updates every parameter of `session` from its gradient of the last forward_backward.
  virtual Status step(TrainingSession& session) = 0;
  virtual const char* name() const = 0;
  const OptimizerState& state() const { return state_; }
  void set_state(OptimizerState state) { state_ = std::move(state); }

 protected:
  OptimizerState state_;
};

class Sgd : public Optimizer {
 public:
  explicit Sgd(SgdOptions options) : options_(options) {}
  Status step(TrainingSession& session) override;
  const char* name() const override { return "sgd"; }

 private:
  SgdOptions options_;
};

class AdamW : public Optimizer {
 public:
  explicit AdamW(AdamWOptions options) : options_(options) {}
  Status step(TrainingSession& session) override;
  const char* name() const override { return "adamw"; }

 private:
  AdamWOptions options_;
};

// Checkpoints are .ptd files in ExecuTorch's data-file layout (FT01): each parameter under its
// FQN, float32 with its layout, so the ExecuTorch runtime loads one as the external weights of
// the same program. The optimizer's state sits in the same file under reserved keys,
// "etp.optimizer/<name>/step" (int64 [1]) and "etp.optimizer/<name>/<slot>/<fqn>" (float32): one
// file renamed into place at once, so weights and optimizer state can never come from different
// steps, which a sidecar file (two renames) could not promise. ExecuTorch ignores the extra keys.
// Writes are crash-safe (temporary file in the same folder, fsync, rename, fsync the folder).
Status save_checkpoint(TrainingSession& session, const Optimizer* optimizer, const std::string& path);
// Reads a checkpoint back: every parameter of the session (shapes must match), and the optimizer
// state when `optimizer` is given (the file must hold state of the same optimizer, or none).
// Errors name the file and the key.
Status load_checkpoint(TrainingSession& session, Optimizer* optimizer, const std::string& path);

}  // namespace etp
