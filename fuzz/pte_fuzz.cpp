// Fuzz target: a .pte opened and verified from memory, then every accessor that open() promises
// is safe (segments, constants, mutable data, delegate payloads, named data) and the `etp inspect`
// description, which walks every plan.
#include <cstddef>
#include <cstdint>

#include "format/program_file.h"
#include "inspect/inspect.h"

namespace {

// Reads the first and last byte of `bytes`, so ASan checks the span's ends.
uint32_t touch(etp::ByteSpan bytes) { return bytes.size == 0 ? 0 : bytes.data[0] + bytes.data[bytes.size - 1]; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace etp::format;
  auto program = ProgramFile::open(etp::MappedFile::copy_of("fuzz.pte", data, size));
  if (!program.ok()) return 0;
  volatile uint32_t sink = 0;
  for (size_t i = 0; i < program->num_segments(); ++i) sink = sink + touch(program->segment(i));
  for (size_t i = 1; i < program->num_constants(); ++i)
    sink = sink + touch(program->constant(static_cast<uint32_t>(i)));
  for (size_t p = 0; p < program->num_plans(); ++p) {
    const fb::ExecutionPlan& plan = program->plan(p);
    if (plan.name() != nullptr) (void)program->find_plan(plan.name()->string_view());
    const auto* delegates = plan.delegates();
    for (flatbuffers::uoffset_t d = 0; delegates != nullptr && d < delegates->size(); ++d) {
      sink = sink + touch(program->delegate_blob(*delegates->Get(d)));
    }
    const auto* operators = plan.operators();
    for (flatbuffers::uoffset_t o = 0; operators != nullptr && o < operators->size(); ++o) {
      sink = sink + static_cast<uint32_t>(operator_name(*operators->Get(o)).size());
    }
  }
  if (const auto* named = program->root().named_data()) {
    for (flatbuffers::uoffset_t i = 0; i < named->size(); ++i) {
      const auto* key = named->Get(i)->key();
      if (key == nullptr) continue;
      if (const etp::ByteSpan* bytes = program->find_named_data(key->string_view())) sink = sink + touch(*bytes);
    }
  }
  const nlohmann::json description = etp::inspect::describe_program(*program);
  (void)description.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);  // as `etp inspect --json`
  (void)etp::inspect::render_text(description);
  return 0;
}
