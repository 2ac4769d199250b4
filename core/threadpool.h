// Intra-op parallelism with static partitioning.
//
// Work is cut into fixed blocks whose boundaries depend only on the problem size, never on the
// thread count; threads take contiguous runs of blocks. A kernel that computes each block the same
// way therefore gives bitwise-identical results with 1 or N threads.
#pragma once
#include <cstdint>
#include <functional>

namespace pitfall {

// Default: PITFALL_NUM_THREADS if set, else the number of cores.
int num_threads();
void set_num_threads(int threads);

// Calls fn(begin, end) once per block [k*block, min(n, (k+1)*block)). Nested calls run inline.
// An exception thrown by any block is rethrown on the calling thread after all blocks finish.
void parallel_for(int64_t n, int64_t block, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace pitfall
