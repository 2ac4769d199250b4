// Index geometry for elementwise kernels on the GPU: an IndexWalker maps the flat (row-major)
// index of an output element to the element offset of each of N operands, which covers NumPy
// broadcasting (stride 0 on broadcast axes) and strided views (any strides, negative included)
// with one piece of code. launch_elements() runs a functor over every output index with a
// grid-stride loop on pitfall's stream.
//
// Axes are collapsed on the host as the CPU's BroadcastPlan does (size-1 axes dropped, adjacent
// axes merged where every operand allows it), so the common cases reach the device as rank 1 and
// pay no division at all.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "cuda_common.cuh"

namespace pitfall::cuda {

// Deep enough for any view the engine builds (after collapsing, ranks are usually 1 to 3).
constexpr int kMaxWalkRank = 16;

// q = a / b, r = a % b for non-negative a and positive b. 64-bit division is a long software
// sequence on the GPU; indices below 2^32 (nearly all) take the 32-bit hardware path. Host-callable
// too (as offsets() is), so the geometry can be checked without a GPU.
__host__ __device__ __forceinline__ void divmod_index(int64_t a, int64_t b, int64_t& q, int64_t& r) {
  if (((a | b) >> 32) == 0) {
    const uint32_t q32 = static_cast<uint32_t>(a) / static_cast<uint32_t>(b);
    q = q32;
    r = a - static_cast<int64_t>(q32) * b;
  } else {
    q = a / b;
    r = a - q * b;
  }
}

template <int N>
struct IndexWalker {
  int rank = 1;
  int64_t sizes[kMaxWalkRank] = {};
  int64_t strides[N][kMaxWalkRank] = {};

  // offsets[k] = element offset of operand k for the output element at flat `index`.
  __host__ __device__ __forceinline__ void offsets(int64_t index, int64_t (&out)[N]) const {
    if (rank == 1) {
      for (int k = 0; k < N; ++k) out[k] = index * strides[k][0];
      return;
    }
    for (int k = 0; k < N; ++k) out[k] = 0;
    int64_t rest = index;
    for (int axis = rank - 1; axis > 0; --axis) {
      int64_t coord;
      divmod_index(rest, sizes[axis], rest, coord);
      for (int k = 0; k < N; ++k) out[k] += coord * strides[k][axis];
    }
    for (int k = 0; k < N; ++k) out[k] += rest * strides[k][0];
  }
};

// Collapses (shape, per-operand strides) into a walker. Throws ValueError naming `op` when the
// collapsed rank still exceeds kMaxWalkRank.
template <int N>
IndexWalker<N> collapse_axes(const Shape& shape, const std::array<std::vector<int64_t>, N>& strides,
                             const char* op) {
  IndexWalker<N> walker;
  walker.rank = 0;
  for (size_t axis = 0; axis < shape.size(); ++axis) {
    if (shape[axis] == 1) continue;  // size-1 axes carry no iteration
    bool merge = walker.rank > 0;
    for (int k = 0; merge && k < N; ++k) {
      merge = walker.strides[k][walker.rank - 1] == strides[k][axis] * shape[axis];
    }
    if (merge) {
      walker.sizes[walker.rank - 1] *= shape[axis];
      for (int k = 0; k < N; ++k) walker.strides[k][walker.rank - 1] = strides[k][axis];
      continue;
    }
    if (walker.rank == kMaxWalkRank) {
      throw ValueError(std::string(op) + " on the GPU: " + shape_str(shape) + " has more than " +
                       std::to_string(kMaxWalkRank) + " axes that cannot be merged; make the input contiguous "
                       "or reshape it to fewer axes first");
    }
    walker.sizes[walker.rank] = shape[axis];
    for (int k = 0; k < N; ++k) walker.strides[k][walker.rank] = strides[k][axis];
    ++walker.rank;
  }
  if (walker.rank == 0) {  // a single element
    walker.rank = 1;
    walker.sizes[0] = 1;
    for (int k = 0; k < N; ++k) walker.strides[k][0] = 0;
  }
  return walker;
}

// Operands of broadcastable shapes read at the positions of an output of `out_shape`
// (packed operands; stride 0 on the axes an operand is broadcast along).
template <int N>
IndexWalker<N> broadcast_walker(const Shape& out_shape, const std::array<const Tensor*, N>& operands,
                                const char* op) {
  std::array<std::vector<int64_t>, N> strides;
  for (int k = 0; k < N; ++k) {
    const Shape& shape = operands[k]->shape();
    const std::vector<int64_t> packed = contiguous_strides(shape);
    strides[k].assign(out_shape.size(), 0);
    const size_t lead = out_shape.size() - shape.size();
    for (size_t i = 0; i < shape.size(); ++i) strides[k][lead + i] = shape[i] == 1 ? 0 : packed[i];
  }
  return collapse_axes<N>(out_shape, strides, op);
}

// One strided view (its own strides; data_ptr() already applies its offset) read or written at the
// positions of its packed row-major order.
inline IndexWalker<1> view_walker(const Tensor& view, const char* op) {
  return collapse_axes<1>(view.shape(), {view.strides()}, op);
}

// N packed operands of the output's own shape: offset == index.
template <int N>
IndexWalker<N> flat_walker() {
  IndexWalker<N> walker;
  walker.sizes[0] = 1;  // unused at rank 1
  for (int k = 0; k < N; ++k) walker.strides[k][0] = 1;
  return walker;
}

// Calls element(index, offsets) for every index in [0, count).
template <int N, class Element>
__global__ void for_each_element(int64_t count, IndexWalker<N> walker, Element element) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < count; index += step) {
    int64_t offsets[N];
    walker.offsets(index, offsets);
    element(index, offsets);
  }
}

// Launches for_each_element on pitfall's stream and checks the launch; `op` names it in errors.
template <int N, class Element>
void launch_elements(const char* op, int64_t count, const IndexWalker<N>& walker, const Element& element) {
  if (count <= 0) return;
  for_each_element<N, Element><<<blocks_for(count), kThreads, 0, stream()>>>(count, walker, element);
  check_launch(op);
}

}  // namespace pitfall::cuda
