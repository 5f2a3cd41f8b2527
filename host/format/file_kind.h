// What a file is by its identifier (bytes 4..7): a .pte program ("ET.."), a .ptd data file
// ("FT..") or something else. Only the family is decided here; the readers check the exact
// version and everything after it. Used where etp must pick a reader or explain a wrong file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace etp::format {

enum class FileKind { kProgram, kData, kOther };

// The kind of a file whose first `size` bytes are at `head`.
FileKind file_kind(const uint8_t* head, size_t size);
// The kind of the regular file at `path` (reads its first 8 bytes); kOther for anything that is
// not a readable regular file, and a pipe is never read.
FileKind file_kind(const std::string& path);

}  // namespace etp::format
