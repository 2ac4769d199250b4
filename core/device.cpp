#include "pitfall/core/device.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include <dlfcn.h>
#include <sys/mman.h>

#include <filesystem>
#include <mutex>

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

// ---- the CUDA device module
//
// The CUDA device (cuda/) is a shared module of its own, libpitfall_cuda.so, installed beside
// libpitfall: libpitfall links no CUDA library, so a process without a GPU maps none (no cuBLAS,
// cuDNN or CUDA runtime: import time and memory stay the CPU engine's). The module is loaded the
// first time anything asks about a GPU (a device count, a placement check, a GPU allocation or
// kernel), and only when the NVIDIA driver (libcuda.so.1) loads; its static initializers register
// its allocator and kernels into the same registries the CPU uses.

std::string& module_status() {
  static std::string status = "not loaded yet";
  return status;
}

// The folder libpitfall was loaded from: the module sits beside it (build tree, install, wheel).
std::string library_folder() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&library_folder), &info) == 0 || !info.dli_fname) return ".";
  return std::filesystem::path(info.dli_fname).parent_path().string();
}

// Set while the module loads on this thread: its own registrations must not wait for themselves.
thread_local bool loading_module = false;

void load_cuda_module() {
  static std::once_flag once;
  if (loading_module) return;
  std::call_once(once, [] {
    loading_module = true;
    std::string& status = module_status();
    const char* override_path = std::getenv("PITFALL_CUDA_MODULE");
    const std::string path = override_path && *override_path ? std::string(override_path)
                                                              : library_folder() + "/libpitfall_cuda.so";
    if (override_path && std::string(override_path) == "none") {
      status = "the CUDA module is turned off (PITFALL_CUDA_MODULE=none)";
    } else if (!dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL)) {
      status = "no GPU was found (no NVIDIA driver: libcuda.so.1 cannot be loaded)";
    } else if (!std::filesystem::exists(path)) {
      status = "this installation of pitfall has no CUDA device (" + path +
               " does not exist: the CUDA module is built when nvcc is found at build time)";
    } else if (!dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      const char* why = dlerror();
      status = "the CUDA module " + path + " failed to load: " + (why ? why : "unknown error");
    } else {
      status = slot(DeviceType::cuda) ? "loaded from " + path : "no GPU was found (the NVIDIA driver reports no device)";
    }
    loading_module = false;
  });
}

// Loads the module a device type lives in (the CPU is built in).
void ensure_device(DeviceType type) {
  if (type == DeviceType::cuda) load_cuda_module();
}

}  // namespace

void load_device_module(DeviceType type) {
  if (type != DeviceType::cpu) ensure_device(type);
}

std::string device_module_status(DeviceType type) {
  if (type == DeviceType::cpu) return "built in";
  ensure_device(type);
  return module_status();
}

std::string Device::str() const {
  return type == DeviceType::cpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

Device parse_device(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // TensorFlow's spellings: "/GPU:0", "/device:GPU:0", "/job:localhost/.../device:CPU:0",
  // "/physical_device:GPU:0" name the part after the last "device:" (or the leading slash).
  if (const size_t at = lower.rfind("device:"); at != std::string::npos) {
    lower = lower.substr(at + 7);
  } else if (!lower.empty() && lower[0] == '/') {
    lower = lower.substr(1);
  }
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
  throw ValueError("unknown device '" + name + "'; expected 'cpu', 'gpu', 'gpu:N', 'cuda', 'cuda:N' or a "
                   "TensorFlow name such as '/GPU:0'");
}

void register_allocator(DeviceType type, Allocator* allocator) {
  // The module first, so that loading it later can never replace an allocator registered here.
  ensure_device(type);
  slot(type) = allocator;
}

Allocator* allocator_for(DeviceType type) {
  Allocator* allocator = slot(type);
  if (!allocator) {
    ensure_device(type);
    allocator = slot(type);
  }
  if (!allocator) {
    throw RuntimeError("device '" + Device{type, 0}.str() + "' is not available: " + module_status() +
                       "; use device='cpu'");
  }
  return allocator;
}

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  // Every allocator serves device 0 of its type (see check_device_available): never let memory on
  // cuda:0 be labelled cuda:1.
  if (device.index != 0) check_device_available(device, "allocating a tensor");
  data_ = allocator_for(device.type)->allocate(nbytes);
}

Storage::~Storage() {
  if (data_) allocator_for(device_.type)->deallocate(data_, nbytes_);
}

namespace {
thread_local Device current_default_device{};
}  // namespace

int device_count(DeviceType type) {
  ensure_device(type);
  const Allocator* allocator = slot(type);
  return allocator ? allocator->device_count() : 0;
}

void check_device_available(const Device& device, const std::string& what) {
  if (device.index < 0) throw ValueError(what + ": device index " + std::to_string(device.index) + " is negative");
  const int count = device_count(device.type);
  if (device.index < count && device.index > 0) {
    // The CUDA device (cuda/) keeps one allocator, one stream and one set of library handles, all on
    // the process's first GPU; the usual way to use another is to make it the first.
    throw RuntimeError(what + ": device '" + device.str() + "': pitfall uses one GPU per process, cuda:0 (" +
                       std::to_string(count) + " are visible). To run on GPU " + std::to_string(device.index) +
                       ", start the process with CUDA_VISIBLE_DEVICES=" + std::to_string(device.index) +
                       " and use 'gpu' (cuda:0)");
  }
  if (device.index < count) return;
  if (device.type == DeviceType::cuda) {
    const std::string why = count == 0 ? module_status()
                                       : "only " + std::to_string(count) + " GPU(s) exist (cuda:0.." +
                                             std::to_string(count - 1) + ")";
    throw RuntimeError(what + ": device '" + device.str() + "' is not available: " + why +
                       ". pf.config.list_physical_devices('GPU') lists the GPUs; use 'cpu' instead");
  }
  throw ValueError(what + ": device '" + device.str() + "' does not exist; the CPU is 'cpu' (cpu:0)");
}

Device default_device() { return current_default_device; }

DeviceScope::DeviceScope(const Device& device) : previous_(current_default_device) {
  check_device_available(device, "device scope");
  current_default_device = device;
}

DeviceScope::~DeviceScope() { current_default_device = previous_; }

MemoryStats memory_stats(DeviceType type) { return allocator_for(type)->stats(); }
void reset_peak_memory(DeviceType type) { allocator_for(type)->reset_peak(); }
void empty_cache(DeviceType type) { allocator_for(type)->empty_cache(); }
void set_cache_limit(size_t bytes, DeviceType type) { allocator_for(type)->set_cache_limit(bytes); }
size_t cache_limit(DeviceType type) { return allocator_for(type)->cache_limit(); }

}  // namespace pitfall
