#include "format/file_kind.h"

#include <cstring>
#include <filesystem>
#include <fstream>

namespace etp::format {

FileKind file_kind(const uint8_t* head, size_t size) {
  if (size < 8) return FileKind::kOther;
  if (std::memcmp(head + 4, "ET", 2) == 0) return FileKind::kProgram;
  if (std::memcmp(head + 4, "FT", 2) == 0) return FileKind::kData;
  return FileKind::kOther;
}

FileKind file_kind(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return FileKind::kOther;
  std::ifstream in(path, std::ios::binary);
  uint8_t head[8] = {};
  if (!in.read(reinterpret_cast<char*>(head), sizeof(head))) return FileKind::kOther;
  return file_kind(head, sizeof(head));
}

}  // namespace etp::format
