// Devices and the storage that lives on them.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "pitfall/core/caching_allocator.h"

namespace pitfall {

enum class DeviceType : uint8_t { cpu, cuda };
constexpr int kNumDeviceTypes = 2;

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;
  bool operator==(const Device& other) const { return type == other.type && index == other.index; }
  bool operator!=(const Device& other) const { return !(*this == other); }
  std::string str() const;  // "cpu", "cuda:0"
};

// Parses "cpu", "gpu", "cuda", "cuda:1", "gpu:0".
Device parse_device(const std::string& name);

// Raw memory on one device. A device folder registers its allocator; the CPU one is built in.
struct Allocator {
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) = 0;  // nbytes: as given to allocate()
  // Copies between host and this device (or within it). `to_device` says the direction.
  virtual void copy(void* dst, const void* src, size_t nbytes, bool to_device, bool from_device) = 0;
  // Copies host memory to this device from a background thread (the input pipeline's
  // prefetch_to_device): the CUDA device stages the bytes through page-locked memory on a copy
  // stream of its own, so the copy neither blocks the training loop's thread nor waits behind work
  // queued after it. Ordered after all work queued on the device so far (dst may be a block that
  // queued work still reads) and complete when it returns. The default is copy().
  virtual void upload(void* dst, const void* src, size_t nbytes) { copy(dst, src, nbytes, true, false); }
  // Allocators that cache freed blocks report and release them here.
  virtual MemoryStats stats() const { return {}; }
  virtual void empty_cache() {}
  virtual void set_cache_limit(size_t) {}
  virtual size_t cache_limit() const { return 0; }
  virtual void reset_peak() {}
  // How many devices of this type the allocator serves (the CPU: 1).
  virtual int device_count() const { return 1; }
};

// A device's allocator, registered by its module when it loads (the CPU's is built in). Registering
// for a device type loads that type's module first (so the module can never replace it later).
void register_allocator(DeviceType type, Allocator* allocator);
// Loads the device's module when needed; throws RuntimeError saying why the device is not there.
Allocator* allocator_for(DeviceType type);

// The CUDA device is a module loaded at run time (libpitfall_cuda.so beside libpitfall; another path
// in PITFALL_CUDA_MODULE, or "none" to keep it off), the first time anything asks about a GPU, and
// only when the NVIDIA driver is present: without a GPU no CUDA library is ever mapped. These load
// it now (idempotent) and say what happened ("loaded from ...", "no GPU was found (no NVIDIA driver ...)").
void load_device_module(DeviceType type);
std::string device_module_status(DeviceType type);

// The CPU allocator caches freed blocks of 1 MiB to 32 MiB (mapped from the kernel; smaller ones
// come from malloc): see core/caching_allocator.h for the rules that keep the cache from raising the
// peak footprint, and device.cpp for the measurements. An optional byte limit on top:
// PITFALL_CPU_CACHE_MB or set_cache_limit (0 turns caching off; SIZE_MAX, the default, is no limit).
// Never under AddressSanitizer, so it still sees every use after free. The statistics are kept
// either way.
MemoryStats memory_stats(DeviceType type = DeviceType::cpu);
void reset_peak_memory(DeviceType type = DeviceType::cpu);
void empty_cache(DeviceType type = DeviceType::cpu);
void set_cache_limit(size_t bytes, DeviceType type = DeviceType::cpu);
size_t cache_limit(DeviceType type = DeviceType::cpu);

// How many devices of `type` this process can use: the CPU 1; CUDA 0 without the CUDA module or on
// a machine without a GPU (asking loads the module: see load_device_module).
int device_count(DeviceType type);

// Raises a clear error when `device` cannot be used here (no such device, CUDA not built, no GPU,
// or a GPU other than the first: pitfall uses one GPU per process, chosen by CUDA_VISIBLE_DEVICES),
// saying what exists and how to fix it. `what` names the request ("pf.device('gpu')").
void check_device_available(const Device& device, const std::string& what);

// Where new variables and converted values go: CPU, unless a DeviceScope on this thread says
// otherwise (pf.device / tf.device). Ops run where their inputs are.
Device default_device();

// RAII: makes `device` this thread's default device while alive (checked first), restoring the
// previous one after, so scopes nest.
class DeviceScope {
 public:
  explicit DeviceScope(const Device& device);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  Device previous_;
};

// A refcounted block of device memory. Tensors are views into one.
class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
};

}  // namespace pitfall
