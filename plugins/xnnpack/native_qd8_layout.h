// The packed layout of a dynamically quantized fully-connected layer (native_qd8.h), shared by
// its packing, its kernels (native_qd8.cpp, native_qd8_vnni.inc) and the tests that run the
// AVX512-VNNI kernel on an emulation. Internal to the plugin: the layout lives only in memory (the
// weight cache), so it may change between versions.
//
// Panels of 16 output channels, one after another. In a 4-bit chunk, byte c * 4 + j (column c,
// j in 0..3) holds w(c, k0 + j) in its low nibble and w(c, k0 + 4 + j) in its high one, as
// 4-bit two's complement; an 8-bit chunk holds w(c, k0 + j) at byte c * 4 + j. Padding (columns
// past n, k past the layer's) is weight 0.
//   kQB4 panel: ksum[16] f32, bias[16] f32; then the blocks in pairs: the pair's 2 x 16 scales
//   as the file's bf16 s_b (32 bytes a block, columns in the order of bf16_slot), then the first
//   block's block / 8 chunks, then the second's (an odd last block: its scales, 32 bytes of
//   padding, its chunks). Scales as bf16 (as XNNPACK packs them) are 10% fewer bytes than fp32 at
//   blocks of 32; in pairs, every chunk stays 64-byte aligned and a panel is read front to back
//   (all scales ahead of all chunks: 1.10x the time in etp_bench_qd8's from-memory case, AVX2).
//   kQC4/kQC8 panel: wsum[16] i32 (the sum of each column's weights; times 16 for 4-bit),
//   scale[16] f32, bias[16] f32, then chunks over k rounded up to 8 (4-bit) or 4 (8-bit).
#pragma once

#include <cstddef>
#include <cstdint>

#include "native_qd8.h"

namespace etp_xnnpack::native::qd8_layout {

constexpr size_t kPanel = kQd8Panel;
constexpr size_t kChunkK4 = 8;      // k per 64-byte chunk of 4-bit weights (16 columns x 8 k)
constexpr size_t kChunkK8 = 4;      // k per 64-byte chunk of 8-bit weights (16 columns x 4 k)
constexpr size_t kScaleBytes = 32;  // one block's 16 bf16 scales
constexpr int kMaxRows = 4;         // rows per register tile in the SIMD kernels

inline size_t round_up(size_t v, size_t to) { return (v + to - 1) / to * to; }

// The kernels read a layer's panels front to back, one 64-byte chunk at a time, and decode reads
// every weight from memory once per token. Asking for the line 1 KiB ahead of each chunk keeps
// enough misses in flight: etp_bench_qd8's from-memory qb4w decode layer took 0.70x the time
// (AVX2, Zen 1; 512 and 2048 bytes ahead did less), and the in-cache cases did not change. A
// prefetch never faults, so running past the last panel is harmless (the address is formed as an
// integer, not as a pointer past the buffer).
constexpr uintptr_t kPrefetchAhead = 1024;
inline void prefetch_ahead(const uint8_t* chunk) {
  __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(chunk) + kPrefetchAhead));
}

// Where column c's bf16 block scale is stored among the 16: columns 0-3, 8-11, 4-7, 12-15.
// Interleaving 32 bytes with zeros in 128-bit lanes (AVX2's unpacklo/hi_epi16) gives columns
// 0-7 and 8-15 as fp32; zero-extending them to 512 bits gives the 128-bit lanes 0, 2, 1, 3.
inline size_t bf16_slot(size_t c) { return (c & 3) | (c & 4) << 1 | (c & 8) >> 1; }

// Offsets in a kQB4 panel of block b's scales and of its first chunk (the SIMD kernels walk the
// same layout front to back: pair by pair, the scales, then each block's chunks).
inline size_t qb4_pair_offset(const Qd8Layer& l, size_t b) { return 128 + b / 2 * (64 + 16 * l.block); }
inline size_t qb4_scales_offset(const Qd8Layer& l, size_t b) { return qb4_pair_offset(l, b) + b % 2 * kScaleBytes; }
inline size_t qb4_chunks_offset(const Qd8Layer& l, size_t b) {
  return qb4_pair_offset(l, b) + 64 + b % 2 * 8 * l.block;
}

inline size_t panel_bytes(const Qd8Layer& l) {
  switch (l.kind) {
    case Qd8Weights::kQB4: {
      const size_t blocks = l.k / l.block;  // whole pairs, then an odd last block
      return qb4_pair_offset(l, blocks) + blocks % 2 * (64 + 8 * l.block);
    }
    case Qd8Weights::kQC4: return 192 + round_up(l.k, kChunkK4) * 8;
    default: return 192 + round_up(l.k, kChunkK8) * 16;
  }
}

}  // namespace etp_xnnpack::native::qd8_layout
