// Small helpers for reading headers and checking flatbuffer vectors safely.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include <flatbuffers/flatbuffers.h>

#include "core/error.h"

namespace etp::format {

// Bounds-checked little-endian reads from a byte range (hosts are little-endian; a
// static_assert in byte_reader.cpp keeps it that way).
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool read_u16(size_t offset, uint16_t* out) const { return read(offset, out); }
  bool read_u32(size_t offset, uint32_t* out) const { return read(offset, out); }
  bool read_u64(size_t offset, uint64_t* out) const { return read(offset, out); }

 private:
  template <typename T>
  bool read(size_t offset, T* out) const {
    if (offset > size_ || sizeof(T) > size_ - offset) return false;
    std::memcpy(out, data_ + offset, sizeof(T));
    return true;
  }

  const uint8_t* data_;
  size_t size_;
};

// A file that is not what it claims to be: "PATH: WHAT", StatusCode::kMalformed.
inline Status malformed(const std::string& path, const std::string& what) {
  return Status(StatusCode::kMalformed, path + ": " + what);
}

// An offset, size or count in a message.
template <typename Integer>
std::string str(Integer v) {
  static_assert(std::is_integral_v<Integer>, "str() is for integers");
  return std::to_string(v);
}

// Four bytes of a magic or identifier, quoted, with non-printable bytes as \xNN.
std::string printable_tag(const char* bytes);

// What a file that should be binary is when its start is text: " (a text file: a manifest? ...)",
// or "" otherwise. Appended to "wrong identifier" messages so a manifest passed where a program
// or data file is expected is named as such.
std::string text_file_hint(const uint8_t* data, size_t size);

// The flatbuffers Verifier checks the alignment of a vector's length prefix but not of its
// 8-byte elements, and reading a misaligned int64 is undefined behaviour. Every vector of
// 8-byte scalars goes through this before use. `vector` may be null.
template <typename T>
Status check_u64_vector(const std::string& file, const char* what, const flatbuffers::Vector<T>* vector) {
  static_assert(sizeof(T) == 8, "only for vectors of 8-byte elements");
  if (vector != nullptr && reinterpret_cast<uintptr_t>(vector->Data()) % alignof(T) != 0) {
    return Status(StatusCode::kMalformed, file + ": " + what + " is not 8-byte aligned");
  }
  return Status::success();
}

}  // namespace etp::format
