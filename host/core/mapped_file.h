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

// How a file's bytes reach memory. kMap shares the page cache and reads only what is used, but
// the file must stay as it is while mapped: a file truncated on disk makes later reads fault
// (SIGBUS; install_mapped_file_fault_handler turns that into a message), and one rewritten in
// place may change what is read. kRead copies the whole file at open: its size in memory, and
// nothing that happens to the file later matters.
enum class FileAccess { kMap, kRead };

class MappedFile {
 public:
  // Maps (or reads) `path` read-only. An empty file gives size 0 and data() == nullptr.
  static Result<std::shared_ptr<const MappedFile>> open(const std::string& path, FileAccess access = FileAccess::kMap);
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
  FileAccess access() const { return access_; }
  // True when the bytes are a mapping of the file: pages dropped with MADV_DONTNEED read back
  // from it. False for kRead and copy_of, whose dropped pages would read back as zeros.
  bool file_backed() const { return access_ == FileAccess::kMap && !heap_; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size, FileAccess access, bool heap = false)
      : path_(std::move(path)), data_(data), size_(size), access_(access), heap_(heap) {}

  std::string path_;
  const uint8_t* data_;
  size_t size_;
  FileAccess access_;
  int fault_slot_ = -1;  // its entry in the table the SIGBUS handler reads, or -1
  bool heap_;            // data_ came from posix_memalign (copy_of), not mmap
};

// Installs a SIGBUS handler for the process: a fault inside a mapped file's bytes (the file
// shrank on disk while mapped) prints "etp: <path> changed on disk while mapped ..." to stderr
// and exits with status 1 at once (nothing more can be trusted). Any other SIGBUS goes to the
// handler that was there before, or gets the default action. The etp command installs it; a
// program embedding etp may call it once, early. Safe to call more than once.
void install_mapped_file_fault_handler();

// Why `path` cannot be read as a file's bytes: "does not exist", "is a directory", "is not a
// regular file (a device, FIFO or socket)", or "cannot be read: <the system's reason>";
// "" when it is a regular file.
std::string not_a_regular_file(const std::string& path);

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
