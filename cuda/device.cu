// The CUDA device: allocator and availability query. Registered into the core at load time.
#include <cuda_runtime.h>

#include "pitfall/core/device.h"
#include "pitfall/core/error.h"

namespace pitfall {
namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw RuntimeError(std::string("CUDA ") + what + " failed: " + cudaGetErrorString(status));
  }
}

struct CudaAllocator final : Allocator {
  void* allocate(size_t nbytes) override {
    void* ptr = nullptr;
    check(cudaMalloc(&ptr, nbytes ? nbytes : 1), "cudaMalloc");
    return ptr;
  }
  void deallocate(void* ptr, size_t) override { cudaFree(ptr); }
  void copy(void* dst, const void* src, size_t nbytes, bool to_device, bool from_device) override {
    if (!nbytes) return;
    const cudaMemcpyKind kind = to_device ? (from_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                          : (from_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
    check(cudaMemcpy(dst, src, nbytes, kind), "cudaMemcpy");
  }
};

// Registers the allocator only when a device is present, so a GPU-less machine reports the
// device as unavailable instead of failing on first use.
const bool registered = [] {
  int count = 0;
  if (cudaGetDeviceCount(&count) == cudaSuccess && count > 0) {
    static CudaAllocator allocator;
    register_allocator(DeviceType::cuda, &allocator);
  }
  return true;
}();

}  // namespace
}  // namespace pitfall
