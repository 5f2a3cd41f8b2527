// DataFile: a verified, zero-copy view of a .ptd (FlatTensor) data file.
//
// open() checks the header (with its quirk: flatbuffer_offset holds the padded header
// length), the flatbuffers Verifier, every segment against the segment data, every key's
// segment index, each tensor layout (dtype, sizes, dim order, byte size within its
// segment) and the alignment of tensor data. Keys must be unique. Thread-safe for reads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"

namespace etp::format {

// The dtype, sizes and dim order a PTD records for a tensor.
struct TensorLayout {
  int scalar_type = 0;
  std::vector<int32_t> sizes;
  std::vector<uint8_t> dim_order;
  uint64_t nbytes = 0;
};

// One key of a data file. `bytes` is the whole segment the key points at.
struct DataEntry {
  std::string_view key;  // points into the mapped file
  uint32_t segment_index = 0;
  ByteSpan bytes;
  std::optional<TensorLayout> layout;  // absent for delegate blobs (SHA-256 keys)
};

struct DataFileHeader {
  uint32_t length = 0;
  uint64_t flatbuffer_offset = 0;  // really the padded header length (see format notes)
  uint64_t flatbuffer_size = 0;
  uint64_t segment_base_offset = 0;
  uint64_t segment_data_size = 0;
};

class DataFile {
 public:
  static Result<DataFile> open(const std::string& path, FileAccess access = FileAccess::kMap);
  static Result<DataFile> open(std::shared_ptr<const MappedFile> file);

  const std::string& path() const { return file_->path(); }
  const MappedFile& file() const { return *file_; }
  const DataFileHeader& header() const { return header_; }
  size_t num_segments() const { return num_segments_; }

  // Entries in file order.
  const std::vector<DataEntry>& entries() const { return entries_; }
  // The entry for `key`, or null.
  const DataEntry* find(std::string_view key) const;

 private:
  explicit DataFile(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {}

  Status parse_header();
  Status read_entries();

  std::shared_ptr<const MappedFile> file_;
  DataFileHeader header_;
  size_t num_segments_ = 0;
  std::vector<DataEntry> entries_;
  std::unordered_map<std::string_view, size_t> index_;
};

}  // namespace etp::format
