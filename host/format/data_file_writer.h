// Writes .ptd data files in ExecuTorch's FlatTensor format: the same layout ExecuTorch's C++
// save_ptd produces (keys sorted, one segment per tensor, a TensorLayout for each, header
// padded to the alignment). Used for training checkpoints and for generating test data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace etp::format {

struct TensorToWrite {
  std::string key;
  int32_t scalar_type = 6;
  std::vector<int32_t> sizes;
  std::vector<uint8_t> dim_order;  // empty: contiguous
  const void* data = nullptr;
  uint64_t nbytes = 0;
};

// Writes `tensors` to `path` atomically (a temp file renamed into place). `alignment` (a
// power of two, at least 16) aligns every tensor's data within the file.
Status write_data_file(const std::string& path, std::vector<TensorToWrite> tensors, uint64_t alignment = 16);

}  // namespace etp::format
