// IDX files, the format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/).
//
// Layout: two zero bytes, a type byte, a rank byte, one big-endian uint32 per dimension, then the
// values row-major and big-endian. The whole file may be gzip-compressed: gzip is recognised by its
// magic bytes 1f 8b whatever the file is called.
//
// Type byte -> tensor dtype:
//   0x08 unsigned byte -> uint8
//   0x09 signed byte   -> int32  (widened: pitfall has no int8 dtype; every value is kept exactly)
//   0x0B int16         -> int32  (widened: pitfall has no int16 dtype; every value is kept exactly)
//   0x0C int32         -> int32
//   0x0D float32       -> float32
//   0x0E float64       -> float64
// Values are converted from big-endian to the machine's byte order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "pitfall/core/tensor.h"

namespace pitfall::data {

// Reads an IDX file (plain or gzip-compressed) into a packed CPU tensor.
// Throws ValueError naming the file, the byte offset and what was expected when the file cannot be
// read, the gzip data is corrupt or truncated, the magic is wrong, the header or data is cut short,
// bytes trail the data, or the dimensions' product overflows.
Tensor read_idx(const std::string& path);

// The same from bytes in memory; `source` names them in errors (a file path, "<memory>").
// Offsets in errors count from the start of the IDX data (after inflation for gzip input).
Tensor parse_idx(const uint8_t* data, size_t size, const std::string& source);

}  // namespace pitfall::data
