// A read-only memory mapping of a whole file. Readers keep a shared_ptr to it, so views
// into the bytes stay valid as long as any reader (or anything made from one) is alive.
// Thread-safe to read from any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/error.h"

namespace etp {

class MappedFile {
 public:
  // Maps `path` read-only. An empty file maps to size 0 and data() == nullptr.
  static Result<std::shared_ptr<const MappedFile>> open(const std::string& path);
  // A copy of `size` bytes at `data`, held in memory under the name `path` (used in messages).
  // The copy is exactly `size` bytes long (64-byte aligned), so AddressSanitizer reports any
  // read past its end; the fuzz targets hand their inputs to the readers this way. Unlike a
  // mapping, pages dropped with NamedDataMap::release read back as zeros, not from the file.
  static std::shared_ptr<const MappedFile> copy_of(const std::string& path, const uint8_t* data, size_t size);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size, bool in_memory = false)
      : path_(std::move(path)), data_(data), size_(size), in_memory_(in_memory) {}

  std::string path_;
  const uint8_t* data_;
  size_t size_;
  bool in_memory_;  // data_ came from posix_memalign (copy_of), not mmap
};

// A borrowed byte range.
struct ByteSpan {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

// True when [offset, offset + size) lies inside [0, limit), without overflow.
inline bool range_fits(uint64_t offset, uint64_t size, uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

}  // namespace etp
