// Random corruption of real XNNPACK payloads: every XNNPACK fixture's delegate graphs get
// seeded byte mutations, then the program is loaded and, when the load succeeds, run on the
// fixture's first inputs. Whatever the mutation, the result is a clean error or a run, never
// a crash; under ASan/UBSan this also proves the plugin's reads and writes stay in bounds.
// Not a proof of safety, a smoke test with a fixed seed, so a failure reproduces.
#include <gtest/gtest.h>

#include "support/status.h"

#include <cstdio>
#include <cstdlib>
#include <random>

#include "format/data_file.h"
#include "format/program_file.h"
#include "runtime/runtime_support.h"
#include "runtime/tensor_io.h"
#include "support/fixtures.h"
#include "support/patch.h"

namespace etp::test {
namespace {

// ETP_FUZZ_MUTATIONS raises the count for a longer local run; CI uses the default.
int mutations_per_fixture() {
  const char* env = std::getenv("ETP_FUZZ_MUTATIONS");
  const int n = env ? std::atoi(env) : 0;
  return n > 0 ? n : 300;
}
constexpr size_t kHeaderBytes = 32;  // XH00 header + alignment before the graph flatbuffer

// [begin, end) byte ranges of the file that hold XNNPACK graph flatbuffers.
std::vector<std::pair<size_t, size_t>> graph_ranges(const std::string& path) {
  std::vector<std::pair<size_t, size_t>> ranges;
  auto program = format::ProgramFile::open(path);
  if (!program.ok()) return ranges;
  const uint8_t* base = program->file().data();
  for (flatbuffers::uoffset_t p = 0; p < program->num_plans(); ++p) {
    const auto* delegates = program->plan(p).delegates();
    for (flatbuffers::uoffset_t d = 0; delegates && d < delegates->size(); ++d) {
      const ByteSpan blob = program->delegate_blob(*delegates->Get(d));
      if (blob.size <= kHeaderBytes) continue;
      const size_t begin = static_cast<size_t>(blob.data - base);
      ranges.emplace_back(begin + kHeaderBytes, begin + blob.size);
    }
  }
  return ranges;
}

class XnnpackFuzzTest : public ::testing::TestWithParam<std::string> {};

TEST_P(XnnpackFuzzTest, MutatedGraphsFailCleanlyOrRun) {
  const nlohmann::json fixture = fixture_named(GetParam());
  ASSERT_FALSE(fixture.is_null());
  const std::string path = fixture_path(fixture["program"]);
  const auto ranges = graph_ranges(path);
  ASSERT_FALSE(ranges.empty()) << "no XNNPACK payload in " << path;
  std::vector<NpyArray> inputs;
  for (const auto& in : fixture["runs"][0]["inputs"]) {
    auto array = read_npy(fixture_path(in["file"]));
    ASSERT_TRUE(array.ok());
    inputs.push_back(std::move(*array));
  }
  static const auto registry = full_registry("1");
  std::vector<runtime::DataSource> data;
  uint64_t id = 1;
  for (const auto& name : fixture["data_files"]) {
    auto opened = format::DataFile::open(fixture_path(name));
    ASSERT_TRUE(opened.ok());
    data.push_back({std::make_shared<const format::DataFile>(std::move(*opened)), id++, ""});
  }
  PatchedFile file(path);
  const std::vector<uint8_t> original = file.bytes();
  std::mt19937 rng(20261125u ^ static_cast<uint32_t>(std::hash<std::string>{}(GetParam())));
  int loaded = 0, refused = 0, ran = 0;
  const int mutations = mutations_per_fixture();
  for (int m = 0; m < mutations; ++m) {
    file.bytes() = original;
    const auto& [begin, end] = ranges[rng() % ranges.size()];
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k) file.bytes()[begin + rng() % (end - begin)] ^= static_cast<uint8_t>(1 + rng() % 255);
    const std::string path = file.write();
    auto program = runtime::Program::open(path, data, registry);
    std::remove(path.c_str());  // the program keeps its mapping; /tmp does not fill up
    if (!program.ok()) {
      EXPECT_FALSE(program.status().message().empty());
      continue;
    }
    auto method = (*program)->load_method(fixture["runs"][0]["method"]);
    if (!method.ok()) {
      EXPECT_FALSE(method.status().message().empty());
      ++refused;
      continue;
    }
    ++loaded;
    bool inputs_ok = true;
    for (size_t i = 0; i < inputs.size(); ++i)
      inputs_ok = inputs_ok && (*method)->set_input(i, runtime::as_input(inputs[i])).ok();
    if (inputs_ok && (*method)->execute().ok()) ++ran;
  }
  // The mutations must reach the plugin both ways: some graphs it refuses at init, some it
  // loads (slack bytes, benign values). Otherwise the test would exercise nothing.
  EXPECT_GT(refused, 0);
  EXPECT_GT(loaded, 0);
  RecordProperty("loaded", loaded);
  RecordProperty("refused", refused);
  RecordProperty("ran", ran);
}

std::vector<std::string> xnnpack_fixture_names() {
  std::vector<std::string> names;
  for (const auto& f : all_fixtures()) {
    if (f["backend"] == "xnnpack") names.push_back(f["name"]);
  }
  return names;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, XnnpackFuzzTest, ::testing::ValuesIn(xnnpack_fixture_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace etp::test
