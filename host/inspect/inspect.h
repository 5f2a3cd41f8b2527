// Describes .pte and .ptd files for `etp inspect`: a JSON document built from the verified
// readers, and a text rendering of the same document, so both outputs agree by construction.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "format/data_file.h"
#include "format/program_file.h"

namespace etp::inspect {

nlohmann::json describe_program(const format::ProgramFile& program);
nlohmann::json describe_data_file(const format::DataFile& data);

// Opens `path` as a program or a data file (by its identifier) and describes it.
Result<nlohmann::json> describe_file(const std::string& path);

// Human-readable rendering of a describe_* document.
std::string render_text(const nlohmann::json& description);

}  // namespace etp::inspect
