#include "pitfall/core/device.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include <sys/mman.h>

#include "pitfall/core/error.h"

namespace pitfall {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif

size_t default_cache_limit() {
  // Under AddressSanitizer every block comes from malloc and goes straight back, so each
  // use-after-free and overflow is caught.
  if (kAddressSanitizer) return 0;
  if (const char* env = std::getenv("PITFALL_CPU_CACHE_MB")) {
    char* end = nullptr;
    const long long value = std::strtoll(env, &end, 10);
    if (end == env || *end != '\0' || value < 0) {
      throw ValueError(std::string("PITFALL_CPU_CACHE_MB='") + env +
                       "' is not a size; set it to a whole number of MiB (0 turns the cache off)");
    }
    return static_cast<size_t>(value) << 20;
  }
  // No byte limit by default: the cache's own rule (never above the high-water mark of live
  // bytes) bounds it.
  return std::numeric_limits<size_t>::max();
}

// Blocks of 1 MiB and more (a layer's activations and gradients at training batch sizes) are
// mapped from the kernel and cached; smaller ones come from malloc. Measured on the CNN benchmark
// (bench/README.md "Memory"): malloc's heap alone fragments around the step's 11 MiB tensors
// (~50 MiB above the live peak), mapping without a cache pays the kernel's page zeroing on every
// step (epoch 8 s -> 18 s); mapped and cached, the epoch keeps its time and the peak RSS drops.
// Blocks above 32 MiB (a data set, an evaluation batch's activations) are mapped and unmapped
// each time, as malloc does from that size on.
constexpr size_t kMappedBytes = size_t{1} << 20;
constexpr size_t kMaxCachedBytes = size_t{32} << 20;

// 64-byte alignment: one AVX-512 register or cache line, so vector kernels never peel.
void* aligned_block(size_t nbytes) {
  void* ptr = std::aligned_alloc(64, (nbytes + 63) / 64 * 64 + 64);
  if (!ptr) throw std::bad_alloc();
  return ptr;
}

void* cpu_block(size_t nbytes) {
  if (kAddressSanitizer || nbytes < kMappedBytes) return aligned_block(nbytes);
  void* ptr = mmap(nullptr, nbytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ptr == MAP_FAILED) throw std::bad_alloc();
  return ptr;  // page-aligned
}

void free_cpu_block(void* ptr, size_t nbytes) {
  if (kAddressSanitizer || nbytes < kMappedBytes) {
    std::free(ptr);
  } else {
    munmap(ptr, nbytes);
  }
}

struct CpuAllocator final : Allocator {
  CachingAllocator cache{cpu_block, free_cpu_block, default_cache_limit(), kMappedBytes, kMaxCachedBytes};
  void* allocate(size_t nbytes) override { return cache.allocate(nbytes); }
  void deallocate(void* ptr, size_t nbytes) override { cache.deallocate(ptr, nbytes); }
  void copy(void* dst, const void* src, size_t nbytes, bool, bool) override {
    if (nbytes) std::memcpy(dst, src, nbytes);
  }
  MemoryStats stats() const override { return cache.stats(); }
  void empty_cache() override { cache.empty_cache(); }
  void set_cache_limit(size_t bytes) override { cache.set_cache_limit(bytes); }
  size_t cache_limit() const override { return cache.cache_limit(); }
  void reset_peak() override { cache.reset_peak(); }
};

Allocator*& slot(DeviceType type) {
  // Never destroyed: tensors held by other static objects may be freed after it would be.
  static CpuAllocator* cpu = new CpuAllocator;
  static Allocator* slots[kNumDeviceTypes] = {cpu, nullptr};
  return slots[static_cast<int>(type)];
}

}  // namespace

std::string Device::str() const {
  return type == DeviceType::cpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

Device parse_device(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "cpu" || lower == "cpu:0") return Device{};
  for (const char* prefix : {"cuda", "gpu"}) {
    const std::string p = prefix;
    if (lower == p) return Device{DeviceType::cuda, 0};
    if (lower.rfind(p + ":", 0) == 0) {
      try {
        return Device{DeviceType::cuda, std::stoi(lower.substr(p.size() + 1))};
      } catch (const std::exception&) {
      }
    }
  }
  throw ValueError("unknown device '" + name + "'; expected 'cpu', 'gpu', 'cuda' or 'cuda:N'");
}

void register_allocator(DeviceType type, Allocator* allocator) { slot(type) = allocator; }

Allocator* allocator_for(DeviceType type) {
  Allocator* allocator = slot(type);
  if (!allocator) {
    throw RuntimeError("device '" + Device{type, 0}.str() +
                       "' is not available in this build (built without CUDA, or no GPU found); "
                       "use device='cpu'");
  }
  return allocator;
}

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = allocator_for(device.type)->allocate(nbytes);
}

Storage::~Storage() {
  if (data_) allocator_for(device_.type)->deallocate(data_, nbytes_);
}

MemoryStats memory_stats(DeviceType type) { return allocator_for(type)->stats(); }
void reset_peak_memory(DeviceType type) { allocator_for(type)->reset_peak(); }
void empty_cache(DeviceType type) { allocator_for(type)->empty_cache(); }
void set_cache_limit(size_t bytes, DeviceType type) { allocator_for(type)->set_cache_limit(bytes); }
size_t cache_limit(DeviceType type) { return allocator_for(type)->cache_limit(); }

}  // namespace pitfall
