// Programs in the older layout ExecuTorch still loads: constants inline in constant_buffer while
// a constant_segment entry is present with an empty offsets list (or only the placeholder
// offset 0) and names a segment that does not exist. The test rewrites a real fixture into that
// layout with the flatbuffers object API and runs it through the public API.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "etp/etp.h"
#include "object_api/program_generated.h"
#include "support/fixtures.h"
#include "support/status.h"

namespace etp::test {
namespace {

namespace fb = ::executorch_flatbuffer;

uint64_t read_u64(const std::vector<uint8_t>& bytes, size_t at) {
  uint64_t v = 0;
  std::memcpy(&v, bytes.data() + at, sizeof(v));
  return v;
}

// `name` with its constants moved from the constant segment into constant_buffer, the segment
// table emptied and constant_segment.offsets set to `offsets`; written as a plain flatbuffer.
std::string rewrite_inline(const std::string& name, const std::vector<uint64_t>& offsets) {
  const std::vector<uint8_t> bytes = read_bytes(fixture_path(name));
  EXPECT_EQ(std::memcmp(bytes.data() + 8, "eh00", 4), 0);  // extended header: segment base at 24
  const uint64_t base = read_u64(bytes, 24);
  std::unique_ptr<fb::ProgramT> program = fb::UnPackProgram(bytes.data());
  EXPECT_TRUE(program->constant_segment != nullptr);
  const std::vector<uint64_t> old_offsets = program->constant_segment->offsets;
  const auto& segment = program->segments.at(program->constant_segment->segment_index);
  const uint8_t* data = bytes.data() + base + segment->offset;
  program->constant_buffer.clear();
  for (size_t i = 0; i < old_offsets.size(); ++i) {
    const uint64_t end = i + 1 < old_offsets.size() ? old_offsets[i + 1] : segment->size;
    auto buffer = std::make_unique<fb::BufferT>();
    if (i > 0) buffer->storage.assign(data + old_offsets[i], data + end);  // entry 0: the placeholder
    program->constant_buffer.push_back(std::move(buffer));
  }
  program->segments.clear();
  program->constant_segment->offsets = offsets;
  flatbuffers::FlatBufferBuilder builder;
  builder.Finish(fb::Program::Pack(builder, program.get()), fb::ProgramIdentifier());
  const std::string path = ::testing::TempDir() + "etp_inline_" + std::to_string(offsets.size()) + "_" + name;
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
  return path;
}

Tensor read_npy_f32(const std::string& name) {  // the fixtures' float32 .npy files (v1 header)
  const std::vector<uint8_t> bytes = read_bytes(fixture_path(name));
  const size_t header = bytes[8] | (bytes[9] << 8);
  const std::string text(bytes.begin() + 10, bytes.begin() + 10 + static_cast<std::ptrdiff_t>(header));
  Tensor t{DType::kFloat32, {}, {}};
  const size_t open = text.find("'shape': (") + 10, close = text.find(')', open);
  for (size_t start = open; start < close;) {
    const size_t comma = std::min(text.find(',', start), close);
    if (comma > start) t.sizes.push_back(std::stoll(text.substr(start, comma - start)));
    start = comma + 1;
  }
  t.data.assign(bytes.begin() + 10 + static_cast<std::ptrdiff_t>(header), bytes.end());
  return t;
}

TEST(LegacyLayoutTest, InlineConstantsNextToAnUnusedConstantSegmentLoadAndRun) {
  const Tensor input = read_npy_f32("mlp_portable.run0.in0.npy");
  const Tensor expected = read_npy_f32("mlp_portable.run0.out0.npy");
  for (const std::vector<uint64_t>& offsets : {std::vector<uint64_t>{}, std::vector<uint64_t>{0}}) {
    const std::string path = rewrite_inline("mlp_portable.pte", offsets);
    auto bundle = Bundle::open(BundleSpec::for_program(path, {}, {"portable"}), {{ETP_PLUGIN_DIR}, false, {}});
    ASSERT_OK(bundle.status());
    auto method = bundle->load_method("model");
    ASSERT_OK(method.status()) << offsets.size() << " offsets";
    auto out = method->run({input.ref()});
    ASSERT_OK(out.status());
    ASSERT_EQ((*out)[0].data.size(), expected.data.size());
    for (int64_t i = 0; i < expected.numel(); ++i) {  // ExecuTorch's outputs, at the fixture's tolerance
      EXPECT_NEAR((*out)[0].value(i), expected.value(i), 1e-5 + 1e-5 * std::fabs(expected.value(i))) << i;
    }
    // The same kernels on the same constants: bit for bit what the segment layout gives.
    auto original = Bundle::open(BundleSpec::for_program(fixture_path("mlp_portable.pte"), {}, {"portable"}),
                                 {{ETP_PLUGIN_DIR}, false, {}});
    ASSERT_OK(original.status());
    auto reference = original->load_method("model")->run({input.ref()});
    ASSERT_OK(reference.status());
    EXPECT_EQ((*out)[0].data, (*reference)[0].data);
    std::remove(path.c_str());
  }
}

// A .pte as the exporter lays it out: the flatbuffer with a 32-byte extended header inserted
// after its file identifier (the root offset moves with it), then the segment data.
std::vector<uint8_t> with_segments(const flatbuffers::FlatBufferBuilder& builder, const uint8_t* segments,
                                   uint64_t segment_bytes) {
  const uint8_t* fbuf = builder.GetBufferPointer();
  const uint64_t program_size = builder.GetSize() + 32;
  const uint64_t base = (program_size + 15) / 16 * 16;
  std::vector<uint8_t> out(base + segment_bytes, 0);
  uint32_t root = 0;
  std::memcpy(&root, fbuf, 4);
  root += 32;
  std::memcpy(out.data(), &root, 4);
  std::memcpy(out.data() + 4, fbuf + 4, 4);  // the file identifier
  const uint32_t length = 32;
  std::memcpy(out.data() + 8, "eh00", 4);
  std::memcpy(out.data() + 12, &length, 4);
  std::memcpy(out.data() + 16, &program_size, 8);
  std::memcpy(out.data() + 24, &base, 8);
  std::memcpy(out.data() + 32, &segment_bytes, 8);
  std::memcpy(out.data() + 40, fbuf + 8, builder.GetSize() - 8);
  std::memcpy(out.data() + base, segments, segment_bytes);
  return out;
}

TEST(LegacyLayoutTest, ConstantsInBothPlacesAreRefused) {
  const std::vector<uint8_t> bytes = read_bytes(fixture_path("mlp_portable.pte"));
  const uint64_t base = read_u64(bytes, 24);
  std::unique_ptr<fb::ProgramT> program = fb::UnPackProgram(bytes.data());
  ASSERT_EQ(program->segments.size(), 1u);
  const uint64_t segment_bytes = program->segments[0]->offset + program->segments[0]->size;
  flatbuffers::FlatBufferBuilder builder;
  builder.Finish(fb::Program::Pack(builder, program.get()), fb::ProgramIdentifier());
  const std::string path = ::testing::TempDir() + "etp_both_constants.pte";
  auto write = [&](const std::vector<uint8_t>& file) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(file.data()), file.size());
  };
  // Rebuilt as is, the program runs: the writer above lays files out as the exporter does.
  write(with_segments(builder, bytes.data() + base, segment_bytes));
  auto same = Bundle::open(BundleSpec::for_program(path, {}, {"portable"}), {{ETP_PLUGIN_DIR}, false, {}});
  ASSERT_OK(same.status());
  ASSERT_OK(same->load_method("model").status());
  // A constant segment in use (offsets beyond the placeholder) next to a non-empty constant_buffer.
  program->constant_buffer.push_back(std::make_unique<fb::BufferT>());
  program->constant_buffer.push_back(std::make_unique<fb::BufferT>());
  flatbuffers::FlatBufferBuilder both;
  both.Finish(fb::Program::Pack(both, program.get()), fb::ProgramIdentifier());
  write(with_segments(both, bytes.data() + base, segment_bytes));
  auto bundle = Bundle::open(BundleSpec::for_program(path, {}, {"portable"}), {{ETP_PLUGIN_DIR}, false, {}});
  ASSERT_OK(bundle.status());
  auto method = bundle->load_method("model");
  ASSERT_FALSE(method.ok());
  EXPECT_NE(method.status().message().find("has both constant_segment"), std::string::npos)
      << method.status().message();
  std::remove(path.c_str());
}

}  // namespace
}  // namespace etp::test
