// NumPy's .npy and .npz files (numpy.lib.format), read without Python.
//
// NPY: the magic "\x93NUMPY", a version (1.0, 2.0 or 3.0), a header length (2 bytes in v1, 4 in v2/v3),
// a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...)}, then the raw values.
//
// descr -> tensor dtype (either byte order; big-endian data is byte-swapped):
//   <f2 float16   <f4 float32   <f8 float64   <i4 int32   <i8 int64   |u1 uint8   |b1 bool
//   |i1 <i2 <u2 -> int32 and <u4 -> int64: widened, because pitfall has no int8 / int16 / uint16 /
//   uint32 dtype; every value is kept exactly.
// Refused with a ValueError that says what to convert to: uint64, complex, object ('|O'), bytes
// ('|S'), unicode ('<U'), datetime ('<M8'), void and structured (a list descr) dtypes.
// fortran_order True data is reordered into C (row-major) order.
//
// NPZ: a ZIP archive of .npy files (numpy.savez stores them, numpy.savez_compressed deflates them).
// The reader walks the central directory (ZIP64 sizes and offsets included), accepts stored and
// deflate entries, and checks every entry's CRC-32.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pitfall/core/tensor.h"

namespace pitfall::data {

// Reads a .npy file into a packed CPU tensor (a 0-d tensor for a NumPy scalar array).
// Throws ValueError naming the file, the byte offset and what was expected on: a file that cannot
// be read, a bad magic or version, a truncated or malformed header dict, an unsupported dtype, a
// shape whose product overflows, data shorter or longer than the shape needs.
Tensor read_npy(const std::string& path);

// The same from bytes in memory; `source` names them in errors.
Tensor parse_npy(const uint8_t* data, size_t size, const std::string& source);

// Writes `tensor` (any device, any layout) as a version 1.0 .npy file (2.0 when the header needs it)
// in little-endian C order, so that numpy.load reads it back bit for bit. The file is written to a
// temporary file in the same folder and renamed over `path` (core/atomic_file.h), so a reader never
// sees a half-written file and an interrupted save leaves any previous file intact. bfloat16 has no
// NumPy dtype: a DTypeError asks for a cast first. A missing folder or a failed write is a
// RuntimeError naming the path.
void save_npy(const std::string& path, const Tensor& tensor);

// Reads every array of a .npz archive, in archive order, named as numpy.load names them (the entry
// name without its ".npy" suffix). Errors name the archive, the entry and the byte offset.
std::vector<std::pair<std::string, Tensor>> read_npz(const std::string& path);

// The same from bytes in memory; `source` names them in errors.
std::vector<std::pair<std::string, Tensor>> parse_npz(const uint8_t* data, size_t size, const std::string& source);

}  // namespace pitfall::data
