// What a method's instructions do to each value, read once from the verified plan: which values
// are written (and by what), which reach a delegate, which alias another value's memory. The
// method loader asks it two questions: may an input use the caller's memory without a copy
// (Method::bind_input), and which tensors does the program update in place (its state).
#pragma once

#include <cstdint>
#include <vector>

#include "program_generated.h"

namespace etp::runtime {

class ValueUses {
 public:
  // `plan` must come from a verified ProgramFile (indices are trusted).
  explicit ValueUses(const executorch_flatbuffer::ExecutionPlan& plan);

  // True when nothing but the input itself can write or read input `value`'s memory: no
  // instruction writes it or a view of it, it never reaches a delegate (a backend may read past
  // an input's end), it is never the source of a move (the destination would share it), and no
  // value an instruction does not produce (a static view ExecuTorch planned into the input's
  // bytes) overlaps its planned memory. The caller also checks the input's layout.
  bool can_borrow(uint32_t value) const;

  // True when an in-place operator (a name ending in '_', such as aten::copy_ or
  // aten::index_put_) writes `value`: a mutable buffer such as a KV cache.
  bool updated_in_place(uint32_t value) const { return in_place_[value]; }

 private:
  uint32_t root(uint32_t value) const;  // the value whose memory `value` uses (through et_view)
  bool planned_range(uint32_t value, uint32_t* memory_id, uint64_t* begin, uint64_t* end) const;
  bool overlaps_unproduced(uint32_t value) const;
  void mark_written(uint32_t value);

  const executorch_flatbuffer::ExecutionPlan& plan_;
  std::vector<uint32_t> alias_;
  std::vector<bool> written_, delegated_, moved_from_, produced_, in_place_;
};

}  // namespace etp::runtime
