// ProgramFile: a verified, zero-copy view of a .pte file.
//
// open() checks everything a later reader could trip over before it returns: the
// identifier and extended header, segment bounds against the file, the flatbuffers
// Verifier, then every index and offset in every execution plan (values, instructions,
// operators, delegates, constants, planned buffers, mutable data, named data), with
// overflow-safe arithmetic and alignment checks. After a successful open, the accessors
// below cannot read outside the file. Thread-safe for concurrent reads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "program_generated.h"

namespace etp::format {

namespace fb = ::executorch_flatbuffer;

// The optional extended header ("eh00") that follows the identifier.
struct ProgramHeader {
  bool present = false;
  uint32_t length = 0;
  uint64_t program_size = 0;         // bytes of the flatbuffer region, from byte 0
  uint64_t segment_base_offset = 0;  // absolute offset of segment 0; 0 = no segments
  bool has_segment_data_size = false;
  uint64_t segment_data_size = 0;
};

// An operator's full name as kernels are registered: "aten::add.out" (name, '.', overload).
std::string operator_name(const fb::Operator& op);

class ProgramFile {
 public:
  // Maps and verifies `path`.
  static Result<ProgramFile> open(const std::string& path, FileAccess access = FileAccess::kMap);
  // Verifies an already mapped file.
  static Result<ProgramFile> open(std::shared_ptr<const MappedFile> file);

  const std::string& path() const { return file_->path(); }
  const MappedFile& file() const { return *file_; }
  const ProgramHeader& header() const { return header_; }
  const fb::Program& root() const { return *root_; }

  size_t num_plans() const;
  const fb::ExecutionPlan& plan(size_t index) const;
  // The plan called `name`, or kNotFound listing the methods that exist.
  Result<const fb::ExecutionPlan*> find_plan(std::string_view name) const;

  // Bytes of segment `index` (absolute address resolved, bounds verified at open).
  ByteSpan segment(size_t index) const;
  size_t num_segments() const { return segments_.size(); }

  // Start of constant `buffer_index` of the constant segment (or the legacy
  // constant_buffer), running to the end of the segment. Index 0 is the placeholder.
  ByteSpan constant(uint32_t buffer_index) const;
  // How many constants constant() can give (including the placeholder).
  size_t num_constants() const;
  // Start of the initial value of mutable tensor `buffer_index` (mutable_data_segments[0]).
  ByteSpan mutable_data(uint32_t buffer_index) const;
  // The payload of a delegate, inline or in a segment.
  ByteSpan delegate_blob(const fb::BackendDelegate& delegate) const;
  // Named data stored in the program (delegate weights); null when absent.
  const ByteSpan* find_named_data(std::string_view key) const;

 private:
  explicit ProgramFile(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {}

  Status parse_header();
  Status verify_flatbuffer();
  Status index_segments();
  Status index_constants();
  Status index_named_data();

  std::shared_ptr<const MappedFile> file_;
  ProgramHeader header_;
  const fb::Program* root_ = nullptr;
  std::vector<ByteSpan> segments_;
  // Offsets into the constant segment and the mutable segment; constant_base_ / mutable_base_
  // are the segment spans (constant_base_ may also be the legacy buffer list, see .cpp).
  ByteSpan constant_segment_;
  const flatbuffers::Vector<uint64_t>* constant_offsets_ = nullptr;
  ByteSpan mutable_segment_;
  const flatbuffers::Vector<uint64_t>* mutable_offsets_ = nullptr;
  std::unordered_map<std::string_view, ByteSpan> named_data_;

  friend class ProgramValidator;
};

}  // namespace etp::format
