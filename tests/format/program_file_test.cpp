// Every real fixture verifies, and what the reader sees agrees with what the exporter
// recorded in index.json.
#include <gtest/gtest.h>

#include <set>

#include "format/data_file.h"
#include "format/program_file.h"
#include "format/xnnpack_blob.h"
#include "support/fixtures.h"
#include "xnnpack_graph_generated.h"

namespace etp::format {
namespace {

using test::all_fixtures;
using test::fixture_path;

TEST(FixtureIndexTest, IndexListsTheRequiredFixtures) {
  std::set<std::string> models;
  for (const auto& f : all_fixtures()) models.insert(f["model"].get<std::string>());
  for (const char* model : {"add", "linear", "mlp", "cnn", "tiny_llama", "tiny_llama_lora", "xor_train", "dynamic",
                            "multi_method"}) {
    EXPECT_TRUE(models.count(model)) << "index.json has no fixture for model " << model;
  }
}

TEST(ProgramFileTest, EveryFixtureProgramAndDataFileVerifies) {
  ASSERT_FALSE(all_fixtures().empty());
  for (const auto& f : all_fixtures()) {
    auto program = ProgramFile::open(fixture_path(f["program"]));
    ASSERT_TRUE(program.ok()) << program.status().message();
    std::vector<std::string> methods;
    for (size_t i = 0; i < program->num_plans(); ++i) methods.push_back(program->plan(i).name()->str());
    EXPECT_EQ(methods, f["methods"].get<std::vector<std::string>>()) << f["name"];
    for (const auto& data : f["data_files"]) {
      auto file = DataFile::open(fixture_path(data));
      ASSERT_TRUE(file.ok()) << file.status().message();
      EXPECT_GT(file->entries().size(), 0u) << data;
    }
  }
}

// Every EXTERNAL tensor of every program is found in the fixture's data files with a
// layout matching the program's dtype, sizes and dim order, as the runtime will require.
TEST(ProgramFileTest, ExternalTensorsResolveInTheFixtureDataFiles) {
  for (const auto& f : all_fixtures()) {
    auto program = ProgramFile::open(fixture_path(f["program"]));
    ASSERT_TRUE(program.ok());
    std::vector<DataFile> files;
    for (const auto& data : f["data_files"]) files.push_back(std::move(DataFile::open(fixture_path(data)).value()));
    for (size_t p = 0; p < program->num_plans(); ++p) {
      const auto* values = program->plan(p).values();
      for (flatbuffers::uoffset_t v = 0; values && v < values->size(); ++v) {
        const fb::Tensor* t = values->Get(v)->val_as_Tensor();
        if (!t || !t->extra_tensor_info() || t->extra_tensor_info()->location() != fb::TensorDataLocation::EXTERNAL) {
          continue;
        }
        const std::string key = t->extra_tensor_info()->fully_qualified_name()->str();
        const DataEntry* entry = nullptr;
        for (const DataFile& file : files) entry = entry ? entry : file.find(key);
        ASSERT_NE(entry, nullptr) << f["name"] << ": key " << key;
        ASSERT_TRUE(entry->layout.has_value()) << key;
        EXPECT_EQ(entry->layout->scalar_type, static_cast<int>(t->scalar_type())) << key;
        EXPECT_EQ(entry->layout->sizes, std::vector<int32_t>(t->sizes()->begin(), t->sizes()->end())) << key;
        EXPECT_EQ(entry->layout->dim_order, std::vector<uint8_t>(t->dim_order()->begin(), t->dim_order()->end()))
            << key;
      }
    }
  }
}

// Constants are views into the mapped file, never copies.
TEST(ProgramFileTest, ConstantsPointIntoTheMappedFile) {
  size_t checked = 0;
  for (const auto& f : all_fixtures()) {
    auto program = ProgramFile::open(fixture_path(f["program"]));
    ASSERT_TRUE(program.ok());
    const uint8_t* begin = program->file().data();
    const uint8_t* end = begin + program->file().size();
    for (size_t p = 0; p < program->num_plans(); ++p) {
      const auto* values = program->plan(p).values();
      for (flatbuffers::uoffset_t v = 0; values && v < values->size(); ++v) {
        const fb::Tensor* t = values->Get(v)->val_as_Tensor();
        if (!t || t->data_buffer_idx() == 0 || t->allocation_info()) continue;
        // EXTERNAL wins over data_buffer_idx (the exporter leaves an index on some).
        if (t->extra_tensor_info() && t->extra_tensor_info()->location() == fb::TensorDataLocation::EXTERNAL) continue;
        const ByteSpan data = program->constant(t->data_buffer_idx());
        EXPECT_TRUE(data.data >= begin && data.data + data.size <= end) << f["name"] << " value " << v;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 0u) << "no fixture has in-program constants";
}

// Every XNNPACK payload parses, and each named constant it needs is in the program's
// named data or in the fixture's data files.
TEST(XnnpackBlobTest, EveryFixtureBlobParsesAndItsNamedKeysResolve) {
  size_t blobs = 0;
  for (const auto& f : all_fixtures()) {
    auto program = ProgramFile::open(fixture_path(f["program"]));
    ASSERT_TRUE(program.ok());
    std::vector<DataFile> files;
    for (const auto& data : f["data_files"]) files.push_back(std::move(DataFile::open(fixture_path(data)).value()));
    for (size_t p = 0; p < program->num_plans(); ++p) {
      const auto* delegates = program->plan(p).delegates();
      for (flatbuffers::uoffset_t d = 0; delegates && d < delegates->size(); ++d) {
        if (delegates->Get(d)->id()->string_view() != "XnnpackBackend") continue;
        auto blob = XnnpackBlob::parse(program->delegate_blob(*delegates->Get(d)), f["name"]);
        ASSERT_TRUE(blob.ok()) << blob.status().message();
        ++blobs;
        const auto* constants = blob->graph().constant_data();
        for (flatbuffers::uoffset_t c = 1; constants && c < constants->size(); ++c) {  // 0: placeholder
          if (!constants->Get(c)->named_key()) continue;
          const std::string key = constants->Get(c)->named_key()->str();
          bool found = program->find_named_data(key) != nullptr;
          for (const DataFile& file : files) found = found || file.find(key) != nullptr;
          EXPECT_TRUE(found) << f["name"] << ": XNNPACK key " << key;
        }
      }
    }
  }
  EXPECT_GT(blobs, 0u);
}

}  // namespace
}  // namespace etp::format
