// The named data one program sees: its data files (in the model's order), then the named
// data stored in the program itself. Delegates reach it through the host's find/release
// services; EXTERNAL tensors through find_tensor. Immutable after construction, so safe to
// read from several threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "etp_plugin.h"
#include "format/data_file.h"
#include "format/program_file.h"

namespace etp::runtime {

// One data file as a model uses it.
struct DataSource {
  std::shared_ptr<const format::DataFile> file;
  uint64_t file_id = 0;     // unique per data file in the process (never 0)
  std::string cache_owner;  // plugin name whose weight cache owns this file ("" = none)
};

// The entry for `key` in the first of `files` that has it (and that file, if `source` is
// given), or null. The one lookup both EXTERNAL tensors and delegates use.
const format::DataEntry* find_in_files(const std::vector<DataSource>& files, std::string_view key,
                                       const DataSource** source = nullptr);

// A large constant that kernels read in place (an embedding table, of which each token reads one
// row), from a data file or the program's constant segment, is advised for random access: without it each page fault
// reads ahead neighbouring pages nobody asked for, and a few dozen decode steps over a 125 MiB table leave tens of MiB
// resident. Constants below kSparseReadBytes keep the default (read ahead); the first read of a large one costs one
// fault per page instead.
constexpr uint64_t kSparseReadBytes = 1 << 20;
void advise_sparse_reads(const ByteSpan& bytes);

class NamedDataMap {
 public:
  // `program` may be null (no program-internal named data). `asking_plugin` is the name of
  // the plugin whose delegates will use this map (decides etp_named_data.cache_owned).
  NamedDataMap(std::vector<DataSource> files, std::shared_ptr<const format::ProgramFile> program,
               std::string asking_plugin);

  // Fills *out for `key`: data files first, then the program. ETP_ERR_NOT_FOUND if absent.
  etp_status find(std::string_view key, etp_named_data* out) const;
  // Drops the pages holding `key`'s bytes from memory; they come back from the file if read.
  void release(std::string_view key) const;

  // The entry for an EXTERNAL tensor key in the data files (not the program), or null.
  const format::DataEntry* find_tensor(std::string_view key, const DataSource** source = nullptr) const;
  const std::string& asking_plugin() const { return asking_plugin_; }

  // Converts to / from the opaque ABI handle.
  const etp_named_data_map* handle() const { return reinterpret_cast<const etp_named_data_map*>(this); }

 private:
  std::vector<DataSource> files_;
  std::shared_ptr<const format::ProgramFile> program_;
  std::string asking_plugin_;
  std::unordered_map<std::string_view, etp_tensor_layout> layouts_;
};

}  // namespace etp::runtime
