#include "pitfall/core/device.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "pitfall/core/error.h"

namespace pitfall {
namespace {

// 64-byte alignment: one AVX-512 register or cache line, so vector kernels never peel.
struct CpuAllocator final : Allocator {
  void* allocate(size_t nbytes) override {
    void* ptr = std::aligned_alloc(64, (nbytes + 63) / 64 * 64 + 64);
    if (!ptr) throw std::bad_alloc();
    return ptr;
  }
  void deallocate(void* ptr) override { std::free(ptr); }
  void copy(void* dst, const void* src, size_t nbytes, bool, bool) override {
    if (nbytes) std::memcpy(dst, src, nbytes);
  }
};

Allocator*& slot(DeviceType type) {
  static CpuAllocator cpu;
  static Allocator* slots[kNumDeviceTypes] = {&cpu, nullptr};
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
  if (data_) allocator_for(device_.type)->deallocate(data_);
}

}  // namespace pitfall
