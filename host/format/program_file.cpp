#include "format/program_file.h"

#include <cstring>

#include "format/byte_reader.h"
#include "format/program_validator.h"

namespace etp::format {
namespace {

constexpr size_t kIdentifierOffset = 4;
constexpr size_t kHeaderMagicOffset = 8;
constexpr size_t kMinProgramHeaderLength = 24;  // magic + length + program_size + segment_base
constexpr size_t kHeaderLengthWithDataSize = 32;
// Large programs can hold many tables; the default limit (1M) would reject real files.
constexpr flatbuffers::uoffset_t kMaxTables = 1u << 26;

}  // namespace

Result<ProgramFile> ProgramFile::open(const std::string& path, FileAccess access) {
  ETP_TRY(auto file, MappedFile::open(path, access));
  return open(std::move(file));
}

Result<ProgramFile> ProgramFile::open(std::shared_ptr<const MappedFile> file) {
  ProgramFile program(std::move(file));
  ETP_CHECK_OK(program.parse_header());
  ETP_CHECK_OK(program.verify_flatbuffer());
  ETP_CHECK_OK(program.index_segments());
  ETP_CHECK_OK(program.index_constants());
  ETP_CHECK_OK(program.index_named_data());
  ETP_CHECK_OK(ProgramValidator(program).validate());
  return program;
}

Status ProgramFile::parse_header() {
  const uint8_t* data = file_->data();
  const size_t size = file_->size();
  if (size == 0) return malformed(path(), "empty file, expected a .pte program");
  if (size < kHeaderMagicOffset) {
    return malformed(path(), "truncated: " + std::to_string(size) + " bytes, too short for a .pte program");
  }
  const char* id = reinterpret_cast<const char*>(data + kIdentifierOffset);
  if (std::memcmp(id, "ET12", 4) != 0) {
    if (id[0] == 'E' && id[1] == 'T') {
      return Status(StatusCode::kNotSupported,
                    path() + ": program format version '" + std::string(id, 4) + "' is not supported, expected 'ET12'");
    }
    return malformed(path(), "not a .pte program: identifier " + printable_tag(id) + ", expected 'ET12'" +
                                 text_file_hint(data, size));
  }
  if (size < kHeaderMagicOffset + 4 || std::memcmp(data + kHeaderMagicOffset, "eh00", 4) != 0) {
    // No extended header: the whole file is the flatbuffer and there are no segments.
    header_.program_size = size;
    return Status::success();
  }
  ByteReader reader(data, size);
  header_.present = true;
  if (!reader.read_u32(12, &header_.length) || header_.length < kMinProgramHeaderLength ||
      !range_fits(kHeaderMagicOffset, header_.length, size)) {
    return malformed(path(), "truncated extended header: need at least " + std::to_string(kMinProgramHeaderLength) +
                                 " header bytes at offset 8");
  }
  reader.read_u64(16, &header_.program_size);
  reader.read_u64(24, &header_.segment_base_offset);
  if (header_.length >= kHeaderLengthWithDataSize) {
    header_.has_segment_data_size = true;
    reader.read_u64(32, &header_.segment_data_size);
  }
  if (header_.program_size < kHeaderMagicOffset + header_.length || header_.program_size > size) {
    return malformed(path(), "extended header program_size " + std::to_string(header_.program_size) +
                                 " is outside the file (" + std::to_string(size) + " bytes)");
  }
  if (header_.segment_base_offset != 0 &&
      (header_.segment_base_offset < header_.program_size || header_.segment_base_offset > size)) {
    return malformed(path(), "segment_base_offset " + std::to_string(header_.segment_base_offset) +
                                 " must lie between the program end (" + std::to_string(header_.program_size) +
                                 ") and the file end (" + std::to_string(size) + ")");
  }
  if (header_.has_segment_data_size && !range_fits(header_.segment_base_offset, header_.segment_data_size, size)) {
    return malformed(path(), "truncated: segment data needs " + std::to_string(header_.segment_data_size) +
                                 " bytes from offset " + std::to_string(header_.segment_base_offset) +
                                 " but the file has " + std::to_string(size));
  }
  return Status::success();
}

Status ProgramFile::verify_flatbuffer() {
  if (header_.program_size >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    return malformed(path(), "program flatbuffer of " + std::to_string(header_.program_size) +
                                 " bytes exceeds the 2 GiB flatbuffer limit");
  }
  flatbuffers::Verifier verifier(file_->data(), header_.program_size, /*max_depth=*/64, kMaxTables);
  if (!fb::VerifyProgramBuffer(verifier)) {
    return malformed(path(), "program flatbuffer failed verification (corrupt or truncated)");
  }
  root_ = fb::GetProgram(file_->data());
  return Status::success();
}

Status ProgramFile::index_segments() {
  const auto* segments = root_->segments();
  if (segments == nullptr) return Status::success();
  const uint64_t base = header_.segment_base_offset;
  // Segments are readable only with an extended header; files without one may still list
  // empty segments (the writer omits the header when all segment data is empty).
  const uint64_t limit = header_.has_segment_data_size ? base + header_.segment_data_size : file_->size();
  segments_.reserve(segments->size());
  for (flatbuffers::uoffset_t i = 0; i < segments->size(); ++i) {
    const fb::DataSegment* segment = segments->Get(i);
    if (segment->size() != 0 && base == 0) {
      return malformed(path(), "segment " + std::to_string(i) + " has " + std::to_string(segment->size()) +
                                   " bytes but the file has no extended header locating segments");
    }
    uint64_t start = 0;
    if (__builtin_add_overflow(base, segment->offset(), &start) || !range_fits(start, segment->size(), limit)) {
      return malformed(path(), "segment " + std::to_string(i) + " (offset " + std::to_string(segment->offset()) + ", " +
                                   std::to_string(segment->size()) + " bytes) lies past the end of " +
                                   (header_.has_segment_data_size ? "the segment data" : "the file"));
    }
    segments_.push_back({segment->size() ? file_->data() + start : nullptr, static_cast<size_t>(segment->size())});
  }
  return Status::success();
}

Status ProgramFile::index_constants() {
  // As ExecuTorch's loader: the constant segment holds the constants only when its offsets list
  // more than the placeholder entry 0. Otherwise (no offsets, or only the placeholder, as older
  // programs write next to an inline constant_buffer) the segment is unused, whatever its
  // segment_index says, and constants come from constant_buffer.
  const fb::SubsegmentOffsets* constants = root_->constant_segment();
  const auto* legacy = root_->constant_buffer();
  const bool segment_used = constants != nullptr && constants->offsets() != nullptr && constants->offsets()->size() > 1;
  if (segment_used && legacy != nullptr && legacy->size() > 0) {
    return malformed(path(), "program has both constant_segment (" + std::to_string(constants->offsets()->size()) +
                                 " offsets) and constant_buffer (" + std::to_string(legacy->size()) +
                                 " buffers), expected one");
  }
  if (segment_used) {
    if (constants->segment_index() >= segments_.size()) {
      return malformed(path(), "constant_segment.segment_index " + std::to_string(constants->segment_index()) +
                                   " is out of range (" + std::to_string(segments_.size()) + " segments)");
    }
    ETP_CHECK_OK(check_u64_vector(path(), "constant_segment.offsets", constants->offsets()));
    constant_segment_ = segments_[constants->segment_index()];
    constant_offsets_ = constants->offsets();
    for (flatbuffers::uoffset_t i = 0; i < constant_offsets_->size(); ++i) {
      if (constant_offsets_->Get(i) > constant_segment_.size) {
        return malformed(path(), "constant " + std::to_string(i) + " offset " +
                                     std::to_string(constant_offsets_->Get(i)) + " lies past the constant segment (" +
                                     std::to_string(constant_segment_.size) + " bytes)");
      }
    }
  }
  const auto* mutables = root_->mutable_data_segments();
  if (mutables != nullptr && mutables->size() > 0) {
    // The runtime reads initial mutable values from entry 0 only.
    const fb::SubsegmentOffsets* first = mutables->Get(0);
    for (flatbuffers::uoffset_t i = 0; i < mutables->size(); ++i) {
      if (mutables->Get(i)->segment_index() >= segments_.size()) {
        return malformed(path(), "mutable_data_segments[" + std::to_string(i) + "].segment_index " +
                                     std::to_string(mutables->Get(i)->segment_index()) + " is out of range (" +
                                     std::to_string(segments_.size()) + " segments)");
      }
      ETP_CHECK_OK(check_u64_vector(path(), "mutable_data_segments.offsets", mutables->Get(i)->offsets()));
    }
    mutable_segment_ = segments_[first->segment_index()];
    mutable_offsets_ = first->offsets();
    for (flatbuffers::uoffset_t i = 0; mutable_offsets_ && i < mutable_offsets_->size(); ++i) {
      if (mutable_offsets_->Get(i) > mutable_segment_.size) {
        return malformed(path(), "mutable data " + std::to_string(i) + " offset lies past its segment");
      }
    }
  }
  return Status::success();
}

Status ProgramFile::index_named_data() {
  const auto* named = root_->named_data();
  if (named == nullptr) return Status::success();
  for (flatbuffers::uoffset_t i = 0; i < named->size(); ++i) {
    const fb::NamedData* entry = named->Get(i);
    if (entry->key() == nullptr) return malformed(path(), "named_data[" + std::to_string(i) + "] has no key");
    if (entry->segment_index() >= segments_.size()) {
      return malformed(path(), "named data '" + entry->key()->str() + "' refers to segment " +
                                   std::to_string(entry->segment_index()) + " but the program has " +
                                   std::to_string(segments_.size()));
    }
    // Like ExecuTorch's linear scan, the first entry of a repeated key wins.
    named_data_.emplace(entry->key()->string_view(), segments_[entry->segment_index()]);
  }
  return Status::success();
}

size_t ProgramFile::num_plans() const { return root_->execution_plan() ? root_->execution_plan()->size() : 0; }

const fb::ExecutionPlan& ProgramFile::plan(size_t index) const {
  return *root_->execution_plan()->Get(static_cast<flatbuffers::uoffset_t>(index));
}

Result<const fb::ExecutionPlan*> ProgramFile::find_plan(std::string_view name) const {
  std::string names;
  for (size_t i = 0; i < num_plans(); ++i) {
    const fb::ExecutionPlan& p = plan(i);
    if (p.name()->string_view() == name) return &p;
    names += (names.empty() ? "" : ", ") + p.name()->str();
  }
  return Status(StatusCode::kNotFound, path() + ": no method '" + std::string(name) + "'; the program has: " + names);
}

ByteSpan ProgramFile::segment(size_t index) const { return segments_[index]; }

size_t ProgramFile::num_constants() const {
  if (constant_offsets_ != nullptr) return constant_offsets_->size();
  return root_->constant_buffer() ? root_->constant_buffer()->size() : 0;
}

ByteSpan ProgramFile::constant(uint32_t buffer_index) const {
  if (constant_offsets_ != nullptr) {
    const uint64_t offset = constant_offsets_->Get(buffer_index);
    return {constant_segment_.data + offset, static_cast<size_t>(constant_segment_.size - offset)};
  }
  const auto* storage = root_->constant_buffer()->Get(buffer_index)->storage();
  return storage ? ByteSpan{storage->data(), storage->size()} : ByteSpan{};
}

ByteSpan ProgramFile::mutable_data(uint32_t buffer_index) const {
  const uint64_t offset = mutable_offsets_->Get(buffer_index);
  return {mutable_segment_.data + offset, static_cast<size_t>(mutable_segment_.size - offset)};
}

ByteSpan ProgramFile::delegate_blob(const fb::BackendDelegate& delegate) const {
  const fb::BackendDelegateDataReference* ref = delegate.processed();
  if (ref->location() == fb::DataLocation::SEGMENT) return segments_[ref->index()];
  const auto* data = root_->backend_delegate_data()->Get(ref->index())->data();
  return {data->data(), data->size()};
}

const ByteSpan* ProgramFile::find_named_data(std::string_view key) const {
  auto it = named_data_.find(key);
  return it == named_data_.end() ? nullptr : &it->second;
}

std::string operator_name(const fb::Operator& op) {
  std::string name = op.name()->str();
  if (op.overload() != nullptr && op.overload()->size() > 0) name += "." + op.overload()->str();
  return name;
}

}  // namespace etp::format
