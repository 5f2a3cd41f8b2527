#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

namespace etp {
namespace {

Status os_error(const std::string& path, const char* what) {
  return Status(errno == ENOENT ? StatusCode::kNotFound : StatusCode::kIo,
                path + ": " + what + " failed: " + std::strerror(errno));
}

}  // namespace

Result<std::shared_ptr<const MappedFile>> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error(path, "open");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status error = os_error(path, "stat");
    ::close(fd);
    return error;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status(StatusCode::kInvalidArgument, path + ": not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* data = nullptr;
  if (size > 0) {
    data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, /*offset=*/0);
    if (data == MAP_FAILED) {
      Status error = os_error(path, "mmap");
      ::close(fd);
      return error;
    }
  }
  ::close(fd);  // the mapping keeps the file alive
  return std::shared_ptr<const MappedFile>(new MappedFile(path, static_cast<const uint8_t*>(data), size));
}

std::shared_ptr<const MappedFile> MappedFile::copy_of(const std::string& path, const uint8_t* data, size_t size) {
  void* copy = nullptr;
  if (size > 0) {
    if (::posix_memalign(&copy, /*alignment=*/64, size) != 0) throw std::bad_alloc();
    std::memcpy(copy, data, size);
  }
  return std::shared_ptr<const MappedFile>(
      new MappedFile(path, static_cast<const uint8_t*>(copy), size, /*in_memory=*/true));
}

MappedFile::~MappedFile() {
  if (data_ == nullptr) return;
  if (in_memory_) {
    std::free(const_cast<uint8_t*>(data_));
  } else {
    ::munmap(const_cast<uint8_t*>(data_), size_);
  }
}

}  // namespace etp
