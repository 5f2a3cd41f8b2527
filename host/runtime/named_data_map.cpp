#include "runtime/named_data_map.h"

#include <sys/mman.h>
#include <unistd.h>
#include <cstring>

namespace etp::runtime {

NamedDataMap::NamedDataMap(std::vector<DataSource> files, std::shared_ptr<const format::ProgramFile> program,
                           std::string asking_plugin)
    : files_(std::move(files)), program_(std::move(program)), asking_plugin_(std::move(asking_plugin)) {
  for (const DataSource& source : files_) {
    for (const format::DataEntry& e : source.file->entries()) {
      if (!e.layout) continue;
      layouts_.emplace(e.key, etp_tensor_layout{e.layout->scalar_type, static_cast<int32_t>(e.layout->sizes.size()),
                                                e.layout->sizes.data(), e.layout->dim_order.data(), e.layout->nbytes});
    }
  }
}

const format::DataEntry* find_in_files(const std::vector<DataSource>& files, std::string_view key,
                                       const DataSource** source) {
  for (const DataSource& s : files) {
    if (const format::DataEntry* e = s.file->find(key)) {
      if (source != nullptr) *source = &s;
      return e;
    }
  }
  return nullptr;
}

const format::DataEntry* NamedDataMap::find_tensor(std::string_view key, const DataSource** source) const {
  return find_in_files(files_, key, source);
}

etp_status NamedDataMap::find(std::string_view key, etp_named_data* out) const {
  etp_named_data result{};
  result.header = out->header;  // fill only what the caller's struct can hold
  const DataSource* source = nullptr;
  if (const format::DataEntry* e = find_tensor(key, &source)) {
    result.data = e->bytes.data;
    result.size = e->bytes.size;
    auto layout = layouts_.find(e->key);
    result.layout = layout == layouts_.end() ? nullptr : &layout->second;
    result.file_id = source->file_id;
    result.cache_owned = !source->cache_owner.empty() && source->cache_owner == asking_plugin_;
  } else if (const ByteSpan* bytes = program_ ? program_->find_named_data(key) : nullptr) {
    result.data = bytes->data;
    result.size = bytes->size;
  } else {
    return ETP_ERR_NOT_FOUND;
  }
  const size_t n = out->header.struct_size < sizeof(result) ? out->header.struct_size : sizeof(result);
  std::memcpy(out, &result, n);
  return ETP_OK;
}

namespace {

// Applies `advice` to the whole pages inside `bytes` (neighbours may still be in use).
void advise(const ByteSpan& bytes, int advice) {
  if (bytes.data == nullptr || bytes.size == 0) return;
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(bytes.data) + page - 1) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(bytes.data) + bytes.size) & ~(page - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, advice);
}

}  // namespace

void NamedDataMap::release(std::string_view key) const {
  // A data file's entry, or named data inside the program (a LoRA program's own adapters).
  // Only pages of a file mapping are dropped: they come back from the file when read again (a
  // later load packs the same weights). Bytes read into memory (--read-files) would come back
  // as zeros, so they stay.
  const DataSource* source = nullptr;
  if (const format::DataEntry* e = find_tensor(key, &source)) {
    if (source->file->file().file_backed()) advise(e->bytes, MADV_DONTNEED);
  } else if (const ByteSpan* bytes = program_ ? program_->find_named_data(key) : nullptr) {
    if (program_->file().file_backed()) advise(*bytes, MADV_DONTNEED);
  }
}

void advise_sparse_reads(const ByteSpan& bytes) {
  if (bytes.size >= kSparseReadBytes) advise(bytes, MADV_RANDOM);
}

}  // namespace etp::runtime
