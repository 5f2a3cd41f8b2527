#include "format/byte_reader.h"

#include <cstdio>

namespace etp::format {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ExecuTorch files are little-endian; so must the host be");

std::string text_file_hint(const uint8_t* data, size_t size) {
  const size_t n = size < 64 ? size : 64;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = data[i];
    if (!(c == '\n' || c == '\r' || c == '\t' || (c >= 0x20 && c < 0x7f))) return "";
  }
  return " (it is a text file: a YAML manifest? Run a manifest with `etp run MANIFEST`)";
}

std::string printable_tag(const char* bytes) {
  std::string out = "'";
  for (int i = 0; i < 4; ++i) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    }
  }
  return out + "'";
}

}  // namespace etp::format
