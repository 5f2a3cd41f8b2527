// Training on ExecuTorch's joint forward-backward programs (include/etp/train.h): etp's SGD
// reproduces ExecuTorch's own training loop (its runtime's TrainingModule and its SGD, recorded by
// scripts/export_fixtures.py in the fixtures' `training` entries) step by step, with weights in
// the program and in an external .ptd; AdamW follows torch.optim.AdamW run on the same runtime's
// weights and gradients; and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <string>

#include "api/api_fixtures.h"
#include "core/npy.h"
#include "etp/train.h"
#include "format/data_file_writer.h"
#include "support/fixtures.h"

namespace etp::test {
namespace {

// The joint method's inputs of the fixture's run `index`.
std::vector<Tensor> run_inputs(const nlohmann::json& f, size_t index) {
  std::vector<Tensor> out;
  for (const auto& in : f["runs"][index]["inputs"]) {
    auto array = read_npy(fixture_path(in["file"]));
    EXPECT_TRUE(array.ok());
    out.push_back({static_cast<DType>(array->dtype), array->shape, array->data});
  }
  return out;
}

// The parameters a trajectory recorded after `step` (absent: an empty list): inline in the index,
// or, for larger models, one float32 .npy of them concatenated in the order of `param_numels`.
std::vector<std::pair<std::string, std::vector<double>>> recorded_params(const nlohmann::json& c,
                                                                         const std::string& step) {
  std::vector<std::pair<std::string, std::vector<double>>> out;
  if (c.contains("params")) {
    if (!c["params"].contains(step)) return out;
    for (const auto& [fqn, values] : c["params"][step].items())
      out.emplace_back(fqn, values.get<std::vector<double>>());
    return out;
  }
  if (!c["params_npy"].contains(step)) return out;
  auto a = read_npy(fixture_path(c["params_npy"][step]));
  EXPECT_TRUE(a.ok() && a->dtype == static_cast<int32_t>(DType::kFloat32)) << c["params_npy"][step];
  if (!a.ok()) return out;
  const auto* values = reinterpret_cast<const float*>(a->data.data());
  size_t at = 0;
  for (const auto& entry : c["param_numels"]) {
    const size_t n = entry[1].get<size_t>();
    EXPECT_LE(at + n, a->data.size() / sizeof(float)) << c["params_npy"][step];
    if (at + n > a->data.size() / sizeof(float)) break;
    out.emplace_back(entry[0].get<std::string>(), std::vector<double>(values + at, values + at + n));
    at += n;
  }
  return out;
}

std::unique_ptr<Optimizer> make_optimizer(const nlohmann::json& c) {
  const nlohmann::json& o = c["options"];
  if (c["optimizer"] == "adamw") {
    return std::make_unique<AdamW>(AdamWOptions{o["lr"], o["beta1"], o["beta2"], o["eps"], o["weight_decay"]});
  }
  return std::make_unique<Sgd>(SgdOptions{o["lr"], o["momentum"], o["dampening"], o["weight_decay"], o["nesterov"]});
}

TEST(TrainTest, SgdReproducesExecuTorchsTrainingLoopAndAdamWTorchs) {
  int checked = 0;
  for (const nlohmann::json& f : all_fixtures()) {
    if (!f.contains("training")) continue;
    // The batch the reference trained on: the joint method's run, or the whole training data.
    std::vector<Tensor> inputs;
    if (f["runs"].empty()) {  // the first batch_rows rows of the training data (default: all)
      for (const auto& file : f["train_data"]) {
        auto a = read_npy(fixture_path(file));
        ASSERT_TRUE(a.ok());
        const int64_t rows = f["training"].value("batch_rows", a->shape[0]);
        ASSERT_LE(rows, a->shape[0]);
        std::vector<int64_t> shape = a->shape;
        shape[0] = rows;
        const size_t bytes = a->data.size() / static_cast<size_t>(a->shape[0]) * static_cast<size_t>(rows);
        inputs.push_back({static_cast<DType>(a->dtype), shape,
                          std::vector<uint8_t>(a->data.begin(), a->data.begin() + static_cast<std::ptrdiff_t>(bytes))});
      }
    } else {
      inputs = run_inputs(f, 2);
    }
    std::vector<TensorRef> refs;
    for (const Tensor& t : inputs) refs.push_back(t.ref());
    for (const auto& [case_name, c] : f["training"]["cases"].items()) {
      Bundle bundle = open_fixture(f);  // fresh weights for each case
      auto session = TrainingSession::load(bundle, "model");
      ASSERT_TRUE(session.ok()) << session.status().to_string();
      EXPECT_EQ(session->parameter_names().size(), recorded_params(c, "1").size()) << "the trainable parameters";
      std::unique_ptr<Optimizer> optimizer = make_optimizer(c);
      const double tolerance = 1e-5;  // the bound; the runs land far inside it
      const int steps = f["training"]["steps"];
      for (int step = 1; step <= steps; ++step) {
        ASSERT_TRUE(session->forward_backward(refs).ok());
        EXPECT_NEAR(session->loss(), c["losses"][step - 1].get<double>(), tolerance)
            << f["name"] << " " << case_name << " step " << step;
        ASSERT_TRUE(optimizer->step(*session).ok());
        for (const auto& [fqn, values] : recorded_params(c, std::to_string(step))) {
          int64_t n = 0;
          const float* p = session->parameter(fqn, &n);
          ASSERT_NE(p, nullptr) << fqn;
          ASSERT_EQ(static_cast<size_t>(n), values.size());
          for (int64_t i = 0; i < n; ++i) {
            EXPECT_NEAR(p[i], values[static_cast<size_t>(i)], tolerance)
                << f["name"] << " " << case_name << " step " << step << " " << fqn << "[" << i << "]";
          }
        }
      }
      EXPECT_EQ(optimizer->state().step, steps);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 14) << "xor_train, xor_train_external, xor_classify_train, blobs_mlp_train: three cases each; "
                            "lora_train: SGD and AdamW";
}

TEST(TrainTest, AProgramWithoutAJointGraphIsNamed) {
  auto bundle = Bundle::open(BundleSpec::for_program(fixture_path("add.pte")), kOptions);
  ASSERT_TRUE(bundle.ok());
  auto session = TrainingSession::load(*bundle, "model");
  ASSERT_FALSE(session.ok());
  EXPECT_NE(session.status().message().find("is not a joint forward-backward graph (no "
                                            "'__et_training_gradients_index_forward' method"),
            std::string::npos)
      << session.status().message();
  // An optimizer step before any forward_backward has no gradients.
  Bundle xor_bundle = open_fixture(fixture_named("xor_train"));
  auto xor_session = TrainingSession::load(xor_bundle, "model");
  ASSERT_TRUE(xor_session.ok());
  Sgd sgd(SgdOptions{});
  const Status early = sgd.step(*xor_session);
  EXPECT_EQ(early.code(), StatusCode::kInvalidState);
  EXPECT_NE(early.message().find("run forward_backward first"), std::string::npos);
  EXPECT_TRUE(std::isnan(xor_session->loss()));
}

// A checkpoint in the middle of a run, loaded into a fresh session and optimizer, continues
// bit for bit as the uninterrupted run; the file is a .ptd the program loads as its external
// weights; and a checkpoint of another optimizer is refused by name.
TEST(TrainTest, ResumingFromACheckpointMatchesAnUninterruptedRun) {
  const nlohmann::json f = fixture_named("xor_train_external");
  const std::vector<Tensor> inputs = run_inputs(f, 2);
  std::vector<TensorRef> refs;
  for (const Tensor& t : inputs) refs.push_back(t.ref());
  const SgdOptions options{0.1, 0.9, 0.1, 0.001, true};
  auto train = [&](TrainingSession& s, Optimizer& o, int steps) {
    for (int i = 0; i < steps; ++i) {
      ASSERT_TRUE(s.forward_backward(refs).ok());
      ASSERT_TRUE(o.step(s).ok());
    }
  };
  auto weights = [](TrainingSession& s) {
    std::vector<float> all;
    for (const std::string& name : s.parameter_names()) {
      int64_t n = 0;
      const float* p = s.parameter(name, &n);
      all.insert(all.end(), p, p + n);
    }
    return all;
  };
  Bundle straight_bundle = open_fixture(f);
  auto straight = TrainingSession::load(straight_bundle, "model");
  ASSERT_TRUE(straight.ok());
  Sgd straight_sgd(options);
  train(*straight, straight_sgd, 20);

  const std::string path = ::testing::TempDir() + "/xor_checkpoint.ptd";
  {
    Bundle bundle = open_fixture(f);
    auto first = TrainingSession::load(bundle, "model");
    ASSERT_TRUE(first.ok());
    Sgd sgd(options);
    train(*first, sgd, 10);
    ASSERT_TRUE(save_checkpoint(*first, &sgd, path).ok());
  }
  Bundle bundle = open_fixture(f);
  auto resumed = TrainingSession::load(bundle, "model");
  ASSERT_TRUE(resumed.ok());
  Sgd sgd(options);
  const Status loaded = load_checkpoint(*resumed, &sgd, path);
  ASSERT_TRUE(loaded.ok()) << loaded.to_string();
  EXPECT_EQ(sgd.state().step, 10);
  EXPECT_EQ(sgd.state().buffers.size(), 4u) << "a momentum buffer per parameter";
  train(*resumed, sgd, 10);
  EXPECT_EQ(weights(*resumed), weights(*straight)) << "bit for bit";

  // The checkpoint is the program's external weights: a forward on it gives the loss a session
  // at those weights computes.
  ASSERT_TRUE(save_checkpoint(*resumed, &sgd, path).ok());
  ASSERT_TRUE(resumed->forward_backward(refs).ok());
  auto from_file = Bundle::open(BundleSpec::for_program(fixture_path(f["program"]), {path}), kOptions);
  ASSERT_TRUE(from_file.ok()) << from_file.status().to_string();
  auto outputs = from_file->load_method("model");
  ASSERT_TRUE(outputs.ok()) << outputs.status().to_string();
  auto run = outputs->run(refs);
  ASSERT_TRUE(run.ok()) << run.status().to_string();
  EXPECT_EQ((*run)[0].value(0), resumed->loss());

  AdamW adamw(AdamWOptions{});
  const Status other = load_checkpoint(*resumed, &adamw, path);
  EXPECT_EQ(other.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other.message().find("holds the state of another optimizer"), std::string::npos) << other.message();
  // A checkpoint of another program whose parameters have the same names and other shapes
  // (8 hidden units against 16).
  const std::string other_shape = ::testing::TempDir() + "/xor_classify.ptd";
  Bundle small = open_fixture(fixture_named("xor_classify_train")),
         large = open_fixture(fixture_named("blobs_mlp_train"));
  auto small_session = TrainingSession::load(small, "model");
  auto large_session = TrainingSession::load(large, "model");
  ASSERT_TRUE(small_session.ok() && large_session.ok());
  ASSERT_TRUE(save_checkpoint(*small_session, nullptr, other_shape).ok());
  const Status shape = load_checkpoint(*large_session, nullptr, other_shape);
  EXPECT_EQ(shape.code(), StatusCode::kShape);
  EXPECT_NE(shape.message().find("tensor 'net.0.weight' does not have the parameter's float32 shape"),
            std::string::npos)
      << shape.message();
  // Optimizer state under the reserved keys that is not what the optimizer wrote.
  const std::string bad_state = ::testing::TempDir() + "/xor_bad_state.ptd";
  std::vector<format::TensorToWrite> tensors;
  std::vector<std::vector<float>> zeros;  // other weights than the session's, so a partial load would show
  for (const std::string& name : resumed->parameter_names()) {
    const TensorView v = resumed->parameter_view(name);
    zeros.emplace_back(v.nbytes() / sizeof(float), 0.0f);
    tensors.push_back(
        {name, 6, std::vector<int32_t>(v.sizes().begin(), v.sizes().end()), {}, zeros.back().data(), v.nbytes()});
  }
  const float not_a_step = 3;
  tensors.push_back({"etp.optimizer/sgd/step", 6, {1}, {}, &not_a_step, sizeof(float)});
  ASSERT_TRUE(format::write_data_file(bad_state, std::move(tensors)).ok());
  const std::vector<float> before = weights(*resumed);
  const int64_t steps_before = sgd.state().step;
  const Status malformed = load_checkpoint(*resumed, &sgd, bad_state);
  EXPECT_EQ(malformed.code(), StatusCode::kMalformed);
  EXPECT_EQ(weights(*resumed), before) << "a refused checkpoint changes nothing";
  EXPECT_EQ(sgd.state().step, steps_before);
  EXPECT_NE(malformed.message().find("'etp.optimizer/sgd/step' must be one int64"), std::string::npos)
      << malformed.message();
  const Status missing = load_checkpoint(*resumed, nullptr, fixture_path("linear_portable.ptd"));
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("no tensor 'net."), std::string::npos) << missing.message();
}

// ExecuTorch's runtime loads an etp-written checkpoint (tests/fixtures/etp_written, made by the
// `etp train` command in its reference file) as the program's external weights: its outputs there
// equal etp's; and etp still writes exactly those bytes for that training run.
TEST(TrainTest, ExecuTorchLoadsAnEtpCheckpoint) {
  std::ifstream in(fixture_path("etp_written/checkpoint_reference.json"));
  const nlohmann::json ref = nlohmann::json::parse(in);
  const std::string checkpoint = fixture_path(ref["checkpoint"]);
  const nlohmann::json f = fixture_named("xor_train_external");
  const std::vector<Tensor> inputs = run_inputs(f, 2);
  std::vector<TensorRef> refs;
  for (const Tensor& t : inputs) refs.push_back(t.ref());

  // The same run as the command: SGD lr 0.5 momentum 0.9, 100 steps on the fixture's batch.
  Bundle bundle = open_fixture(f);
  auto session = TrainingSession::load(bundle, "model");
  ASSERT_TRUE(session.ok());
  Sgd sgd(SgdOptions{0.5, 0.9, 0, 0, false});
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(session->forward_backward(refs).ok());
    ASSERT_TRUE(sgd.step(*session).ok());
  }
  const std::string path = ::testing::TempDir() + "/etp_again.ptd";
  ASSERT_TRUE(save_checkpoint(*session, &sgd, path).ok());
  EXPECT_EQ(read_bytes(path), read_bytes(checkpoint)) << "etp no longer writes the committed checkpoint's bytes";

  auto loaded = Bundle::open(BundleSpec::for_program(fixture_path(f["program"]), {checkpoint}), kOptions);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  auto method = loaded->load_method("model");
  ASSERT_TRUE(method.ok());
  auto outputs = method->run(refs);
  ASSERT_TRUE(outputs.ok()) << outputs.status().to_string();
  EXPECT_NEAR((*outputs)[0].value(0), ref["executorch_loss"].get<double>(), 1e-6);
  const std::vector<std::string>& names = session->parameter_names();  // the outputs' order
  ASSERT_EQ(ref["executorch_parameters"].size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    const nlohmann::json& values = ref["executorch_parameters"][names[i]];
    const Tensor& p = (*outputs)[1 + names.size() + i];
    ASSERT_EQ(static_cast<size_t>(p.numel()), values.size()) << names[i];
    for (int64_t j = 0; j < p.numel(); ++j) EXPECT_EQ(p.value(j), values[static_cast<size_t>(j)].get<double>());
  }
}

}  // namespace
}  // namespace etp::test
