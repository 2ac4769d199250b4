// save_npy (declared in npy_reader.h). Kept apart from the readers because it needs the full tensor
// API (contiguous copies, device transfers), which the fuzzed reader sources do without.
#include <bit>

#include "pitfall/core/atomic_file.h"
#include "pitfall/data/npy_reader.h"

namespace pitfall::data {
namespace {

std::string npy_descr(DType dtype) {
  const char order = std::endian::native == std::endian::little ? '<' : '>';
  switch (dtype) {
    case DType::float16:
      return std::string(1, order) + "f2";
    case DType::float32:
      return std::string(1, order) + "f4";
    case DType::float64:
      return std::string(1, order) + "f8";
    case DType::int32:
      return std::string(1, order) + "i4";
    case DType::int64:
      return std::string(1, order) + "i8";
    case DType::uint8:
      return "|u1";
    case DType::bool_:
      return "|b1";
    case DType::bfloat16:
      break;
  }
  throw DTypeError("save_npy: NumPy has no bfloat16 dtype; cast to float32 first (pf.ops.cast(t, 'float32'))");
}

// The preamble + header dict, padded with spaces to a multiple of 64 bytes and ended by '\n', as
// numpy.lib.format writes it.
std::string npy_header(const Tensor& tensor) {
  std::string shape = "(";
  for (int64_t d : tensor.shape()) shape += std::to_string(d) + ", ";
  if (tensor.ndim() > 1) shape.resize(shape.size() - 2);  // (2, 3) but (5,) for one dimension
  if (tensor.ndim() == 1) shape.resize(shape.size() - 1);
  shape += ")";
  std::string dict = "{'descr': '" + npy_descr(tensor.dtype()) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const bool v2 = dict.size() + 11 > 65535;
  const size_t preamble = v2 ? 12 : 10;
  const size_t total = (preamble + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - preamble - dict.size() - 1, ' ');
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(v2 ? 2 : 1);
  out += '\0';
  const size_t len = dict.size();
  for (size_t i = 0; i < (v2 ? 4u : 2u); ++i) out += static_cast<char>((len >> (8 * i)) & 0xFF);
  return out + dict;
}

}  // namespace

void save_npy(const std::string& path, const Tensor& tensor) {
  const std::string header = npy_header(tensor);
  const Tensor host = tensor.contiguous().to(Device{});
  AtomicFileWriter file(path, "save_npy");
  file.write(header);
  file.write(host.data_ptr(), static_cast<size_t>(host.numel()) * dtype_size(host.dtype()));
  file.commit();
}

}  // namespace pitfall::data
