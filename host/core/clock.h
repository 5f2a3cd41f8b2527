// Elapsed wall time, for progress lines and reports.
#pragma once

#include <chrono>

namespace etp {

using Clock = std::chrono::steady_clock;

// Milliseconds from `start` to now.
inline double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace etp
