// CPU kernels for shape and indexing ops: concatenate, take, take_grad, take_along_axis,
// take_along_axis_grad, one_hot, strided_slice_grad.
#include <cstring>

#include "pitfall/core/cpu/kernels.h"
#include "pitfall/core/cpu/scalar.h"
#include "pitfall/core/threadpool.h"

namespace pitfall {
namespace {

// Rows of this many bytes or more are copied in blocks of one row; smaller rows are grouped.
constexpr int64_t kCopyBlockBytes = 1 << 16;

// Reads index `n` of an int32 / int64 / uint8 index tensor.
int64_t index_at(const Tensor& indices, int64_t n) {
  switch (indices.dtype()) {
    case DType::int32: return static_cast<const int32_t*>(indices.data_ptr())[n];
    case DType::int64: return static_cast<const int64_t*>(indices.data_ptr())[n];
    case DType::uint8: return static_cast<const uint8_t*>(indices.data_ptr())[n];
    default: break;
  }
  throw DTypeError("indices must be int32 or int64, got " + std::string(dtype_name(indices.dtype())));
}

// The indices with negatives wrapped once; any index still outside [0, dim) is an IndexError naming
// the value, the axis and its size. Checked serially before any data moves, so the first bad index
// is the one reported. The dtype is dispatched once and the indices read through a typed pointer.
template <class I>
void resolve_typed(const char* op, const I* raw_indices, int64_t count, int64_t axis, int64_t dim, int64_t* resolved) {
  for (int64_t n = 0; n < count; ++n) {
    const int64_t raw = static_cast<int64_t>(raw_indices[n]);
    const int64_t index = raw < 0 ? raw + dim : raw;
    if (index < 0 || index >= dim) {
      throw IndexError(std::string(op) + ": index " + std::to_string(raw) + " is out of bounds for axis " +
                       std::to_string(axis) + " with size " + std::to_string(dim) + " (valid: " +
                       std::to_string(-dim) + " to " + std::to_string(dim - 1) + ")");
    }
    resolved[n] = index;
  }
}

std::vector<int64_t> resolve_indices(const char* op, const Tensor& indices, int64_t axis, int64_t dim) {
  const int64_t count = indices.numel();
  std::vector<int64_t> resolved(static_cast<size_t>(count));
  const void* data = indices.data_ptr();
  switch (indices.dtype()) {
    case DType::int32: resolve_typed(op, static_cast<const int32_t*>(data), count, axis, dim, resolved.data()); break;
    case DType::int64: resolve_typed(op, static_cast<const int64_t*>(data), count, axis, dim, resolved.data()); break;
    case DType::uint8: resolve_typed(op, static_cast<const uint8_t*>(data), count, axis, dim, resolved.data()); break;
    default:
      if (count > 0) {
        throw DTypeError("indices must be int32 or int64, got " + std::string(dtype_name(indices.dtype())));
      }
      break;
  }
  return resolved;
}

// out = concatenate(inputs, attrs.axis): each output row (outer index) is the inputs' rows in order.
void concatenate_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const size_t item = dtype_size(out.dtype());
  const AxisGeometry og = axis_geometry(out.shape(), attrs.axis);
  const int64_t out_row = og.dim * og.inner * static_cast<int64_t>(item);
  if (out_row == 0) return;
  std::vector<int64_t> chunk(in.size());  // bytes each input contributes per output row
  for (size_t k = 0; k < in.size(); ++k) chunk[k] = in[k].shape()[attrs.axis] * og.inner * static_cast<int64_t>(item);
  char* dst = static_cast<char*>(out.data_ptr());
  parallel_for(og.outer, std::max<int64_t>(1, kCopyBlockBytes / out_row), [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      char* row = dst + o * out_row;
      for (size_t k = 0; k < in.size(); ++k) {
        if (chunk[k] == 0) continue;
        std::memcpy(row, static_cast<const char*>(in[k].data_ptr()) + o * chunk[k], static_cast<size_t>(chunk[k]));
        row += chunk[k];
      }
    }
  });
}

// x (outer, dim, inner), indices (n) -> out (outer, n, inner): out[o, j, :] = x[o, indices[j], :].
void take_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Tensor& x = in[0];
  const AxisGeometry g = axis_geometry(x.shape(), attrs.axis);
  const std::vector<int64_t> index = resolve_indices("take", in[1], attrs.axis, g.dim);
  const int64_t n = static_cast<int64_t>(index.size());
  const size_t item = dtype_size(x.dtype());
  const int64_t row = g.inner * static_cast<int64_t>(item);
  if (row == 0 || n == 0) return;
  const char* src = static_cast<const char*>(x.data_ptr());
  char* dst = static_cast<char*>(out.data_ptr());
  parallel_for(g.outer * n, std::max<int64_t>(1, kCopyBlockBytes / row), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t o = t / n, j = t % n;
      std::memcpy(dst + t * row, src + (o * g.dim + index[j]) * row, static_cast<size_t>(row));
    }
  });
}

// Columns of the inner axis handled per task by take_grad.
constexpr int64_t kScatterColumns = 512;

// Zeroes `out` and calls add(src, acc): src the gradient's data, acc where its values are summed,
// `out` itself, or for float16/bfloat16 a float32 buffer rounded into `out` once at the end.
template <class Add>
void accumulate_gradient(const char* op, const Tensor& grad, Tensor& out, Add&& add) {
  visit_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, bool>) {
      throw DTypeError(std::string(op) + " of a bool gradient; gradients are numeric");
    } else {
      using Acc = std::conditional_t<is_reduced_float_v<T>, float, T>;
      T* dst = static_cast<T*>(out.data_ptr());
      std::vector<Acc> widened;
      Acc* acc;
      if constexpr (is_reduced_float_v<T>) {
        widened.assign(static_cast<size_t>(out.numel()), Acc{});
        acc = widened.data();
      } else {
        std::fill(dst, dst + out.numel(), T{});
        acc = dst;
      }
      add(static_cast<const T*>(grad.data_ptr()), acc);
      if constexpr (is_reduced_float_v<T>) {
        for (int64_t i = 0; i < out.numel(); ++i) dst[i] = T(widened[static_cast<size_t>(i)]);
      }
    }
  });
}

// grad (outer, n, inner), indices (n) -> out (outer, dim, inner) zeros with
// out[o, indices[j], :] += grad[o, j, :]. Tasks own disjoint (outer, column-range) tiles and add the
// gradient rows in increasing j, so every element sums in one fixed order: no atomics, and the
// result does not depend on the thread count. float16/bfloat16 accumulate in float32 and round once.
void take_grad_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Tensor& grad = in[0];
  const AxisGeometry g = axis_geometry(out.shape(), attrs.axis);
  const std::vector<int64_t> index = resolve_indices("take_grad", in[1], attrs.axis, g.dim);
  const int64_t n = static_cast<int64_t>(index.size());
  accumulate_gradient("take_grad", grad, out, [&](const auto* src, auto* acc) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(src)>>;
    using Acc = std::remove_pointer_t<decltype(acc)>;
    const int64_t column_blocks = (g.inner + kScatterColumns - 1) / kScatterColumns;
    parallel_for(g.outer * column_blocks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t o = t / column_blocks;
        const int64_t c0 = (t % column_blocks) * kScatterColumns;
        const int64_t c1 = std::min(g.inner, c0 + kScatterColumns);
        for (int64_t j = 0; j < n; ++j) {
          const T* from = src + (o * n + j) * g.inner;
          Acc* to = acc + (o * g.dim + index[j]) * g.inner;
          for (int64_t c = c0; c < c1; ++c) to[c] = static_cast<Acc>(to[c] + static_cast<Acc>(from[c]));
        }
      }
    });
  });
}

// x (outer, dim, inner), indices (outer, n, inner) -> out (outer, n, inner):
// out[o, j, i] = x[o, indices[o, j, i], i] (np.take_along_axis; negative indices wrap once).
void take_along_axis_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Tensor& x = in[0];
  const AxisGeometry g = axis_geometry(x.shape(), attrs.axis);
  const std::vector<int64_t> index = resolve_indices("take_along_axis", in[1], attrs.axis, g.dim);
  const int64_t n = out.shape()[attrs.axis];
  const size_t item = dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.data_ptr());
  char* dst = static_cast<char*>(out.data_ptr());
  parallel_for(out.numel(), kCopyBlockBytes / static_cast<int64_t>(item), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t i = t % g.inner, o = t / (g.inner * n);
      std::memcpy(dst + t * item, src + ((o * g.dim + index[t]) * g.inner + i) * item, item);
    }
  });
}

// grad (outer, n, inner), indices (outer, n, inner) -> out (outer, dim, inner) zeros with
// out[o, indices[o, j, i], i] += grad[o, j, i]. Each parallel block owns whole outer slices and
// adds in increasing (j, i), so every element sums in one fixed order (no atomics, any thread count
// gives the same bits). float16/bfloat16 accumulate in float32 and round once, as take_grad does.
void take_along_axis_grad_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Tensor& grad = in[0];
  const AxisGeometry g = axis_geometry(out.shape(), attrs.axis);
  const std::vector<int64_t> index = resolve_indices("take_along_axis_grad", in[1], attrs.axis, g.dim);
  const int64_t n = grad.shape()[attrs.axis];
  accumulate_gradient("take_along_axis_grad", grad, out, [&](const auto* src, auto* acc) {
    using Acc = std::remove_pointer_t<decltype(acc)>;
    const int64_t slice = std::max<int64_t>(1, n * g.inner);
    parallel_for(g.outer, std::max<int64_t>(1, kCopyBlockBytes / slice), [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) {
        for (int64_t t = o * n * g.inner; t < (o + 1) * n * g.inner; ++t) {
          Acc& to = acc[(o * g.dim + index[t]) * g.inner + t % g.inner];
          to = static_cast<Acc>(to + static_cast<Acc>(src[t]));
        }
      }
    });
  });
}

// indices (...) -> out (..., depth): zeros with a one at each label. Labels outside [0, depth) are
// errors (TensorFlow would silently give an all-zero row, which hides label bugs).
void one_hot_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Tensor& indices = in[0];
  const int64_t depth = attrs.depth;
  for (int64_t n = 0; n < indices.numel(); ++n) {
    const int64_t label = index_at(indices, n);
    if (label < 0 || label >= depth) {
      throw IndexError("one_hot: label " + std::to_string(label) + " at position " + std::to_string(n) +
                       " is outside [0, " + std::to_string(depth) + ") for depth " + std::to_string(depth) +
                       "; labels must be in 0..depth-1 (check the number of classes)");
    }
  }
  visit_dtype(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* dst = static_cast<T*>(out.data_ptr());
    const T one = scalar_cast<T>(1);
    std::fill(dst, dst + out.numel(), scalar_cast<T>(0));
    for (int64_t n = 0; n < indices.numel(); ++n) dst[n * depth + index_at(indices, n)] = one;
  });
}

// out = zeros(input_shape); out[begin + i*step] = grad[i] for each axis.
void strided_slice_grad_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Tensor& grad = in[0];
  const size_t item = dtype_size(out.dtype());
  std::memset(out.data_ptr(), 0, static_cast<size_t>(out.numel()) * item);
  const auto out_strides = contiguous_strides(out.shape());
  int64_t base = 0;
  std::vector<int64_t> strides(out_strides.size());
  for (size_t i = 0; i < out_strides.size(); ++i) {
    base += attrs.axes[i] * out_strides[i];
    strides[i] = attrs.steps[i] * out_strides[i];
  }
  const Tensor view = out.as_strided(grad.shape(), strides, out.offset() + base);
  Tensor target = view;
  OpRegistry::instance().kernel("copy_into", DeviceType::cpu)({grad}, target, Attrs());
}

}  // namespace

void register_cpu_shape_kernels(OpRegistry& r) {
  r.add_kernel("concatenate", DeviceType::cpu, concatenate_kernel);
  r.add_kernel("take", DeviceType::cpu, take_kernel);
  r.add_kernel("take_grad", DeviceType::cpu, take_grad_kernel);
  r.add_kernel("take_along_axis", DeviceType::cpu, take_along_axis_kernel);
  r.add_kernel("take_along_axis_grad", DeviceType::cpu, take_along_axis_grad_kernel);
  r.add_kernel("one_hot", DeviceType::cpu, one_hot_kernel);
  r.add_kernel("strided_slice_grad", DeviceType::cpu, strided_slice_grad_kernel);
}

}  // namespace pitfall
