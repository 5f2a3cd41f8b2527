// Method loading: everything that can be resolved before execute is resolved here, once.
// Values are parsed (constants point into the mapped files; EXTERNAL tensors come from the
// model's data files after an exact layout check; planned buffers are allocated once and
// zeroed), every operator is resolved (the host's prim operators first, then the registry's
// plugins in order; all missing names reported together), every delegate is initialised by
// the plugin that serves its backend id, and the instructions are flattened for the loop.
#pragma once

#include <memory>

#include "core/error.h"
#include "format/program_file.h"

namespace etp::runtime {

class Method;
class Program;

Result<std::unique_ptr<Method>> load_method(const Program& program, const executorch_flatbuffer::ExecutionPlan& plan);

}  // namespace etp::runtime
