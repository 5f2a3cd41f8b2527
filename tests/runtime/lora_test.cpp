// LoRA programs over a shared foundation file: several programs, loaded and unloaded in any
// order; a foundation lacking a key or holding it with another layout is a clear error.
#include <gtest/gtest.h>

#include "support/status.h"

#include <algorithm>
#include <cstdio>

#include "format/data_file.h"
#include "format/data_file_writer.h"
#include "runtime/runtime_support.h"
#include "support/fixtures.h"

namespace etp::test {
namespace {

const char* kVariants[] = {"tiny_llama", "tiny_llama_lora", "tiny_llama_lora2"};

std::shared_ptr<const format::DataFile> open_data(const std::string& path) {
  auto file = format::DataFile::open(path);
  EXPECT_TRUE(file.ok()) << file.status().message();
  return std::make_shared<const format::DataFile>(std::move(*file));
}

Result<std::unique_ptr<runtime::Method>> load(const std::shared_ptr<const plugins::Registry>& registry,
                                              const std::string& model, const std::string& backend,
                                              std::shared_ptr<const format::DataFile> foundation, bool owned) {
  const auto f = find_fixture(model, backend);
  auto program = runtime::Program::open(fixture_path(f["program"]), {{foundation, 3, owned ? "xnnpack" : ""}}, registry);
  if (!program.ok()) return program.status();
  return (*program)->load_method("forward");
}

size_t shared_entries(const plugins::Registry& registry) {
  size_t n = 0;
  for (const auto& e : registry.plugins().back()->cache_report()) n += e.shared ? 1 : 0;
  return n;
}

// Every order of unloading three programs that share the foundation: shared entries stay
// while any user is left and go with the last (leaks would show in the sanitizer build).
TEST(LoraBundleTest, ProgramsUnloadInAnyOrderAndSharedWeightsStayUntilTheLastUser) {
  auto registry = full_registry();
  auto foundation = open_data(fixture_path("tiny_llama_foundation_xnnpack.ptd"));
  std::vector<int> order = {0, 1, 2};
  do {
    std::vector<std::unique_ptr<runtime::Method>> methods;
    for (const char* v : kVariants) {
      auto m = load(registry, v, "xnnpack", foundation, true);
      ASSERT_TRUE(m.ok()) << m.status().message();
      methods.push_back(std::move(*m));
    }
    const size_t all = shared_entries(*registry);
    ASSERT_GT(all, 0u);
    for (size_t k = 0; k < order.size(); ++k) {
      methods[order[k]].reset();
      if (k + 1 < order.size()) {
        EXPECT_GT(shared_entries(*registry), 0u) << "shared weights left with users remaining";
      }
    }
    EXPECT_EQ(registry->plugins().back()->cache_report().size(), 0u);
  } while (std::next_permutation(order.begin(), order.end()));
}

// Writes a copy of `source` without `drop`, and with `reshape` (if set) given other sizes.
std::string rewrite(const format::DataFile& source, const std::string& drop, const std::string& reshape,
                    const std::string& path) {
  std::vector<format::TensorToWrite> tensors;
  for (const format::DataEntry& e : source.entries()) {
    if (e.key == drop) continue;
    format::TensorToWrite t;
    t.key = std::string(e.key);
    t.data = e.bytes.data;
    if (e.layout) {
      t.scalar_type = e.layout->scalar_type;
      t.sizes = e.layout->sizes;
      t.dim_order = e.layout->dim_order;
      t.nbytes = e.layout->nbytes;
      if (t.key == reshape && t.sizes.size() == 2) std::swap(t.sizes[0], t.sizes[1]);
    } else {  // delegate blobs: bytes without a layout in ExecuTorch; the writer adds a byte layout
      t.scalar_type = 0;
      t.sizes = {static_cast<int32_t>(e.bytes.size)};
      t.nbytes = e.bytes.size;
    }
    tensors.push_back(std::move(t));
  }
  EXPECT_OK(format::write_data_file(path, std::move(tensors)));
  return path;
}

// A key the LoRA program needs that the foundation lacks: named in the error (portable: an
// EXTERNAL tensor's FQN; XNNPACK: a delegate's named constant).
TEST(LoraBundleTest, FoundationLackingAKeyFailsNamingTheKey) {
  auto registry = full_registry();
  auto portable = open_data(fixture_path("tiny_llama_foundation_portable.ptd"));
  const std::string key = "layers.0.attention.wq.linear.weight";
  ASSERT_NE(portable->find(key), nullptr) << "fixture naming changed";
  auto missing = open_data(rewrite(*portable, key, "", "/tmp/etp_lora_missing.ptd"));
  auto m = load(registry, "tiny_llama_lora", "portable", missing, false);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("tensor '" + key + "' is stored externally but no data file has it"),
            std::string::npos)
      << m.status().message();

  auto xnn = open_data(fixture_path("tiny_llama_foundation_xnnpack.ptd"));
  std::string blob_key;
  for (const auto& e : xnn->entries()) {
    if (!e.layout) blob_key = std::string(e.key);
  }
  ASSERT_FALSE(blob_key.empty());
  auto missing_blob = open_data(rewrite(*xnn, blob_key, "", "/tmp/etp_lora_missing_blob.ptd"));
  auto x = load(registry, "tiny_llama_lora", "xnnpack", missing_blob, true);
  ASSERT_FALSE(x.ok());
  EXPECT_NE(x.status().message().find("named constant '" + blob_key + "' is in no data file or program"),
            std::string::npos)
      << x.status().message();
  std::remove("/tmp/etp_lora_missing.ptd");
  std::remove("/tmp/etp_lora_missing_blob.ptd");
}

// A foundation replaced by one where a key has another layout: the key, the expected and the
// found layout are in the error.
TEST(LoraBundleTest, FoundationWithADifferentLayoutFailsNamingKeyAndBothLayouts) {
  auto registry = full_registry();
  auto portable = open_data(fixture_path("tiny_llama_foundation_portable.ptd"));
  const std::string key = "layers.1.feed_forward.w1.linear.weight";
  const format::DataEntry* entry = portable->find(key);
  ASSERT_NE(entry, nullptr);
  ASSERT_EQ(entry->layout->sizes.size(), 2u);
  auto changed = open_data(rewrite(*portable, "", key, "/tmp/etp_lora_layout.ptd"));
  auto m = load(registry, "tiny_llama_lora", "portable", changed, false);
  ASSERT_FALSE(m.ok());
  const std::string rows = std::to_string(entry->layout->sizes[0]), cols = std::to_string(entry->layout->sizes[1]);
  EXPECT_NE(m.status().message().find("tensor '" + key + "' in /tmp/etp_lora_layout.ptd has layout float32[" + cols +
                                      ", " + rows + "], expected float32[" + rows + ", " + cols + "]"),
            std::string::npos)
      << m.status().message();
  std::remove("/tmp/etp_lora_layout.ptd");
}

}  // namespace
}  // namespace etp::test
