#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace etp {
namespace {

Status os_error(const std::string& path, const char* what) {
  return Status(errno == ENOENT ? StatusCode::kNotFound : StatusCode::kIo,
                path + ": " + what + " failed: " + std::strerror(errno));
}

const char* kind_problem(mode_t mode) {
  if (S_ISREG(mode)) return nullptr;
  return S_ISDIR(mode) ? "is a directory" : "is not a regular file (a device, FIFO or socket)";
}

}  // namespace

const char* not_a_regular_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "does not exist";
  return kind_problem(st.st_mode);
}

Result<std::shared_ptr<const MappedFile>> MappedFile::open(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return os_error(path, "open");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status error = os_error(path, "stat");
    ::close(fd);
    return error;
  }
  if (const char* problem = kind_problem(st.st_mode)) {
    ::close(fd);
    return Status(StatusCode::kInvalidArgument, path + " " + problem);
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

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace etp
