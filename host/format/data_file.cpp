#include "format/data_file.h"

#include <cstring>

#include "flat_tensor_generated.h"
#include "format/byte_reader.h"
#include "format/scalar_type.h"
#include "format/tensor_shape.h"

namespace etp::format {
namespace {

namespace ft = ::flat_tensor_flatbuffer;

constexpr size_t kMinDataHeaderLength = 40;
constexpr size_t kHeadBytes = 8 + kMinDataHeaderLength;

}  // namespace

Result<DataFile> DataFile::open(const std::string& path, FileAccess access) {
  ETP_TRY(auto file, MappedFile::open(path, access));
  return open(std::move(file));
}

Result<DataFile> DataFile::open(std::shared_ptr<const MappedFile> file) {
  DataFile data(std::move(file));
  ETP_CHECK_OK(data.parse_header());
  ETP_CHECK_OK(data.read_entries());
  return data;
}

Status DataFile::parse_header() {
  const uint8_t* data = file_->data();
  const size_t size = file_->size();
  if (size == 0) return malformed(path(), "empty file, expected a .ptd data file");
  if (size < 8) return malformed(path(), "truncated: " + str(size) + " bytes, too short for a .ptd data file");
  const char* id = reinterpret_cast<const char*>(data + 4);
  if (std::memcmp(id, "FT01", 4) != 0) {
    if (id[0] == 'F' && id[1] == 'T') {
      return Status(StatusCode::kNotSupported,
                    path() + ": data file format version " + printable_tag(id) + " is not supported, expected 'FT01'");
    }
    return malformed(path(), "not a .ptd data file: identifier " + printable_tag(id) + ", expected 'FT01'" +
                                 text_file_hint(data, size));
  }
  if (size < kHeadBytes) {
    return malformed(path(), "truncated header: " + str(size) + " bytes, need at least " + str(kHeadBytes));
  }
  if (std::memcmp(data + 8, "FH01", 4) != 0) {
    return malformed(path(),
                     "header magic " + printable_tag(reinterpret_cast<const char*>(data + 8)) + ", expected 'FH01'");
  }
  ByteReader reader(data, size);
  reader.read_u32(12, &header_.length);
  reader.read_u64(16, &header_.flatbuffer_offset);
  reader.read_u64(24, &header_.flatbuffer_size);
  reader.read_u64(32, &header_.segment_base_offset);
  reader.read_u64(40, &header_.segment_data_size);
  if (header_.length < kMinDataHeaderLength) {
    return malformed(path(),
                     "header length " + str(header_.length) + " is below the minimum " + str(kMinDataHeaderLength));
  }
  // flatbuffer_offset is the padded header length; the flatbuffer itself starts at byte 0
  // and spans [0, flatbuffer_offset + flatbuffer_size).
  if (!range_fits(header_.flatbuffer_offset, header_.flatbuffer_size, size)) {
    return malformed(path(), "truncated: flatbuffer needs " + str(header_.flatbuffer_offset) + " + " +
                                 str(header_.flatbuffer_size) + " bytes, the file has " + str(size));
  }
  if (!range_fits(header_.segment_base_offset, header_.segment_data_size, size)) {
    return malformed(path(), "truncated: segment data needs " + str(header_.segment_data_size) + " bytes from offset " +
                                 str(header_.segment_base_offset) + ", the file has " + str(size));
  }
  return Status::success();
}

Status DataFile::read_entries() {
  const size_t fb_size = static_cast<size_t>(header_.flatbuffer_offset + header_.flatbuffer_size);
  if (fb_size >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    return malformed(path(), "flatbuffer size " + str(fb_size) + " exceeds the 2 GiB flatbuffer limit");
  }
  flatbuffers::Verifier verifier(file_->data(), fb_size, /*max_depth=*/64, /*max_tables=*/1u << 26);
  if (!ft::VerifyFlatTensorBuffer(verifier)) {
    return malformed(path(), "data file flatbuffer failed verification (corrupt or truncated)");
  }
  const ft::FlatTensor* root = ft::GetFlatTensor(file_->data());
  if (root->segments() == nullptr || root->named_data() == nullptr) {
    return malformed(path(), "data file lacks its segments or named_data table");
  }
  const auto* segments = root->segments();
  num_segments_ = segments->size();
  const uint8_t* base = file_->data() + header_.segment_base_offset;
  std::vector<ByteSpan> spans;
  spans.reserve(segments->size());
  for (flatbuffers::uoffset_t i = 0; i < segments->size(); ++i) {
    const ft::DataSegment* s = segments->Get(i);
    if (!range_fits(s->offset(), s->size(), header_.segment_data_size)) {
      return malformed(path(), "segment " + str(i) + " (offset " + str(s->offset()) + ", " + str(s->size()) +
                                   " bytes) lies past the end of the segment data (" + str(header_.segment_data_size) +
                                   " bytes)");
    }
    spans.push_back({base + s->offset(), static_cast<size_t>(s->size())});
  }
  const auto* named = root->named_data();
  entries_.reserve(named->size());
  for (flatbuffers::uoffset_t i = 0; i < named->size(); ++i) {
    const ft::NamedData* item = named->Get(i);
    if (item->key() == nullptr) return malformed(path(), "named_data[" + str(i) + "] has no key");
    DataEntry entry;
    entry.key = item->key()->string_view();
    const std::string where = "key '" + std::string(entry.key) + "'";
    if (item->segment_index() >= spans.size()) {
      return malformed(path(), where + " refers to segment " + str(item->segment_index()) + " but the file has " +
                                   str(spans.size()) + " segments");
    }
    entry.segment_index = item->segment_index();
    entry.bytes = spans[entry.segment_index];
    if (const ft::TensorLayout* layout = item->tensor_layout()) {
      const int dtype = static_cast<int>(layout->scalar_type());
      auto nbytes = checked_tensor_nbytes(dtype, layout->sizes(), layout->dim_order());
      if (!nbytes.ok()) return malformed(path(), where + ": layout " + nbytes.status().message());
      const size_t element_size = scalar_type_size(dtype);
      if (*nbytes > 0 && reinterpret_cast<uintptr_t>(entry.bytes.data) % element_size != 0) {
        return malformed(path(), where + ": data is not aligned to its element size (" + str(element_size) + ")");
      }
      if (*nbytes > entry.bytes.size) {
        return malformed(
            path(), where + ": layout needs " + str(*nbytes) + " bytes but its segment has " + str(entry.bytes.size));
      }
      TensorLayout out;
      out.scalar_type = dtype;
      if (layout->sizes()) out.sizes.assign(layout->sizes()->begin(), layout->sizes()->end());
      if (layout->dim_order()) out.dim_order.assign(layout->dim_order()->begin(), layout->dim_order()->end());
      out.nbytes = *nbytes;
      entry.layout = std::move(out);
    }
    if (!index_.emplace(entry.key, entries_.size()).second) {
      return malformed(path(), where + " appears twice");
    }
    entries_.push_back(std::move(entry));
  }
  return Status::success();
}

const DataEntry* DataFile::find(std::string_view key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

}  // namespace etp::format
