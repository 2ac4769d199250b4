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

// While alive, parallel_for called on this thread runs its blocks inline, one after another. A
// data-pipeline thread uses it so its kernels do not queue for the shared pool behind the training
// step; results are unchanged because the blocks are the same.
class InlineParallelScope {
 public:
  InlineParallelScope();
  ~InlineParallelScope();
  InlineParallelScope(const InlineParallelScope&) = delete;
  InlineParallelScope& operator=(const InlineParallelScope&) = delete;

 private:
  bool previous_;
};

}  // namespace pitfall
