// Fuzz target: a .ptd (FlatTensor data file) opened and verified from memory, then every
// entry's bytes, the key lookup and the `etp inspect` description.
#include <cstddef>
#include <cstdint>

#include "format/data_file.h"
#include "inspect/inspect.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace etp::format;
  auto file = DataFile::open(etp::MappedFile::copy_of("fuzz.ptd", data, size));
  if (!file.ok()) return 0;
  volatile uint32_t sink = 0;
  for (const DataEntry& entry : file->entries()) {
    if (file->find(entry.key) == nullptr) __builtin_trap();  // every listed key must be found
    if (entry.bytes.size > 0) sink = sink + entry.bytes.data[0] + entry.bytes.data[entry.bytes.size - 1];
  }
  const nlohmann::json description = etp::inspect::describe_data_file(*file);
  (void)description.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);  // as `etp inspect --json`
  (void)etp::inspect::render_text(description);
  return 0;
}
