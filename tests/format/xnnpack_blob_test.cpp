// XNNPACK payload header and graph verification on corrupted copies of a real blob.
#include <gtest/gtest.h>

#include <cstring>

#include "format/program_file.h"
#include "format/xnnpack_blob.h"
#include "support/fixtures.h"

namespace etp::format {
namespace {

// A copy of the first XNNPACK payload among the fixtures (8-byte aligned storage).
std::vector<uint64_t> real_blob(size_t* size) {
  for (const auto& f : test::all_fixtures()) {
    auto program = ProgramFile::open(test::fixture_path(f["program"]));
    if (!program.ok()) continue;
    const auto* delegates = program->plan(0).delegates();
    if (!delegates || delegates->size() == 0) continue;
    const ByteSpan blob = program->delegate_blob(*delegates->Get(0));
    std::vector<uint64_t> copy((blob.size + 7) / 8);
    std::memcpy(copy.data(), blob.data, blob.size);
    *size = blob.size;
    return copy;
  }
  ADD_FAILURE() << "no fixture has a delegate";
  *size = 0;
  return {};
}

struct Blob {
  std::vector<uint64_t> storage;
  size_t size = 0;
  uint8_t* bytes() { return reinterpret_cast<uint8_t*>(storage.data()); }
  ByteSpan span() { return {bytes(), size}; }
};

Blob blob() {
  Blob b;
  b.storage = real_blob(&b.size);
  return b;
}

void expect_error(Blob& b, const char* expected) {
  auto parsed = XnnpackBlob::parse(b.span(), "model.pte delegate 0");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("model.pte delegate 0"), std::string::npos);
  EXPECT_NE(parsed.status().message().find(expected), std::string::npos) << parsed.status().message();
}

TEST(XnnpackBlobTest, RealBlobHasHeaderAndCurrentIdentifier) {
  Blob b = blob();
  auto parsed = XnnpackBlob::parse(b.span(), "blob");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_TRUE(parsed->header().present);
  EXPECT_STREQ(parsed->identifier(), "XN01");
  EXPECT_EQ(parsed->constant_data().size, 0u);  // current exports keep weights in named data
}

TEST(XnnpackBlobTest, OlderXn00IdentifierIsAccepted) {
  Blob b = blob();
  uint32_t offset = 0;
  std::memcpy(&offset, b.bytes() + 10, 4);
  std::memcpy(b.bytes() + offset + 4, "XN00", 4);
  ASSERT_EQ(std::memcmp(b.bytes() + 4, "XH00", 4), 0);
  auto parsed = XnnpackBlob::parse(b.span(), "blob");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
}

TEST(XnnpackBlobMalformedTest, TruncatedHeaderFails) {
  Blob b = blob();
  b.size = 20;
  expect_error(b, "truncated XNNPACK header");
}

TEST(XnnpackBlobMalformedTest, WrongGraphIdentifierFails) {
  Blob b = blob();
  uint32_t offset = 0;
  std::memcpy(&offset, b.bytes() + 10, 4);
  std::memcpy(b.bytes() + offset + 4, "XN99", 4);
  expect_error(b, "expected 'XN01' or 'XN00'");
}

TEST(XnnpackBlobMalformedTest, FlatbufferPastEndOfBlobFails) {
  Blob b = blob();
  const uint32_t huge = 1u << 30;
  std::memcpy(b.bytes() + 14, &huge, 4);
  expect_error(b, "does not fit");
}

TEST(XnnpackBlobMalformedTest, HeaderLengthBelowThirtyFails) {
  Blob b = blob();
  const uint16_t short_header = 29;  // the u16 length field at byte 8
  std::memcpy(b.bytes() + 8, &short_header, 2);
  expect_error(b, "XNNPACK header length 29 is below 30");
}

// The plugin refuses a graph that starts inside the header; so does the reader (and so
// `etp inspect`), rather than reporting such a blob as valid.
TEST(XnnpackBlobMalformedTest, FlatbufferInsideTheHeaderFails) {
  Blob b = blob();
  const uint32_t inside = 16;
  std::memcpy(b.bytes() + 10, &inside, 4);
  expect_error(b, "lies inside the 30-byte header");
}

TEST(XnnpackBlobMalformedTest, ConstantsOverlappingTheGraphFail) {
  Blob b = blob();
  const uint32_t early = 8;
  std::memcpy(b.bytes() + 18, &early, 4);
  expect_error(b, "must follow the flatbuffer");
}

TEST(XnnpackBlobMalformedTest, TruncatedGraphFailsVerification) {
  Blob b = blob();
  uint32_t fb_size = 0;
  std::memcpy(&fb_size, b.bytes() + 14, 4);
  const uint32_t shorter = fb_size / 2;
  std::memcpy(b.bytes() + 14, &shorter, 4);
  expect_error(b, "failed verification");
}

TEST(XnnpackBlobMalformedTest, LegacyBlobThatIsNotAGraphFails) {
  Blob b = blob();
  std::memset(b.bytes(), 0x11, 16);  // no XH00 header, garbage flatbuffer
  expect_error(b, "identifier");
}

}  // namespace
}  // namespace etp::format
