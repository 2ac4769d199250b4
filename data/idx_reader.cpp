#include "pitfall/data/idx_reader.h"

#include <cstring>

#include "pitfall/data/compressed.h"

namespace pitfall::data {
namespace {

using detail::load_be;

struct IdxType {
  uint8_t code;
  size_t size;  // bytes per value in the file
  DType dtype;  // tensor dtype (int8 and int16 widen to int32)
  const char* name;
};

constexpr IdxType kIdxTypes[] = {
    {0x08, 1, DType::uint8, "uint8"}, {0x09, 1, DType::int32, "int8"},      {0x0B, 2, DType::int32, "int16"},
    {0x0C, 4, DType::int32, "int32"}, {0x0D, 4, DType::float32, "float32"}, {0x0E, 8, DType::float64, "float64"},
};

const IdxType* find_type(uint8_t code) {
  for (const IdxType& t : kIdxTypes) {
    if (t.code == code) return &t;
  }
  return nullptr;
}

std::string hex_bytes(const uint8_t* p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

// Big-endian values of `in_size` bytes -> native values of the output dtype.
template <class Stored, class Out>
void decode_big_endian(const uint8_t* in, Out* out, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    using U = std::conditional_t<
        sizeof(Stored) == 1, uint8_t,
        std::conditional_t<sizeof(Stored) == 2, uint16_t, std::conditional_t<sizeof(Stored) == 4, uint32_t, uint64_t>>>;
    const U bits = static_cast<U>(load_be(in + i * sizeof(Stored), sizeof(Stored)));
    out[i] = static_cast<Out>(std::bit_cast<Stored>(bits));
  }
}

Tensor parse_plain(const uint8_t* data, size_t size, const std::string& source) {
  if (size < 4) {
    throw ValueError(source + ": " + std::to_string(size) +
                     " bytes is too short for an IDX header (4 bytes at offset 0); is this an IDX file?");
  }
  const IdxType* type = find_type(data[2]);
  if (data[0] != 0 || data[1] != 0 || !type) {
    throw ValueError(source + ": bad IDX magic " + hex_bytes(data, 4) +
                     " at offset 0 (expected 0000, then a type byte in [0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e], then "
                     "the rank); is this an IDX file?");
  }
  const size_t rank = data[3];
  const size_t header = 4 + 4 * rank;
  if (size < header) {
    throw ValueError(source + ": truncated IDX header: " + std::to_string(rank) + " dimensions need " +
                     std::to_string(header) + " bytes (offsets 0 to " + std::to_string(header) + "), the file has " +
                     std::to_string(size));
  }
  Shape shape(rank);
  for (size_t i = 0; i < rank; ++i) shape[i] = static_cast<int64_t>(load_be(data + 4 + 4 * i, 4));
  uint64_t count = 0;
  size_t bad = 0;
  if (!detail::checked_numel(shape, INT64_MAX / 8, &count, &bad)) {
    throw ValueError(source + ": IDX dimensions at offsets 4 to " + std::to_string(header) + " multiply to more than " +
                     "2^60 elements (dimension " + std::to_string(bad) + " at offset " + std::to_string(4 + 4 * bad) +
                     " is " + std::to_string(shape[bad]) + "); the header is corrupt");
  }
  const uint64_t expected = header + count * type->size;
  if (size != expected) {
    throw ValueError(source + ": IDX data of shape " + shape_str(shape) + " (" + type->name +
                     ") should end at byte offset " + std::to_string(expected) + ", but the file has " +
                     std::to_string(size) + " bytes (" + (size < expected ? "truncated" : "trailing data") + ")");
  }
  Tensor out = detail::make_host_tensor(shape, type->dtype);
  const uint8_t* values = data + header;
  uint8_t* dst = detail::host_bytes(out);
  switch (type->code) {
    case 0x08:
      std::memcpy(dst, values, count);
      break;
    case 0x09:
      decode_big_endian<int8_t>(values, reinterpret_cast<int32_t*>(dst), count);
      break;
    case 0x0B:
      decode_big_endian<int16_t>(values, reinterpret_cast<int32_t*>(dst), count);
      break;
    case 0x0C:
      decode_big_endian<int32_t>(values, reinterpret_cast<int32_t*>(dst), count);
      break;
    case 0x0D:
      decode_big_endian<float>(values, reinterpret_cast<float*>(dst), count);
      break;
    case 0x0E:
      decode_big_endian<double>(values, reinterpret_cast<double*>(dst), count);
      break;
  }
  return out;
}

}  // namespace

Tensor parse_idx(const uint8_t* data, size_t size, const std::string& source) {
  if (detail::is_gzip(data, size)) {
    const std::vector<uint8_t> inflated = detail::gunzip(data, size, source);
    return parse_plain(inflated.data(), inflated.size(), source + " (after gunzip)");
  }
  return parse_plain(data, size, source);
}

Tensor read_idx(const std::string& path) {
  std::vector<uint8_t> bytes = detail::read_file_bytes(path);
  if (!detail::is_gzip(bytes.data(), bytes.size())) return parse_plain(bytes.data(), bytes.size(), path);
  // The compressed bytes are freed before the payload is copied out, so at most two of the three
  // buffers (compressed, inflated, tensor) are alive at once.
  const std::vector<uint8_t> inflated = detail::gunzip(bytes.data(), bytes.size(), path);
  std::vector<uint8_t>().swap(bytes);
  return parse_plain(inflated.data(), inflated.size(), path + " (after gunzip)");
}

}  // namespace pitfall::data
