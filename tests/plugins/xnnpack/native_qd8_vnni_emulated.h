// The plugin's AVX512-VNNI fully-connected kernel (plugins/xnnpack/native_qd8_vnni.inc), compiled
// on an exact emulation of its intrinsics (avx512_emulation.inc): it runs on any CPU, so the
// tests check that kernel bit for bit on machines without AVX-512 too.
#pragma once

#include <cstddef>
#include <cstdint>

#include "native_qd8.h"

namespace etp_xnnpack::native::vnni_emulated {

// qd8_fully_connected's contract, always on the VNNI kernel's code.
void fully_connected(const Qd8Layer& layer, const uint8_t* packed, const uint8_t* a, const Qd8Params* params, float lo,
                     float hi, float* out, size_t row_begin, size_t row_end, size_t panel_begin, size_t panel_end);

}  // namespace etp_xnnpack::native::vnni_emulated
