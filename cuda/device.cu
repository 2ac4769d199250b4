// The CUDA device: a caching allocator over cudaMalloc (never managed memory), host<->device
// copies on pitfall's stream, and the availability query. Registered into the core at load time,
// only when the driver reports a GPU.
#include <cuda_runtime.h>

#include "cuda_common.cuh"
#include "pitfall/core/caching_allocator.h"
#include "pitfall/core/device.h"

namespace pitfall::cuda {

bool device_present() {
  static const bool present = [] {
    int count = 0;
    return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  }();
  return present;
}

namespace {

int gpu_count() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess ? count : 0;
}

void* device_block(size_t nbytes) {
  void* ptr = nullptr;
  const cudaError_t status = cudaMalloc(&ptr, nbytes ? nbytes : 1);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear the sticky error: the caller may retry after emptying the cache
    throw std::bad_alloc();
  }
  check(status, "cudaMalloc");
  return ptr;
}

// cudaMalloc and cudaFree synchronize the device and cost tens of microseconds, so every block is
// cached (all sizes, no byte limit: the cache's footprint rule keeps it under the high-water mark of
// live bytes). Blocks are reused in stream order: a block freed by one op and handed to the next is
// only touched by kernels queued after the first op's, on the same stream.
struct CudaAllocator final : Allocator {
  CachingAllocator cache{device_block, [](void* ptr, size_t) { cudaFree(ptr); }, SIZE_MAX, /*min_cached_bytes=*/1};
  void* allocate(size_t nbytes) override {
    try {
      return cache.allocate(nbytes);
    } catch (const std::bad_alloc&) {
      const MemoryStats s = cache.stats();
      throw RuntimeError("out of GPU memory allocating " + std::to_string(nbytes) + " bytes (" +
                         std::to_string(s.bytes_in_use >> 20) + " MiB held by live tensors); use a smaller batch "
                         "or model, or free tensors you keep");
    }
  }
  void deallocate(void* ptr, size_t nbytes) override { cache.deallocate(ptr, nbytes); }
  void copy(void* dst, const void* src, size_t nbytes, bool to_device, bool from_device) override {
    if (!nbytes) return;
    const cudaMemcpyKind kind = to_device ? (from_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                          : (from_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
    check(cudaMemcpyAsync(dst, src, nbytes, kind, stream()), "cudaMemcpyAsync");
    // The host may read (or free) its side as soon as this returns.
    if (kind != cudaMemcpyDeviceToDevice) synchronize();
  }
  MemoryStats stats() const override { return cache.stats(); }
  void empty_cache() override {
    synchronize();
    cache.empty_cache();
  }
  void set_cache_limit(size_t bytes) override { cache.set_cache_limit(bytes); }
  size_t cache_limit() const override { return cache.cache_limit(); }
  void reset_peak() override { cache.reset_peak(); }
  int device_count() const override { return gpu_count(); }
};

const bool registered = [] {
  if (device_present()) {
    static CudaAllocator* allocator = new CudaAllocator;  // never destroyed: tensors may outlive statics
    register_allocator(DeviceType::cuda, allocator);
  }
  return true;
}();

}  // namespace
}  // namespace pitfall::cuda
