// The CPU allocator's block cache (core/caching_allocator.h).
#include <doctest/doctest.h>

#include <pitfall/core/caching_allocator.h>
#include <pitfall/pitfall.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <thread>

using namespace pitfall;

namespace {

// A backing allocator that counts what reaches it.
struct Backing {
  int allocations = 0, frees = 0;
  std::set<void*> live;
  CachingAllocator make(size_t limit, size_t min_cached = CachingAllocator::kMinCachedBytes,
                        size_t max_cached = SIZE_MAX,
                        CachingAllocator::Clock::duration idle = CachingAllocator::kIdleLimit) {
    return CachingAllocator(
        [this](size_t n) {
          ++allocations;
          void* p = std::malloc(n);
          live.insert(p);
          return p;
        },
        [this](void* p, size_t) {
          ++frees;
          live.erase(p);
          std::free(p);
        },
        limit, min_cached, max_cached, idle);
  }
};

constexpr size_t MiB = size_t{1} << 20;

}  // namespace

TEST_SUITE("caching_allocator") {
  TEST_CASE("size classes cover the request with at most 1/8 slack") {
    for (size_t n : {size_t{1}, size_t{16}, size_t{17}, size_t{1000}, size_t{16384}, size_t{16385}, size_t{100000},
                     size_t{1} << 20, (size_t{1} << 20) + 1, size_t{123456789}}) {
      CAPTURE(n);
      const size_t c = CachingAllocator::size_class(n);
      CHECK(c >= n);
      if (n > 16) CHECK(static_cast<double>(c - n) < static_cast<double>(n) / 8.0);
      CHECK(CachingAllocator::size_class(c) == c);  // a class is its own class
    }
    // Nearby sizes share a class (that is what makes reuse likely).
    CHECK(CachingAllocator::size_class(1000000) == CachingAllocator::size_class(1000001));
  }

  TEST_CASE("a freed block is reused for the next request of its class") {
    Backing backing;
    {
      CachingAllocator cache = backing.make(size_t{64} << 20);
      void* a = cache.allocate(1 << 20);
      cache.deallocate(a, 1 << 20);
      CHECK(cache.stats().bytes_cached == static_cast<int64_t>(CachingAllocator::size_class(1 << 20)));
      void* b = cache.allocate((1 << 20) - 100);  // same class
      CHECK(b == a);
      CHECK(backing.allocations == 1);
      CHECK(cache.stats().cache_hits == 1);
      CHECK(cache.stats().cacheable == 2);
      CHECK(cache.stats().bytes_cached == 0);
      void* c = cache.allocate(3 << 20);  // another class: a new block
      CHECK(c != a);
      CHECK(backing.allocations == 2);
      const MemoryStats s = cache.stats();
      CHECK(s.bytes_in_use == static_cast<int64_t>(CachingAllocator::size_class((1 << 20) - 100) +
                                                   CachingAllocator::size_class(3 << 20)));
      CHECK(s.peak_bytes_in_use == s.bytes_in_use);
      cache.deallocate(b, (1 << 20) - 100);
      cache.deallocate(c, 3 << 20);
      CHECK(cache.stats().bytes_in_use == 0);
      CHECK(cache.stats().peak_bytes_in_use == s.peak_bytes_in_use);
      cache.reset_peak();
      CHECK(cache.stats().peak_bytes_in_use == 0);
    }
    // The destructor returned every cached block.
    CHECK(backing.live.empty());
    CHECK(backing.frees == backing.allocations);
  }

  TEST_CASE("small blocks bypass the cache, and the limit bounds what is kept") {
    Backing backing;
    CachingAllocator cache = backing.make(size_t{3} << 20);
    void* small = cache.allocate(100);
    cache.deallocate(small, 100);
    CHECK(backing.frees == 1);  // below kMinCachedBytes: straight back
    CHECK(cache.stats().bytes_cached == 0);

    std::vector<void*> blocks;
    for (int i = 0; i < 4; ++i) blocks.push_back(cache.allocate(1 << 20));
    for (void* b : blocks) cache.deallocate(b, 1 << 20);
    // Four 1 MiB blocks do not fit a 3 MiB limit: the least recently freed went back.
    CHECK(cache.stats().bytes_cached == int64_t{3} << 20);
    CHECK(backing.frees == 2);
    CHECK(backing.live.count(blocks[0]) == 0);

    // A 2 MiB block is new: under the high-water mark (4 MiB in use once), room is made for it by
    // returning a cached 1 MiB block first. Freed, it pushes the cache over its limit, and the
    // oldest 1 MiB block goes.
    void* big = cache.allocate(2 << 20);
    CHECK(backing.frees == 3);
    cache.deallocate(big, 2 << 20);
    CHECK(cache.stats().bytes_cached == int64_t{3} << 20);
    CHECK(backing.frees == 4);
    CHECK(cache.allocate(2 << 20) == big);
    cache.set_cache_limit(0);
    CHECK(cache.stats().bytes_cached == 0);
    void* again = cache.allocate(1 << 20);
    const int frees = backing.frees;
    cache.deallocate(again, 1 << 20);
    CHECK(backing.frees == frees + 1);  // limit 0: nothing is cached
    cache.deallocate(big, 2 << 20);
    CHECK(backing.live.empty());
  }

  TEST_CASE("a request takes the smallest free block of up to twice its size") {
    Backing backing;
    CachingAllocator cache = backing.make(SIZE_MAX);
    void* full = cache.allocate(8 * MiB);  // a full batch's activation
    cache.deallocate(full, 8 * MiB);
    // The last, smaller batch reuses it instead of adding a block of its own class.
    void* last = cache.allocate(6 * MiB);
    CHECK(last == full);
    CHECK(backing.allocations == 1);
    CHECK(cache.stats().bytes_in_use == static_cast<int64_t>(8 * MiB));  // the block's real size
    cache.deallocate(last, 6 * MiB);
    CHECK(cache.stats().bytes_in_use == 0);
    CHECK(cache.stats().bytes_cached == static_cast<int64_t>(8 * MiB));
    // Below half its size, a block is not handed out: a new one is made (and the 8 MiB block goes
    // back, to keep the footprint under the 8 MiB high-water mark).
    void* small = cache.allocate(3 * MiB);
    CHECK(backing.allocations == 2);
    CHECK(cache.stats().bytes_cached == 0);
    // With both sizes free, the exact class wins over the larger block.
    void* large = cache.allocate(8 * MiB);
    cache.deallocate(small, 3 * MiB);
    cache.deallocate(large, 8 * MiB);
    CHECK(cache.allocate(3 * MiB) == small);
    CHECK(cache.allocate(8 * MiB) == large);
    cache.deallocate(small, 3 * MiB);
    cache.deallocate(large, 8 * MiB);
  }

  TEST_CASE("the cache keeps the footprint under the high-water mark of live bytes") {
    Backing backing;
    CachingAllocator cache = backing.make(SIZE_MAX);
    // A data set's staging copy: 20 MiB, freed once the data are in place.
    void* staging = cache.allocate(20 * MiB);
    cache.deallocate(staging, 20 * MiB);
    CHECK(cache.stats().bytes_cached == static_cast<int64_t>(20 * MiB));
    // Training steps of 3 x 4 MiB live at once fit under the 20 MiB mark next to it...
    for (int step = 0; step < 3; ++step) {
      void* a = cache.allocate(4 * MiB);
      void* b = cache.allocate(4 * MiB);
      void* c = cache.allocate(4 * MiB);
      for (void* p : {a, b, c}) cache.deallocate(p, 4 * MiB);
      const MemoryStats s = cache.stats();
      // ...so the staging block went back when the first step's blocks were made, and the steps
      // after it are served from the cache.
      CHECK(s.bytes_in_use + s.bytes_cached <= int64_t{20} << 20);
    }
    CHECK(backing.frees == 1);  // the staging block
    CHECK(backing.allocations == 4);
    CHECK(cache.stats().cache_hits == 6);
  }

  TEST_CASE("blocks a loop asks for again are kept even past the high-water mark") {
    // Step: A (2 MiB) is freed before B (6 MiB) is made, so 6 MiB is the peak of live bytes, but
    // serving both from the cache needs 8 MiB (and B is too big to stand in for A). Held to the
    // mark, every step would return A to make room for B and map A again; when a block returned
    // that way is asked for again soon after, the mark is raised by its size instead.
    Backing backing;
    CachingAllocator cache = backing.make(SIZE_MAX);
    for (int step = 0; step < 6; ++step) {
      void* a = cache.allocate(2 * MiB);
      cache.deallocate(a, 2 * MiB);
      void* b = cache.allocate(6 * MiB);
      cache.deallocate(b, 6 * MiB);
    }
    CHECK(cache.stats().peak_bytes_in_use == static_cast<int64_t>(6 * MiB));
    CHECK(backing.allocations == 3);  // A twice (once returned), B once: not one pair per step
    CHECK(cache.stats().cache_hits == 9);
    CHECK(cache.stats().bytes_cached == static_cast<int64_t>(8 * MiB));
  }

  TEST_CASE("blocks outside the cached sizes, and blocks left idle, go back") {
    Backing backing;
    CachingAllocator cache = backing.make(SIZE_MAX, MiB, 8 * MiB, std::chrono::milliseconds(20));
    void* small = cache.allocate(MiB / 2);
    void* huge = cache.allocate(16 * MiB);
    void* kept = cache.allocate(2 * MiB);
    cache.deallocate(small, MiB / 2);
    cache.deallocate(huge, 16 * MiB);
    cache.deallocate(kept, 2 * MiB);
    CHECK(backing.frees == 2);  // below the minimum and above the maximum: straight back
    CHECK(cache.stats().cacheable == 1);
    CHECK(cache.stats().bytes_cached == static_cast<int64_t>(2 * MiB));
    // Idle past the limit: the next allocation (of any size) returns it.
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    void* other = cache.allocate(100);
    CHECK(cache.stats().bytes_cached == 0);
    CHECK(backing.frees == 3);
    cache.deallocate(other, 100);
  }

  TEST_CASE("empty_cache returns everything, and concurrent use keeps the books balanced") {
    Backing backing;
    std::mutex backing_mutex;
    CachingAllocator cache(
        [&](size_t n) {
          std::lock_guard<std::mutex> lock(backing_mutex);
          ++backing.allocations;
          return std::malloc(n);
        },
        [&](void* p, size_t) {
          std::lock_guard<std::mutex> lock(backing_mutex);
          ++backing.frees;
          std::free(p);
        },
        size_t{256} << 20);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&cache, t] {
        for (int i = 0; i < 200; ++i) {
          const size_t n = size_t{20000} * static_cast<size_t>(1 + (i + t) % 7);
          void* p = cache.allocate(n);
          static_cast<char*>(p)[n - 1] = 1;
          cache.deallocate(p, n);
        }
      });
    }
    for (auto& th : threads) th.join();
    const MemoryStats s = cache.stats();
    CHECK(s.bytes_in_use == 0);
    CHECK(s.allocations == 800);
    CHECK(s.cache_hits > 0);
    cache.empty_cache();
    CHECK(cache.stats().bytes_cached == 0);
    CHECK(backing.frees == backing.allocations);
  }

  TEST_CASE("tensors allocate through the CPU cache and its statistics") {
    const MemoryStats before = memory_stats();
    {
      Tensor t = Tensor::zeros({512, 512});  // 1 MiB
      CHECK(memory_stats().bytes_in_use >= before.bytes_in_use + (int64_t{1} << 20));
    }
    CHECK(memory_stats().bytes_in_use == before.bytes_in_use);
#if !defined(__SANITIZE_ADDRESS__)
    // With a cache (the default): the same shape again is served from it.
    const size_t limit = cache_limit();
    CHECK(limit == SIZE_MAX);
    { Tensor t = Tensor::zeros({512, 512}); }
    const int64_t hits = memory_stats().cache_hits;
    { Tensor t = Tensor::zeros({512, 512}); }
    CHECK(memory_stats().cache_hits == hits + 1);
    // Limit 0: nothing is kept.
    set_cache_limit(0);
    { Tensor t = Tensor::zeros({512, 512}); }
    CHECK(memory_stats().bytes_cached == 0);
    CHECK(memory_stats().cache_hits == hits + 1);
    set_cache_limit(limit);
#else
    CHECK(cache_limit() == 0);  // AddressSanitizer sees every block come and go
#endif
    empty_cache();
    CHECK(memory_stats().bytes_cached == 0);
  }
}
