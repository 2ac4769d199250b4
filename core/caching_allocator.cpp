#include "pitfall/core/caching_allocator.h"

#include <algorithm>
#include <bit>
#include <limits>

namespace pitfall {

CachingAllocator::CachingAllocator(Allocate allocate, Free free, size_t cache_limit_bytes, size_t min_cached_bytes,
                                   size_t max_cached_bytes, Clock::duration idle_limit)
    : allocate_(std::move(allocate)),
      free_(std::move(free)),
      min_cached_(min_cached_bytes),
      max_cached_(max_cached_bytes),
      idle_limit_(idle_limit),
      cache_limit_(cache_limit_bytes) {}

CachingAllocator::~CachingAllocator() { empty_cache(); }

size_t CachingAllocator::size_class(size_t nbytes) {
  if (nbytes <= 16) return 16;
  // e: the exponent that leaves a 4-bit mantissa m (8..15) in the top bits of nbytes - 1.
  const int e = std::bit_width(nbytes - 1) - 4;
  const size_t step = size_t{1} << e;
  return (nbytes + step - 1) / step * step;
}

void CachingAllocator::count_in_use_locked(int64_t delta) {
  stats_.bytes_in_use += delta;
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  high_water_ = std::max(high_water_, stats_.bytes_in_use);
}

// The free block for a request of class `size`: its own class, else the smallest of up to 2x.
void* CachingAllocator::take_locked(size_t size, size_t* block_size) {
  for (auto it = free_lists_.lower_bound(size); it != free_lists_.end() && it->first <= 2 * size; ++it) {
    if (it->second.empty()) continue;
    void* ptr = it->second.back().ptr;  // the most recently freed: likeliest still in the CPU cache
    it->second.pop_back();
    *block_size = it->first;
    stats_.bytes_cached -= static_cast<int64_t>(it->first);
    if (it->first != size) served_larger_.emplace(ptr, it->first);
    return ptr;
  }
  return nullptr;
}

void* CachingAllocator::allocate(size_t nbytes) {
  const bool cached = nbytes >= min_cached_ && nbytes <= max_cached_;
  const size_t size = cached ? size_class(nbytes) : nbytes;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.allocations;
    if (stats_.bytes_cached > 0) evict_idle_locked();
    if (cached) {
      ++stats_.cacheable;
      size_t block = 0;
      if (void* ptr = take_locked(size, &block)) {
        ++stats_.cache_hits;
        count_in_use_locked(static_cast<int64_t>(block));
        return ptr;
      }
    }
    count_in_use_locked(static_cast<int64_t>(size));
    if (cached) {
      if (auto it = returned_for_room_.find(size); it != returned_for_room_.end()) {
        if (Clock::now() - it->second < idle_limit_ / 2) thrash_allowance_ += static_cast<int64_t>(size);
        returned_for_room_.erase(it);
      }
      // A new block: make room for it under the high-water mark by returning idle blocks first.
      const int64_t room = high_water_ + thrash_allowance_ - stats_.bytes_in_use;
      evict_locked(static_cast<size_t>(std::max<int64_t>(room, 0)), true);
    }
  }
  try {
    return allocate_(size);
  } catch (...) {
    // Out of memory with blocks cached: give them all back and try once more.
    std::lock_guard<std::mutex> lock(mutex_);
    evict_locked(0);
  }
  try {
    return allocate_(size);
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.bytes_in_use -= static_cast<int64_t>(size);
    throw;
  }
}

void CachingAllocator::deallocate(void* ptr, size_t nbytes) {
  if (!ptr) return;
  const bool cached = nbytes >= min_cached_ && nbytes <= max_cached_;
  size_t size = cached ? size_class(nbytes) : nbytes;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached) {
      if (auto it = served_larger_.find(ptr); it != served_larger_.end()) {
        size = it->second;
        served_larger_.erase(it);
      }
    }
    stats_.bytes_in_use -= static_cast<int64_t>(size);
    if (cached && size <= cache_limit_) {
      free_lists_[size].push_back({ptr, ++tick_, Clock::now()});
      stats_.bytes_cached += static_cast<int64_t>(size);
      if (static_cast<size_t>(stats_.bytes_cached) > cache_limit_) evict_locked(cache_limit_);
      return;
    }
  }
  free_(ptr, size);
}

void CachingAllocator::evict_locked(size_t limit, bool for_room) {
  while (static_cast<size_t>(stats_.bytes_cached) > limit) {
    auto oldest = free_lists_.end();
    uint64_t oldest_tick = std::numeric_limits<uint64_t>::max();
    for (auto it = free_lists_.begin(); it != free_lists_.end(); ++it) {
      if (!it->second.empty() && it->second.front().freed_at < oldest_tick) {
        oldest = it;
        oldest_tick = it->second.front().freed_at;
      }
    }
    if (oldest == free_lists_.end()) break;
    free_(oldest->second.front().ptr, oldest->first);
    if (for_room) returned_for_room_[oldest->first] = Clock::now();
    oldest->second.erase(oldest->second.begin());
    stats_.bytes_cached -= static_cast<int64_t>(oldest->first);
    if (oldest->second.empty()) free_lists_.erase(oldest);
  }
}

void CachingAllocator::evict_idle_locked() {
  const Clock::time_point now = Clock::now();
  if (now - last_idle_sweep_ < idle_limit_ / 8) return;
  last_idle_sweep_ = now;
  for (auto it = free_lists_.begin(); it != free_lists_.end();) {
    auto& blocks = it->second;
    // Each list is oldest first: its idle blocks are a prefix.
    auto keep = std::find_if(blocks.begin(), blocks.end(),
                             [&](const FreeBlock& b) { return now - b.freed_time <= idle_limit_; });
    for (auto b = blocks.begin(); b != keep; ++b) {
      free_(b->ptr, it->first);
      stats_.bytes_cached -= static_cast<int64_t>(it->first);
    }
    blocks.erase(blocks.begin(), keep);
    it = blocks.empty() ? free_lists_.erase(it) : std::next(it);
  }
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  evict_locked(0);
}

void CachingAllocator::set_cache_limit(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  cache_limit_ = bytes;
  evict_locked(bytes);
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
