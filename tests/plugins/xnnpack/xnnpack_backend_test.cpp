// The XNNPACK backend plugin through the real built .so: the shared weight cache (packed once
// for two programs, freed with the last user in either order, correct under two threads) and
// bad payloads (each a clear error at init).
#include <gtest/gtest.h>

#include "support/status.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <thread>

#include "core/npy.h"
#include "format/data_file.h"
#include "plugins/plugin_log.h"
#include "runtime/host_services.h"
#include "runtime/runtime_support.h"
#include "runtime/tensor_io.h"
#include "support/fixtures.h"
#include "support/patch.h"
#include "xnnpack_graph_generated.h"

namespace etp::test {
namespace {

struct Bundle {
  std::shared_ptr<const plugins::Registry> registry = full_registry();
  std::shared_ptr<const format::DataFile> foundation;
  std::shared_ptr<const plugins::PluginLibrary> xnnpack() const { return registry->plugins().back(); }
};

std::unique_ptr<runtime::Method> load(const Bundle& b, const std::string& model, bool cache_owned) {
  const auto f = find_fixture(model, "xnnpack");
  std::vector<runtime::DataSource> data{{b.foundation, 7, cache_owned ? "xnnpack" : ""}};
  auto program = runtime::Program::open(fixture_path(f["program"]), data, b.registry);
  EXPECT_TRUE(program.ok()) << program.status().message();
  auto method = (*program)->load_method("forward");
  EXPECT_TRUE(method.ok()) << method.status().message();
  return method.ok() ? std::move(*method) : nullptr;
}

// The weight cache proper: entries shared between delegates.
std::vector<plugins::CacheEntry> shared(const Bundle& b) {
  std::vector<plugins::CacheEntry> out;
  for (auto& e : b.xnnpack()->cache_report()) {
    if (e.shared) out.push_back(e);
  }
  return out;
}

Bundle make_bundle() {
  Bundle b;
  b.foundation = std::make_shared<const format::DataFile>(
      std::move(*format::DataFile::open(fixture_path("tiny_llama_foundation_xnnpack.ptd"))));
  return b;
}

TEST(XnnpackWeightCacheTest, SharedFoundationWeightsArePackedOnceForTwoPrograms) {
  Bundle b = make_bundle();
  auto base = load(b, "tiny_llama", /*cache_owned=*/true);
  const auto after_base = shared(b);
  ASSERT_GT(after_base.size(), 0u);
  uint64_t bytes_after_base = 0;
  for (const auto& e : after_base) {
    EXPECT_EQ(e.users.size(), 1u) << e.key;
    EXPECT_EQ(e.file_id, 7u);
    EXPECT_GT(e.packed_bytes, 0u);
    bytes_after_base += e.packed_bytes;
  }
  auto lora = load(b, "tiny_llama_lora", /*cache_owned=*/true);
  const auto after_lora = shared(b);
  ASSERT_EQ(after_lora.size(), after_base.size()) << "the LoRA program packed foundation weights again";
  uint64_t bytes_after_lora = 0;
  for (const auto& e : after_lora) {
    EXPECT_EQ(e.users.size(), 2u) << e.key;
    bytes_after_lora += e.packed_bytes;
  }
  EXPECT_EQ(bytes_after_lora, bytes_after_base);
}

// ABI 1.2 cache_records names each user by method id and delegate index, which the host maps
// to its methods; the ABI 1.1 cache_report, kept for older hosts, lists the same users by name.
TEST(XnnpackWeightCacheTest, RecordsNameTheirUsersByMethodIdAndDelegate) {
  Bundle b = make_bundle();
  auto base = load(b, "tiny_llama", true);
  auto lora = load(b, "tiny_llama_lora", true);
  ASSERT_TRUE(base && lora);
  const auto entries = b.xnnpack()->cache_report(&runtime::Method::label_of);
  ASSERT_GT(entries.size(), 0u);
  for (const auto& e : entries) {
    ASSERT_EQ(e.user_ids.size(), e.users.size()) << e.key;
    for (size_t u = 0; u < e.user_ids.size(); ++u) {
      const runtime::Method* m = e.user_ids[u].method_id == base->id()   ? base.get()
                                 : e.user_ids[u].method_id == lora->id() ? lora.get()
                                                                         : nullptr;
      ASSERT_NE(m, nullptr) << e.key << ": user " << e.user_ids[u].method_id << " is no loaded method";
      EXPECT_EQ(e.users[u], m->program().path() + ":forward:" + std::to_string(e.user_ids[u].delegate_index));
    }
  }
  // The 1.1 report of the same plugin, as an older host reads it.
  const etp_plugin& t = b.xnnpack()->table();
  std::vector<etp_cache_entry> old(t.cache_report(t.self, nullptr, 0));
  ASSERT_EQ(t.cache_report(t.self, old.data(), static_cast<uint32_t>(old.size())), entries.size());
  for (size_t i = 0; i < old.size(); ++i) {
    EXPECT_EQ(old[i].num_users, entries[i].users.size());
    std::string names;
    for (const std::string& u : entries[i].users) names += (names.empty() ? "" : "\n") + u;
    EXPECT_EQ(old[i].users, names);
  }
}

// fused_relu_xnnpack fuses a ReLU into its first layer; fused_relu_lora_xnnpack adds its adapter
// before the ReLU, so the same weights come without the clamp. Over one cache-owned foundation
// file the two programs share both layers' packed weights, and each still gives ExecuTorch's
// outputs (the base program's ReLU runs as a clamp step after the shared operator).
TEST(XnnpackWeightCacheTest, ALayerIsSharedWhateverActivationIsFusedIntoIt) {
  const auto registry = full_registry();
  auto file = format::DataFile::open(fixture_path("fused_relu_foundation.ptd"));
  ASSERT_TRUE(file.ok()) << file.status().message();
  const std::vector<runtime::DataSource> data{
      {std::make_shared<const format::DataFile>(std::move(*file)), 11, "xnnpack"}};
  auto shared_entries = [&] {
    std::vector<plugins::CacheEntry> out;
    for (auto& e : registry->plugins().back()->cache_report()) {
      if (e.shared && e.file_id == 11) out.push_back(e);
    }
    return out;
  };
  std::vector<std::unique_ptr<runtime::Method>> methods;
  for (const char* name : {"fused_relu_xnnpack", "fused_relu_lora_xnnpack"}) {
    const nlohmann::json f = fixture_named(name);
    ASSERT_FALSE(f.is_null()) << name;
    auto program = runtime::Program::open(fixture_path(f["program"]), data, registry);
    ASSERT_TRUE(program.ok()) << program.status().message();
    auto method = (*program)->load_method("forward");
    ASSERT_TRUE(method.ok()) << method.status().message();
    for (const auto& run : f["runs"]) {
      auto input = read_npy(fixture_path(run["inputs"][0]["file"]));
      auto expected = read_npy(fixture_path(run["outputs"][0]["file"]));
      ASSERT_TRUE(input.ok() && expected.ok());
      ASSERT_OK((*method)->set_input(0, runtime::as_input(*input)));
      ASSERT_OK((*method)->execute());
      const runtime::Comparison c = runtime::compare((*method)->output(0), *expected, f["rtol"], f["atol"]);
      EXPECT_TRUE(c.ok) << name << ": " << c.mismatch;
    }
    methods.push_back(std::move(*method));
    EXPECT_EQ(shared_entries().size(), 2u) << "after " << name << ": fc1 and fc2, packed once each";
  }
  for (const auto& e : shared_entries()) EXPECT_EQ(e.users.size(), 2u) << e.key;
}

void expect_freed_in_order(bool base_first) {
  Bundle b = make_bundle();
  auto base = load(b, "tiny_llama", true);
  auto lora = load(b, "tiny_llama_lora", true);
  const size_t entries = shared(b).size();
  ASSERT_GT(entries, 0u);
  (base_first ? base : lora).reset();
  const auto half = shared(b);
  ASSERT_EQ(half.size(), entries) << "entries must stay while one user is left";
  for (const auto& e : half) EXPECT_EQ(e.users.size(), 1u);
  (base_first ? lora : base).reset();
  EXPECT_EQ(b.xnnpack()->cache_report().size(), 0u) << "entries (shared and private) must go with the last user";
}

TEST(XnnpackWeightCacheTest, EntriesAreFreedWithTheLastUserBaseFirst) { expect_freed_in_order(true); }
TEST(XnnpackWeightCacheTest, EntriesAreFreedWithTheLastUserLoraFirst) { expect_freed_in_order(false); }

TEST(XnnpackWeightCacheTest, WithoutACacheOwnerNothingIsShared) {
  Bundle b = make_bundle();
  auto base = load(b, "tiny_llama", false);
  auto lora = load(b, "tiny_llama_lora", false);
  EXPECT_EQ(shared(b).size(), 0u);
  size_t private_entries = 0;
  for (const auto& e : b.xnnpack()->cache_report()) private_entries += e.shared ? 0 : 1;
  EXPECT_GT(private_entries, 0u) << "each program packs its own copy, reported as private";
}

// Runs step 0 (position 0) of `fixture` once: its output 0's bytes, or a failure.
std::vector<uint8_t> run_step0(runtime::Method* method, const std::string& fixture, std::string* failure) {
  auto tokens = *read_npy(fixture_path(fixture + ".run0.in0.npy"));
  auto pos = *read_npy(fixture_path(fixture + ".run0.in1.npy"));
  if (!method->set_input(0, runtime::as_input(tokens)).ok() || !method->set_input(1, runtime::as_input(pos)).ok()) {
    *failure = "set_input failed";
    return {};
  }
  if (Status s = method->execute(); !s.ok()) {
    *failure = s.message();
    return {};
  }
  const etp_tensor& out = *method->output(0).u.tensor;
  const auto* bytes = static_cast<const uint8_t*>(out.data);
  return std::vector<uint8_t>(bytes, bytes + out.nbytes);
}

// Runs step 0 repeatedly: the KV cache slot it writes is the same every time, so every
// iteration must give exactly the bytes a serial run gave, while the other thread uses the
// same packed operators and the same pool.
void run_repeatedly(runtime::Method* method, const std::string& fixture, const std::vector<uint8_t>& serial,
                    int iterations, std::string* failure) {
  for (int i = 0; i < iterations && failure->empty(); ++i) {
    if (run_step0(method, fixture, failure) != serial && failure->empty()) {
      *failure = fixture + " iteration " + std::to_string(i) + ": output differs from the serial run's";
    }
  }
}

// Two programs sharing packed weights in the XNNPACK plugin's cache, run from two threads at
// once, give bit for bit what each gives alone (scripts/test also runs this under
// ThreadSanitizer).
TEST(XnnpackWeightCacheTest, TwoProgramsSharingOperatorsRunFromTwoThreadsAsTheyDoSerially) {
  Bundle b = make_bundle();
  auto base = load(b, "tiny_llama", true);
  auto lora = load(b, "tiny_llama_lora", true);
  ASSERT_GT(shared(b).size(), 0u);
  std::string base_failure, lora_failure;
  const std::vector<uint8_t> base_serial = run_step0(base.get(), "tiny_llama_xnnpack", &base_failure);
  const std::vector<uint8_t> lora_serial = run_step0(lora.get(), "tiny_llama_lora_xnnpack", &lora_failure);
  ASSERT_EQ(base_failure + lora_failure, "");
  auto expected = *read_npy(fixture_path("tiny_llama_xnnpack.run0.out0.npy"));
  ASSERT_TRUE(runtime::compare(base->output(0), expected, 1e-4, 1e-4).ok) << "the serial run matches ExecuTorch";
  ASSERT_NE(base_serial, lora_serial) << "the adapter changes the output";
  std::thread t1(run_repeatedly, base.get(), "tiny_llama_xnnpack", std::cref(base_serial), 100, &base_failure);
  std::thread t2(run_repeatedly, lora.get(), "tiny_llama_lora_xnnpack", std::cref(lora_serial), 100, &lora_failure);
  t1.join();
  t2.join();
  EXPECT_EQ(base_failure, "");
  EXPECT_EQ(lora_failure, "");
}

// ---- Bad payloads, given straight to the backend's init ----

// A writable copy of payload 0 of a fixture program, given straight to the backend's init.
class PayloadTest : public ::testing::Test {
 protected:
  void load(const std::string& fixture) {
    auto opened = format::ProgramFile::open(fixture_path(fixture));
    ASSERT_TRUE(opened.ok());
    program_ = std::make_shared<const format::ProgramFile>(std::move(*opened));
    const ByteSpan blob = program_->delegate_blob(*program_->plan(0).delegates()->Get(0));
    storage_.assign((blob.size + 7) / 8, 0);
    std::memcpy(storage_.data(), blob.data, blob.size);
    size_ = blob.size;
  }
  uint8_t* bytes() { return reinterpret_cast<uint8_t*>(storage_.data()); }
  const fb_xnnpack::XNNGraph* graph() { return fb_xnnpack::GetXNNGraph(bytes() + 32); }
  template <typename T>
  void patch(const uint8_t* address, T value) {
    ASSERT_NE(address, nullptr);
    std::memcpy(bytes() + (address - bytes()), &value, sizeof(T));
  }
  template <typename T>
  void set_field(const void* table, flatbuffers::voffset_t field, T value) {
    patch(field_address(static_cast<const flatbuffers::Table*>(table), field), value);
  }

  // Runs init on the (patched) payload with `map`; returns the logged message ("" if init
  // succeeded, after destroying the handle).
  std::string init_with(const runtime::NamedDataMap& map) {
    etp_backend_init_args args{};
    args.header = ETP_ABI_HEADER(etp_backend_init_args);
    args.payload = bytes();
    args.payload_size = size_;
    args.named_data = map.handle();
    args.program_name = "patched.pte";
    args.method_name = "forward";
    const etp_backend* backend = registry_->plugins().back()->table().backends[0];
    void* handle = nullptr;
    plugins::PluginLog::take_last_error();
    if (backend->init(backend->self, &args, &handle) == ETP_OK) {
      backend->destroy(backend->self, handle);
      return "";
    }
    const std::string message = plugins::PluginLog::take_last_error();
    EXPECT_NE(message, "") << "init failed without a message";
    return message;
  }

  std::shared_ptr<const plugins::Registry> registry_ = full_registry();
  std::shared_ptr<const format::ProgramFile> program_;
  std::vector<uint64_t> storage_;
  size_t size_ = 0;
};

class XnnpackBadPayloadTest : public PayloadTest {
 protected:
  void SetUp() override {
    load("linear_xnnpack.pte");
    auto data = format::DataFile::open(fixture_path("linear_xnnpack.ptd"));
    ASSERT_TRUE(data.ok());
    data_ = std::make_shared<const format::DataFile>(std::move(*data));
  }
  // The linear program's weights are in its data file; without it every named key is missing.
  std::string init(bool with_data = true) {
    std::vector<runtime::DataSource> files;
    if (with_data) files.push_back({data_, 1, ""});
    return init_with(runtime::NamedDataMap(files, nullptr, "xnnpack"));
  }

  std::shared_ptr<const format::DataFile> data_;
};

TEST_F(XnnpackBadPayloadTest, TheIntactPayloadInitialises) { EXPECT_EQ(init(), ""); }

TEST_F(XnnpackBadPayloadTest, TruncatedPayloadFails) {
  size_ = 20;
  EXPECT_NE(init().find("truncated XNNPACK header"), std::string::npos);
}

TEST_F(XnnpackBadPayloadTest, WrongGraphIdentifierFails) {
  std::memcpy(bytes() + 32 + 4, "XN99", 4);
  EXPECT_NE(init().find("identifier must be XN01 or XN00"), std::string::npos);
}

TEST_F(XnnpackBadPayloadTest, OutOfRangeValueIdFailsNamingTheNode) {
  const auto* fc = graph()->xnodes()->Get(0)->xnode_union_as_XNNFullyConnected();
  ASSERT_NE(fc, nullptr);
  set_field<uint32_t>(fc, fb_xnnpack::XNNFullyConnected::VT_OUTPUT_ID, 999);
  const std::string message = init();
  EXPECT_NE(message.find("node 0 (XNNFullyConnected): value id out of range"), std::string::npos) << message;
}

TEST_F(XnnpackBadPayloadTest, UnknownNodeTypeFailsNamingIt) {
  set_field<uint8_t>(graph()->xnodes()->Get(0), fb_xnnpack::XNode::VT_XNODE_UNION_TYPE, 99);
  const std::string message = init();
  EXPECT_NE(message.find("unknown node type 99"), std::string::npos) << message;
}

TEST_F(XnnpackBadPayloadTest, MissingNamedKeyFailsNamingIt) {
  const std::string message = init(/*with_data=*/false);
  EXPECT_NE(message.find("named constant '"), std::string::npos) << message;
  EXPECT_NE(message.find("is in no data file or program"), std::string::npos) << message;
}

TEST_F(XnnpackBadPayloadTest, ConstantTooSmallForItsTensorFails) {
  // Claim the weight is far bigger than the named blob that holds it.
  const auto* values = graph()->xvalues();
  for (flatbuffers::uoffset_t i = 0; i < values->size(); ++i) {
    const auto* t = values->Get(i)->xvalue_union_as_XNNTensorValue();
    if (t->constant_buffer_idx() != 0 && t->dims()->size() == 2) {
      const uint8_t* dims = reinterpret_cast<const uint8_t*>(t->dims()->Data());
      const uint32_t huge = 4096;
      std::memcpy(bytes() + (dims - bytes()), &huge, 4);
      break;
    }
  }
  const std::string message = init();
  EXPECT_NE(message.find("the graph needs"), std::string::npos) << message;
}

}  // namespace
}  // namespace etp::test

namespace etp::test {
namespace {

// Payload 0 of cnn_xnnpack.pte (convolution, max pooling, ...), patched and given straight to
// the backend's init; its constants are in the program.
class XnnpackCnnPayloadTest : public PayloadTest {
 protected:
  void SetUp() override { load("cnn_xnnpack.pte"); }
  const fb_xnnpack::_XNNPooling2D* max_pool() {
    for (const fb_xnnpack::XNode* node : *graph()->xnodes()) {
      if (const auto* pool = node->xnode_union_as_XNNMaxPooling2d()) return pool;
    }
    return nullptr;
  }
  const fb_xnnpack::XNNTensorValue* value(uint32_t id) {
    for (const fb_xnnpack::XValue* v : *graph()->xvalues()) {
      const auto* t = v->xvalue_union_as_XNNTensorValue();
      if (t != nullptr && t->id_out() == id) return t;
    }
    return nullptr;
  }

  std::string init() { return init_with(runtime::NamedDataMap({}, program_, "xnnpack")); }
};

TEST_F(XnnpackCnnPayloadTest, TheIntactPayloadInitialises) { EXPECT_EQ(init(), ""); }

// A convolution whose bias is shorter than its output channels would make XNNPACK read past
// the bias: init must refuse it, naming the node.
TEST_F(XnnpackCnnPayloadTest, BiasShorterThanTheOutputChannelsFails) {
  uint32_t bias_id = UINT32_MAX;
  for (const fb_xnnpack::XNode* node : *graph()->xnodes()) {
    if (const auto* conv = node->xnode_union_as_XNNConv2d()) bias_id = conv->bias_id();
  }
  ASSERT_NE(bias_id, UINT32_MAX) << "the fixture's convolution has no bias";
  ASSERT_NE(value(bias_id), nullptr);
  patch<uint32_t>(reinterpret_cast<const uint8_t*>(value(bias_id)->dims()->Data()), 1);  // a 1-element bias
  const std::string message = init();
  EXPECT_NE(message.find("(XNNConv2d): channel counts do not match the weights"), std::string::npos) << message;
}

// XNNPACK writes the pooling's full output: an output slot one row short must be refused.
TEST_F(XnnpackCnnPayloadTest, PoolingOutputSmallerThanXnnpackWritesFails) {
  ASSERT_NE(max_pool(), nullptr) << "the fixture's delegate 0 has no max pooling";
  const fb_xnnpack::XNNTensorValue* out = value(max_pool()->output_id());
  ASSERT_NE(out, nullptr);
  ASSERT_EQ(out->dims()->size(), 4u);
  ASSERT_GT(out->dims()->Get(1), 1u);
  patch<uint32_t>(reinterpret_cast<const uint8_t*>(out->dims()->Data()) + 4, out->dims()->Get(1) - 1);
  const std::string message = init();
  // The pooling's shape rule (the one reshape uses) gives the size XNNPACK writes.
  EXPECT_NE(
      message.find("(XNNMaxPooling2d): output value id " + std::to_string(max_pool()->output_id()) + " has dims [1, "),
      std::string::npos)
      << message;
  EXPECT_NE(message.find("but the inputs give [1, "), std::string::npos) << message;
}

// XNN_FLAG_TENSORFLOW_SAME_PADDING (0x4) would change the output size behind the checks.
TEST_F(XnnpackCnnPayloadTest, ForbiddenFlagFailsNamingNodeTypeAndFlag) {
  ASSERT_NE(max_pool(), nullptr);
  patch<uint32_t>(field_address(max_pool(), fb_xnnpack::_XNNPooling2D::VT_FLAGS), max_pool()->flags() | 0x4);
  const std::string message = init();
  EXPECT_NE(message.find("XNNMaxPooling2d does not allow flag 0x4"), std::string::npos) << message;
}

// A window larger than the padded input: XNNPACK's average pooling would compute its output
// size with an unsigned underflow; every window node refuses it at init.
TEST_F(XnnpackCnnPayloadTest, WindowLargerThanThePaddedInputFails) {
  ASSERT_NE(max_pool(), nullptr);
  patch<uint32_t>(field_address(max_pool(), fb_xnnpack::_XNNPooling2D::VT_POOLING_HEIGHT), 1000u);
  const std::string message = init();
  EXPECT_NE(message.find("(XNNMaxPooling2d): the padded input"), std::string::npos) << message;
  EXPECT_NE(message.find("is smaller than the kernel extent (1000)"), std::string::npos) << message;
}

// XNNPACK refuses an adjustment of at least the stride when the operator is set up; the plugin
// refuses it at init, naming the node (payload of qdeconv_xnnpack, whose adjustment is 1).
TEST_F(XnnpackCnnPayloadTest, DeconvolutionAdjustmentNotBelowTheStrideFails) {
  load("qdeconv_xnnpack.pte");
  const fb_xnnpack::_XNNNodeConv* deconv = nullptr;
  for (const fb_xnnpack::XNode* node : *graph()->xnodes()) {
    if (node->xnode_union_as_XNNConvTranspose2d() != nullptr) deconv = node->xnode_union_as_XNNConvTranspose2d();
  }
  ASSERT_NE(deconv, nullptr) << "the fixture's delegate 0 has no transposed convolution";
  const uint8_t* adjustment = field_address(deconv, fb_xnnpack::_XNNNodeConv::VT_ADJUSTMENT_HEIGHT);
  ASSERT_NE(adjustment, nullptr) << "the fixture's transposed convolution has no adjustment";
  patch<uint32_t>(adjustment, deconv->subsampling_height());
  const std::string message = init();
  EXPECT_NE(message.find("(XNNConvTranspose2d): adjustment must be smaller than the stride"), std::string::npos)
      << message;
}

// A padding near UINT32_MAX must not wrap when added to the other (0xFFFFFFFF + 2 is 1 in
// uint32, a huge output for XNNPACK, which adds them as size_t): refused at init.
TEST_F(XnnpackCnnPayloadTest, PaddingsThatWouldWrapFail) {
  const fb_xnnpack::_XNNNodeConv* conv = nullptr;
  for (const fb_xnnpack::XNode* node : *graph()->xnodes()) {
    if (node->xnode_union_as_XNNConv2d() != nullptr) conv = node->xnode_union_as_XNNConv2d();
  }
  ASSERT_NE(conv, nullptr);
  ASSERT_NE(field_address(conv, fb_xnnpack::_XNNNodeConv::VT_PADDING_TOP), nullptr)
      << "the fixture's conv has no padding";
  patch<uint32_t>(field_address(conv, fb_xnnpack::_XNNNodeConv::VT_PADDING_TOP), 0xFFFFFFFFu);
  patch<uint32_t>(field_address(conv, fb_xnnpack::_XNNNodeConv::VT_PADDING_BOTTOM), 2u);
  const std::string message = init();
  EXPECT_NE(message.find("(XNNConv2d): padding exceeds the input plus the kernel extent"), std::string::npos)
      << message;
}

}  // namespace
}  // namespace etp::test

namespace etp::test {
namespace {

// A node may not write a constant: the named data behind it is shared and released after init.
TEST_F(XnnpackBadPayloadTest, NodeWritingAConstantFailsNamingTheNode) {
  const auto* fc = graph()->xnodes()->Get(0)->xnode_union_as_XNNFullyConnected();
  ASSERT_NE(fc, nullptr);
  set_field<uint32_t>(fc, fb_xnnpack::XNNFullyConnected::VT_OUTPUT_ID, fc->filter_id());
  const std::string message = init();
  EXPECT_NE(message.find("node 0 (XNNFullyConnected): output value id"), std::string::npos) << message;
  EXPECT_NE(message.find("is a constant"), std::string::npos) << message;
}

TEST_F(XnnpackBadPayloadTest, HeaderLengthBelowThirtyFails) {
  const uint16_t length = 12;
  std::memcpy(bytes() + 8, &length, sizeof(length));
  EXPECT_NE(init().find("XNNPACK header length is 12"), std::string::npos);
}

}  // namespace
}  // namespace etp::test

namespace etp::test {
namespace {

// Payload 0 of the statically quantized fixtures (qint8 activations; qint8 per-tensor or
// qcint8 per-channel weights), patched and given straight to the backend's init.
class XnnpackQuantizedPayloadTest : public PayloadTest {
 protected:
  std::string init() { return init_with(runtime::NamedDataMap({}, program_, "xnnpack")); }
  // The first quantized value whose datatype is `type`.
  const fb_xnnpack::XNNQuantizedTensorValue* quantized(fb_xnnpack::XNNDatatype type) {
    for (const fb_xnnpack::XValue* v : *graph()->xvalues()) {
      const auto* q = v->xvalue_union_as_XNNQuantizedTensorValue();
      if (q != nullptr && q->tensor_value()->datatype() == type) return q;
    }
    return nullptr;
  }
};

TEST_F(XnnpackQuantizedPayloadTest, BothQuantizedPayloadsInitialise) {
  load("qconv_xnnpack.pte");
  EXPECT_EQ(init(), "");
  load("qconv_pc_xnnpack.pte");
  EXPECT_EQ(init(), "");
}

// qdint8 (dynamic quantization) carries per-token parameters; per-tensor ones are refused by name.
TEST_F(XnnpackQuantizedPayloadTest, QdintWithoutPerTokenParametersIsRefusedNamingTheDatatype) {
  load("qconv_xnnpack.pte");
  const auto* q = quantized(fb_xnnpack::XNNDatatype::xnn_datatype_qint8);
  ASSERT_NE(q, nullptr);
  set_field<int16_t>(q->tensor_value(), fb_xnnpack::XNNTensorValue::VT_DATATYPE, 9);  // xnn_datatype_qdint8
  const std::string message = init();
  EXPECT_NE(message.find("xnn_datatype_qdint8 needs per-token dynamic quantization parameters"), std::string::npos)
      << message;
}

// A dynamically quantized payload (ExecuTorch's 8da4w: Convert to qdint8, fully connected with
// qbint4 weights) initialises; what the plugin cannot run in it is refused naming the value or
// node: per-token parameters over several dims, a block size XNNPACK would refuse, and a qdint8
// value read by anything but a fully-connected layer.
TEST_F(XnnpackQuantizedPayloadTest, DynamicQuantizationInitialisesAndItsLimitsAreNamed) {
  load("dq_8da4w_rows_xnnpack.pte");
  ASSERT_EQ(init(), "");
  const auto* token = quantized(fb_xnnpack::XNNDatatype::xnn_datatype_qdint8);
  ASSERT_NE(token, nullptr);
  ASSERT_NE(token->quant_params_as_PerTokenDynamicQuant(), nullptr);
  set_field<int32_t>(token->quant_params_as_PerTokenDynamicQuant(),
                     fb_xnnpack::PerTokenDynamicQuant::VT_NUM_NONBATCH_DIMS, 3);
  std::string message = init();
  EXPECT_NE(message.find("qdint8 with 3 non-batch dims is not supported"), std::string::npos) << message;

  load("dq_8da4w_rows_xnnpack.pte");
  auto weights = quantized(fb_xnnpack::XNNDatatype::xnn_datatype_qbint4);
  ASSERT_NE(weights, nullptr);
  ASSERT_NE(weights->quant_params_as_PerChannelGroupQuant(), nullptr);
  set_field<int32_t>(weights->quant_params_as_PerChannelGroupQuant(), fb_xnnpack::PerChannelGroupQuant::VT_GROUP_SIZE,
                     48);
  message = init();
  EXPECT_NE(message.find("qbint4 group size 48 must be a positive multiple of 32"), std::string::npos) << message;

  load("dq_8da4w_rows_xnnpack.pte");  // block scales on a type that has none
  weights = quantized(fb_xnnpack::XNNDatatype::xnn_datatype_qbint4);
  ASSERT_NE(weights, nullptr);
  set_field<int16_t>(weights->tensor_value(), fb_xnnpack::XNNTensorValue::VT_DATATYPE, 8);  // xnn_datatype_qcint4
  message = init();
  EXPECT_NE(message.find("per-channel-group quantization on xnn_datatype_qcint4 (only qbint4 has it)"),
            std::string::npos)
      << message;

  load("dq_8da4w_rows_xnnpack.pte");  // the second Convert reads the first one's qdint8 output
  const auto* nodes = graph()->xnodes();
  ASSERT_EQ(nodes->size(), 4u);
  const auto* first = nodes->Get(0)->xnode_union_as_XNNConvert();
  const auto* second = nodes->Get(2)->xnode_union_as_XNNConvert();
  ASSERT_TRUE(first != nullptr && second != nullptr);
  set_field<uint32_t>(second, fb_xnnpack::_XNNNode1x1::VT_INPUT_ID, first->output_id());
  message = init();
  EXPECT_NE(message.find("node 2 (XNNConvert) uses value id " + std::to_string(first->output_id()) +
                         " of type xnn_datatype_qdint8, which only a Convert from fp32"),
            std::string::npos)
      << message;
}

TEST_F(XnnpackQuantizedPayloadTest, NonPositiveScaleFails) {
  load("qconv_xnnpack.pte");
  const auto* q = quantized(fb_xnnpack::XNNDatatype::xnn_datatype_qint8);
  ASSERT_NE(q, nullptr);
  ASSERT_NE(q->quant_params_as_PerTensorQuant(), nullptr);
  set_field<float>(q->quant_params_as_PerTensorQuant(), fb_xnnpack::PerTensorQuant::VT_SCALE, -1.0f);
  const std::string message = init();
  EXPECT_NE(message.find("quantization scale must be positive and finite"), std::string::npos) << message;
}

// A weight scale so small that input * weight / output scale falls below 2^-32 would stop
// Debian's XNNPACK on an assertion when the operator is created: refused first, by name.
TEST_F(XnnpackQuantizedPayloadTest, RequantizationScaleOutsideXnnpacksRangeFails) {
  load("qconv_xnnpack.pte");
  const fb_xnnpack::PerTensorQuant* weights = nullptr;
  for (const fb_xnnpack::XValue* v : *graph()->xvalues()) {
    const auto* q = v->xvalue_union_as_XNNQuantizedTensorValue();
    if (q != nullptr && q->tensor_value()->constant_buffer_idx() != 0 &&
        q->tensor_value()->datatype() == fb_xnnpack::XNNDatatype::xnn_datatype_qint8) {
      weights = q->quant_params_as_PerTensorQuant();
    }
  }
  ASSERT_NE(weights, nullptr);
  set_field<float>(weights, fb_xnnpack::PerTensorQuant::VT_SCALE, 1e-30f);
  const std::string message = init();
  EXPECT_NE(message.find("requantization scale (input * weight / output scale) outside XNNPACK's [2^-32, 256)"),
            std::string::npos)
      << message;
}

TEST_F(XnnpackQuantizedPayloadTest, PerChannelScaleCountMismatchFails) {
  load("qconv_pc_xnnpack.pte");
  const auto* q = quantized(fb_xnnpack::XNNDatatype::xnn_datatype_qcint8);
  ASSERT_NE(q, nullptr);
  const auto* pc = q->quant_params_as_PerChannelQuant();
  ASSERT_NE(pc, nullptr);
  set_field<uint32_t>(pc, fb_xnnpack::PerChannelQuant::VT_NUM_SCALES, pc->num_scales() + 1);
  const std::string message = init();
  EXPECT_NE(message.find("num_scales differs from the channel count"), std::string::npos) << message;
}

// Average pooling has no 8-bit variant in this XNNPACK: on qint8 values it is refused, naming
// the node type and the datatype (the max pooling node is turned into an average pooling).
TEST_F(XnnpackQuantizedPayloadTest, NodeWithoutAQuantizedVariantIsRefusedByName) {
  load("qconv_xnnpack.pte");
  const fb_xnnpack::XNode* pool = nullptr;
  for (const fb_xnnpack::XNode* node : *graph()->xnodes()) {
    if (node->xnode_union_as_XNNMaxPooling2d() != nullptr) pool = node;
  }
  ASSERT_NE(pool, nullptr);
  set_field<uint8_t>(pool, fb_xnnpack::XNode::VT_XNODE_UNION_TYPE,
                     static_cast<uint8_t>(fb_xnnpack::XNodeUnion::XNNAvgPooling2d));
  const std::string message = init();
  EXPECT_NE(message.find("(XNNAvgPooling2d): value id"), std::string::npos) << message;
  EXPECT_NE(message.find("is xnn_datatype_qint8; this node type runs in fp32 only here"), std::string::npos) << message;
}

}  // namespace
}  // namespace etp::test

namespace etp::test {
namespace {

namespace x = fb_xnnpack;

// Graphs these tests write themselves with the flatbuffers builder (not ExecuTorch files), for
// node types and paths no exported fixture reaches, run end to end through the backend's
// init and execute on host tensors.
class SyntheticGraphTest : public PayloadTest {
 protected:
  flatbuffers::FlatBufferBuilder b_;
  std::vector<flatbuffers::Offset<x::XValue>> values_;
  std::vector<flatbuffers::Offset<x::XNode>> nodes_;
  std::vector<flatbuffers::Offset<x::ConstantDataOffset>> constant_offsets_;
  std::vector<uint8_t> constants_;  // the payload's constant region

  // Appends `size` bytes to the constant region (64-byte aligned) and returns their index in
  // constant_data (1 and up: 0 means "not constant").
  uint32_t constant(const void* data, size_t size) {
    if (constant_offsets_.empty()) constant_offsets_.push_back(x::CreateConstantDataOffset(b_, 0, 0));
    const size_t offset = (constants_.size() + 63) / 64 * 64;
    constants_.resize(offset + size);
    std::memcpy(constants_.data() + offset, data, size);
    constant_offsets_.push_back(x::CreateConstantDataOffset(b_, offset, size));
    return static_cast<uint32_t>(constant_offsets_.size() - 1);
  }
  // A constant fp32 value.
  void constant_value(const std::vector<uint32_t>& dims, const std::vector<float>& data) {
    const uint32_t buffer = constant(data.data(), data.size() * sizeof(float));
    const uint32_t id = static_cast<uint32_t>(values_.size());
    auto t = x::CreateXNNTensorValueDirect(b_, x::XNNDatatype::xnn_datatype_fp32, static_cast<uint32_t>(dims.size()),
                                           &dims, buffer, UINT32_MAX, 0, id);
    values_.push_back(x::CreateXValue(b_, x::XValueUnion::XNNTensorValue, t.Union()));
  }
  // Constant qbint4 weights [n, k] (value + 8 in nibbles, element 2j low) with inline fp32
  // block scales, one per `group` inputs of each output channel.
  void block_weights(uint32_t n, uint32_t k, int32_t group, const std::vector<uint8_t>& nibbles,
                     const std::vector<float>& scales) {
    const uint32_t buffer = constant(nibbles.data(), nibbles.size());
    const uint32_t id = static_cast<uint32_t>(values_.size());
    const std::vector<uint32_t> dims{n, k};
    auto t =
        x::CreateXNNTensorValueDirect(b_, x::XNNDatatype::xnn_datatype_qbint4, 2, &dims, buffer, UINT32_MAX, 0, id);
    auto q = x::CreatePerChannelGroupQuantDirect(b_, &scales, 0, group);
    auto v = x::CreateXNNQuantizedTensorValue(b_, t, x::XNNQuantParams::PerChannelGroupQuant, q.Union());
    values_.push_back(x::CreateXValue(b_, x::XValueUnion::XNNQuantizedTensorValue, v.Union()));
  }

  // Value `id` (ids are dense, in call order); ext is the external id or UINT32_MAX.
  void value(x::XNNDatatype type, const std::vector<uint32_t>& dims, uint32_t ext, uint32_t flags) {
    const uint32_t id = static_cast<uint32_t>(values_.size());
    auto t = x::CreateXNNTensorValueDirect(b_, type, static_cast<uint32_t>(dims.size()), &dims, 0, ext, flags, id);
    values_.push_back(x::CreateXValue(b_, x::XValueUnion::XNNTensorValue, t.Union()));
  }
  // A per-tensor quantized value (scale, zero point).
  void quantized(x::XNNDatatype type, const std::vector<uint32_t>& dims, uint32_t ext, uint32_t flags, float scale,
                 int32_t zero_point) {
    const uint32_t id = static_cast<uint32_t>(values_.size());
    auto t = x::CreateXNNTensorValueDirect(b_, type, static_cast<uint32_t>(dims.size()), &dims, 0, ext, flags, id);
    auto q = x::CreatePerTensorQuant(b_, scale, zero_point);
    auto v = x::CreateXNNQuantizedTensorValue(b_, t, x::XNNQuantParams::PerTensorQuant, q.Union());
    values_.push_back(x::CreateXValue(b_, x::XValueUnion::XNNQuantizedTensorValue, v.Union()));
  }
  // A qdint8 value (per-token parameters over the last dim), stored as constant `buffer` if not 0.
  void dynamic_int8(const std::vector<uint32_t>& dims, uint32_t buffer = 0) {
    const uint32_t id = static_cast<uint32_t>(values_.size());
    auto t = x::CreateXNNTensorValueDirect(b_, x::XNNDatatype::xnn_datatype_qdint8, static_cast<uint32_t>(dims.size()),
                                           &dims, buffer, UINT32_MAX, 0, id);
    auto q = x::CreatePerTokenDynamicQuant(b_, 1);
    auto v = x::CreateXNNQuantizedTensorValue(b_, t, x::XNNQuantParams::PerTokenDynamicQuant, q.Union());
    values_.push_back(x::CreateXValue(b_, x::XValueUnion::XNNQuantizedTensorValue, v.Union()));
  }
  void convert(uint32_t in, uint32_t out) {
    nodes_.push_back(x::CreateXNode(b_, x::XNodeUnion::XNNConvert, x::Create_XNNNode1x1(b_, in, out).Union()));
  }
  // Finishes the graph and wraps it in an XH00 header (flatbuffer at 32, then the constants).
  void finish(uint32_t num_externs) {
    b_.Finish(x::CreateXNNGraphDirect(b_, "0", &nodes_, &values_, num_externs, nullptr, nullptr, nullptr, nullptr,
                                      constant_offsets_.empty() ? nullptr : &constant_offsets_),
              x::XNNGraphIdentifier());
    const uint32_t fb_size = b_.GetSize(), fb_offset = 32, const_offset = (32 + fb_size + 63) / 64 * 64;
    const uint16_t header_length = 30;
    const uint64_t const_size = constants_.size();
    size_ = const_offset + constants_.size();
    storage_.assign((size_ + 7) / 8, 0);
    if (!constants_.empty()) std::memcpy(bytes() + const_offset, constants_.data(), constants_.size());
    std::memcpy(bytes() + 4, "XH00", 4);
    std::memcpy(bytes() + 8, &header_length, 2);
    std::memcpy(bytes() + 10, &fb_offset, 4);
    std::memcpy(bytes() + 14, &fb_size, 4);
    std::memcpy(bytes() + 18, &const_offset, 4);
    std::memcpy(bytes() + 22, &const_size, 8);
    std::memcpy(bytes() + 32, b_.GetBufferPointer(), fb_size);
  }
  // init, one execute on `args`, destroy. Returns "" or the error the plugin logged.
  // init, one execute per entry of `before_each` (each may reshape the tensors first), destroy.
  // Returns "" or the error the plugin logged, per execute (init errors: one entry).
  std::vector<std::string> run_calls(std::vector<runtime::HostTensor*> args,
                                     const std::vector<std::function<void()>>& before_each) {
    const etp_backend* backend = registry_->plugins().back()->table().backends[0];
    runtime::NamedDataMap map({}, nullptr, "xnnpack");
    etp_backend_init_args init{};
    init.header = ETP_ABI_HEADER(etp_backend_init_args);
    init.payload = bytes();
    init.payload_size = size_;
    init.named_data = map.handle();
    init.program_name = "synthetic";
    init.method_name = "forward";
    void* handle = nullptr;
    plugins::PluginLog::take_last_error();
    if (backend->init(backend->self, &init, &handle) != ETP_OK) return {plugins::PluginLog::take_last_error()};
    std::vector<etp_value> values(args.size());
    std::vector<etp_value*> pointers;
    for (size_t i = 0; i < args.size(); ++i) {
      values[i].tag = ETP_VALUE_TENSOR;
      values[i].u.tensor = &args[i]->raw;
      pointers.push_back(&values[i]);
    }
    std::vector<std::string> results;
    for (const auto& prepare : before_each) {
      prepare();
      const etp_status status =
          backend->execute(backend->self, handle, pointers.data(), static_cast<uint32_t>(args.size()));
      results.push_back(status == ETP_OK ? "" : plugins::PluginLog::take_last_error());
    }
    backend->destroy(backend->self, handle);
    return results;
  }
  std::string run(std::vector<runtime::HostTensor*> args) {
    return run_calls(std::move(args), {[] {}})[0];
  }
  static void tensor(runtime::HostTensor* t, int32_t dtype, std::vector<int32_t> sizes, void* data,
                     int32_t dynamism = ETP_DYNAMISM_STATIC) {
    const uint8_t order[ETP_MAX_RANK] = {0, 1, 2, 3, 4, 5, 6, 7};
    t->init(dtype, static_cast<int32_t>(sizes.size()), sizes.data(), order, dynamism);
    t->raw.data = data;
  }
};

// x [1,4,4,2] NHWC -> 2x2 argmax pooling -> values [1,2,2,2] (fp32) and indices [1,2,2,2]
// (int32). ExecuTorch's partitioner does not emit ArgMaxPooling2d. The indices are bound to an
// int64 tensor, which the plugin widens after XNNPACK wrote int32.
TEST_F(SyntheticGraphTest, ArgMaxPoolingGivesMaximaAndWindowIndicesWidenedToInt64) {
  value(x::XNNDatatype::xnn_datatype_fp32, {1, 4, 4, 2}, 0, 1);
  value(x::XNNDatatype::xnn_datatype_fp32, {1, 2, 2, 2}, 1, 2);
  value(x::XNNDatatype::xnn_datatype_int32, {1, 2, 2, 2}, 2, 2);
  auto pool = x::CreateXNNArgMaxPooling2d(b_, 0, 0, 0, 0, 2, 2, /*input=*/0, /*values=*/1, /*indices=*/2, 0);
  nodes_.push_back(x::CreateXNode(b_, x::XNodeUnion::XNNArgMaxPooling2d, pool.Union()));
  finish(3);

  // x[h][w][c] = a distinct value; the maximum of each 2x2 window sits at a different place.
  std::vector<float> in(32), values(8, -1.0f);
  std::vector<int64_t> indices(8, -1);
  for (int h = 0; h < 4; ++h) {
    for (int w = 0; w < 4; ++w) {
      for (int c = 0; c < 2; ++c) in[(h * 4 + w) * 2 + c] = static_cast<float>(((h * 7 + w * 3 + c * 5) % 11) - 5);
    }
  }
  runtime::HostTensor tx, tv, ti;
  tensor(&tx, ETP_DTYPE_FLOAT32, {1, 4, 4, 2}, in.data());
  tensor(&tv, ETP_DTYPE_FLOAT32, {1, 2, 2, 2}, values.data());
  tensor(&ti, ETP_DTYPE_INT64, {1, 2, 2, 2}, indices.data());
  ASSERT_EQ(run({&tx, &tv, &ti}), "");
  for (int oh = 0; oh < 2; ++oh) {
    for (int ow = 0; ow < 2; ++ow) {
      for (int c = 0; c < 2; ++c) {
        float best = -1e9f;
        int64_t best_k = -1;
        // XNNPACK walks a window column by column: index kx * pooling_height + ky; the first
        // maximum in that order wins.
        for (int k = 0; k < 4; ++k) {
          const int kx = k / 2, ky = k % 2;
          const float v = in[((oh * 2 + ky) * 4 + ow * 2 + kx) * 2 + c];
          if (v > best) best = v, best_k = k;
        }
        const int o = (oh * 2 + ow) * 2 + c;
        EXPECT_EQ(values[o], best) << o;
        EXPECT_EQ(indices[o], best_k) << o;
      }
    }
  }
}

// A static reshape under a dynamic dim: ExecuTorch writes the dynamic entry of new_shape as 0
// ("infer"). x is exported as [4,6] and bound as [2,6]: the output must become [2,2,3].
TEST_F(SyntheticGraphTest, DynamicReshapeInfersTheZeroEntry) {
  value(x::XNNDatatype::xnn_datatype_fp32, {4, 6}, 0, 1);
  value(x::XNNDatatype::xnn_datatype_fp32, {4, 2, 3}, 1, 2);
  const std::vector<uint32_t> new_shape{0, 2, 3};
  auto reshape = x::CreateXNNStaticReshapeDirect(b_, 3, &new_shape, 0, 1);
  nodes_.push_back(x::CreateXNode(b_, x::XNodeUnion::XNNStaticReshape, reshape.Union()));
  finish(2);
  std::vector<float> in(24), out(24, -1.0f);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i);
  runtime::HostTensor tx, ty;
  tensor(&tx, ETP_DTYPE_FLOAT32, {4, 6}, in.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  tensor(&ty, ETP_DTYPE_FLOAT32, {4, 2, 3}, out.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  const int64_t smaller[2] = {2, 6};
  ASSERT_OK(tx.resize(2, smaller));
  ASSERT_EQ(run({&tx, &ty}), "");
  EXPECT_EQ(std::vector<int64_t>(ty.raw.sizes, ty.raw.sizes + 3), (std::vector<int64_t>{2, 2, 3}));
  EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + 12), std::vector<float>(in.begin(), in.begin() + 12));
  EXPECT_EQ(out[12], -1.0f);  // nothing past the new size
}

// Two inferred entries cannot be resolved: the run fails naming the node (at the exported
// shape nothing is inferred, so init accepts the graph).
TEST_F(SyntheticGraphTest, AmbiguousDynamicReshapeFailsNamingTheNode) {
  value(x::XNNDatatype::xnn_datatype_fp32, {4, 6}, 0, 1);
  value(x::XNNDatatype::xnn_datatype_fp32, {4, 2, 3}, 1, 2);
  const std::vector<uint32_t> new_shape{0, 0, 3};
  auto reshape = x::CreateXNNStaticReshapeDirect(b_, 3, &new_shape, 0, 1);
  nodes_.push_back(x::CreateXNode(b_, x::XNodeUnion::XNNStaticReshape, reshape.Union()));
  finish(2);
  std::vector<float> in(24, 1.0f), out(24);
  runtime::HostTensor tx, ty;
  tensor(&tx, ETP_DTYPE_FLOAT32, {4, 6}, in.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  tensor(&ty, ETP_DTYPE_FLOAT32, {4, 2, 3}, out.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  const int64_t smaller[2] = {2, 6};
  ASSERT_OK(tx.resize(2, smaller));
  const std::string message = run({&tx, &ty});
  EXPECT_NE(message.find("node 0 (XNNStaticReshape): new shape has more than one inferred (0) entry"),
            std::string::npos)
      << message;
}

// Quantize and dequantize through qint8 and quint8 with a dynamic last dim: exported [2,6],
// run at [2,4]. Element-wise operators must cover every element whatever the last dim.
TEST_F(SyntheticGraphTest, QuantizeDequantizeRoundTripsAtADynamicLastDim) {
  constexpr float kScale = 0.1f;
  value(x::XNNDatatype::xnn_datatype_fp32, {2, 6}, 0, 1);                              // 0: x
  quantized(x::XNNDatatype::xnn_datatype_qint8, {2, 6}, UINT32_MAX, 0, kScale, 3);     // 1
  value(x::XNNDatatype::xnn_datatype_fp32, {2, 6}, 1, 2);                              // 2: via qint8
  quantized(x::XNNDatatype::xnn_datatype_quint8, {2, 6}, UINT32_MAX, 0, kScale, 128);  // 3
  value(x::XNNDatatype::xnn_datatype_fp32, {2, 6}, 2, 2);                              // 4: via quint8
  convert(0, 1);
  convert(1, 2);
  convert(0, 3);
  convert(3, 4);
  finish(3);
  // Values away from rounding ties; -20 and 20 saturate both types.
  std::vector<float> in{-1.23f, 0.04f, 2.51f, -0.36f, 20.0f, -20.0f, 0.71f, -3.02f, 0, 0, 0, 0};
  std::vector<float> via_s8(12, -99.0f), via_u8(12, -99.0f);
  runtime::HostTensor tx, ts, tu;
  tensor(&tx, ETP_DTYPE_FLOAT32, {2, 6}, in.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  tensor(&ts, ETP_DTYPE_FLOAT32, {2, 6}, via_s8.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  tensor(&tu, ETP_DTYPE_FLOAT32, {2, 6}, via_u8.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  const int64_t narrower[2] = {2, 4};
  ASSERT_OK(tx.resize(2, narrower));
  ASSERT_EQ(run({&tx, &ts, &tu}), "");
  ASSERT_EQ(ts.raw.sizes[1], 4);
  for (size_t i = 0; i < 8; ++i) {
    const float q = std::nearbyint(in[i] / kScale);
    const float s8 = (std::min(127.0f, std::max(-128.0f, q + 3)) - 3) * kScale;
    const float u8 = (std::min(255.0f, std::max(0.0f, q + 128)) - 128) * kScale;
    EXPECT_NEAR(via_s8[i], s8, 1e-6f) << i;
    EXPECT_NEAR(via_u8[i], u8, 1e-6f) << i;
  }
  EXPECT_EQ(via_s8[8], -99.0f);  // nothing past the current size
}

// A qdint8 value exists only at run time (a Convert writes it with its per-row parameters):
// one with constant data is refused at init naming the value.
TEST_F(SyntheticGraphTest, AConstantQdint8ValueIsRefused) {
  value(x::XNNDatatype::xnn_datatype_fp32, {2, 6}, 0, 1);
  dynamic_int8({2, 6}, /*buffer=*/1);
  convert(0, 1);
  finish(1);
  std::vector<float> in(12);
  runtime::HostTensor tx;
  tensor(&tx, ETP_DTYPE_FLOAT32, {2, 6}, in.data());
  const std::string message = run({&tx});
  EXPECT_NE(message.find("value 1"), std::string::npos) << message;
  EXPECT_NE(message.find("a qdint8 value cannot be constant"), std::string::npos) << message;
}

// The per-row parameters of a qdint8 value get room for rows of the exported last dim: a
// dynamic batch is fine, another last dim fails at run time with the expected size named.
TEST_F(SyntheticGraphTest, DynamicQuantizationKeepsItsLastDim) {
  value(x::XNNDatatype::xnn_datatype_fp32, {4, 6}, 0, 1);
  dynamic_int8({4, 6});
  convert(0, 1);
  finish(1);
  std::vector<float> in(24, 0.5f);
  runtime::HostTensor tx;
  tensor(&tx, ETP_DTYPE_FLOAT32, {4, 6}, in.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  const auto results = run_calls({&tx}, {[&] {
                                           const int64_t fewer_rows[2] = {2, 6};
                                           ASSERT_OK(tx.resize(2, fewer_rows));
                                         },
                                         [&] {
                                           const int64_t narrower[2] = {4, 4};
                                           ASSERT_OK(tx.resize(2, narrower));
                                         }});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0], "");
  EXPECT_NE(results[1].find("the last dim of a dynamically quantized input must stay 6"), std::string::npos)
      << results[1];
}

// An 8da4w layer (Convert to qdint8, fully connected with 4-bit block weights and a bias)
// exported at 4 rows and run at 4, then 2 (a dynamic batch): each output is within the
// activations' quantization error of the float product with the dequantized weights, and
// nothing past the current rows is written.
class DynamicLinearGraphTest : public SyntheticGraphTest {
 protected:
  static constexpr uint32_t kK = 64;
  uint32_t n_ = 8;  // output channels
  std::vector<float> scales_, bias_;
  std::vector<int32_t> w_;  // [n][k], in [-8, 7]

  // x [rows, k] -> y [rows, n]: values 0 (x), 1 (qdint8), 2 (weights), 3 (bias), 4 (y).
  void build(uint32_t rows, uint32_t k, int32_t group, uint32_t flags = 0) {
    value(x::XNNDatatype::xnn_datatype_fp32, {rows, k}, 0, 1);
    dynamic_int8({rows, k});
    std::vector<uint8_t> nibbles(n_ * k / 2);
    for (uint32_t i = 0; i < n_ * k; ++i) {
      const int32_t w = static_cast<int32_t>((i * 7 + i / 5) % 16) - 8;
      w_.push_back(w);
      nibbles[i / 2] |= static_cast<uint8_t>((w + 8) << (i % 2 == 0 ? 0 : 4));
    }
    for (uint32_t i = 0; i < n_ * (k / static_cast<uint32_t>(group)); ++i) scales_.push_back(0.015625f * (1 + i % 3));
    for (uint32_t i = 0; i < n_; ++i) bias_.push_back(0.25f * static_cast<float>(i) - 1.0f);
    block_weights(n_, k, group, nibbles, scales_);
    constant_value({n_}, bias_);
    value(x::XNNDatatype::xnn_datatype_fp32, {rows, n_}, 1, 2);
    convert(0, 1);
    auto fc = x::CreateXNNFullyConnected(b_, 1, 2, 3, 4, flags);
    nodes_.push_back(x::CreateXNode(b_, x::XNodeUnion::XNNFullyConnected, fc.Union()));
    finish(2);
  }
};

TEST_F(DynamicLinearGraphTest, ADynamicBatchRunsWithinTheQuantizationError) {
  constexpr uint32_t kGroup = 32;
  build(4, kK, kGroup);
  std::vector<float> in(4 * kK), out(4 * n_, -99.0f);
  for (size_t i = 0; i < in.size(); ++i) in[i] = std::sin(static_cast<float>(i) * 0.37f) * (1.0f + i / kK);
  runtime::HostTensor tx, ty;
  tensor(&tx, ETP_DTYPE_FLOAT32, {4, static_cast<int32_t>(kK)}, in.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  tensor(&ty, ETP_DTYPE_FLOAT32, {4, static_cast<int32_t>(n_)}, out.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  for (int64_t rows : {4, 2}) {
    SCOPED_TRACE("rows " + std::to_string(rows));
    std::fill(out.begin(), out.end(), -99.0f);
    const int64_t shape[2] = {rows, kK};
    ASSERT_OK(tx.resize(2, shape));
    ASSERT_EQ(run({&tx, &ty}), "");
    ASSERT_EQ(ty.raw.sizes[0], rows);
    for (int64_t r = 0; r < rows; ++r) {
      // The row's quantization step: its range (with 0) over 255.
      float lo = 0, hi = 0;
      for (uint32_t i = 0; i < kK; ++i) lo = std::min(lo, in[r * kK + i]), hi = std::max(hi, in[r * kK + i]);
      const double step = (hi - lo) / 255.0;
      for (uint32_t c = 0; c < n_; ++c) {
        double want = bias_[c], bound = 1e-5;
        for (uint32_t i = 0; i < kK; ++i) {
          // XNNPACK reads the inline fp32 scales as bf16 (truncated); these are exact in bf16.
          const double w = w_[c * kK + i] * static_cast<double>(scales_[c * (kK / kGroup) + i / kGroup]);
          want += in[r * kK + i] * w;
          bound += std::abs(w) * step / 2;
        }
        EXPECT_NEAR(out[r * n_ + c], want, bound) << "row " << r << " column " << c;
      }
    }
    for (size_t i = static_cast<size_t>(rows) * n_; i < out.size(); ++i) EXPECT_EQ(out[i], -99.0f) << i;
  }
}

// The layer's weights are [n, k]: XNN_FLAG_TRANSPOSE_WEIGHTS is refused naming the node, also
// on square weights, where the shapes alone would not show it.
TEST_F(DynamicLinearGraphTest, TransposedWeightsAreRefused) {
  n_ = kK;
  build(2, kK, 32, /*flags=*/1);
  std::vector<float> in(2 * kK), out(2 * n_);
  runtime::HostTensor tx, ty;
  tensor(&tx, ETP_DTYPE_FLOAT32, {2, static_cast<int32_t>(kK)}, in.data());
  tensor(&ty, ETP_DTYPE_FLOAT32, {2, static_cast<int32_t>(n_)}, out.data());
  const std::string message = run({&tx, &ty});
  EXPECT_NE(message.find("node 1 (XNNFullyConnected): a dynamically quantized layer takes no flags"), std::string::npos)
      << message;
}

// A block so long that 255 x 128 x block overflows the kernels' int32 sums is refused at init.
TEST_F(DynamicLinearGraphTest, ABlockBeyondTheInt32SumsIsRefused) {
  constexpr uint32_t kLong = 65824;  // a multiple of 32 above INT32_MAX / (255 * 128)
  build(1, kLong, static_cast<int32_t>(kLong));
  std::vector<float> in(kLong), out(n_);
  runtime::HostTensor tx, ty;
  tensor(&tx, ETP_DTYPE_FLOAT32, {1, static_cast<int32_t>(kLong)}, in.data());
  tensor(&ty, ETP_DTYPE_FLOAT32, {1, static_cast<int32_t>(n_)}, out.data());
  const std::string message = run({&tx, &ty});
  EXPECT_NE(message.find("65824 input channels per block overflow the int32 sums"), std::string::npos) << message;
}

// A call that fails half-way through deriving dims (the inputs' dims are taken, then the add
// refuses to broadcast them) must not leave the delegate believing its dims are current: the
// same shapes again fail the same way, and a good call afterwards computes the right result.
TEST_F(SyntheticGraphTest, DimsAreDerivedAgainAfterAFailedCall) {
  value(x::XNNDatatype::xnn_datatype_fp32, {4, 6}, 0, 1);
  value(x::XNNDatatype::xnn_datatype_fp32, {4, 6}, 1, 1);
  value(x::XNNDatatype::xnn_datatype_fp32, {4, 6}, 2, 2);
  nodes_.push_back(x::CreateXNode(b_, x::XNodeUnion::XNNAdd, x::Create_XNNNode2x1(b_, 0, 1, 2).Union()));
  finish(3);
  std::vector<float> a(24), b(24), out(24, -1.0f);
  for (size_t i = 0; i < 24; ++i) a[i] = static_cast<float>(i), b[i] = 100.0f;
  runtime::HostTensor ta, tb, tout;
  tensor(&ta, ETP_DTYPE_FLOAT32, {4, 6}, a.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  tensor(&tb, ETP_DTYPE_FLOAT32, {4, 6}, b.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  tensor(&tout, ETP_DTYPE_FLOAT32, {4, 6}, out.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  auto shapes = [&](int64_t rows_a, int64_t rows_b) {
    return [&, rows_a, rows_b] {
      const int64_t sa[2] = {rows_a, 6}, sb[2] = {rows_b, 6};
      ASSERT_OK(ta.resize(2, sa));
      ASSERT_OK(tb.resize(2, sb));
    };
  };
  const auto results = run_calls({&ta, &tb, &tout}, {shapes(2, 2), shapes(3, 2), shapes(3, 2), shapes(2, 2)});
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0], "");
  EXPECT_NE(results[1].find("(XNNAdd)"), std::string::npos) << results[1];
  EXPECT_EQ(results[2], results[1]);  // not run with stale dims
  EXPECT_EQ(results[3], "");
  EXPECT_EQ(tout.raw.sizes[0], 2);
  for (size_t i = 0; i < 12; ++i) EXPECT_EQ(out[i], a[i] + 100.0f) << i;
}

// A fused output clamp on a node that cannot apply it (maximum has no clamp in XNNPACK) is
// refused rather than dropped.
TEST_F(SyntheticGraphTest, FusedClampOnANodeThatCannotApplyItIsRefused) {
  value(x::XNNDatatype::xnn_datatype_fp32, {4}, 0, 1);
  value(x::XNNDatatype::xnn_datatype_fp32, {4}, 1, 1);
  value(x::XNNDatatype::xnn_datatype_fp32, {4}, 2, 2);
  nodes_.push_back(x::CreateXNode(b_, x::XNodeUnion::XNNMaximum, x::Create_XNNNode2x1(b_, 0, 1, 2).Union(), 0,
                                  x::CreateOutputMinMax(b_, 0.0f, 1.0f)));
  finish(3);
  std::vector<float> a(4), b(4), out(4);
  runtime::HostTensor ta, tb, tout;
  tensor(&ta, ETP_DTYPE_FLOAT32, {4}, a.data());
  tensor(&tb, ETP_DTYPE_FLOAT32, {4}, b.data());
  tensor(&tout, ETP_DTYPE_FLOAT32, {4}, out.data());
  const std::string message = run({&ta, &tb, &tout});
  EXPECT_NE(message.find("node 0 (XNNMaximum): a fused output clamp on this node type is not supported"),
            std::string::npos)
      << message;
}

// A node that passes values through (here a reshape) cannot change their datatype.
TEST_F(SyntheticGraphTest, PassThroughNodeThatWouldConvertIsRefused) {
  value(x::XNNDatatype::xnn_datatype_fp32, {4}, 0, 1);
  value(x::XNNDatatype::xnn_datatype_fp16, {4}, 1, 2);
  const std::vector<uint32_t> new_shape{4};
  nodes_.push_back(x::CreateXNode(b_, x::XNodeUnion::XNNStaticReshape,
                                  x::CreateXNNStaticReshapeDirect(b_, 1, &new_shape, 0, 1).Union()));
  finish(2);
  std::vector<float> in(4);
  std::vector<uint16_t> out(4);
  runtime::HostTensor tx, ty;
  tensor(&tx, ETP_DTYPE_FLOAT32, {4}, in.data());
  tensor(&ty, ETP_DTYPE_FLOAT16, {4}, out.data());
  const std::string message = run({&tx, &ty});
  EXPECT_NE(message.find("(XNNStaticReshape): input is xnn_datatype_fp32 and output xnn_datatype_fp16"),
            std::string::npos)
      << message;
}

// One shape rule per node type (the node table), run at init on the exported dims and again on
// every reshape: a transpose whose perm repeats a dim is refused at init with the same rule
// that derives its dims at run time.
TEST_F(SyntheticGraphTest, ATransposeWhosePermRepeatsADimIsRefusedByItsShapeRule) {
  value(x::XNNDatatype::xnn_datatype_fp32, {3, 3}, 0, 1);
  value(x::XNNDatatype::xnn_datatype_fp32, {3, 3}, 1, 2);
  const std::vector<uint32_t> perm{0, 0};
  nodes_.push_back(x::CreateXNode(b_, x::XNodeUnion::XNNStaticTranspose,
                                  x::CreateXNNStaticTransposeDirect(b_, 2, &perm, 0, 1).Union()));
  finish(2);
  std::vector<float> in(9), out(9);
  runtime::HostTensor tx, ty;
  tensor(&tx, ETP_DTYPE_FLOAT32, {3, 3}, in.data());
  tensor(&ty, ETP_DTYPE_FLOAT32, {3, 3}, out.data());
  const std::string message = run({&tx, &ty});
  EXPECT_NE(message.find("node 0 (XNNStaticTranspose): perm is not a permutation of the input's dims"),
            std::string::npos)
      << message;
}

// The same rule at run time: a dynamic transpose gets the permuted dims of the new input.
TEST_F(SyntheticGraphTest, ATransposeDerivesItsDimsAgainOnReshape) {
  value(x::XNNDatatype::xnn_datatype_fp32, {4, 6}, 0, 1);
  value(x::XNNDatatype::xnn_datatype_fp32, {6, 4}, 1, 2);
  const std::vector<uint32_t> perm{1, 0};
  nodes_.push_back(x::CreateXNode(b_, x::XNodeUnion::XNNStaticTranspose,
                                  x::CreateXNNStaticTransposeDirect(b_, 2, &perm, 0, 1).Union()));
  finish(2);
  std::vector<float> in(24), out(24, -1.0f);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i);
  runtime::HostTensor tx, ty;
  tensor(&tx, ETP_DTYPE_FLOAT32, {4, 6}, in.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  tensor(&ty, ETP_DTYPE_FLOAT32, {6, 4}, out.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  const int64_t smaller[2] = {2, 6};
  ASSERT_OK(tx.resize(2, smaller));
  ASSERT_EQ(run({&tx, &ty}), "");
  EXPECT_EQ(std::vector<int64_t>(ty.raw.sizes, ty.raw.sizes + 2), (std::vector<int64_t>{6, 2}));
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], 6.0f);  // out[0][1] = in[1][0]
  EXPECT_EQ(out[2], 1.0f);
}

// Operators are set up once per binding: a call with the same tensors skips XNNPACK's setup and
// reads their current contents; a call with other buffers sets the operators up again.
TEST_F(SyntheticGraphTest, OperatorsAreSetUpAgainWhenACallBindsOtherBuffers) {
  value(x::XNNDatatype::xnn_datatype_fp32, {4, 6}, 0, 1);
  value(x::XNNDatatype::xnn_datatype_fp32, {4, 6}, 1, 1);
  value(x::XNNDatatype::xnn_datatype_fp32, {4, 6}, 2, 2);
  nodes_.push_back(x::CreateXNode(b_, x::XNodeUnion::XNNAdd, x::Create_XNNNode2x1(b_, 0, 1, 2).Union()));
  finish(3);
  std::vector<float> a(24), a2(24), b(24, 100.0f), out(24, -1.0f), out2(24, -1.0f);
  for (size_t i = 0; i < 24; ++i) a[i] = static_cast<float>(i), a2[i] = static_cast<float>(1000 + i);
  runtime::HostTensor ta, tb, tout;
  tensor(&ta, ETP_DTYPE_FLOAT32, {4, 6}, a.data());
  tensor(&tb, ETP_DTYPE_FLOAT32, {4, 6}, b.data());
  tensor(&tout, ETP_DTYPE_FLOAT32, {4, 6}, out.data());
  std::vector<std::vector<float>> seen;
  auto keep = [&] { seen.push_back(tout.raw.data == out.data() ? out : out2); };  // the last call's output
  const auto results =
      run_calls({&ta, &tb, &tout}, {
                                       [] {},                                         // a + b into out
                                       [&] { keep(), ta.raw.data = a2.data(); },      // other input buffer
                                       [&] { keep(), tout.raw.data = out2.data(); },  // other output buffer
                                       [&] { keep(), a2[5] = -7.0f; },                // same buffers, new contents
                                       [&] { keep(); },
                                   });
  keep();
  ASSERT_EQ(results, std::vector<std::string>(5, ""));
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0][5], 105.0f);
  EXPECT_EQ(seen[1][5], 1105.0f);
  EXPECT_EQ(out2[0], 1100.0f);  // written through the new output buffer
  EXPECT_EQ(seen[3][5], 93.0f);
  EXPECT_EQ(seen[4][5], 93.0f);
}

// New shapes in the same buffers are a new binding too: the operator is set up for them.
TEST_F(SyntheticGraphTest, OperatorsAreSetUpAgainWhenACallBindsOtherShapes) {
  value(x::XNNDatatype::xnn_datatype_fp32, {4, 6}, 0, 1);
  value(x::XNNDatatype::xnn_datatype_fp32, {4, 6}, 1, 1);
  value(x::XNNDatatype::xnn_datatype_fp32, {4, 6}, 2, 2);
  nodes_.push_back(x::CreateXNode(b_, x::XNodeUnion::XNNAdd, x::Create_XNNNode2x1(b_, 0, 1, 2).Union()));
  finish(3);
  std::vector<float> a(24), b(24, 100.0f), out(24, -1.0f);
  for (size_t i = 0; i < 24; ++i) a[i] = static_cast<float>(i);
  runtime::HostTensor ta, tb, tout;
  tensor(&ta, ETP_DTYPE_FLOAT32, {4, 6}, a.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  tensor(&tb, ETP_DTYPE_FLOAT32, {4, 6}, b.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  tensor(&tout, ETP_DTYPE_FLOAT32, {4, 6}, out.data(), ETP_DYNAMISM_DYNAMIC_BOUND);
  auto rows = [&](int64_t n) {
    return [&, n] {
      const int64_t sizes[2] = {n, 6};
      ASSERT_OK(ta.resize(2, sizes));
      ASSERT_OK(tb.resize(2, sizes));
    };
  };
  const auto results = run_calls({&ta, &tb, &tout}, {rows(2), rows(4)});
  ASSERT_EQ(results, std::vector<std::string>(2, ""));
  EXPECT_EQ(tout.raw.sizes[0], 4);
  for (size_t i = 0; i < 24; ++i) EXPECT_EQ(out[i], a[i] + 100.0f) << i;  // rows 2 and 3 too
}

}  // namespace
}  // namespace etp::test
