// Kernel families of the LLM operators plugin (ExecuTorch's `llama::` custom operators).
// Plugin-private; built on portable's header-only helpers.
#pragma once

#include "kernels.h"  // portable's ETP_PORTABLE_KERNEL, ETP_ENTRY and KernelFamily (its kernels are not linked)

#include <cstddef>
#include <functional>

namespace etp_llm {

using etp_portable::KernelFamily;

// The host's thread pool (ABI 1.2 parallel_for; plugin.cpp). Runs task(0) .. task(count - 1),
// spread over the pool when `parallel`, else (or under an older host) in order on the caller's
// thread; returns when all are done.
void parallel_for(size_t count, bool parallel, const std::function<void(size_t)>& task);
// Work (multiply-adds) below which attention stays on the caller's thread: waking workers costs
// microseconds, more than a decode step of a small model takes.
constexpr int64_t kParallelWork = 1 << 16;

KernelFamily cache_kernels();  // update_cache, update_cache_with_indices, fallback (cache.cpp)
KernelFamily sdpa_kernels();   // custom_sdpa, sdpa_with_kv_cache (sdpa.cpp)

// Checks that `t` is a 4-D tensor stored densely in row-major order (these operators index
// [batch, seq, heads, head_dim] linearly, as ExecuTorch's do).
etp_status check_4d_contiguous(const etp_portable::Ctx& c, const etp_tensor& t, const char* which);

// Checks that `value` [B, S, H, D] fits rows start_pos .. start_pos + S - 1 of `cache`
// [B, Smax, H, D] (same B, H, D and dtype, 0 <= start_pos, start_pos + S <= Smax)...
etp_status check_cache_write(const etp_portable::Ctx& c, const etp_tensor& value, const etp_tensor& cache,
                             int64_t start_pos, const char* which);
// ...and copies it there (after that check).
void copy_rows(const etp_tensor& value, etp_tensor& cache, int64_t start_pos);

}  // namespace etp_llm
