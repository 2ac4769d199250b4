// The CPU allocator's size-class cache (core/caching_allocator.h).
#include <doctest/doctest.h>

#include <pitfall/core/caching_allocator.h>
#include <pitfall/pitfall.h>

#include <cstdlib>
#include <set>
#include <thread>

using namespace pitfall;

namespace {

// A backing allocator that counts what reaches it.
struct Backing {
  int allocations = 0, frees = 0;
  std::set<void*> live;
  CachingAllocator make(size_t limit) {
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
        limit);
  }
};

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
    // Four 1 MiB blocks do not fit a 3 MiB limit: one went back to the system.
    CHECK(cache.stats().bytes_cached <= int64_t{3} << 20);
    CHECK(backing.frees == 2);

    // Freeing a block of another class drops the other class's blocks first.
    void* big = cache.allocate(2 << 20);
    cache.deallocate(big, 2 << 20);
    CHECK(cache.stats().bytes_cached <= int64_t{3} << 20);
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
    // With a cache: the same shape again is served from it.
    set_cache_limit(size_t{8} << 20);
    { Tensor t = Tensor::zeros({512, 512}); }
    const int64_t hits = memory_stats().cache_hits;
    { Tensor t = Tensor::zeros({512, 512}); }
    CHECK(memory_stats().cache_hits == hits + 1);
    set_cache_limit(0);
#endif
    empty_cache();
    CHECK(memory_stats().bytes_cached == 0);
  }
}
