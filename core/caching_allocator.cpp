#include "pitfall/core/caching_allocator.h"

#include <bit>

namespace pitfall {

CachingAllocator::CachingAllocator(Allocate allocate, Free free, size_t cache_limit_bytes)
    : allocate_(std::move(allocate)), free_(std::move(free)), cache_limit_(cache_limit_bytes) {}

CachingAllocator::~CachingAllocator() { empty_cache(); }

size_t CachingAllocator::size_class(size_t nbytes) {
  if (nbytes <= 16) return 16;
  // e: the exponent that leaves a 4-bit mantissa m (8..15) in the top bits of nbytes - 1.
  const int e = std::bit_width(nbytes - 1) - 4;
  const size_t step = size_t{1} << e;
  return (nbytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(size_t nbytes) {
  const bool cached = nbytes >= kMinCachedBytes;
  const size_t size = cached ? size_class(nbytes) : nbytes;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.allocations;
    stats_.bytes_in_use += static_cast<int64_t>(size);
    stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
    if (cached) {
      ++stats_.cacheable;
      auto it = free_lists_.find(size);
      if (it != free_lists_.end() && !it->second.empty()) {
        void* ptr = it->second.back();
        it->second.pop_back();
        stats_.bytes_cached -= static_cast<int64_t>(size);
        ++stats_.cache_hits;
        return ptr;
      }
    }
  }
  try {
    return allocate_(size);
  } catch (...) {
    // Out of memory with blocks of other classes cached: give them back and try once more.
    std::lock_guard<std::mutex> lock(mutex_);
    trim_locked(0, 0);
    stats_.bytes_in_use -= static_cast<int64_t>(size);
    --stats_.allocations;
    if (cached) --stats_.cacheable;
  }
  void* ptr = allocate_(size);
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.allocations;
  if (cached) ++stats_.cacheable;
  stats_.bytes_in_use += static_cast<int64_t>(size);
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, size_t nbytes) {
  if (!ptr) return;
  const bool cached = nbytes >= kMinCachedBytes;
  const size_t size = cached ? size_class(nbytes) : nbytes;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.bytes_in_use -= static_cast<int64_t>(size);
    if (cached && size <= cache_limit_) {
      free_lists_[size].push_back(ptr);
      stats_.bytes_cached += static_cast<int64_t>(size);
      if (static_cast<size_t>(stats_.bytes_cached) > cache_limit_) trim_locked(cache_limit_, size);
      return;
    }
  }
  free_(ptr, size);
}

// Frees cached blocks until at most `limit` bytes stay cached: other classes first, so the class
// just freed (the one the loop is using) survives.
void CachingAllocator::trim_locked(size_t limit, size_t keep_class) {
  for (int pass = 0; pass < 2 && static_cast<size_t>(stats_.bytes_cached) > limit; ++pass) {
    for (auto& [size, blocks] : free_lists_) {
      if (pass == 0 && size == keep_class) continue;
      while (!blocks.empty() && static_cast<size_t>(stats_.bytes_cached) > limit) {
        free_(blocks.front(), size);
        blocks.erase(blocks.begin());
        stats_.bytes_cached -= static_cast<int64_t>(size);
      }
    }
  }
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  trim_locked(0, 0);
  free_lists_.clear();
}

void CachingAllocator::set_cache_limit(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  cache_limit_ = bytes;
  trim_locked(bytes, 0);
}

size_t CachingAllocator::cache_limit() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cache_limit_;
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
}

}  // namespace pitfall
