// The public C++ API (include/etp/etp.h) on the real fixtures and plugins: only public headers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include "api/api_fixtures.h"
#include "etp/etp.h"
#include "support/fixtures.h"
#include "support/status.h"

namespace etp::test {
namespace {

// A .npy file of the fixtures as an owned Tensor (minimal reader: v1 headers, C order).
Tensor read_fixture_npy(const std::string& name) {
  const std::vector<uint8_t> bytes = read_bytes(fixture_path(name));
  EXPECT_GT(bytes.size(), 10u) << name;
  const size_t header_len = bytes[8] | (bytes[9] << 8);
  const std::string header(bytes.begin() + 10, bytes.begin() + 10 + static_cast<std::ptrdiff_t>(header_len));
  static const std::map<std::string, DType> kTypes = {
      {"<f4", DType::kFloat32}, {"<f8", DType::kFloat64},   {"<i8", DType::kInt64},      {"<i4", DType::kInt32},
      {"|b1", DType::kBool},    {"<f2", DType::kFloat16},   {"|u1", DType::kUInt8},      {"|i1", DType::kInt8},
      {"<i2", DType::kInt16},   {"<c8", DType::kComplex64}, {"<c16", DType::kComplex128}};
  Tensor t;
  bool known = false;
  for (const auto& [descr, dtype] : kTypes) {
    if (header.find("'" + descr + "'") != std::string::npos) {
      t.dtype = dtype;
      known = true;
    }
  }
  EXPECT_TRUE(known) << name << ": a dtype this reader does not know: " << header;
  const size_t open = header.find("'shape': (") + 10, close = header.find(')', open);
  std::string dims = header.substr(open, close - open);
  for (size_t start = 0; start < dims.size();) {
    const size_t comma = dims.find(',', start);
    const std::string item = dims.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.find_first_of("0123456789") != std::string::npos) t.sizes.push_back(std::stoll(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  t.data.assign(bytes.begin() + 10 + static_cast<std::ptrdiff_t>(header_len), bytes.end());
  return t;
}

::testing::AssertionResult close_to(const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (got.dtype != want.dtype) return ::testing::AssertionFailure() << "dtype " << dtype_name(got.dtype);
  if (got.sizes != want.sizes) return ::testing::AssertionFailure() << "sizes differ";
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = got.value(i), w = want.value(i);
    if (!(std::fabs(g - w) <= atol + rtol * std::fabs(w)) && !(std::isnan(g) && std::isnan(w))) {
      return ::testing::AssertionFailure() << "element " << i << ": " << g << " vs " << w;
    }
  }
  return ::testing::AssertionSuccess();
}

class ApiFixtureTest : public ::testing::TestWithParam<std::string> {};

// Every fixture, opened from its parts and run through Method::run, reproduces the outputs
// the real ExecuTorch runtime gave (state such as KV caches carries from run to run).
TEST_P(ApiFixtureTest, ReproducesTheExecuTorchOutputs) {
  const nlohmann::json f = fixture_named(GetParam());
  Bundle bundle = open_fixture(f);
  std::map<std::string, Method> methods;
  size_t index = 0;
  for (const auto& run : f["runs"]) {
    const std::string name = run["method"];
    if (!methods.count(name)) {
      auto method = bundle.load_method("model", name);
      ASSERT_TRUE(method.ok()) << method.status().to_string();
      methods.emplace(name, std::move(*method));
    }
    std::vector<Tensor> inputs;
    std::vector<TensorRef> refs;
    for (const auto& in : run["inputs"]) inputs.push_back(read_fixture_npy(in["file"]));
    for (const Tensor& t : inputs) refs.push_back(t.ref());
    auto outputs = methods.at(name).run(refs);
    ASSERT_TRUE(outputs.ok()) << "run " << index << ": " << outputs.status().to_string();
    ASSERT_EQ(outputs->size(), run["outputs"].size());
    for (size_t o = 0; o < outputs->size(); ++o) {
      EXPECT_TRUE(close_to((*outputs)[o], read_fixture_npy(run["outputs"][o]["file"]), f["rtol"], f["atol"]))
          << f["name"] << " run " << index << " output " << o;
    }
    ++index;
  }
}

// With read_files, weights are in memory, not mapped: the XNNPACK plugin's release of the raw
// bytes after packing must not drop them (they would read back as zeros), so a method loaded
// again after the first was destroyed, which packs them again, still reproduces ExecuTorch.
TEST(BundleTest, AMethodLoadedAgainFromFilesReadIntoMemoryStillMatches) {
  const nlohmann::json f = fixture_named("llama_demo_xnnpack");
  std::vector<std::string> data;
  for (const auto& d : f["data_files"]) data.push_back(fixture_path(d));
  BundleOptions options = kOptions;
  options.read_files = true;
  auto bundle = Bundle::open(BundleSpec::for_program(fixture_path(f["program"]), data), options);
  ASSERT_TRUE(bundle.ok()) << bundle.status().to_string();
  const auto& run = f["runs"][0];
  std::vector<Tensor> inputs;
  std::vector<TensorRef> refs;
  for (const auto& in : run["inputs"]) inputs.push_back(read_fixture_npy(in["file"]));
  for (const Tensor& t : inputs) refs.push_back(t.ref());
  for (int load = 0; load < 2; ++load) {
    auto method = bundle->load_method("model");
    ASSERT_TRUE(method.ok()) << method.status().to_string();
    auto outputs = method->run(refs);
    ASSERT_TRUE(outputs.ok()) << outputs.status().to_string();
    EXPECT_TRUE(close_to((*outputs)[0], read_fixture_npy(run["outputs"][0]["file"]), f["rtol"], f["atol"]))
        << "load " << load;
  }
}

std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  for (const auto& f : all_fixtures()) names.push_back(f["name"]);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ApiFixtureTest, ::testing::ValuesIn(fixture_names()),
                         [](const auto& info) { return info.param; });

TEST(BundleTest, AManifestListsItsModelsPluginsAndMethodSignatures) {
  auto bundle = Bundle::open(ETP_LORA_MANIFEST, kOptions);
  ASSERT_TRUE(bundle.ok()) << bundle.status().to_string();
  EXPECT_EQ(bundle->models(), (std::vector<std::string>{"base", "lora_qvo_r8", "lora_k_ffn_r4"}));
  const std::vector<PluginInfo> plugins = bundle->plugins();
  ASSERT_EQ(plugins.size(), 2u);
  EXPECT_EQ(plugins[0].name, "portable");
  EXPECT_GT(plugins[0].num_kernels, 100u);
  EXPECT_EQ(plugins[1].backends, (std::vector<std::string>{"XnnpackBackend"}));
  auto model = bundle->model("base");
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  EXPECT_EQ(model->default_method, "forward");
  ASSERT_EQ(model->data_files.size(), 1u);
  const MethodInfo* forward = model->find_method("forward");
  ASSERT_NE(forward, nullptr);
  ASSERT_EQ(forward->inputs.size(), 2u);
  EXPECT_EQ(forward->inputs[0].kind, ValueKind::kTensor);
  EXPECT_EQ(forward->inputs[0].tensor.dtype, DType::kInt64);
  EXPECT_EQ(forward->inputs[0].tensor.sizes, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(forward->outputs[0].tensor.sizes, (std::vector<int64_t>{1, 1, 128}));
  EXPECT_FALSE(forward->backends.empty());
}

TEST(BundleTest, AnUnknownModelIsNotFoundAndTheModelsAreListed) {
  auto bundle = Bundle::open(ETP_LORA_MANIFEST, kOptions);
  ASSERT_TRUE(bundle.ok());
  auto method = bundle->load_method("nope");
  ASSERT_FALSE(method.ok());
  EXPECT_EQ(method.status().code(), StatusCode::kNotFound);
  EXPECT_NE(method.status().message().find("no model 'nope' (models: base, lora_qvo_r8, lora_k_ffn_r4)"),
            std::string::npos)
      << method.status().message();
}

TEST(BundleTest, AProgramOrDataFilePassedAsAManifestIsNamedAsSuch) {
  auto program = Bundle::open(fixture_path("add.pte"), kOptions);
  ASSERT_FALSE(program.ok());
  EXPECT_NE(program.status().message().find("is an ExecuTorch program (.pte), not a manifest"), std::string::npos)
      << program.status().message();
  auto data = Bundle::open(fixture_path("linear_portable.ptd"), kOptions);
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.status().message().find("is an ExecuTorch data file (.ptd), not a manifest"), std::string::npos);
  auto folder = Bundle::open(fixture_path(""), kOptions);
  ASSERT_FALSE(folder.ok());
  EXPECT_NE(folder.status().message().find("is a directory"), std::string::npos);
}

TEST(BundleTest, ASpecIsCheckedLikeAManifest) {
  BundleSpec missing = BundleSpec::for_program("/nonexistent/model.pte");
  auto bundle = Bundle::open(missing, kOptions);
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), StatusCode::kNotFound);
  EXPECT_NE(bundle.status().message().find("/nonexistent/model.pte does not exist"), std::string::npos);

  BundleSpec owner =
      BundleSpec::for_program(fixture_path("linear_portable.pte"), {fixture_path("linear_portable.ptd")});
  owner.data[0].weight_cache = "nobody";
  bundle = Bundle::open(owner, kOptions);
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bundle.status().message().find("weight_cache 'nobody'"), std::string::npos);

  BundleSpec plugin = BundleSpec::for_program(fixture_path("add.pte"), {}, {"no_such_plugin"});
  bundle = Bundle::open(plugin, kOptions);
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), StatusCode::kNotFound);
  EXPECT_NE(bundle.status().message().find("libetp_no_such_plugin.so not found"), std::string::npos);
}

// The instruction budget comes from BundleOptions over the model's max_instructions over the
// default; an execute that reaches it fails with kInvalidState.
TEST(MethodTest, TheInstructionBudgetComesFromTheBundleOrTheModel) {
  BundleSpec spec = BundleSpec::for_program(fixture_path("map_loop.pte"), {}, {"portable"});
  auto bundle = Bundle::open(spec, kOptions);
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  auto method = bundle->load_method("model");
  ASSERT_TRUE(method.ok()) << method.status().message();
  EXPECT_EQ(method->instruction_budget(), 10'000'000u);

  spec.models[0].max_instructions = 7;
  bundle = Bundle::open(spec, kOptions);
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  method = bundle->load_method("model");
  ASSERT_TRUE(method.ok()) << method.status().message();
  EXPECT_EQ(method->instruction_budget(), 7u);
  std::vector<float> xs(6 * 3, 0.5f), y(3, 2.0f);
  ASSERT_TRUE(method->set_input(0, TensorRef{DType::kFloat32, {6, 3}, xs.data(), xs.size() * 4}).ok());
  ASSERT_TRUE(method->set_input(1, TensorRef{DType::kFloat32, {3}, y.data(), y.size() * 4}).ok());
  const Status stopped = method->execute();
  EXPECT_EQ(stopped.code(), StatusCode::kInvalidState);
  EXPECT_NE(stopped.message().find("ran 7 instructions without finishing"), std::string::npos) << stopped.message();

  BundleOptions options = kOptions;
  options.max_instructions = 1000;
  bundle = Bundle::open(spec, options);
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  method = bundle->load_method("model");
  ASSERT_TRUE(method.ok()) << method.status().message();
  EXPECT_EQ(method->instruction_budget(), 1000u);
  ASSERT_TRUE(method->set_input(0, TensorRef{DType::kFloat32, {6, 3}, xs.data(), xs.size() * 4}).ok());
  ASSERT_TRUE(method->set_input(1, TensorRef{DType::kFloat32, {3}, y.data(), y.size() * 4}).ok());
  EXPECT_TRUE(method->execute().ok());
}

// The bundle's memory budget counts the planned memory of every loaded method, is checked
// before a load allocates, and is given back when a method goes.
TEST(BundleTest, PlannedMemoryIsChargedToTheBundlesBudget) {
  BundleSpec spec = BundleSpec::for_program(fixture_path("tiny_llama_portable.pte"),
                                            {fixture_path("tiny_llama_foundation_portable.ptd")}, {"portable"});
  auto bundle = Bundle::open(spec, kOptions);
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  auto method = bundle->load_method("model");
  ASSERT_TRUE(method.ok()) << method.status().message();
  const uint64_t planned = method->planned_bytes();
  ASSERT_GT(planned, 4096u);

  spec.memory_budget = planned + planned / 2;  // room for one method, not two
  bundle = Bundle::open(spec, kOptions);
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  {
    auto first = bundle->load_method("model");
    ASSERT_TRUE(first.ok()) << first.status().message();
    auto second = bundle->load_method("model");
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), StatusCode::kOutOfMemory);
    EXPECT_NE(second.status().message().find("its planned memory needs " + std::to_string(planned) +
                                             " bytes, more than the bundle's memory budget has left (" +
                                             std::to_string(planned / 2) + " of " + std::to_string(spec.memory_budget) +
                                             " bytes"),
              std::string::npos)
        << second.status().message();
  }
  auto again = bundle->load_method("model");  // the first method is gone, and its memory with it
  EXPECT_TRUE(again.ok()) << again.status().message();

  BundleOptions options = kOptions;
  options.memory_budget = 1024;  // over the spec's
  bundle = Bundle::open(spec, options);
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  EXPECT_EQ(bundle->load_method("model").status().code(), StatusCode::kOutOfMemory);
}

// A backend's workspace (ABI 1.3 charge_memory) counts too: the XNNPACK plugin charges its
// intermediates' arena before allocating it and gives it back when the method goes.
TEST(BundleTest, TheXnnpackWorkspaceIsChargedToTheBundlesBudget) {
  BundleSpec spec = BundleSpec::for_program(fixture_path("cnn_xnnpack.pte"), {}, {"xnnpack", "portable"});
  auto bundle = Bundle::open(spec, kOptions);
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  uint64_t planned = 0;
  {
    auto method = bundle->load_method("model");
    ASSERT_TRUE(method.ok()) << method.status().message();
    planned = method->planned_bytes();
  }
  spec.memory_budget = planned + 1;  // the planned memory fits, the workspace does not
  bundle = Bundle::open(spec, kOptions);
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  auto refused = bundle->load_method("model");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kOutOfMemory);
  const std::string& message = refused.status().message();
  const std::string asked = "failed to initialise (status 102): asked for ";
  const size_t at = message.find(asked);
  ASSERT_NE(at, std::string::npos) << message;
  EXPECT_NE(message.find("delegate 0 (XnnpackBackend"), std::string::npos) << message;
  EXPECT_NE(message.find(" bytes, more than the bundle's memory budget has left (1 of " +
                         std::to_string(spec.memory_budget) + " bytes"),
            std::string::npos)
      << message;
  const uint64_t workspace = std::stoull(message.substr(at + asked.size()));
  ASSERT_GT(workspace, 1024u);  // the conv's intermediates

  spec.memory_budget = planned + workspace;  // exactly one method's worth
  bundle = Bundle::open(spec, kOptions);
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  {
    auto first = bundle->load_method("model");
    ASSERT_TRUE(first.ok()) << first.status().message();
    EXPECT_EQ(bundle->load_method("model").status().code(), StatusCode::kOutOfMemory);
  }
  for (int i = 0; i < 3; ++i) {  // the workspace was given back with the method, every time
    auto again = bundle->load_method("model");
    ASSERT_TRUE(again.ok()) << again.status().message();
  }
}

TEST(BundleTest, ASpecWithRepeatedNamesBadShaOrNoModelsIsRefused) {
  BundleSpec twice = BundleSpec::for_program(fixture_path("add.pte"));
  twice.models.push_back(twice.models[0]);
  EXPECT_NE(Bundle::open(twice, kOptions).status().message().find("duplicate model name 'model'"), std::string::npos);
  BundleSpec sha = BundleSpec::for_program(fixture_path("linear_portable.pte"), {fixture_path("linear_portable.ptd")});
  sha.data[0].sha256 = "abc";
  EXPECT_NE(Bundle::open(sha, kOptions).status().message().find("sha256 must be 64 hexadecimal digits"),
            std::string::npos);
  BundleSpec none = BundleSpec::for_program(fixture_path("add.pte"));
  none.models.clear();
  EXPECT_EQ(Bundle::open(none, kOptions).status().code(), StatusCode::kInvalidArgument);
  BundleSpec threads = BundleSpec::for_program(fixture_path("add.pte"));
  threads.threads = 257;
  EXPECT_NE(Bundle::open(threads, kOptions).status().message().find("threads must be from 1 to 256"),
            std::string::npos);
}

TEST(BundleTest, ABinaryFilePassedAsAManifestIsNamedAsSuch) {
  auto npy = Bundle::open(fixture_path("add.run0.in0.npy"), kOptions);
  ASSERT_FALSE(npy.ok());
  EXPECT_NE(npy.status().message().find("is a binary file, not a YAML manifest"), std::string::npos)
      << npy.status().message();
}

TEST(BundleTest, PluginsAreFoundThroughEtpPluginPath) {
  BundleSpec spec = BundleSpec::for_program(fixture_path("add.pte"), {}, {"portable"});
  ::setenv("ETP_PLUGIN_PATH", "/nonexistent:" ETP_PLUGIN_DIR, 1);
  auto bundle = Bundle::open(spec, BundleOptions{{}, /*use_environment=*/true, {}});
  ::unsetenv("ETP_PLUGIN_PATH");
  ASSERT_TRUE(bundle.ok()) << bundle.status().to_string();
  EXPECT_EQ(bundle->plugins().at(0).library, std::string(ETP_PLUGIN_DIR) + "/libetp_portable.so");
}

Method load(const std::string& program, const std::vector<std::string>& data = {}) {
  auto bundle = Bundle::open(BundleSpec::for_program(fixture_path(program), data), kOptions);
  EXPECT_TRUE(bundle.ok()) << bundle.status().to_string();
  auto method = bundle->load_method("model");
  EXPECT_TRUE(method.ok()) << method.status().to_string();
  return std::move(*method);  // the Method keeps what it needs; the Bundle may go
}

TEST(MethodTest, WrongDtypeAndShapeKeepTheirStatusCodes) {
  Method add = load("add.pte");
  std::vector<int64_t> ints(24);
  Status dtype = add.set_input(0, {DType::kInt64, {2, 3, 4}, ints.data(), 24 * 8});
  EXPECT_EQ(dtype.code(), StatusCode::kDtype) << dtype.to_string();
  std::vector<float> floats(6);
  Status shape = add.set_input(0, {DType::kFloat32, {2, 3}, floats.data(), 24});
  EXPECT_EQ(shape.code(), StatusCode::kShape) << shape.to_string();
  Status count = add.set_inputs({});
  EXPECT_EQ(count.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(count.message().find("takes 2 inputs, got 0"), std::string::npos);
}

// add.pte runs on the portable kernels, which never write their inputs: bind_input borrows, so
// changing the caller's buffer changes the next result without another bind.
TEST(MethodTest, BindInputBorrowsWhereNothingCanWriteOrOverreadIt) {
  Method add = load("add.pte");
  std::vector<float> a(24, 1.0f), b(24, 2.0f);
  ASSERT_OK(add.bind_input(0, {DType::kFloat32, {2, 3, 4}, a.data(), a.size() * 4}));
  ASSERT_OK(add.bind_input(1, {DType::kFloat32, {2, 3, 4}, b.data(), b.size() * 4}));
  EXPECT_TRUE(add.input_borrowed(0));
  EXPECT_TRUE(add.input_borrowed(1));
  ASSERT_OK(add.execute());
  EXPECT_EQ(static_cast<const float*>(add.output(0).tensor().data())[5], 3.0f);
  a[5] = 10.0f;
  ASSERT_OK(add.execute());
  EXPECT_EQ(static_cast<const float*>(add.output(0).tensor().data())[5], 12.0f);
  // A copy afterwards uses the method's own memory again.
  ASSERT_OK(add.set_input(0, {DType::kFloat32, {2, 3, 4}, a.data(), a.size() * 4}));
  EXPECT_FALSE(add.input_borrowed(0));
  a[5] = 100.0f;
  ASSERT_OK(add.execute());
  EXPECT_EQ(static_cast<const float*>(add.output(0).tensor().data())[5], 12.0f);
}

// ExecuTorch plans a static view of `pos` (a reshape) into pos's own memory, with no instruction:
// the view reads pos through that memory, so pos must be copied there, not borrowed. (Borrowing
// it gave wrong results from the second token on.)
TEST(MethodTest, AnInputThatAPlannedViewReadsIsCopied) {
  Method llama = load("tiny_llama_portable.pte", {fixture_path("tiny_llama_foundation_portable.ptd")});
  for (int r = 0; r < 3; ++r) {
    const std::string prefix = "tiny_llama_portable.run" + std::to_string(r);
    Tensor tokens = read_fixture_npy(prefix + ".in0.npy"), pos = read_fixture_npy(prefix + ".in1.npy");
    ASSERT_OK(llama.bind_input(0, tokens.ref()));
    ASSERT_OK(llama.bind_input(1, pos.ref()));
    EXPECT_FALSE(llama.input_borrowed(1));
    ASSERT_OK(llama.execute());
    EXPECT_TRUE(close_to(llama.output(0).tensor().to_tensor(), read_fixture_npy(prefix + ".out0.npy"), 1e-4, 1e-4))
        << "run " << r;
  }
}

// An XNNPACK delegate may read past its inputs (XNN_EXTRA_BYTES), so its inputs are copied.
TEST(MethodTest, BindInputCopiesWhatADelegateReads) {
  Method linear = load("linear_xnnpack.pte", {fixture_path("linear_xnnpack.ptd")});
  const TensorInfo& info = linear.info().inputs[0].tensor;
  Tensor x = read_fixture_npy("linear_xnnpack.run0.in0.npy");
  ASSERT_EQ(x.sizes, info.sizes);
  ASSERT_OK(linear.bind_input(0, x.ref()));
  EXPECT_FALSE(linear.input_borrowed(0));
  ASSERT_OK(linear.execute());
  EXPECT_TRUE(
      close_to(linear.output(0).tensor().to_tensor(), read_fixture_npy("linear_xnnpack.run0.out0.npy"), 1e-5, 1e-6));
}

// The tiny Llama's KV caches are its state: they change as tokens go in, and reset_state
// brings back the first run's result.
TEST(MethodTest, TheKvCacheIsStateAndResetRestoresIt) {
  auto bundle = Bundle::open(ETP_LORA_MANIFEST, kOptions);
  ASSERT_TRUE(bundle.ok()) << bundle.status().to_string();
  auto method = bundle->load_method("base");
  ASSERT_TRUE(method.ok()) << method.status().to_string();
  const std::vector<StateInfo> state = method->state();
  ASSERT_FALSE(state.empty());
  double before = 0;
  for (const StateInfo& s : state) before += std::fabs(s.tensor.to_tensor().value(0));
  EXPECT_EQ(before, 0.0);
  const std::string prefix = "tiny_llama_xnnpack.run";
  auto run = [&](int r) {
    Tensor tokens = read_fixture_npy(prefix + std::to_string(r) + ".in0.npy");
    Tensor pos = read_fixture_npy(prefix + std::to_string(r) + ".in1.npy");
    auto out = method->run({tokens.ref(), pos.ref()});
    EXPECT_TRUE(out.ok()) << out.status().to_string();
    return out.ok() ? (*out)[0] : Tensor{};
  };
  const Tensor first = run(0);
  EXPECT_TRUE(close_to(first, read_fixture_npy(prefix + "0.out0.npy"), 1e-4, 1e-4));
  EXPECT_TRUE(close_to(run(1), read_fixture_npy(prefix + "1.out0.npy"), 1e-4, 1e-4));
  size_t changed = 0;
  for (const StateInfo& s : method->state()) {
    const Tensor t = s.tensor.to_tensor();
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (t.value(i) != 0) {
        ++changed;
        break;
      }
    }
  }
  EXPECT_GT(changed, 0u) << "no state tensor was written";
  method->reset_state();
  for (const StateInfo& s : method->state()) {
    const Tensor t = s.tensor.to_tensor();
    for (int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(t.value(i), 0.0) << s.name;
  }
  EXPECT_TRUE(close_to(run(0), first, 0, 0));
}

// The one thread-safety rule: two Methods (even of one model) may execute at the same time.
TEST(MethodTest, TwoMethodsOfOneModelRunConcurrently) {
  auto bundle = Bundle::open(ETP_LORA_MANIFEST, kOptions);
  ASSERT_TRUE(bundle.ok());
  const Tensor tokens = read_fixture_npy("tiny_llama_xnnpack.run0.in0.npy");
  const Tensor pos = read_fixture_npy("tiny_llama_xnnpack.run0.in1.npy");
  const Tensor expected = read_fixture_npy("tiny_llama_xnnpack.run0.out0.npy");
  std::vector<std::string> failures(2);
  auto worker = [&](size_t id) {
    for (int i = 0; i < 20; ++i) {
      auto method = bundle->load_method("base");
      if (!method.ok()) return void(failures[id] = method.status().to_string());
      auto out = method->run({tokens.ref(), pos.ref()});
      if (!out.ok()) return void(failures[id] = out.status().to_string());
      if (!close_to((*out)[0], expected, 1e-4, 1e-4)) return void(failures[id] = "wrong output");
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  EXPECT_EQ(failures[0], "");
  EXPECT_EQ(failures[1], "");
}

// Two bundles holding one plugin library with different options each get their own instance,
// and closing one leaves the other working.
TEST(BundleTest, TwoBundlesWithOneLibraryAtDifferentOptionsRunSideBySide) {
  const Tensor input = read_fixture_npy("mlp_xnnpack.run0.in0.npy");
  const Tensor expected = read_fixture_npy("mlp_xnnpack.run0.out0.npy");
  auto spec = [](const std::string& threads) {
    BundleSpec s = BundleSpec::for_program(fixture_path("mlp_xnnpack.pte"), {}, {"xnnpack"});
    s.plugins[0].options = {{"threads", threads}};
    return s;
  };
  auto one = Bundle::open(spec("1"), kOptions);
  auto two = Bundle::open(spec("2"), kOptions);
  ASSERT_OK(one.status());
  ASSERT_OK(two.status());
  auto method_one = one->load_method("model");
  auto method_two = two->load_method("model");
  ASSERT_OK(method_one.status());
  ASSERT_OK(method_two.status());
  auto out_one = method_one->run({input.ref()});
  ASSERT_OK(out_one.status());
  EXPECT_TRUE(close_to((*out_one)[0], expected, 1e-5, 1e-5));
  *method_one = std::move(*method_two);  // the 1-thread method and bundle go away
  *one = std::move(*two);
  auto out_two = method_one->run({input.ref()});
  ASSERT_OK(out_two.status());
  EXPECT_TRUE(close_to((*out_two)[0], expected, 1e-5, 1e-5));
}

TEST(MethodTest, ProfilingTimesEachKernelAndDelegateCall) {
  auto bundle = Bundle::open(ETP_LORA_MANIFEST, kOptions);
  ASSERT_OK(bundle.status());
  auto method = bundle->load_method("base");
  ASSERT_OK(method.status());
  const Tensor tokens = read_fixture_npy("tiny_llama_xnnpack.run0.in0.npy");
  const Tensor pos = read_fixture_npy("tiny_llama_xnnpack.run0.in1.npy");
  ASSERT_OK(method->set_inputs({tokens.ref(), pos.ref()}));
  ASSERT_OK(method->execute());
  EXPECT_TRUE(method->profile().empty());  // off by default: nothing recorded
  method->set_profiling(true);
  for (int i = 0; i < 3; ++i) {  // planned memory may reuse the inputs' bytes: set them each time
    ASSERT_OK(method->set_inputs({tokens.ref(), pos.ref()}));
    ASSERT_OK(method->execute());
  }
  const std::vector<InstructionProfile> profile = method->profile();
  ASSERT_FALSE(profile.empty());
  bool delegate = false, kernel = false;
  for (const InstructionProfile& p : profile) {
    EXPECT_EQ(p.calls, 3u) << p.name;
    EXPECT_FALSE(p.name.empty());
    EXPECT_FALSE(p.plugin.empty());
    delegate = delegate || (p.delegate && p.name == "XnnpackBackend" && p.plugin == "xnnpack");
    kernel = kernel || !p.delegate;
  }
  EXPECT_TRUE(delegate);
  EXPECT_TRUE(kernel);
  double total = 0;
  for (const InstructionProfile& p : profile) total += p.total_ms;
  EXPECT_GT(total, 0);
  method->clear_profile();
  method->set_profiling(false);
  ASSERT_OK(method->set_inputs({tokens.ref(), pos.ref()}));
  ASSERT_OK(method->execute());
  for (const InstructionProfile& p : method->profile()) EXPECT_EQ(p.calls, 0u) << p.name;
}

TEST(MethodTest, ScalarOutputsBecomeZeroDimensionalTensors) {
  const Value v = Value::of_int(7);
  auto t = v.to_tensor();
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->dtype, DType::kInt64);
  EXPECT_TRUE(t->sizes.empty());
  EXPECT_EQ(t->value(0), 7.0);
  EXPECT_EQ(Value::of_kind(ValueKind::kIntList).to_tensor().status().code(), StatusCode::kNotSupported);
}

TEST(StatusTest, PluginStatusesKeepTheirCodeOrTheirRange) {
  EXPECT_EQ(status_code_from_plugin(0), StatusCode::kOk);
  EXPECT_EQ(status_code_from_plugin(2), StatusCode::kDtype);
  EXPECT_EQ(status_code_from_plugin(3), StatusCode::kShape);
  EXPECT_EQ(status_code_from_plugin(101), StatusCode::kNotSupported);
  EXPECT_EQ(status_code_from_plugin(200), StatusCode::kMalformed);
  EXPECT_EQ(status_code_from_plugin(42), StatusCode::kInvalidArgument);  // unassigned: its range
  EXPECT_EQ(status_code_from_plugin(150), StatusCode::kUnavailable);
  EXPECT_EQ(status_code_from_plugin(250), StatusCode::kMalformed);
  EXPECT_EQ(status_code_from_plugin(350), StatusCode::kInternal);
  EXPECT_EQ(status_code_from_plugin(-5), StatusCode::kInternal);
  EXPECT_EQ(status_code_from_plugin(1234), StatusCode::kPlugin);
  const Status s = Status(StatusCode::kShape, "inner").with_context("outer");
  EXPECT_EQ(s.to_string(), "shape: outer: inner");
  EXPECT_TRUE(Status::success().with_context("ignored").ok());
  const Result<int> r{Status::success()};  // a success without a value is a bug, not a value
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(TensorTest, ViewsAndTensorsRefuseWhatTheyCannotHold) {
  const int64_t sizes[2] = {2, 3};
  const uint8_t order[2] = {0, 1};
  const int64_t strides[2] = {3, 1};
  const float data[6] = {0, 1, 2, 3, 4, 5};
  const TensorView view(DType::kFloat32, {sizes, 2}, {order, 2}, {strides, 2}, data, sizeof(data));
  float out[6] = {};
  EXPECT_EQ(view.copy_to(out, 5 * sizeof(float)).code(), StatusCode::kInvalidArgument);
  EXPECT_OK(view.copy_to(out, sizeof(out)));
  EXPECT_EQ(out[5], 5.0f);
  const TensorView freed(DType::kFloat32, {sizes, 2}, {order, 2}, {strides, 2}, nullptr, sizeof(data));
  EXPECT_EQ(freed.copy_to(out, sizeof(out)).code(), StatusCode::kInvalidState);
  EXPECT_TRUE(freed.to_tensor().data.empty());
  const Tensor t = view.to_tensor();
  EXPECT_EQ(t.value(5), 5.0);
  EXPECT_TRUE(std::isnan(t.value(6)));
  EXPECT_TRUE(std::isnan(t.value(-1)));
  const Tensor short_data{DType::kFloat32, {2, 3}, std::vector<uint8_t>(8)};  // sizes promise more
  EXPECT_TRUE(std::isnan(short_data.value(4)));
}

// A channels-last view copies out in row-major order (the dim order is undone).
TEST(TensorTest, ACopyOfAChannelsLastViewIsRowMajor) {
  const int64_t sizes[3] = {2, 2, 3};  // logical [C=2, H=2, W=3] stored as H, W, C
  const uint8_t order[3] = {1, 2, 0};
  const int64_t strides[3] = {1, 6, 2};
  float stored[12];
  for (int i = 0; i < 12; ++i) stored[i] = static_cast<float>(i);
  const TensorView view(DType::kFloat32, {sizes, 3}, {order, 3}, {strides, 3}, stored, sizeof(stored));
  EXPECT_FALSE(view.is_row_major());
  const Tensor t = view.to_tensor();
  EXPECT_EQ(t.value(1), 2.0);  // [c=0, h=0, w=1] is stored at w*2
  EXPECT_EQ(t.value(6), 1.0);  // [c=1, h=0, w=0] is stored at 1
}

TEST(InspectTest, InspectJsonDescribesAFileOrNamesItsProblem) {
  auto doc = inspect_json(fixture_path("add.pte"));
  ASSERT_TRUE(doc.ok()) << doc.status().to_string();
  const auto parsed = nlohmann::json::parse(*doc);
  EXPECT_EQ(parsed["methods"][0]["name"], "forward");
  auto bad = inspect_json(ETP_LORA_MANIFEST);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kMalformed);
  EXPECT_NE(bad.status().message().find("a YAML manifest?"), std::string::npos);
}

}  // namespace
}  // namespace etp::test
