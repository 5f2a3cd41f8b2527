// Compiles the plugin's AVX512-VNNI kernel unchanged on avx512_emulation.inc (see
// native_qd8_vnni_emulated.h). No <immintrin.h> here: the emulation takes the intrinsics' names.
#include "native_qd8_vnni_emulated.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "native_qd8_layout.h"

namespace etp_xnnpack::native::vnni_emulated {
namespace {

#include "avx512_emulation.inc"

#define ETP_VNNI
#include "native_qd8_vnni.inc"
#undef ETP_VNNI

}  // namespace

void fully_connected(const Qd8Layer& layer, const uint8_t* packed, const uint8_t* a, const Qd8Params* params, float lo,
                     float hi, float* out, size_t row_begin, size_t row_end, size_t panel_begin, size_t panel_end) {
  run_vnni(layer, packed, a, params, lo, hi, out, row_begin, row_end, panel_begin, panel_end);
}

}  // namespace etp_xnnpack::native::vnni_emulated
