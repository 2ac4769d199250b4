// The file container (core/file_container.h): layout, atomic writing, checked reading.
#include "pitfall/core/file_container.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "pitfall/core/atomic_file.h"
#include "pitfall/core/error.h"

namespace pitfall {

namespace {

namespace fs = std::filesystem;

constexpr std::array<uint8_t, 8> kMagic = {0x89, 'P', 'I', 'T', 'F', 'A', 'L', 'L'};
constexpr uint64_t kPreludeSize = 32;
constexpr uint64_t kAlignment = 64;
constexpr uint64_t kChecksumSize = 4;

uint64_t align_up(uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

std::string in_quotes(const std::string& path) { return "'" + path + "'"; }

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

// What a file that is not ours probably is, for the "not a pitfall model file" message.
std::string guess_format(const std::vector<uint8_t>& bytes) {
  auto starts = [&](const char* prefix) {
    const size_t n = std::strlen(prefix);
    return bytes.size() >= n && std::memcmp(bytes.data(), prefix, n) == 0;
  };
  if (starts("\x89HDF")) return " (it looks like an HDF5 file: a Keras .h5 model or .weights.h5)";
  if (starts("PK")) return " (it looks like a zip archive: a Keras .keras model?)";
  if (starts("\x93NUMPY")) return " (it looks like a NumPy .npy file)";
  if (!bytes.empty() && (bytes[0] == '{' || bytes[0] == '[')) return " (it looks like a JSON text file)";
  return "";
}

}  // namespace

// ---------------------------------------------------------------- little-endian helpers

void put_u32(std::string& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}
void put_u64(std::string& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}
uint32_t get_u32(const void* bytes) {
  const auto* p = static_cast<const uint8_t*>(bytes);
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get_u64(const void* bytes) {
  const auto* p = static_cast<const uint8_t*>(bytes);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void to_or_from_little_endian(uint8_t* bytes, size_t size, size_t item_size) {
  if constexpr (std::endian::native == std::endian::little) {
    (void)bytes, (void)size, (void)item_size;
  } else {
    for (size_t i = 0; i + item_size <= size; i += item_size) std::reverse(bytes + i, bytes + i + item_size);
  }
}

// ---------------------------------------------------------------- writing

void write_container(const std::string& path, Json header, const std::vector<ContainerSection>& sections,
                     const std::string& where) {
  struct Pending {
    Tensor host;  // packed, on the CPU
    uint64_t offset = 0, length = 0;
  };
  std::vector<Pending> pending;
  uint64_t data_used = 0;
  Json tables = Json::object();
  // Each section after the previous ones; every tensor 64-byte aligned.
  for (const ContainerSection& section : sections) {
    const uint64_t section_start = align_up(data_used);
    uint64_t section_length = 0;
    Json entries = Json::array();
    for (const ContainerTensor& item : section.tensors) {
      Pending p;
      p.host = item.value.detach().contiguous().to(Device{});
      const uint64_t offset = align_up(section_length);
      p.offset = section_start + offset;
      p.length = static_cast<uint64_t>(item.value.numel()) * dtype_size(item.value.dtype());
      section_length = offset + p.length;
      Json entry = item.extra.is_object() ? item.extra : Json::object();
      entry["path"] = item.path;
      entry["name"] = item.name;
      entry["dtype"] = std::string(dtype_name(item.value.dtype()));
      entry["shape"] = Json::from_vector(item.value.shape());
      entry["offset"] = static_cast<int64_t>(offset);
      entry["length"] = static_cast<int64_t>(p.length);
      entries.as_array().push_back(entry);
      pending.push_back(std::move(p));
    }
    tables[section.name] = Json(Json::Object{{"offset", static_cast<int64_t>(section_start)},
                                             {"length", static_cast<int64_t>(section_length)},
                                             {"entries", entries}});
    data_used = section_start + section_length;
  }
  const uint64_t data_length = align_up(data_used);
  header["sections"] = tables;

  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const Error& e) {
    throw_error(e.kind(), where + ": cannot save " + in_quotes(path) + ": the model's config is not valid JSON: " + e.what());
  }
  std::string prelude(kMagic.begin(), kMagic.end());
  put_u32(prelude, kContainerFormatVersion);
  put_u32(prelude, 0);  // flags: none defined
  put_u64(prelude, header_text.size());
  put_u64(prelude, data_length);

  AtomicFileWriter writer(path, where);
  writer.write(prelude);
  writer.write(header_text);
  const uint64_t data_start = align_up(writer.offset());
  writer.write_zeros(data_start - writer.offset());
  std::vector<uint8_t> swapped;
  for (const Pending& t : pending) {
    writer.write_zeros(data_start + t.offset - writer.offset());
    const auto* bytes = static_cast<const uint8_t*>(t.length ? t.host.data_ptr() : nullptr);
    if constexpr (std::endian::native != std::endian::little) {
      swapped.assign(bytes, bytes + t.length);
      to_or_from_little_endian(swapped.data(), swapped.size(), dtype_size(t.host.dtype()));
      bytes = swapped.data();
    }
    if (t.length) writer.write(bytes, t.length);
  }
  writer.write_zeros(data_start + data_length - writer.offset());
  std::string checksum;
  put_u32(checksum, writer.crc());
  writer.write(checksum);
  writer.commit();
}

// ---------------------------------------------------------------- reading

Container Container::read(const std::string& path, const std::string& where) {
  Container file;
  file.path_ = path;
  const std::string at = where + ": " + in_quotes(path);
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) {
    throw ValueError(at + ": file not found; check the path (save_model / save_weights write it)");
  }
  if (fs::is_directory(status)) throw ValueError(at + " is a directory, not a saved model file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RuntimeError(at + ": cannot open the file for reading: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0) throw RuntimeError(at + ": cannot determine the file's size");
  file.bytes_.resize(static_cast<size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(file.bytes_.data()), size)) {
    throw RuntimeError(at + ": reading the file failed after " + std::to_string(in.gcount()) + " of " +
                       std::to_string(size) + " bytes");
  }
  const std::vector<uint8_t>& b = file.bytes_;
  const uint64_t actual = b.size();

  // Magic: a short file whose bytes all match the magic is a truncated pitfall file.
  const size_t magic_seen = std::min<size_t>(b.size(), kMagic.size());
  if (!std::equal(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(magic_seen), kMagic.begin()) || b.empty()) {
    throw ValueError(at + " is not a pitfall model file: it does not start with the magic bytes \\x89PITFALL" +
                     guess_format(b) + (b.empty() ? " (the file is empty)" : ""));
  }
  if (actual < kPreludeSize) {
    throw ValueError(at + " is truncated: expected at least " + std::to_string(kPreludeSize) +
                     " bytes (the fixed prelude), the file has " + std::to_string(actual));
  }
  const uint32_t version = get_u32(b.data() + 8);
  if (version > kContainerFormatVersion) {
    throw ValueError(at + " was written in format version " + std::to_string(version) +
                     ", newer than this build reads (up to " + std::to_string(kContainerFormatVersion) +
                     "); upgrade pitfall to load it");
  }
  if (version == 0) throw ValueError(at + ": invalid format version 0 (byte offset 8); the file is corrupted");
  const uint32_t flags = get_u32(b.data() + 12);
  if (flags != 0) {
    throw ValueError(at + ": unknown format flags " + hex32(flags) + " (byte offset 12); the file is corrupted or " +
                     "was written by a newer pitfall");
  }
  const uint64_t header_length = get_u64(b.data() + 16);
  const uint64_t data_length = get_u64(b.data() + 24);
  // Sizes come from the file: bound them before any arithmetic can overflow.
  constexpr uint64_t kLimit = uint64_t{1} << 60;
  if (header_length > kLimit || data_length > kLimit) {
    throw ValueError(at + ": the prelude declares a header of " + std::to_string(header_length) +
                     " bytes and data of " + std::to_string(data_length) +
                     " bytes (byte offsets 16 and 24), which cannot be right; the file is corrupted");
  }
  const uint64_t data_start = align_up(kPreludeSize + header_length);
  const uint64_t expected = data_start + data_length + kChecksumSize;
  if (actual < expected) {
    throw ValueError(at + " is truncated: the header promises " + std::to_string(expected) + " bytes, the file has " +
                     std::to_string(actual) + " (it ends at byte offset " + std::to_string(actual) +
                     "); the save was interrupted or the copy is incomplete");
  }
  if (actual > expected) {
    throw ValueError(at + ": the file has " + std::to_string(actual - expected) +
                     " unexpected bytes after its end (the header promises " + std::to_string(expected) +
                     " bytes, starting at byte offset " + std::to_string(expected) + "); the file is corrupted");
  }
  const uint32_t stored = get_u32(b.data() + expected - kChecksumSize);
  const uint32_t computed = crc32(b.data(), expected - kChecksumSize);
  if (stored != computed) {
    throw ValueError(at + ": checksum mismatch: the file's CRC-32 (byte offset " +
                     std::to_string(expected - kChecksumSize) + ") is " + hex32(stored) + " but its contents give " +
                     hex32(computed) + "; the file is corrupted");
  }
  try {
    file.header_ = Json::parse(std::string(reinterpret_cast<const char*>(b.data() + kPreludeSize), header_length));
  } catch (const Error& e) {
    throw ValueError(at + ": the JSON header (byte offset " + std::to_string(kPreludeSize) + ") is invalid: " + e.what());
  }
  if (!file.header_.is_object()) throw ValueError(at + ": the JSON header is not an object");
  file.data_start_ = data_start;
  file.data_length_ = data_length;
  return file;
}

bool Container::has_section(const std::string& name) const {
  return header_.contains("sections") && header_.at("sections").is_object() && header_.at("sections").contains(name);
}

std::vector<ContainerEntry> Container::section(const std::string& section_name, const std::string& where) const {
  const std::string at = where + ": " + in_quotes(path_) + ": ";
  std::vector<ContainerEntry> out;
  std::string current = "section '" + section_name + "'";
  try {
    const Json& sections = header_.at("sections");
    if (!sections.contains(section_name)) {
      throw ValueError("the file has no '" + section_name + "' section");
    }
    const Json& section = sections.at(section_name);
    const int64_t section_offset = section.at("offset").as_int();
    const int64_t section_length = section.at("length").as_int();
    if (section_offset < 0 || section_length < 0 || static_cast<uint64_t>(section_offset) > data_length_ ||
        static_cast<uint64_t>(section_length) > data_length_ - static_cast<uint64_t>(section_offset)) {
      throw ValueError("it claims bytes [" + std::to_string(section_offset) + ", +" + std::to_string(section_length) +
                       ") of a data area of " + std::to_string(data_length_) + " bytes");
    }
    const uint64_t section_start = data_start_ + static_cast<uint64_t>(section_offset);
    int64_t index = 0;
    for (const Json& item : section.at("entries").as_array()) {
      current = "weight #" + std::to_string(index++);
      ContainerEntry entry;
      entry.path = item.at("path").as_string();
      current += " '" + entry.path + "'";
      entry.name = item.get("name", Json(entry.path)).as_string();
      entry.dtype = parse_dtype(item.at("dtype").as_string());
      uint64_t count = 1;
      for (const Json& d : item.at("shape").as_array()) {
        const int64_t dim = d.as_int();
        if (dim < 0 || (dim > 0 && count > (uint64_t{1} << 60) / static_cast<uint64_t>(dim))) {
          throw ValueError("invalid shape " + item.at("shape").dump());
        }
        count *= static_cast<uint64_t>(dim);
        entry.shape.push_back(dim);
      }
      const int64_t offset = item.at("offset").as_int();
      const int64_t length = item.at("length").as_int();
      const uint64_t expected_length = count * dtype_size(entry.dtype);
      if (length < 0 || static_cast<uint64_t>(length) != expected_length) {
        throw ValueError("its length is " + std::to_string(length) + " bytes but shape " + shape_str(entry.shape) +
                         " of " + std::string(dtype_name(entry.dtype)) + " needs " + std::to_string(expected_length));
      }
      if (offset < 0 || static_cast<uint64_t>(offset) > static_cast<uint64_t>(section_length) ||
          static_cast<uint64_t>(length) > static_cast<uint64_t>(section_length - offset)) {
        throw ValueError("it claims bytes [" + std::to_string(section_start + static_cast<uint64_t>(std::max<int64_t>(offset, 0))) +
                         ", +" + std::to_string(length) + ") but the section spans byte offsets [" +
                         std::to_string(section_start) + ", " + std::to_string(section_start + section_length) + ")");
      }
      entry.offset = section_start + static_cast<uint64_t>(offset);
      entry.length = static_cast<uint64_t>(length);
      out.push_back(std::move(entry));
    }
  } catch (const Error& e) {
    throw ValueError(at + "the weight table is inconsistent with the data (" + current + "): " + e.what());
  }
  return out;
}

Tensor Container::tensor(const ContainerEntry& entry, const Device& device) const {
  const uint8_t* bytes = bytes_.data() + entry.offset;
  std::vector<uint8_t> buffer;
  if constexpr (std::endian::native != std::endian::little) {
    buffer.assign(bytes, bytes + entry.length);
    to_or_from_little_endian(buffer.data(), buffer.size(), dtype_size(entry.dtype));
    bytes = buffer.data();
  }
  return Tensor::from_buffer(bytes, entry.shape, entry.dtype, device);
}

}  // namespace pitfall
