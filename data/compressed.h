// Internal helpers shared by the file readers (idx_reader, npy_reader, csv_reader): whole-file
// reads, gzip and raw-deflate inflation through zlib, CRC-32, byte order, and making a host tensor.
//
// Not part of the public API. Everything here depends only on core/error, core/dtype, core/shape and
// core/device with its caching_allocator (never on ops or autograd), so the fuzz targets
// (tools/fuzz.sh) compile the readers with those five core files alone.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "pitfall/core/error.h"
#include "pitfall/core/tensor.h"

namespace pitfall::data::detail {

// The whole file. Throws ValueError naming the path when it cannot be opened or read (missing file,
// a directory, permissions).
std::vector<uint8_t> read_file_bytes(const std::string& path);

// True when the bytes start with the gzip magic 1f 8b.
inline bool is_gzip(const uint8_t* data, size_t size) { return size >= 2 && data[0] == 0x1f && data[1] == 0x8b; }

// Inflates gzip data (one member or several concatenated, as gzip(1) writes them; zero padding after
// the last member is allowed). Throws ValueError "<source>: corrupt or truncated gzip data ... at
// compressed byte offset N" on a bad header, bad deflate data, a CRC or length mismatch, a cut-off
// stream, or non-gzip bytes after the last member. The output grows as data arrives: a declared size
// is never trusted.
std::vector<uint8_t> gunzip(const uint8_t* data, size_t size, const std::string& source);

// Inflates raw deflate data (a ZIP entry) that must produce exactly `expected_size` bytes and end
// exactly at the end of the input. `where` names the entry in errors. The caller checks that
// `expected_size` is plausible for `size` compressed bytes first (max_inflated_size) before calling,
// because the output is allocated up front.
std::vector<uint8_t> inflate_raw(const uint8_t* data, size_t size, uint64_t expected_size, const std::string& where);

// The most bytes deflate can produce from `compressed_size` bytes (its best ratio is 1032:1), so that
// a lying size field cannot make a reader allocate gigabytes from a tiny file.
inline uint64_t max_inflated_size(uint64_t compressed_size) { return compressed_size * 1032 + 1024; }

// ---- byte order
template <class U>
U byteswap(U value) {
  static_assert(std::is_unsigned_v<U>);
  if constexpr (sizeof(U) == 1) {
    return value;
  } else if constexpr (sizeof(U) == 2) {
    return static_cast<U>(__builtin_bswap16(value));
  } else if constexpr (sizeof(U) == 4) {
    return static_cast<U>(__builtin_bswap32(value));
  } else {
    return static_cast<U>(__builtin_bswap64(value));
  }
}

// An unsigned `n`-byte integer (n <= 8) stored little- or big-endian at `p`.
inline uint64_t load_le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t load_be(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// a * b, or false when it does not fit in `limit` (used for shape products and byte counts).
inline bool checked_mul(uint64_t a, uint64_t b, uint64_t limit, uint64_t* out) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r) || r > limit) return false;
  *out = r;
  return true;
}

// The element count of `shape`, or false when the product of its nonzero dimensions exceeds `limit`
// (checked even when a zero makes the count 0: a tensor's strides multiply the other dimensions, and
// (0, 2^40, 2^40) is as corrupt a header as (2^40, 2^40)). `*bad_axis` is the first dimension that
// overflows.
inline bool checked_numel(const Shape& shape, uint64_t limit, uint64_t* numel, size_t* bad_axis) {
  uint64_t nonzero = 1;
  bool empty = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) {
      empty = true;
    } else if (shape[i] < 0 || !checked_mul(nonzero, static_cast<uint64_t>(shape[i]), limit, &nonzero)) {
      *bad_axis = i;
      return false;
    }
  }
  *numel = empty ? 0 : nonzero;
  return true;
}

// A fresh packed CPU tensor (uninitialized). Built from TensorImpl directly, without the op registry.
Tensor make_host_tensor(const Shape& shape, DType dtype);
// The tensor's first byte (a tensor from make_host_tensor: packed, offset 0).
inline uint8_t* host_bytes(const Tensor& tensor) { return static_cast<uint8_t*>(tensor.impl()->storage->data()); }

// "1234" for byte offsets in messages.
inline std::string offset_str(uint64_t offset) { return std::to_string(offset); }

}  // namespace pitfall::data::detail
