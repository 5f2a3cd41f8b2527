// `etp train` as a user types it: ExecuTorch's loss trajectory on the XOR fixture, checkpoints that
// survive SIGKILL at any moment, resume equal to an uninterrupted run, evaluation, the on-device
// LoRA fine-tune end to end (train, then generate with the trained adapter), and usage errors.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli_test_support.h"
#include "support/sanitizers.h"

extern char** environ;

namespace etp::test {
namespace {

const std::string kXor = std::string(ETP_FIXTURES_MANIFEST) + " --model xor_train_external";

std::string slurp(const std::string& path);

TEST(TrainCommandTest, LossesFollowExecuTorchsTrajectory) {
  const nlohmann::json f = fixture_named("xor_train_external");
  const nlohmann::json& c = f["training"]["cases"]["sgd_momentum"];
  const nlohmann::json& o = c["options"];
  std::string out;
  ASSERT_EQ(etp("train " + kXor + " --steps 50 --json --lr " + std::to_string(o["lr"].get<double>()) + " --momentum " +
                    std::to_string(o["momentum"].get<double>()) + " --dampening " +
                    std::to_string(o["dampening"].get<double>()) + " --weight-decay " +
                    std::to_string(o["weight_decay"].get<double>()) + " --nesterov",
                &out),
            0)
      << out;
  const nlohmann::json doc = nlohmann::json::parse(out.substr(out.find('{')));
  ASSERT_EQ(doc["steps"].size(), 50u);
  for (size_t i = 0; i < 50; ++i) {
    EXPECT_NEAR(doc["steps"][i]["loss"].get<double>(), c["losses"][i].get<double>(), 1e-5) << "step " << i + 1;
  }
  EXPECT_GT(doc["ms_per_step"].get<double>(), 0);
}

// Programs that return predictions get their accuracy over the whole data: XOR reaches 100 %, the
// 3-class blobs (90 samples, batches of 30) at least 95 %, and one step is not there yet.
TEST(TrainCommandTest, ClassifiersReachFullAccuracy) {
  std::string out;
  ASSERT_EQ(etp("train " ETP_FIXTURES_MANIFEST " --model xor_classify_train --steps 300 --lr 0.5 --momentum 0.9 --json",
                &out),
            0)
      << out;
  nlohmann::json doc = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(doc["accuracy"], 1.0) << out;
  out.clear();
  ASSERT_EQ(
      etp("train " ETP_FIXTURES_MANIFEST " --model blobs_mlp_train --steps 60 --lr 0.1 --momentum 0.9 --json", &out), 0)
      << out;
  doc = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_GE(doc["accuracy"].get<double>(), 0.95) << out;
  out.clear();
  const std::string svg = ::testing::TempDir() + "/blobs_loss.svg";
  ASSERT_EQ(etp("train " ETP_FIXTURES_MANIFEST " --model blobs_mlp_train --steps 5 --svg " + svg, &out), 0) << out;
  const std::string drawn = slurp(svg);
  EXPECT_EQ(drawn.rfind("<svg", 0), 0u) << drawn;
  EXPECT_NE(drawn.find("<polyline"), std::string::npos);
  EXPECT_NE(drawn.find("blobs_mlp_train: loss per step (sgd, lr 0.1)"), std::string::npos);
  out.clear();
  ASSERT_EQ(etp("train " ETP_FIXTURES_MANIFEST " --model blobs_mlp_train --steps 1 --json", &out), 0) << out;
  doc = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_LT(doc["accuracy"].get<double>(), 0.95) << "untrained";
  out.clear();
  ASSERT_EQ(etp("train " + kXor + " --steps 1 --json", &out), 0) << out;
  doc = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_TRUE(doc["accuracy"].is_null()) << "xor_train returns no predictions";
}

// With `shuffle: true` the batches come in a seeded permutation per pass: the same seed gives the
// same run, another seed another one, and both differ from the unshuffled order.
TEST(TrainCommandTest, ShuffledBatchesAreSeeded) {
  const std::string dir = ::testing::TempDir() + "/etp_train_shuffle";
  std::filesystem::create_directories(dir);
  const std::string x = fixture_path("blobs_mlp_train.train_x.npy"), y = fixture_path("blobs_mlp_train.train_y.npy");
  auto manifest = [&](const std::string& train) {
    const std::string path = dir + "/m" + std::to_string(std::hash<std::string>{}(train)) + ".yaml";
    std::ofstream(path) << "etp: 1\nplugins:\n  portable: { library: libetp_portable.so }\nmodels:\n"
                        << "  blobs:\n    program: " << fixture_path("blobs_mlp_train.pte")
                        << "\n    train: { inputs: [" << x << ", " << y << "]" << train << " }\n";
    return path;
  };
  auto losses = [&](const std::string& train) {
    std::string out;
    EXPECT_EQ(etp("train " + manifest(train) + " --steps 9 --lr 0.1 --json", &out), 0) << out;
    const nlohmann::json doc = nlohmann::json::parse(out.substr(out.find('{')));
    std::vector<double> l;
    for (const auto& s : doc["steps"]) l.push_back(s["loss"]);
    return l;
  };
  const auto in_order = losses(""), seeded = losses(", shuffle: true, seed: 5"),
             again = losses(", shuffle: true, seed: 5"), other = losses(", shuffle: true, seed: 6");
  EXPECT_EQ(seeded, again);
  EXPECT_NE(seeded, other);
  EXPECT_NE(seeded, in_order);
  EXPECT_EQ(in_order.size(), 9u);
}

// Training data that do not fit the method are refused before any step, naming the file and what
// was expected: a dtype, a sample dimension, unequal sample counts, a batch the program cannot take.
TEST(TrainCommandTest, DataThatDoNotFitTheMethodAreNamed) {
  const std::string dir = ::testing::TempDir() + "/etp_train_data";
  std::filesystem::create_directories(dir);
  const std::string x = fixture_path("xor_train.run2.in0.npy"), y = fixture_path("xor_train.run2.in1.npy");
  const std::string blobs_x = fixture_path("blobs_mlp_train.train_x.npy");
  auto run = [&](const std::string& name, const std::string& train) {
    const std::string path = dir + "/" + name + ".yaml";
    std::ofstream(path) << "etp: 1\nplugins:\n  portable: { library: libetp_portable.so }\nmodels:\n  xor:\n"
                        << "    program: " << fixture_path("xor_train.pte") << "\n    train: { " << train << " }\n";
    std::string out;
    EXPECT_EQ(etp("train " + path + " --steps 1", &out), 1) << name;
    return out;
  };
  std::string out = run("swapped", "inputs: [" + y + ", " + x + "]");
  EXPECT_NE(out.find("xor_train.run2.in1.npy: dtype int64, input 0 of 'forward' takes float32"), std::string::npos)
      << out;
  out = run("one_array", "inputs: [" + x + "]");
  EXPECT_NE(out.find("`train:` names 1 arrays, method 'forward' takes 2 inputs"), std::string::npos) << out;
  out = run("counts", "inputs: [" + blobs_x + ", " + y + "]");
  EXPECT_NE(out.find("4 samples, the first array has 90"), std::string::npos) << out;
  out = run("batch", "inputs: [" + x + ", " + y + "], batch_size: 2");
  EXPECT_NE(out.find("batch_size 2, but input 0 of 'forward' takes exactly 4 rows"), std::string::npos) << out;
}

// Starts `etp args...` and returns its pid.
pid_t spawn(const std::vector<std::string>& args) {
  std::vector<std::string> all = {ETP_CLI_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Kills a training run that checkpoints every step at random moments, 50 times: whatever survives
// is a whole checkpoint (it verifies), and resuming from it ends with the uninterrupted run's
// weights, bit for bit.
TEST(TrainCommandTest, CheckpointsSurviveSigkillAndResumeMatchesAnUninterruptedRun) {
  const std::string dir = ::testing::TempDir() + "/etp_train_kill";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::vector<std::string> common = {
      "train", ETP_FIXTURES_MANIFEST, "--model", "xor_train_external", "--steps", "150", "--lr",
      "0.1",   "--momentum",          "0.9"};
  std::string out;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(etp("train " + kXor + " --steps 150 --lr 0.1 --momentum 0.9 --checkpoint " + dir +
                    "/straight.ptd --checkpoint-every 1 --save-npy " + dir + "/straight",
                &out),
            0)
      << out;
  const auto full = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  std::mt19937 rng(7);
  int survived = 0;
  for (int kill = 0; kill < 50; ++kill) {
    const std::string checkpoint = dir + "/killed.ptd";
    std::filesystem::remove(checkpoint);
    std::vector<std::string> args = common;
    args.insert(args.end(), {"--checkpoint", checkpoint, "--checkpoint-every", "1"});
    const pid_t pid = spawn(args);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % static_cast<uint32_t>(full.count() + 1)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!std::filesystem::exists(checkpoint)) continue;  // killed before its first checkpoint
    ++survived;
    out.clear();
    ASSERT_EQ(etp("inspect " + checkpoint, &out), 0) << "kill " << kill << ": a torn checkpoint\n" << out;
    out.clear();
    const std::string resumed = dir + "/resumed";
    std::filesystem::remove_all(resumed);
    ASSERT_EQ(
        etp("train " + kXor + " --steps 150 --lr 0.1 --momentum 0.9 --resume " + checkpoint + " --save-npy " + resumed,
            &out),
        0)
        << out;
    for (const auto& entry : std::filesystem::directory_iterator(dir + "/straight")) {
      EXPECT_EQ(slurp(entry.path()), slurp(resumed + "/" + entry.path().filename().string()))
          << "kill " << kill << ": " << entry.path().filename();
    }
  }
  std::printf("%d of 50 kills left a checkpoint; each verified and resumed to the same weights\n", survived);
  EXPECT_GE(survived, 10) << "most kills should land after the first checkpoint";
}

// --eval: one in-order pass that changes nothing. On XOR (one batch of all four samples) its loss
// is ExecuTorch's first training loss on the same weights; after training it is lower and the
// accuracy is the training run's; held-out arrays from the manifest's `eval:` are used when given.
TEST(TrainCommandTest, EvalMeasuresTheLossWithoutTraining) {
  const nlohmann::json f = fixture_named("xor_classify_train");
  std::string out;
  ASSERT_EQ(etp("train " ETP_FIXTURES_MANIFEST " --model xor_classify_train --eval --json", &out), 0) << out;
  nlohmann::json doc = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_TRUE(doc["steps"].empty());
  EXPECT_EQ(doc["eval"]["data"], "train");
  EXPECT_EQ(doc["eval"]["samples"], 4);
  EXPECT_EQ(doc["eval"]["batches"], 1);
  EXPECT_NEAR(doc["eval"]["loss"].get<double>(), f["training"]["cases"]["sgd"]["losses"][0].get<double>(), 1e-5);

  const std::string dir = ::testing::TempDir() + "/etp_train_eval";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  out.clear();
  ASSERT_EQ(etp("train " ETP_FIXTURES_MANIFEST " --model blobs_mlp_train --steps 60 --lr 0.1 --momentum 0.9 --eval "
                "--json --optimizer sgd --checkpoint " +
                    dir + "/blobs.ptd",
                &out),
            0)
      << out;
  doc = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_LT(doc["eval"]["loss"].get<double>(), doc["steps"][0]["loss"].get<double>() / 4);
  EXPECT_EQ(doc["eval"]["accuracy"], doc["accuracy"]);
  EXPECT_EQ(doc["eval"]["batches"], 3);  // 90 samples in batches of 30

  // Held-out data named by the manifest; evaluating a checkpoint needs no optimizer.
  const nlohmann::json blobs = fixture_named("blobs_mlp_train");
  std::ofstream(dir + "/eval.yaml") << "etp: 1\nplugins:\n  portable: { library: libetp_portable.so }\nmodels:\n"
                                       "  blobs:\n    program: "
                                    << fixture_path(blobs["program"]) << "\n    train:\n      inputs: ["
                                    << fixture_path(blobs["train_data"][0]) << ", "
                                    << fixture_path(blobs["train_data"][1]) << "]\n      eval: ["
                                    << fixture_path(blobs["runs"][2]["inputs"][0]["file"]) << ", "
                                    << fixture_path(blobs["runs"][2]["inputs"][1]["file"]) << "]\n";
  out.clear();
  ASSERT_EQ(etp("train " + dir + "/eval.yaml --eval --resume " + dir + "/blobs.ptd", &out), 0) << out;
  EXPECT_NE(out.find("blobs: eval on the held-out data (30 samples, 1 batches): loss "), std::string::npos) << out;
  EXPECT_EQ(out.find("steps of"), std::string::npos) << "nothing trained\n" << out;
}

// The on-device LoRA fine-tune of manifests/lora_finetune.yaml as its header describes it: etp
// trains the adapters of ExecuTorch's joint graph over the frozen foundation, writes them as a
// .ptd, and the inference program, run on the same foundation with that adapter in place of the
// initial one, multiplies where the base adds. The foundation file is shared by all three models.
TEST(TrainCommandTest, OnDeviceLoraFineTuneTeachesTheBaseToMultiply) {
  const std::string dir = ::testing::TempDir() + "/etp_lora_finetune";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
#if ETP_TEST_ASAN
  const int steps = 40;  // the sanitizers check the same code paths; learning takes longer
#else
  const int steps = 300;
#endif
  std::string out;
  ASSERT_EQ(etp("train " ETP_FINETUNE_MANIFEST " --model train --steps " + std::to_string(steps) +
                    " --optimizer adamw --lr 0.003 --weight-decay 0 --eval --json --checkpoint " + dir + "/adapter.ptd",
                &out),
            0)
      << out;
  const nlohmann::json trained = nlohmann::json::parse(out.substr(out.find('{')));
  ASSERT_EQ(trained["steps"].size(), static_cast<size_t>(steps));
  const double first = trained["steps"][0]["loss"];
  EXPECT_LT(trained["eval"]["loss"].get<double>(), first / 2) << out;

  out.clear();
  const std::vector<std::pair<int, int>> prompts = {{7, 8}, {12, 12}, {3, 9}, {0, 5}, {11, 4}};
  std::string args = "generate " ETP_FINETUNE_MANIFEST
                     " --model base --model tuned --json --memory-report --data "
                     "tuned_adapter=" +
                     dir + "/adapter.ptd";
  for (const auto& [a, b] : prompts) args += " --prompt '" + std::to_string(a) + " " + std::to_string(b) + "='";
  ASSERT_EQ(etp(args, &out), 0) << out;
  const nlohmann::json doc = nlohmann::json::parse(out.substr(out.find('{')));
  int sums = 0, products = 0, changed = 0;
  for (const nlohmann::json& g : doc["generations"]) {
    const std::string prompt = g["prompt"];
    const size_t i = static_cast<size_t>(std::find_if(prompts.begin(), prompts.end(),
                                                      [&](const auto& p) {
                                                        return prompt == std::to_string(p.first) + " " +
                                                                             std::to_string(p.second) + "=";
                                                      }) -
                                         prompts.begin());
    ASSERT_LT(i, prompts.size()) << prompt;
    const auto [a, b] = prompts[i];
    const std::string text = g["text"];
    if (g["model"] == "base") sums += text == std::to_string(a + b);
    if (g["model"] == "tuned") {
      products += text == std::to_string(a * b);
      changed += text != std::to_string(a + b);
    }
  }
  EXPECT_EQ(sums, 5) << "the base (the initial adapter, B = 0) adds\n" << out;
  if constexpr (ETP_TEST_ASAN) {
    EXPECT_GE(changed, 1) << "the trained adapter changes the answers\n" << out;
  } else {
    EXPECT_GE(products, 4) << "the trained adapter multiplies (99 % of the 169 products after 300 steps)\n" << out;
  }
  // One foundation for both models: `tuned` owns only its adapter file and the program.
  const nlohmann::json& memory = doc["memory"]["models"];
  ASSERT_EQ(memory.size(), 2u) << doc["memory"].dump();
  for (const nlohmann::json& m : memory) {
    EXPECT_LT(m["unique_bytes"].get<double>(), 450560.0) << m.dump() << ": the foundation is not private";
    EXPECT_NE(m["shared_data"].dump().find("foundation"), std::string::npos) << m.dump();
  }
}

// --data NAME=FILE names what it cannot use.
TEST(TrainCommandTest, ReplacedDataFilesAreChecked) {
  std::string out;
  EXPECT_EQ(etp("generate " ETP_FINETUNE_MANIFEST " --model base --prompt '1 2=' --data adapterX=/nonexistent", &out),
            1);
  EXPECT_NE(out.find("no data entry 'adapterX' to replace (data: foundation, adapter, tuned_adapter)"),
            std::string::npos)
      << out;
  out.clear();
  EXPECT_EQ(
      etp("generate " ETP_FINETUNE_MANIFEST " --model base --prompt '1 2=' --data adapter=/nonexistent.ptd", &out), 1);
  EXPECT_NE(out.find("data 'adapter': replacement file /nonexistent.ptd does not exist"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("run " ETP_FINETUNE_MANIFEST " --model base --data adapter", &out), 2);
  EXPECT_NE(out.find("--data with a manifest takes NAME=FILE"), std::string::npos) << out;
  out.clear();
  // A file without the keys the program reads fails at load, naming the key.
  EXPECT_EQ(etp("generate " ETP_FINETUNE_MANIFEST " --model tuned --prompt '1 2=' --data tuned_adapter=" +
                    fixture_path("linear_portable.ptd"),
                &out),
            1);
  EXPECT_NE(out.find("lora_a.weight"), std::string::npos) << out;
}

TEST(TrainCommandTest, UsageAndDataErrorsAreNamed) {
  std::string out;
  EXPECT_EQ(etp("train " + kXor, &out), 2);
  EXPECT_NE(out.find("--steps needs a positive integer (or --eval)"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("train " + kXor + " --steps 2 --optimizer adam", &out), 2);
  EXPECT_NE(out.find("--optimizer must be sgd or adamw, got 'adam'"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("train " + kXor + " --steps 2 --optimizer adamw --momentum 0.9", &out), 2);
  out.clear();
  EXPECT_EQ(etp("train " + kXor + " --steps 2 --checkpoint-every 1", &out), 2);
  out.clear();
  EXPECT_EQ(etp("train " ETP_FIXTURES_MANIFEST " --model add --steps 2", &out), 1);
  EXPECT_NE(out.find("model 'add' has no `train:` section"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(etp("train " + kXor + " --steps 2 --resume " + fixture_path("linear_portable.ptd"), &out), 1);
  EXPECT_NE(out.find("no tensor 'net."), std::string::npos) << out;
  EXPECT_EQ(etp("train --help", &out), 0);
}

}  // namespace
}  // namespace etp::test
