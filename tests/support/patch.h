// Byte-level corruption of real files for malformed-input tests: a writable copy of a
// file, helpers to overwrite a flatbuffer field or header bytes in place, and a temp file
// to hand the result to a reader (readers map files, so tests go through the file system).
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <flatbuffers/flatbuffers.h>

namespace etp::test {

// Address of a stored field of a generated table, or null when the writer left it out.
template <typename Table>
const uint8_t* field_address(const Table* table, flatbuffers::voffset_t field) {
  return reinterpret_cast<const flatbuffers::Table*>(table)->GetAddressOf(field);
}

class PatchedFile {
 public:
  explicit PatchedFile(const std::string& source_path);

  std::vector<uint8_t>& bytes() { return bytes_; }
  const uint8_t* data() const { return bytes_.data(); }

  // Overwrites the bytes at `address`, a pointer into data() (e.g. from a flatbuffer
  // accessor on this copy), with `value`.
  template <typename T>
  void set(const void* address, T value) {
    std::memcpy(bytes_.data() + offset_of(address), &value, sizeof(T));
  }
  // Overwrites a scalar field of a generated flatbuffer table (which derives privately
  // from flatbuffers::Table); the field must be present.
  template <typename T, typename Table>
  void set_field(const Table* table, flatbuffers::voffset_t field, T value) {
    const uint8_t* address = field_address(table, field);
    if (address == nullptr) throw std::runtime_error("field not present in this flatbuffer");
    set(address, value);
  }
  template <typename T>
  void set_at(size_t offset, T value) {
    std::memcpy(bytes_.data() + offset, &value, sizeof(T));
  }
  void truncate(size_t size) { bytes_.resize(size); }

  // Writes the bytes to a fresh temp file and returns its path (removed at exit).
  std::string write() const;

 private:
  size_t offset_of(const void* address) const;

  std::string name_;
  std::vector<uint8_t> bytes_;
};

}  // namespace etp::test
