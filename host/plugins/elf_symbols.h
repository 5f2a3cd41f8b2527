// What a shared object's ELF dynamic section says, read from the file without loading it: the
// symbols it exports and imports and the libraries it needs. The plugin loader reads it before
// dlopen, so a file that is not an etp plugin for this machine is refused before any of its
// code (constructors included) can run; `etp plugin check` reads it for its symbol checks.
#pragma once

#include <string>
#include <vector>

namespace etp::plugins {

struct DynamicSymbols {
  std::vector<std::string> exports, imports, needed;  // defined, undefined, DT_NEEDED
};

// Reads `path`'s dynamic symbols. On failure returns false and says why in `error`: not a file,
// not a 64-bit little-endian ELF shared object, built for another machine, malformed tables.
// Every offset is bounds-checked against the file; only the headers and the dynamic sections
// are read.
bool read_dynamic_symbols(const std::string& path, DynamicSymbols* out, std::string* error);

}  // namespace etp::plugins
