// CUDA kernels for shape and indexing ops: concatenate, take, take_grad, one_hot,
// strided_slice_grad. Semantics are the CPU's (core/cpu/shape_kernels.cpp): indices wrap negatives
// once (take / take_grad) and any index still out of range raises IndexError naming the first bad
// one before any output is written; one_hot labels do not wrap.
//
// take_grad (a scatter-add) has two paths. Deterministic: the indices are sorted stably on the
// device, so each output element adds the gradient rows that land on it in increasing position,
// starting from zero: the CPU's order, bitwise. Otherwise floating gradients are added with
// atomicAdd (run-to-run varying last bits). Integer sums wrap the same in any order, so they always
// use atomics (uint8, which has no atomicAdd, always takes the sorted path).
#include <cub/device/device_radix_sort.cuh>

#include <cstdint>
#include <string>

#include "cuda_common.cuh"
#include "pitfall/core/device.h"
#include "pitfall/core/tensor.h"

namespace pitfall::cuda {
namespace {

template <class I>
__device__ __forceinline__ int64_t wrapped(I raw, int64_t dim, bool wrap_negative) {
  const int64_t v = static_cast<int64_t>(raw);
  return (wrap_negative && v < 0) ? v + dim : v;
}

// ---------------------------------------------------------------------------------------------
// Index validation: the lowest position whose index is outside [0, dim) after the optional
// negative wrap (atomicMin: the answer does not depend on thread order).

template <class I>
__global__ void first_bad_index_kernel(const I* __restrict__ indices, int64_t count, int64_t dim, bool wrap_negative,
                                       unsigned long long* __restrict__ first_bad) {
  for (int64_t n = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; n < count;
       n += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t index = wrapped(indices[n], dim, wrap_negative);
    if (index < 0 || index >= dim) atomicMin(first_bad, static_cast<unsigned long long>(n));
  }
}

// Returns -1 when every index is valid, else the first bad position; *raw gets its value.
template <class I>
int64_t first_bad_index(const I* indices, int64_t count, int64_t dim, bool wrap_negative, const Device& device,
                        int64_t* raw) {
  if (count == 0) return -1;
  Tensor scratch = Tensor::empty({1}, DType::int64, device);
  auto* first_bad = static_cast<unsigned long long*>(scratch.data_ptr());
  check(cudaMemsetAsync(first_bad, 0xFF, sizeof(unsigned long long), stream()), "cudaMemsetAsync");
  first_bad_index_kernel<I><<<blocks_for(count), kThreads, 0, stream()>>>(indices, count, dim, wrap_negative,
                                                                           first_bad);
  check_launch("index check");
  unsigned long long position = 0;
  check(cudaMemcpyAsync(&position, first_bad, sizeof position, cudaMemcpyDeviceToHost, stream()), "cudaMemcpyAsync");
  synchronize();
  if (position == ~0ULL) return -1;
  I value{};
  check(cudaMemcpyAsync(&value, indices + position, sizeof value, cudaMemcpyDeviceToHost, stream()),
        "cudaMemcpyAsync");
  synchronize();
  *raw = static_cast<int64_t>(value);
  return static_cast<int64_t>(position);
}

// Calls fn(I{}) with the index element type; int32 / int64 / uint8 as the CPU reads them.
template <class Fn>
void visit_index(const Tensor& indices, Fn&& fn) {
  switch (indices.dtype()) {
    case DType::int32: fn(int32_t{}); return;
    case DType::int64: fn(int64_t{}); return;
    case DType::uint8: fn(uint8_t{}); return;
    default: break;
  }
  if (indices.numel() > 0) {
    throw DTypeError("indices must be int32 or int64, got " + std::string(dtype_name(indices.dtype())));
  }
  fn(int64_t{});  // no indices: none is read, so any dtype will do (the CPU's rule too)
}

// take / take_grad: the CPU's message for the first index outside [-dim, dim).
template <class I>
void check_take_indices(const char* op, const Tensor& indices, int64_t axis, int64_t dim, const Device& device) {
  int64_t raw = 0;
  if (first_bad_index(static_cast<const I*>(indices.data_ptr()), indices.numel(), dim, true, device, &raw) < 0) return;
  throw IndexError(std::string(op) + ": index " + std::to_string(raw) + " is out of bounds for axis " +
                   std::to_string(axis) + " with size " + std::to_string(dim) + " (valid: " + std::to_string(-dim) +
                   " to " + std::to_string(dim - 1) + ")");
}

// Calls fn(W{}) with an unsigned word of the element size, for ops that only move bytes.
template <class Fn>
void visit_word(size_t item, Fn&& fn) {
  switch (item) {
    case 1: fn(uint8_t{}); return;
    case 2: fn(uint16_t{}); return;
    case 4: fn(uint32_t{}); return;
    case 8: fn(uint64_t{}); return;
    default: throw RuntimeError("element size " + std::to_string(item) + " has no GPU copy kernel");
  }
}

// ---------------------------------------------------------------------------------------------
// concatenate: each output row (outer index) is the inputs' rows in order; one 2-D copy per input.
void concatenate_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const size_t item = dtype_size(out.dtype());
  const AxisGeometry og = axis_geometry(out.shape(), attrs.axis);
  const size_t out_row = static_cast<size_t>(og.dim * og.inner) * item;
  if (out_row == 0 || og.outer == 0) return;
  char* dst = static_cast<char*>(out.data_ptr());
  size_t column = 0;
  for (const Tensor& x : in) {
    const size_t chunk = static_cast<size_t>(x.shape()[attrs.axis] * og.inner) * item;
    if (chunk == 0) continue;
    check(cudaMemcpy2DAsync(dst + column, out_row, x.data_ptr(), chunk, chunk, static_cast<size_t>(og.outer),
                            cudaMemcpyDeviceToDevice, stream()),
          "cudaMemcpy2DAsync (concatenate)");
    column += chunk;
  }
}

// ---------------------------------------------------------------------------------------------
// take: x (outer, dim, inner), indices (n) -> out (outer, n, inner), out[o, j, :] = x[o, idx[j], :].
template <class W, class I>
__global__ void take_kernel_impl(const W* __restrict__ x, const I* __restrict__ indices, W* __restrict__ out,
                                 int64_t total, int64_t n, int64_t dim, int64_t inner) {
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = t % inner;
    const int64_t j = (t / inner) % n;
    const int64_t o = t / (inner * n);
    out[t] = x[(o * dim + wrapped(indices[j], dim, true)) * inner + c];
  }
}

void take_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Tensor& x = in[0];
  const AxisGeometry g = axis_geometry(x.shape(), attrs.axis);
  visit_index(in[1], [&](auto index_zero) {
    using I = decltype(index_zero);
    check_take_indices<I>("take", in[1], attrs.axis, g.dim, out.device());
    const int64_t n = in[1].numel();
    const int64_t total = g.outer * n * g.inner;
    if (total == 0) return;
    visit_word(dtype_size(x.dtype()), [&](auto word_zero) {
      using W = decltype(word_zero);
      take_kernel_impl<W, I><<<blocks_for(total), kThreads, 0, stream()>>>(
          static_cast<const W*>(x.data_ptr()), static_cast<const I*>(in[1].data_ptr()),
          static_cast<W*>(out.data_ptr()), total, n, g.dim, g.inner);
      check_launch("take");
    });
  });
}

// ---------------------------------------------------------------------------------------------
// take_grad: grad (outer, n, inner), indices (n) -> out (outer, dim, inner), zeros with
// out[o, idx[j], :] += grad[o, j, :]. float16/bfloat16 accumulate in float and round once.

template <class T>
using ScatterAcc = std::conditional_t<is_half_v<T>, float, T>;

// Resolved (wrapped) index of every position, and the position itself: the sort's keys and values.
template <class I>
__global__ void resolve_kernel(const I* __restrict__ indices, int64_t n, int64_t dim, int64_t* __restrict__ keys,
                               int64_t* __restrict__ positions) {
  for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < n;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    keys[j] = wrapped(indices[j], dim, true);
    positions[j] = j;
  }
}

// Segment bounds per destination row d: [begin[d], end[d]) in the sorted order (empty when absent;
// begin and end arrive zeroed).
__global__ void segment_bounds_kernel(const int64_t* __restrict__ sorted_keys, int64_t n, int64_t* __restrict__ begin,
                                      int64_t* __restrict__ end) {
  for (int64_t p = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; p < n;
       p += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t key = sorted_keys[p];
    if (p == 0 || sorted_keys[p - 1] != key) begin[key] = p;
    if (p == n - 1 || sorted_keys[p + 1] != key) end[key] = p + 1;
  }
}

// One thread per output element, adding its gradient rows in increasing position from zero.
template <class T>
__global__ void gather_sum_kernel(const T* __restrict__ grad, const int64_t* __restrict__ sorted_positions,
                                  const int64_t* __restrict__ begin, const int64_t* __restrict__ end,
                                  T* __restrict__ out, int64_t total, int64_t n, int64_t dim, int64_t inner) {
  using Acc = ScatterAcc<T>;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = t % inner;
    const int64_t d = (t / inner) % dim;
    const int64_t o = t / (inner * dim);
    Acc acc{};
    for (int64_t p = begin[d]; p < end[d]; ++p) {
      acc = static_cast<Acc>(acc + static_cast<Acc>(widen(grad[(o * n + sorted_positions[p]) * inner + c])));
    }
    if constexpr (is_half_v<T>) {
      out[t] = narrow<T>(acc);
    } else {
      out[t] = acc;
    }
  }
}

template <class T, class I>
void take_grad_sorted(const Tensor& grad, const Tensor& indices, Tensor& out, const AxisGeometry& g) {
  const int64_t n = indices.numel();
  const int64_t total = out.numel();
  const Device device = out.device();
  Tensor keys = Tensor::empty({n}, DType::int64, device);
  Tensor positions = Tensor::empty({n}, DType::int64, device);
  Tensor sorted_keys = Tensor::empty({n}, DType::int64, device);
  Tensor sorted_positions = Tensor::empty({n}, DType::int64, device);
  Tensor bounds = Tensor::empty({2 * g.dim}, DType::int64, device);
  int64_t* begin = static_cast<int64_t*>(bounds.data_ptr());
  int64_t* end = begin + g.dim;
  check(cudaMemsetAsync(begin, 0, static_cast<size_t>(2 * g.dim) * sizeof(int64_t), stream()), "cudaMemsetAsync");
  if (n > 0) {
    resolve_kernel<I><<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<const I*>(indices.data_ptr()), n, g.dim,
                                                                 static_cast<int64_t*>(keys.data_ptr()),
                                                                 static_cast<int64_t*>(positions.data_ptr()));
    check_launch("take_grad resolve");
    // A radix sort is stable: equal keys keep their increasing positions. Only the bits that can
    // differ among keys in [0, dim) are sorted.
    int end_bit = 1;
    while (end_bit < 63 && (int64_t{1} << end_bit) < g.dim) ++end_bit;
    const auto* k_in = static_cast<const int64_t*>(keys.data_ptr());
    auto* k_out = static_cast<int64_t*>(sorted_keys.data_ptr());
    const auto* v_in = static_cast<const int64_t*>(positions.data_ptr());
    auto* v_out = static_cast<int64_t*>(sorted_positions.data_ptr());
    size_t temp_bytes = 0;
    check(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, k_in, k_out, v_in, v_out, n, 0, end_bit, stream()),
          "cub::DeviceRadixSort::SortPairs (take_grad)");
    Tensor temp = Tensor::empty({static_cast<int64_t>(temp_bytes ? temp_bytes : 1)}, DType::uint8, device);
    check(cub::DeviceRadixSort::SortPairs(temp.data_ptr(), temp_bytes, k_in, k_out, v_in, v_out, n, 0, end_bit,
                                          stream()),
          "cub::DeviceRadixSort::SortPairs (take_grad)");
    segment_bounds_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(k_out, n, begin, end);
    check_launch("take_grad segments");
  }
  gather_sum_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(
      static_cast<const T*>(grad.data_ptr()), static_cast<const int64_t*>(sorted_positions.data_ptr()), begin, end,
      static_cast<T*>(out.data_ptr()), total, n, g.dim, g.inner);
  check_launch("take_grad");
}

template <class Acc>
__device__ __forceinline__ void atomic_add(Acc* address, Acc value) {
  if constexpr (std::is_same_v<Acc, int64_t>) {
    atomicAdd(reinterpret_cast<unsigned long long*>(address), static_cast<unsigned long long>(value));
  } else {
    atomicAdd(address, value);
  }
}

template <class T, class I>
__global__ void scatter_add_kernel(const T* __restrict__ grad, const I* __restrict__ indices,
                                   ScatterAcc<T>* __restrict__ acc, int64_t total, int64_t n, int64_t dim,
                                   int64_t inner) {
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = t % inner;
    const int64_t j = (t / inner) % n;
    const int64_t o = t / (inner * n);
    atomic_add(acc + (o * dim + wrapped(indices[j], dim, true)) * inner + c,
               static_cast<ScatterAcc<T>>(widen(grad[t])));
  }
}

template <class T>
__global__ void narrow_kernel(const float* __restrict__ acc, T* __restrict__ out, int64_t total) {
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[t] = narrow<T>(acc[t]);
  }
}

template <class T, class I>
void take_grad_atomic(const Tensor& grad, const Tensor& indices, Tensor& out, const AxisGeometry& g) {
  using Acc = ScatterAcc<T>;
  const int64_t n = indices.numel();
  const int64_t total_out = out.numel();
  const int64_t total_in = g.outer * n * g.inner;
  Tensor widened;
  Acc* acc;
  if constexpr (is_half_v<T>) {
    widened = Tensor::empty({total_out}, DType::float32, out.device());
    acc = static_cast<Acc*>(widened.data_ptr());
  } else {
    acc = static_cast<Acc*>(out.data_ptr());
  }
  check(cudaMemsetAsync(acc, 0, static_cast<size_t>(total_out) * sizeof(Acc), stream()), "cudaMemsetAsync");
  if (total_in > 0) {
    scatter_add_kernel<T, I><<<blocks_for(total_in), kThreads, 0, stream()>>>(
        static_cast<const T*>(grad.data_ptr()), static_cast<const I*>(indices.data_ptr()), acc, total_in, n, g.dim,
        g.inner);
    check_launch("take_grad");
  }
  if constexpr (is_half_v<T>) {
    narrow_kernel<T><<<blocks_for(total_out), kThreads, 0, stream()>>>(acc, static_cast<T*>(out.data_ptr()), total_out);
    check_launch("take_grad narrow");
  }
}

void take_grad_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Tensor& grad = in[0];
  const AxisGeometry g = axis_geometry(out.shape(), attrs.axis);
  visit_index(in[1], [&](auto index_zero) {
    using I = decltype(index_zero);
    check_take_indices<I>("take_grad", in[1], attrs.axis, g.dim, out.device());
    visit_dtype(out.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (std::is_same_v<T, bool>) {
        throw DTypeError("take_grad of a bool gradient; gradients are numeric");
      } else {
        if (out.numel() == 0) return;
        if constexpr (std::is_same_v<T, uint8_t>) {
          take_grad_sorted<T, I>(grad, in[1], out, g);
        } else if constexpr (std::is_integral_v<T>) {
          take_grad_atomic<T, I>(grad, in[1], out, g);  // integer addition wraps the same in any order
        } else {
          if (op_determinism_enabled()) {
            take_grad_sorted<T, I>(grad, in[1], out, g);
          } else {
            take_grad_atomic<T, I>(grad, in[1], out, g);
          }
        }
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// one_hot: indices (...) -> out (..., depth), zeros with a one at each label.
template <class T, class I>
__global__ void one_hot_kernel_impl(const I* __restrict__ indices, T* __restrict__ out, int64_t total, int64_t depth) {
  const T one = narrow<T>(1.0f), zero = narrow<T>(0.0f);
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[t] = static_cast<int64_t>(indices[t / depth]) == t % depth ? one : zero;
  }
}

void one_hot_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Tensor& indices = in[0];
  const int64_t depth = attrs.depth;
  visit_index(indices, [&](auto index_zero) {
    using I = decltype(index_zero);
    int64_t raw = 0;
    const int64_t position = first_bad_index(static_cast<const I*>(indices.data_ptr()), indices.numel(), depth,
                                             false, out.device(), &raw);
    if (position >= 0) {
      throw IndexError("one_hot: label " + std::to_string(raw) + " at position " + std::to_string(position) +
                       " is outside [0, " + std::to_string(depth) + ") for depth " + std::to_string(depth) +
                       "; labels must be in 0..depth-1 (check the number of classes)");
    }
    const int64_t total = out.numel();
    if (total == 0) return;
    visit_dtype(out.dtype(), [&](auto zero) {
      using T = decltype(zero);
      one_hot_kernel_impl<T, I><<<blocks_for(total), kThreads, 0, stream()>>>(
          static_cast<const I*>(indices.data_ptr()), static_cast<T*>(out.data_ptr()), total, depth);
      check_launch("one_hot");
    });
  });
}

// ---------------------------------------------------------------------------------------------
// strided_slice_grad: out = zeros(input_shape); out[begin + i*step] = grad[i] along every axis.
constexpr int kMaxRank = 12;

struct SliceMap {
  int rank;
  int64_t grad_shape[kMaxRank];
  int64_t out_strides[kMaxRank];  // step * the output's contiguous stride, per axis (may be negative)
  int64_t base;                   // sum of begin * the output's contiguous stride
};

template <class W>
__global__ void strided_slice_grad_impl(const W* __restrict__ grad, W* __restrict__ out, int64_t total, SliceMap map) {
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t rest = t, offset = map.base;
    for (int axis = map.rank - 1; axis >= 0; --axis) {
      offset += (rest % map.grad_shape[axis]) * map.out_strides[axis];
      rest /= map.grad_shape[axis];
    }
    out[offset] = grad[t];
  }
}

void strided_slice_grad_kernel(const std::vector<Tensor>& in, Tensor& out, const Attrs& attrs) {
  const Tensor& grad = in[0];
  const size_t item = dtype_size(out.dtype());
  if (out.numel() == 0) return;
  check(cudaMemsetAsync(out.data_ptr(), 0, static_cast<size_t>(out.numel()) * item, stream()), "cudaMemsetAsync");
  const int64_t total = grad.numel();
  if (total == 0) return;
  const int rank = static_cast<int>(out.shape().size());
  if (rank > kMaxRank) {
    throw NotImplementedError("strided_slice_grad on the GPU supports up to " + std::to_string(kMaxRank) +
                              " dimensions, got " + std::to_string(rank) + "; reshape to fewer dimensions first");
  }
  const auto contiguous = contiguous_strides(out.shape());
  SliceMap map{};
  map.rank = rank;
  map.base = 0;
  for (int i = 0; i < rank; ++i) {
    map.grad_shape[i] = grad.shape()[i];
    map.out_strides[i] = attrs.steps[i] * contiguous[i];
    map.base += attrs.axes[i] * contiguous[i];
  }
  visit_word(item, [&](auto word_zero) {
    using W = decltype(word_zero);
    strided_slice_grad_impl<W><<<blocks_for(total), kThreads, 0, stream()>>>(
        static_cast<const W*>(grad.data_ptr()), static_cast<W*>(out.data_ptr()), total, map);
    check_launch("strided_slice_grad");
  });
}

const bool registered = register_when_present([](OpRegistry& r) {
  r.add_kernel("concatenate", DeviceType::cuda, concatenate_kernel);
  r.add_kernel("take", DeviceType::cuda, take_kernel);
  r.add_kernel("take_grad", DeviceType::cuda, take_grad_kernel);
  r.add_kernel("one_hot", DeviceType::cuda, one_hot_kernel);
  r.add_kernel("strided_slice_grad", DeviceType::cuda, strided_slice_grad_kernel);
});

}  // namespace
}  // namespace pitfall::cuda
