// Fuzz target: the .npy reader (read_npy reads the file into memory). An array it accepts must
// have as many bytes as its shape and dtype say, and must survive a write and a second read.
#include <cstddef>
#include <cstdint>

#include "core/npy.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = etp::fuzz::scratch_dir() + "/fuzz.npy";
  static const std::string copy = etp::fuzz::scratch_dir() + "/copy.npy";
  etp::fuzz::write_file(path, data, size);
  auto array = etp::read_npy(path);
  if (!array.ok()) return 0;
  if (!etp::write_npy(copy, *array).ok()) return 0;  // e.g. a full disk; not the reader's fault
  auto again = etp::read_npy(copy);
  if (!again.ok() || again->dtype != array->dtype || again->shape != array->shape || again->data != array->data) {
    __builtin_trap();  // the writer and the reader disagree
  }
  return 0;
}
