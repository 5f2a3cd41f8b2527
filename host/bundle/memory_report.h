// Where a bundle's memory goes, measured: per data file (mapped, resident, packed by which
// plugin's cache, used by which models), per model (program, planned buffers, private
// constants, private packed weights, what loading it added to RSS), and for the process (RSS
// split into anonymous and file-backed, and the peak). Each number says how it was obtained.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bundle/bundle.h"
#include "runtime/method.h"

namespace etp::bundle {

// The process's memory as the kernel accounts it (/proc/self/smaps_rollup and status).
struct ProcessMemory {
  uint64_t rss = 0;
  uint64_t anonymous = 0;
  uint64_t file_backed = 0;  // rss - anonymous
  uint64_t peak_rss = 0;     // VmHWM
};
ProcessMemory measure_process();

// Bytes this process holds in RAM for the mapping that starts at `data` (/proc/self/smaps Rss).
uint64_t resident_bytes(const void* data, uint64_t size);

struct LoadedModel {
  std::string name;
  std::vector<const runtime::Method*> methods;  // of one Program
  ProcessMemory before, after;                  // around loading the model's methods
  ProcessMemory after_runs;                     // after its runs (planned memory is touched there)
};

// Builds the report for `models` (loaded in that order) of `bundle`.
nlohmann::json memory_report(const Bundle& bundle, const std::vector<LoadedModel>& models);

// Human-readable rendering of memory_report's document.
std::string render_memory_report(const nlohmann::json& report);

}  // namespace etp::bundle
