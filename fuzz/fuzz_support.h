// Shared helpers of the fuzz targets: where the fixtures and built plugins are, and a private
// scratch folder for targets whose reader takes a path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/npy.h"
#include "plugins/registry.h"
#include "runtime/named_data_map.h"

namespace etp::fuzz {

// tests/fixtures of the source tree (the seeds' origin; only read).
std::string fixtures_dir();
// The built plugin `name` (portable, xnnpack, quantized, llm) in the build tree.
std::string plugin_path(const std::string& name);
// A fresh folder of this process under $TMPDIR (or /tmp), removed at exit.
const std::string& scratch_dir();
// Writes `size` bytes to `path`, replacing it; aborts on failure (a broken harness, not a finding).
void write_file(const std::string& path, const uint8_t* data, size_t size);
// Every .ptd of the fixtures, opened once, each with its own id, in name order: the data files
// a mutated program may look its weights up in.
const std::vector<runtime::DataSource>& fixture_data_files();
// The shipped plugins in `etp run`'s order (portable, xnnpack, quantized, llm), loaded once,
// XNNPACK with one thread so runs are deterministic and cheap.
std::shared_ptr<const plugins::Registry> shipped_registry();

}  // namespace etp::fuzz
