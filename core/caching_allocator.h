// A block cache in front of an allocator, so a training loop's steady state allocates nothing from
// the system: every step asks for the same tensor sizes, and a freed block goes back to a free list
// of its class instead of to the system (where a large block would be unmapped, and mapped and
// zeroed again by the kernel on the next step).
//
// - Sizes round up to a class with at most 1/8 slack (eight classes per power of two). Blocks below
//   the minimum cached size go straight to the backing allocator (malloc keeps those cheap), and so
//   do blocks above the maximum: the work on a tensor that big outweighs getting fresh pages, and a
//   data set's staging copy should not stay cached once freed.
// - A request is served by a free block of its own class, or else by the smallest free block of up
//   to twice its size (so an epoch's smaller last batch reuses the full batches' blocks instead of
//   adding a second set).
// - The cache keeps the footprint (bytes in use + bytes cached) under the high-water mark of bytes
//   in use: a request the free lists cannot serve first returns the least recently used free blocks
//   until the new block fits under that mark. One-off blocks (an evaluation at a bigger batch) so go
//   back to the system as soon as the memory is wanted again, and the cache costs no peak memory
//   over what the program itself held at its peak. A loop whose blocks of different sizes are live
//   at different times can need more than its peak to be served from the cache entirely; when a
//   block returned under that rule is asked for again within the idle limit / 2 (the loop is
//   thrashing: every step would map and zero it again), the mark is raised by its size.
// - A free block left unused for longer than the idle limit goes back as well (checked on later
//   calls): a loop reuses its blocks every step, a one-off block is not wanted again.
// - On top, a byte limit on what is kept (0 turns caching off).
// Thread-safe (pipeline threads free tensors the training thread made).
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace pitfall {

struct MemoryStats {
  int64_t bytes_in_use = 0;       // handed out and not yet freed (block sizes)
  int64_t peak_bytes_in_use = 0;  // high-water mark of bytes_in_use since the last reset
  int64_t bytes_cached = 0;       // free blocks held for reuse
  int64_t allocations = 0;        // allocate() calls
  int64_t cacheable = 0;          // of those, of the minimum cached size or more
  int64_t cache_hits = 0;         // of those, served from the free lists
};

class CachingAllocator {
 public:
  static constexpr size_t kMinCachedBytes = 16 * 1024;

  using Allocate = std::function<void*(size_t)>;
  using Free = std::function<void(void*, size_t)>;  // the block and the size it was allocated with
  using Clock = std::chrono::steady_clock;
  static constexpr Clock::duration kIdleLimit = std::chrono::seconds(2);

  CachingAllocator(Allocate allocate, Free free, size_t cache_limit_bytes,
                   size_t min_cached_bytes = kMinCachedBytes, size_t max_cached_bytes = SIZE_MAX,
                   Clock::duration idle_limit = kIdleLimit);
  ~CachingAllocator();  // returns the cached blocks
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  void* allocate(size_t nbytes);
  void deallocate(void* ptr, size_t nbytes);  // nbytes: as given to allocate()

  // Returns every cached block to the backing allocator.
  void empty_cache();
  // 0 disables caching (every block goes straight back); shrinks the cache to the new limit.
  void set_cache_limit(size_t bytes);
  size_t cache_limit() const;
  size_t min_cached_bytes() const { return min_cached_; }
  MemoryStats stats() const;
  void reset_peak();

  // The size class of `nbytes`: the smallest m * 2^e >= nbytes with 8 <= m < 16.
  static size_t size_class(size_t nbytes);

 private:
  struct FreeBlock {
    void* ptr;
    uint64_t freed_at;  // tick of its deallocate(), for least-recently-used eviction
    Clock::time_point freed_time;
  };
  void* take_locked(size_t size, size_t* block_size);
  void release_locked(void* ptr, size_t size);
  // Frees cached blocks, least recently used first, until at most `limit` bytes stay cached;
  // `for_room`: under the footprint rule (remembered for thrash detection).
  void evict_locked(size_t limit, bool for_room = false);
  // Frees the blocks idle for longer than the idle limit (looks at most every idle_limit / 8).
  void evict_idle_locked();
  void count_in_use_locked(int64_t delta);

  Allocate allocate_;
  Free free_;
  const size_t min_cached_;
  const size_t max_cached_;
  const Clock::duration idle_limit_;
  Clock::time_point last_idle_sweep_{};
  mutable std::mutex mutex_;
  std::map<size_t, std::vector<FreeBlock>> free_lists_;  // by block size; each list oldest first
  std::unordered_map<void*, size_t> served_larger_;       // live blocks bigger than their request's class
  size_t cache_limit_;
  int64_t high_water_ = 0;  // all-time peak of bytes_in_use (reset_peak leaves it)
  int64_t thrash_allowance_ = 0;  // added to high_water_ for the footprint rule
  std::unordered_map<size_t, Clock::time_point> returned_for_room_;  // by class: when it last happened
  uint64_t tick_ = 0;
  MemoryStats stats_;
};

}  // namespace pitfall
