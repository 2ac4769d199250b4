// A size-class cache in front of an allocator, so a training loop's steady state allocates nothing
// from the system: every step asks for the same tensor sizes, and a freed block goes back to a free
// list of its class instead of to the system (where a large block would be unmapped, and mapped and
// zeroed again by the kernel on the next step).
//
// Sizes round up to a class with at most 1/8 slack (eight classes per power of two); blocks below
// kMinCachedBytes go straight to the backing allocator (malloc keeps those cheap already). Free
// blocks are kept up to a byte limit; past it, the oldest free blocks of the class being freed go
// back first, then any. Thread-safe (pipeline threads free tensors the training thread made).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace pitfall {

struct MemoryStats {
  int64_t bytes_in_use = 0;       // handed out and not yet freed (class-rounded)
  int64_t peak_bytes_in_use = 0;  // high-water mark of bytes_in_use since the last reset
  int64_t bytes_cached = 0;       // free blocks held for reuse
  int64_t allocations = 0;        // allocate() calls
  int64_t cacheable = 0;          // of those, of kMinCachedBytes or more
  int64_t cache_hits = 0;         // of those, served from the free lists
};

class CachingAllocator {
 public:
  static constexpr size_t kMinCachedBytes = 16 * 1024;

  using Allocate = std::function<void*(size_t)>;
  using Free = std::function<void(void*, size_t)>;  // the block and the size it was allocated with
  CachingAllocator(Allocate allocate, Free free, size_t cache_limit_bytes);
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
  MemoryStats stats() const;
  void reset_peak();

  // The size class of `nbytes`: the smallest m * 2^e >= nbytes with 8 <= m < 16.
  static size_t size_class(size_t nbytes);

 private:
  void trim_locked(size_t limit, size_t keep_class);

  Allocate allocate_;
  Free free_;
  mutable std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_lists_;
  size_t cache_limit_;
  MemoryStats stats_;
};

}  // namespace pitfall
