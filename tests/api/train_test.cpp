// Training on ExecuTorch's joint forward-backward programs (include/etp/train.h): etp's SGD
// reproduces ExecuTorch's own training loop (its runtime's TrainingModule and its SGD, recorded by
// scripts/export_fixtures.py in the fixtures' `training` entries) step by step, with weights in
// the program and in an external .ptd; AdamW follows torch.optim.AdamW run on the same runtime's
// weights and gradients; and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "core/npy.h"
#include "etp/train.h"
#include "support/fixtures.h"

namespace etp::test {
namespace {

const BundleOptions kOptions{{ETP_PLUGIN_DIR}, /*use_environment=*/false};

Bundle open_fixture(const nlohmann::json& f) {
  std::vector<std::string> data;
  for (const auto& d : f["data_files"]) data.push_back(fixture_path(d));
  auto bundle = Bundle::open(BundleSpec::for_program(fixture_path(f["program"]), data), kOptions);
  EXPECT_TRUE(bundle.ok()) << bundle.status().to_string();
  return std::move(*bundle);
}

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
    const std::vector<Tensor> inputs = run_inputs(f, 2);
    std::vector<TensorRef> refs;
    for (const Tensor& t : inputs) refs.push_back(t.ref());
    for (const auto& [case_name, c] : f["training"]["cases"].items()) {
      Bundle bundle = open_fixture(f);  // fresh weights for each case
      auto session = TrainingSession::load(bundle, "model");
      ASSERT_TRUE(session.ok()) << session.status().to_string();
      EXPECT_EQ(session->parameter_names().size(), 4u);
      std::unique_ptr<Optimizer> optimizer = make_optimizer(c);
      const double tolerance = 1e-5;  // the bound; the runs land far inside it
      const int steps = f["training"]["steps"];
      for (int step = 1; step <= steps; ++step) {
        ASSERT_TRUE(session->forward_backward(refs).ok());
        EXPECT_NEAR(session->loss(), c["losses"][step - 1].get<double>(), tolerance)
            << f["name"] << " " << case_name << " step " << step;
        ASSERT_TRUE(optimizer->step(*session).ok());
        const std::string key = std::to_string(step);
        if (!c["params"].contains(key)) continue;
        for (const auto& [fqn, values] : c["params"][key].items()) {
          int64_t n = 0;
          const float* p = session->parameter(fqn, &n);
          ASSERT_NE(p, nullptr) << fqn;
          ASSERT_EQ(static_cast<size_t>(n), values.size());
          for (int64_t i = 0; i < n; ++i) {
            EXPECT_NEAR(p[i], values[static_cast<size_t>(i)].get<double>(), tolerance)
                << f["name"] << " " << case_name << " step " << step << " " << fqn << "[" << i << "]";
          }
        }
      }
      EXPECT_EQ(optimizer->state().step, steps);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 6) << "xor_train and xor_train_external, three cases each";
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

}  // namespace
}  // namespace etp::test
