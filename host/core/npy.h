// Reading and writing NumPy .npy files (format versions 1-3, little-endian, C order), the
// CLI's format for tensors in and out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace etp {

struct NpyArray {
  int32_t dtype = 0;            // ExecuTorch ScalarType value
  std::vector<int64_t> shape;   // empty for 0-d arrays
  std::vector<uint8_t> data;    // row-major bytes
};

// Reads `path`. Errors name the file and what is unsupported (Fortran order, big-endian,
// a dtype etp has no scalar type for, a truncated payload).
Result<NpyArray> read_npy(const std::string& path);

// Writes `array` as a version 1.0 .npy file, atomically (temp file + rename).
Status write_npy(const std::string& path, const NpyArray& array);

}  // namespace etp
