// The checksummed container of a pitfall file (docs/file-format.md): a JSON header and named
// sections of tensors, written atomically, read back only after every byte has been checked.
//
//   [0, 32)            prelude: magic "\x89PITFALL", version u32, flags u32, header_length u64,
//                      data_length u64 (little-endian)
//   [32, 32 + H)       JSON header (the caller's fields, plus "sections": the tensor tables)
//   zero padding       to the next multiple of 64: data_start
//   [data_start, +D)   the sections' raw little-endian bytes, each tensor 64-byte aligned
//   4 bytes            CRC-32 of every byte before it
//
// training/saving.cpp maps models onto it (model config, weights, optimizer state). The
// little-endian helpers are shared with the other binary file pitfall writes, the dataset cache
// (data/dataset_cache.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pitfall/core/json.h"
#include "pitfall/core/tensor.h"

namespace pitfall {

// ---- little-endian integers: files are little-endian whatever the host
void put_u32(std::string& out, uint32_t value);
void put_u64(std::string& out, uint64_t value);
uint32_t get_u32(const void* bytes);
uint64_t get_u64(const void* bytes);
// Reverses each `item_size`-byte element of `bytes` in place on a big-endian host (a tensor's
// elements to or from file order); nothing on a little-endian one.
void to_or_from_little_endian(uint8_t* bytes, size_t size, size_t item_size);

// The container's format version this build writes, and the newest it reads.
inline constexpr uint32_t kContainerFormatVersion = 1;

// ---- writing
struct ContainerTensor {
  std::string path;  // the key readers match on ("layers/dense/kernel")
  std::string name;  // a second name kept for messages ("dense_1/kernel")
  Tensor value;      // any device, any layout: written packed, from the host
  Json extra;        // more fields for its table entry (an object), or null
};
struct ContainerSection {
  std::string name;
  std::vector<ContainerTensor> tensors;
};

// Writes `header` (a JSON object: the caller's fields; "sections" is added) and the sections'
// tensors to `path` through AtomicFileWriter: the old file stays until the new one is complete.
// `where` prefixes error messages ("save_model").
void write_container(const std::string& path, Json header, const std::vector<ContainerSection>& sections,
                     const std::string& where);

// ---- reading
struct ContainerEntry {
  std::string path, name;
  DType dtype = DType::float32;
  Shape shape;
  uint64_t offset = 0, length = 0;  // offset: absolute, in the file
};

class Container {
 public:
  // Reads and checks the whole file: magic (naming what the file looks like instead, e.g. a Keras
  // .h5), version, flags, the sizes the prelude promises against the file's size, the CRC-32 and
  // the JSON header. Every failure is a ValueError naming `where`, the path and the byte offset.
  static Container read(const std::string& path, const std::string& where);

  const std::string& path() const { return path_; }
  const Json& header() const { return header_; }
  bool has_section(const std::string& name) const;
  // The tensor table of a section, checked against the data: every byte range inside the section
  // and the data area, every length equal to shape x dtype size.
  std::vector<ContainerEntry> section(const std::string& name, const std::string& where) const;
  // An entry's bytes as a tensor on `device`.
  Tensor tensor(const ContainerEntry& entry, const Device& device) const;

 private:
  std::string path_;
  std::vector<uint8_t> bytes_;
  Json header_;
  uint64_t data_start_ = 0, data_length_ = 0;
};

}  // namespace pitfall
