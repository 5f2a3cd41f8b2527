#include "support/patch.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "support/fixtures.h"

namespace etp::test {
namespace {

// Temp files live for the test process and are removed at exit.
struct TempFiles {
  std::vector<std::string> paths;
  ~TempFiles() {
    for (const std::string& p : paths) std::remove(p.c_str());
  }
};
TempFiles& temp_files() {
  static TempFiles files;
  return files;
}

}  // namespace

PatchedFile::PatchedFile(const std::string& source_path) : bytes_(read_bytes(source_path)) {
  const size_t slash = source_path.find_last_of('/');
  name_ = source_path.substr(slash == std::string::npos ? 0 : slash + 1);
  if (bytes_.empty()) throw std::runtime_error("cannot read " + source_path);
}

size_t PatchedFile::offset_of(const void* address) const {
  const auto* p = static_cast<const uint8_t*>(address);
  if (p < bytes_.data() || p >= bytes_.data() + bytes_.size()) throw std::runtime_error("address outside the copy");
  return static_cast<size_t>(p - bytes_.data());
}

std::string PatchedFile::write() const {
  std::string pattern = "/tmp/etp_test_XXXXXX_" + name_;
  const int suffix = static_cast<int>(name_.size() + 1);
  const int fd = ::mkstemps(pattern.data(), suffix);
  if (fd < 0) throw std::runtime_error("mkstemps failed");
  size_t done = 0;
  while (done < bytes_.size()) {
    const ssize_t n = ::write(fd, bytes_.data() + done, bytes_.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  temp_files().paths.push_back(pattern);
  return pattern;
}

}  // namespace etp::test
