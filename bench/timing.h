// Best-of timing shared by the benchmark programs.
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>

namespace bench {

// Seconds per call of fn: after one warm-up call (page in buffers, start thread pools), the call
// count doubles until one round takes >= 20 ms; the best of 5 such rounds.
inline double seconds_per_call(const std::function<void()>& fn) {
  using Clock = std::chrono::steady_clock;
  fn();
  int calls = 1;
  for (;;) {
    const auto t0 = Clock::now();
    for (int i = 0; i < calls; ++i) fn();
    if (std::chrono::duration<double>(Clock::now() - t0).count() >= 0.02) break;
    calls *= 2;
  }
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    const auto t0 = Clock::now();
    for (int i = 0; i < calls; ++i) fn();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count() / calls);
  }
  return best;
}

}  // namespace bench
