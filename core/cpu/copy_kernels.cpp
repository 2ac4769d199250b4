// copy (strided -> packed), copy_into (packed -> strided) and fill.
#include <cstring>

#include "pitfall/core/cpu/kernels.h"
#include "pitfall/core/cpu/scalar.h"
#include "pitfall/core/threadpool.h"

namespace pitfall {
namespace {

// Element offset (in the strided view) of the logical row-major index `flat`.
inline int64_t strided_offset(int64_t flat, const Shape& shape, const std::vector<int64_t>& strides) {
  int64_t offset = 0;
  for (size_t i = shape.size(); i-- > 0;) {
    offset += (flat % shape[i]) * strides[i];
    flat /= shape[i];
  }
  return offset;
}

// Moves elements of `bytes` size between a strided view and a packed buffer; `to_packed` picks the
// direction. The innermost axis is walked with its stride, the outer index is decoded per row.
template <size_t bytes>
void move_elements(const Tensor& view, char* packed, bool to_packed) {
  const Shape& shape = view.shape();
  const auto& strides = view.strides();
  char* base = static_cast<char*>(view.data_ptr());
  const int64_t inner = shape.empty() ? 1 : shape.back();
  const int64_t inner_stride = shape.empty() ? 0 : strides.back();
  const int64_t rows = inner == 0 ? 0 : view.numel() / inner;
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      char* strided = base + strided_offset(row * inner, shape, strides) * static_cast<int64_t>(bytes);
      char* flat = packed + row * inner * static_cast<int64_t>(bytes);
      for (int64_t j = 0; j < inner; ++j) {
        char* s = strided + j * inner_stride * static_cast<int64_t>(bytes);
        char* f = flat + j * static_cast<int64_t>(bytes);
        if (to_packed) {
          std::memcpy(f, s, bytes);
        } else {
          std::memcpy(s, f, bytes);
        }
      }
    }
  });
}

void move(const Tensor& view, char* packed, bool to_packed) {
  switch (dtype_size(view.dtype())) {
    case 1: return move_elements<1>(view, packed, to_packed);
    case 2: return move_elements<2>(view, packed, to_packed);
    case 4: return move_elements<4>(view, packed, to_packed);
    case 8: return move_elements<8>(view, packed, to_packed);
    default: throw RuntimeError("copy: unsupported element size");
  }
}

void copy_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  move(in[0], static_cast<char*>(out.data_ptr()), true);
}

void copy_into_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs&) {
  move(out, static_cast<char*>(in[0].data_ptr()), false);
}

void fill_kernel(const std::vector<Tensor>&, Tensor& out, const Attrs& attrs) {
  visit_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T value = scalar_cast<T>(attrs.fill_value);
    T* data = static_cast<T*>(out.data_ptr());
    parallel_for(out.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) data[i] = value;
    });
  });
}

}  // namespace

void register_cpu_copy_kernels(OpRegistry& registry) {
  registry.add_kernel("copy", DeviceType::cpu, copy_kernel);
  registry.add_kernel("copy_into", DeviceType::cpu, copy_into_kernel);
  registry.add_kernel("fill", DeviceType::cpu, fill_kernel);
}

}  // namespace pitfall
