// Devices and the storage that lives on them.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

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
  virtual void deallocate(void* ptr) = 0;
  // Copies between host and this device (or within it). `to_device` says the direction.
  virtual void copy(void* dst, const void* src, size_t nbytes, bool to_device, bool from_device) = 0;
};

void register_allocator(DeviceType type, Allocator* allocator);
Allocator* allocator_for(DeviceType type);  // throws RuntimeError if the device is not built in

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
