// PTD reader: real data files verify; corruptions fail with the file and key named.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <functional>

#include "flat_tensor_generated.h"
#include "format/data_file.h"
#include "inspect/inspect.h"
#include "support/fixtures.h"
#include "support/patch.h"
#include "support/sanitizers.h"
#include "support/status.h"

namespace etp::format {
namespace {

namespace ft = ::flat_tensor_flatbuffer;
using test::PatchedFile;

std::string data_file_with(const std::function<bool(const DataFile&)>& want) {
  for (const auto& f : test::all_fixtures()) {
    for (const auto& name : f["data_files"]) {
      const std::string path = test::fixture_path(name);
      auto file = DataFile::open(path);
      if (file.ok() && want(*file)) return path;
    }
  }
  ADD_FAILURE() << "no fixture data file has the structure this test needs";
  return test::fixture_path("missing.ptd");
}

bool has_float_layout(const DataFile& f) {
  for (const auto& e : f.entries()) {
    if (e.layout && e.layout->scalar_type == 6 && !e.layout->sizes.empty()) return true;
  }
  return false;
}

// A float entry whose segment offset is stored (non-zero), so tests can move it.
const ft::NamedData* first_float_entry(const PatchedFile& file) {
  const ft::FlatTensor* root = ft::GetFlatTensor(file.data());
  const auto* named = root->named_data();
  for (flatbuffers::uoffset_t i = 0; i < named->size(); ++i) {
    const ft::TensorLayout* layout = named->Get(i)->tensor_layout();
    const ft::DataSegment* segment = root->segments()->Get(named->Get(i)->segment_index());
    if (layout && layout->scalar_type() == executorch_flatbuffer::ScalarType::FLOAT && layout->sizes() &&
        layout->sizes()->size() > 0 && segment->offset() > 0) {
      return named->Get(i);
    }
  }
  throw std::runtime_error("no float entry");
}

void expect_data_file_error(const PatchedFile& file, std::initializer_list<const char*> expected) {
  const std::string path = file.write();
  auto data = DataFile::open(path);
  ASSERT_FALSE(data.ok()) << "a corrupt data file opened";
  const std::string& message = data.status().message();
  EXPECT_NE(message.find(path), std::string::npos) << "message does not name the file: " << message;
  for (const char* text : expected) EXPECT_NE(message.find(text), std::string::npos) << message;
}

TEST(DataFileTest, LayoutsDescribeTheirSegments) {
  auto file = DataFile::open(data_file_with(has_float_layout));
  ASSERT_TRUE(file.ok());
  for (const DataEntry& e : file->entries()) {
    EXPECT_EQ(file->find(e.key), &e);
    if (e.layout) {
      EXPECT_LE(e.layout->nbytes, e.bytes.size) << e.key;
    }
    EXPECT_GE(e.bytes.data, file->file().data());
  }
  EXPECT_EQ(file->find("no.such.key"), nullptr);
}

TEST(DataFileMalformedTest, EmptyFileFails) {
  PatchedFile file(data_file_with(has_float_layout));
  file.truncate(0);
  expect_data_file_error(file, {"empty file"});
}

TEST(DataFileMalformedTest, WrongIdentifierFails) {
  PatchedFile file(data_file_with(has_float_layout));
  file.set_at<uint32_t>(4, 0x31305445);  // "ET01"
  expect_data_file_error(file, {"not a .ptd data file", "'FT01'"});
}

TEST(DataFileMalformedTest, TruncatedHeaderFails) {
  PatchedFile file(data_file_with(has_float_layout));
  file.truncate(30);
  expect_data_file_error(file, {"truncated header"});
}

TEST(DataFileMalformedTest, WrongHeaderMagicFails) {
  PatchedFile file(data_file_with(has_float_layout));
  file.set_at<uint32_t>(8, 0x30304845);  // "EH00"
  expect_data_file_error(file, {"header magic", "'FH01'"});
}

TEST(DataFileMalformedTest, ShortHeaderLengthFails) {
  PatchedFile file(data_file_with(has_float_layout));
  file.set_at<uint32_t>(12, 16);
  expect_data_file_error(file, {"header length 16"});
}

TEST(DataFileMalformedTest, TruncatedSegmentDataFails) {
  PatchedFile file(data_file_with(has_float_layout));
  file.truncate(file.bytes().size() - 4);
  expect_data_file_error(file, {"truncated: segment data"});
}

TEST(DataFileMalformedTest, FlatbufferSizePastEndOfFileFails) {
  PatchedFile file(data_file_with(has_float_layout));
  file.set_at<uint64_t>(24, uint64_t{1} << 62);
  expect_data_file_error(file, {"truncated: flatbuffer"});
}

TEST(DataFileMalformedTest, SegmentPastEndOfDataFails) {
  PatchedFile file(data_file_with(has_float_layout));
  const ft::DataSegment* segment = ft::GetFlatTensor(file.data())->segments()->Get(0);
  file.set_field<uint64_t>(segment, ft::DataSegment::VT_SIZE, uint64_t{1} << 40);
  expect_data_file_error(file, {"segment 0", "lies past the end"});
}

TEST(DataFileMalformedTest, KeyWithoutSegmentFails) {
  PatchedFile file(data_file_with(has_float_layout));
  const ft::NamedData* entry = first_float_entry(file);
  const uint32_t bad = 1000;
  if (test::field_address(entry, ft::NamedData::VT_SEGMENT_INDEX)) {
    file.set_field<uint32_t>(entry, ft::NamedData::VT_SEGMENT_INDEX, bad);
  } else {  // segment 0 is a default the writer leaves out; use another entry
    const auto* named = ft::GetFlatTensor(file.data())->named_data();
    file.set_field<uint32_t>(named->Get(named->size() - 1), ft::NamedData::VT_SEGMENT_INDEX, bad);
  }
  expect_data_file_error(file, {"key '", "refers to segment 1000"});
}

TEST(DataFileMalformedTest, LayoutLargerThanSegmentFails) {
  PatchedFile file(data_file_with(has_float_layout));
  const ft::NamedData* entry = first_float_entry(file);
  file.set(entry->tensor_layout()->sizes()->Data(), int32_t{1} << 28);
  expect_data_file_error(file, {"layout needs", "bytes but its segment has"});
}

TEST(DataFileMalformedTest, NegativeLayoutSizeFails) {
  PatchedFile file(data_file_with(has_float_layout));
  file.set(first_float_entry(file)->tensor_layout()->sizes()->Data(), int32_t{-1});
  expect_data_file_error(file, {"layout size -1", "negative"});
}

TEST(DataFileMalformedTest, UnknownLayoutDtypeFails) {
  PatchedFile file(data_file_with(has_float_layout));
  file.set_field<int8_t>(first_float_entry(file)->tensor_layout(), ft::TensorLayout::VT_SCALAR_TYPE, 100);
  expect_data_file_error(file, {"unknown scalar type 100"});
}

TEST(DataFileMalformedTest, MisalignedTensorDataFails) {
  PatchedFile file(data_file_with(has_float_layout));
  const ft::NamedData* entry = first_float_entry(file);
  const auto* segments = ft::GetFlatTensor(file.data())->segments();
  const ft::DataSegment* segment = segments->Get(entry->segment_index());
  // Shift the segment by two bytes and shrink it so it stays inside the data.
  file.set_field<uint64_t>(segment, ft::DataSegment::VT_OFFSET, segment->offset() + 2);
  file.set_field<uint64_t>(segment, ft::DataSegment::VT_SIZE, segment->size() - 4);
  expect_data_file_error(file, {"not aligned"});
}

TEST(DataFileMalformedTest, RandomByteFlipsNeverCrash) {
  const std::string path = data_file_with(has_float_layout);
  const std::vector<uint8_t> original = test::read_bytes(path);
  PatchedFile file(path);
  const size_t limit = std::min<size_t>(original.size(), 1024);  // the header and flatbuffer
  for (size_t i = 0; i < limit; ++i) {
    file.bytes() = original;
    file.bytes()[i] ^= 0xa5;
    auto data = DataFile::open(file.write());
    if (data.ok()) inspect::describe_data_file(*data);
  }
}

}  // namespace
}  // namespace etp::format

#include "format/data_file_writer.h"

namespace etp::format {
namespace {

TEST(DataFileWriterTest, WrittenFilesReadBackWithLayoutsAndAlignedData) {
  const std::vector<float> weight = {1, 2, 3, 4, 5, 6};
  const std::vector<int64_t> steps = {7};
  const std::string path = "/tmp/etp_writer_test.ptd";
  ASSERT_OK(write_data_file(path, {{"w", 6, {2, 3}, {}, weight.data(), 24}, {"b.step", 4, {1}, {}, steps.data(), 8}},
                            /*alignment=*/64));
  auto file = DataFile::open(path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  ASSERT_EQ(file->entries().size(), 2u);
  EXPECT_EQ(file->entries()[0].key, "b.step");  // sorted, like ExecuTorch's save_ptd
  const DataEntry* w = file->find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->layout->sizes, (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(std::memcmp(w->bytes.data, weight.data(), 24), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w->bytes.data) % 64, 0u);
  EXPECT_EQ(file->header().flatbuffer_offset, 48u);
  std::remove(path.c_str());
}

// A write that cannot happen names the temporary file it tried, and leaves no file behind; an
// existing file is replaced whole (never left half-written: see the SIGKILL test of etp train).
TEST(DataFileWriterTest, AWriteThatCannotHappenIsNamedAndLeavesNothing) {
  const float x = 1;
  auto status = write_data_file("/tmp/etp_no_such_folder/out.ptd", {{"k", 6, {1}, {}, &x, 4}});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kIo);
  EXPECT_NE(status.message().find("/tmp/etp_no_such_folder/out.ptd.tmp."), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("cannot create"), std::string::npos) << status.message();
  const std::string path = "/tmp/etp_writer_replace.ptd";
  ASSERT_OK(write_data_file(path, {{"old", 6, {1}, {}, &x, 4}}));
  ASSERT_OK(write_data_file(path, {{"new", 6, {1}, {}, &x, 4}}));
  auto file = DataFile::open(path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->find("old"), nullptr);
  EXPECT_NE(file->find("new"), nullptr);
  std::remove(path.c_str());
}

TEST(DataFileWriterTest, RepeatedKeysAreRefused) {
  const float x = 1;
  auto status = write_data_file("/tmp/etp_writer_dup.ptd", {{"k", 6, {1}, {}, &x, 4}, {"k", 6, {1}, {}, &x, 4}});
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("key 'k' given twice"), std::string::npos);
}

}  // namespace
}  // namespace etp::format

// ---- files that change on disk after they were opened ----

namespace etp::format {
namespace {

// A private copy of a fixture data file, which the test may truncate (named after the test and
// the process: ctest runs tests in parallel).
std::string copy_of(const std::string& fixture) {
  const std::string path = ::testing::TempDir() + "etp_" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
                           std::to_string(::getpid()) + "_" + fixture;
  const std::vector<uint8_t> bytes = test::read_bytes(test::fixture_path(fixture));
  FILE* f = std::fopen(path.c_str(), "wb");
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  return path;
}

// Reading a mapped file that shrank on disk raises SIGBUS; with the handler installed the
// process says which file and exits with 1 instead of dying without a word.
TEST(ChangingFileDeathTest, AMappedFileTruncatedOnDiskEndsTheProcessNamingIt) {
  const std::string path = copy_of("linear_portable.ptd");
  EXPECT_EXIT(
      {
        install_mapped_file_fault_handler();
        auto file = DataFile::open(path);
        if (!file.ok()) std::_Exit(3);
        if (::truncate(path.c_str(), 0) != 0) std::_Exit(4);
        const volatile uint8_t* last = file->file().data() + file->file().size() - 1;
        std::printf("%d\n", *last);  // faults: the page is past the file's end now
        std::_Exit(5);
      },
      ::testing::ExitedWithCode(1), "etp: " + path + " changed on disk while mapped: reading its byte [0-9]+ failed");
}

// Without the handler the same read is a plain SIGBUS: what the handler exists to replace.
TEST(ChangingFileDeathTest, WithoutTheHandlerTheReadIsABareSigbus) {
#if ETP_TEST_ASAN
  GTEST_SKIP() << "AddressSanitizer reports the SIGBUS itself";
#endif
  const std::string path = copy_of("linear_portable.ptd");
  EXPECT_EXIT(
      {
        auto file = MappedFile::open(path);
        if (!file.ok() || ::truncate(path.c_str(), 0) != 0) std::_Exit(3);
        std::printf("%d\n", *(static_cast<const volatile uint8_t*>((*file)->data()) + (*file)->size() - 1));
        std::_Exit(5);
      },
      ::testing::KilledBySignal(SIGBUS), "");
}

// Read into memory, the bytes stay what they were whatever happens to the file.
TEST(ChangingFileTest, AFileReadIntoMemoryIsUnaffectedByTruncation) {
  const std::string path = copy_of("linear_portable.ptd");
  const std::vector<uint8_t> original = test::read_bytes(path);
  auto file = DataFile::open(path, FileAccess::kRead);
  ASSERT_OK(file.status());
  EXPECT_EQ(file->file().access(), FileAccess::kRead);
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);
  ASSERT_EQ(file->file().size(), original.size());
  EXPECT_EQ(std::vector<uint8_t>(file->file().data(), file->file().data() + file->file().size()), original);
}

}  // namespace
}  // namespace etp::format
