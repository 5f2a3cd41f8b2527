// The library's sample runner (include/etp/runner.h), which `etp run` prints.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "etp/runner.h"
#include "support/fixtures.h"
#include "support/status.h"

namespace etp::test {
namespace {

namespace fs = std::filesystem;

const BundleOptions kOptions{{ETP_PLUGIN_DIR}, /*use_environment=*/false, {}};

Bundle open_demo() {
  auto bundle = Bundle::open(ETP_LORA_MANIFEST, kOptions);
  EXPECT_TRUE(bundle.ok()) << bundle.status().to_string();
  return std::move(*bundle);
}

// A temporary folder holding `manifest` as bundle.yaml; removed at the end of the test.
class TempManifest {
 public:
  explicit TempManifest(const std::string& manifest) {
    char pattern[] = "/tmp/etp_runner_XXXXXX";
    folder_ = ::mkdtemp(pattern);
    path_ = folder_ + "/bundle.yaml";
    std::ofstream(path_) << manifest;
  }
  ~TempManifest() { fs::remove_all(folder_); }
  const std::string& path() const { return path_; }
  const std::string& folder() const { return folder_; }

 private:
  std::string folder_, path_;
};

// A manifest with model `add` (portable) whose one sample run expects `expected` (a fixture file).
std::string add_manifest(const std::string& expected) {
  return "etp: 1\n"
         "plugins:\n  portable: { library: libetp_portable.so }\n"
         "models:\n"
         "  add:\n    program: " +
         fixture_path("add.pte") +
         "\n"
         "    runs:\n      - inputs: [" +
         fixture_path("add.run0.in0.npy") + ", " + fixture_path("add.run0.in1.npy") + "]\n        expected: [" +
         fixture_path(expected) + "]\n";
}

// run_bundle with checks on; the request itself must be accepted.
BundleReport run_checked(const Bundle& bundle) {
  RunOptions options;
  options.check = true;
  auto report = run_bundle(bundle, options);
  EXPECT_TRUE(report.ok()) << report.status().to_string();
  return report.ok() ? std::move(*report) : BundleReport{};
}

TEST(RunnerTest, TheDemoBundleRunsAndEveryOutputMatches) {
  Bundle bundle = open_demo();
  RunOptions options;
  options.check = true;
  options.memory_report = true;
  size_t progress_calls = 0;
  options.progress = [&](size_t, size_t count, const std::string&) {
    ++progress_calls;
    EXPECT_EQ(count, 3u);
  };
  auto report = run_bundle(bundle, options);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_TRUE(report->ok);
  EXPECT_EQ(progress_calls, 3u);
  ASSERT_EQ(report->models.size(), 3u);
  for (const ModelReport& m : report->models) {
    EXPECT_TRUE(m.ok) << m.model << ": " << m.error;
    EXPECT_TRUE(m.checked);
    ASSERT_EQ(m.runs.size(), 5u);
    for (const RunReport& r : m.runs) {
      EXPECT_EQ(r.inputs, "manifest");
      ASSERT_EQ(r.outputs.size(), 1u);
      EXPECT_EQ(r.outputs[0].check, CheckResult::kPass) << r.outputs[0].mismatch;
    }
  }
  EXPECT_FALSE(report->weight_caches.empty());  // the foundation is packed once, shared
  for (const CacheEntryReport& c : report->weight_caches) EXPECT_EQ(c.users.size(), 3u) << c.key;
  EXPECT_FALSE(report->memory_json.empty());
  const std::string text = report->to_text(/*verbose=*/false);
  EXPECT_NE(text.find("check: all outputs match"), std::string::npos) << text;
  EXPECT_NE(text.find("memory report"), std::string::npos);
  const auto json = nlohmann::json::parse(report->to_json());
  EXPECT_EQ(json["manifest"], ETP_LORA_MANIFEST);
  EXPECT_EQ(json["models"][0]["runs"][0]["outputs"][0]["check"], "pass");
  EXPECT_TRUE(json["ok"].get<bool>());
}

// A program alone runs once on seeded random inputs; the result is the sum of the inputs
// random_tensor gives for the same seeds, and the report says where the inputs came from.
TEST(RunnerTest, AProgramWithoutInputsRunsOnSeededRandomInputs) {
  auto bundle = Bundle::open(BundleSpec::for_program(fixture_path("add.pte")), kOptions);
  ASSERT_TRUE(bundle.ok()) << bundle.status().to_string();
  RunOptions options;
  options.seed = 42;
  const std::string out_dir = "/tmp/etp_runner_random_out";
  options.output_dir = out_dir;
  auto report = run_bundle(*bundle, options);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  ASSERT_TRUE(report->ok) << report->models[0].error;
  EXPECT_TRUE(report->from_program);
  const RunReport& run = report->models[0].runs.at(0);
  EXPECT_EQ(run.inputs, "random (seed 42)");
  auto model = bundle->model("model");
  ASSERT_TRUE(model.ok());
  const TensorInfo& info = model->methods[0].inputs[0].tensor;
  const Tensor a = *random_tensor(info, 42), b = *random_tensor(info, 43);
  EXPECT_NE(a.data, b.data);
  EXPECT_EQ(a.data, random_tensor(info, 42)->data);  // deterministic
  for (int64_t i = 0; i < a.numel(); ++i) {
    EXPECT_GE(a.value(i), -1.0);
    EXPECT_LT(a.value(i), 1.0);
  }
  // The written output is a + b.
  const std::vector<uint8_t> bytes = read_bytes(run.outputs[0].file);
  ASSERT_EQ(bytes.size(), 128u + 24 * 4);  // a 128-byte .npy header, then 24 floats
  const float* sum = reinterpret_cast<const float*>(bytes.data() + 128);
  for (int64_t i = 0; i < 24; ++i) EXPECT_FLOAT_EQ(sum[i], static_cast<float>(a.value(i) + b.value(i)));
  EXPECT_NE(report->to_text(false).find("(inputs: random (seed 42))"), std::string::npos);
  fs::remove_all(out_dir);
}

TEST(RunnerTest, ARandomInputLargerThanMemoryIsRefused) {
  const TensorInfo huge{DType::kFloat32, {1 << 30, 1 << 30}, {0, 1}, false};
  auto t = random_tensor(huge, 0);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kOutOfMemory);
  const TensorInfo overflow{DType::kFloat32, {INT64_MAX, 4}, {0, 1}, false};
  EXPECT_EQ(overflow.nbytes(), SIZE_MAX);
  EXPECT_EQ(random_tensor(overflow, 0).status().code(), StatusCode::kOutOfMemory);
}

TEST(RunnerTest, CheckingWithoutExpectedOutputsIsNotASuccess) {
  auto bundle = Bundle::open(BundleSpec::for_program(fixture_path("add.pte")), kOptions);
  ASSERT_TRUE(bundle.ok());
  const BundleReport report = run_checked(*bundle);
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.to_text(false).find("check: nothing to compare"), std::string::npos);
}

// A model that fails to load is reported as failed; the check line does not claim a
// mismatch for a comparison that never ran.
TEST(RunnerTest, ALoadFailureIsNotReportedAsAMismatch) {
  TempManifest manifest(add_manifest("add.run0.out0.npy") +
                        "  linear:\n    program: " + fixture_path("linear_portable.pte") + "\n");
  auto bundle = Bundle::open(manifest.path(), kOptions);
  ASSERT_TRUE(bundle.ok()) << bundle.status().to_string();
  const BundleReport report = run_checked(*bundle);
  EXPECT_FALSE(report.ok);
  ASSERT_EQ(report.models.size(), 2u);
  EXPECT_TRUE(report.models[0].ok);
  EXPECT_FALSE(report.models[1].ok);
  EXPECT_NE(report.models[1].error.find("no data file has it"), std::string::npos) << report.models[1].error;
  const std::string text = report.to_text(false);
  EXPECT_EQ(text.find("MISMATCH"), std::string::npos) << text;
  EXPECT_NE(text.find("1 model(s) failed before their check"), std::string::npos) << text;
}

TEST(RunnerTest, AWrongExpectedOutputIsAMismatch) {
  TempManifest manifest(add_manifest("add.run0.in0.npy"));  // the wrong expected output
  auto bundle = Bundle::open(manifest.path(), kOptions);
  ASSERT_TRUE(bundle.ok());
  const BundleReport report = run_checked(*bundle);
  EXPECT_FALSE(report.ok);
  ASSERT_EQ(report.models.size(), 1u);
  EXPECT_EQ(report.models[0].runs.at(0).outputs.at(0).check, CheckResult::kFail);
  EXPECT_NE(report.to_text(false).find("check: MISMATCH"), std::string::npos);
}

TEST(RunnerTest, BadRequestsFailWithoutRunning) {
  Bundle bundle = open_demo();
  RunOptions unknown;
  unknown.models = {"nope"};
  auto report = run_bundle(bundle, unknown);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kNotFound);
  RunOptions inputs;
  inputs.input_files = {fixture_path("add.run0.in0.npy")};
  report = run_bundle(bundle, inputs);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("input files belong to one model"), std::string::npos);
  RunOptions iterations;
  iterations.iterations = 0;
  EXPECT_FALSE(run_bundle(bundle, iterations).ok());
}

TEST(RunnerTest, AMethodWithoutSampleRunsIsReportedAsSuch) {
  Bundle bundle = open_demo();
  RunOptions options;
  options.models = {"base"};
  options.method = "prefill";
  auto report = run_bundle(bundle, options);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_FALSE(report->ok);
  EXPECT_NE(report->models[0].error.find("model 'base' has no sample runs of method 'prefill'"), std::string::npos)
      << report->models[0].error;
}

TEST(RunnerTest, InputFilesReplaceTheSampleRuns) {
  auto bundle = Bundle::open(BundleSpec::for_program(fixture_path("add.pte")), kOptions);
  ASSERT_TRUE(bundle.ok());
  RunOptions options;
  options.input_files = {fixture_path("add.run0.in0.npy"), fixture_path("add.run0.in1.npy")};
  options.kernel_providers = true;
  auto report = run_bundle(*bundle, options);
  ASSERT_TRUE(report.ok());
  ASSERT_TRUE(report->ok) << report->models[0].error;
  EXPECT_EQ(report->models[0].runs[0].inputs, "files");
  ASSERT_EQ(report->models[0].kernel_providers.size(), 1u);
  EXPECT_EQ(report->models[0].kernel_providers[0].first, "forward: aten::add.out");
  EXPECT_EQ(report->models[0].kernel_providers[0].second, "portable");
  options.input_files = {fixture_path("add.run0.in0.npy")};
  report = run_bundle(*bundle, options);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok);
  EXPECT_NE(report->models[0].error.find("takes 2 inputs, got 1"), std::string::npos) << report->models[0].error;
}

}  // namespace
}  // namespace etp::test
