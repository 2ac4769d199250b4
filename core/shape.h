// Shapes, strides and the axis / broadcasting rules shared by every op.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pitfall {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
// "(32, 784)"; a scalar prints as "()".
std::string shape_str(const Shape& shape);
// Row-major element strides.
std::vector<int64_t> contiguous_strides(const Shape& shape);
// Maps a possibly negative axis into [0, ndim). Throws AxisError naming the op, the axis and the rank.
int64_t normalize_axis(int64_t axis, int64_t ndim, const char* op);
// Normalizes, sorts and de-duplicates a list of axes (empty list -> all axes when `empty_means_all`).
std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t ndim, const char* op,
                                    bool empty_means_all = true);
// A shape viewed as (outer, dim, inner) around one axis (axis in [0, ndim)): what concatenate,
// take and one_hot walk, on every device.
struct AxisGeometry {
  int64_t outer = 1, dim = 1, inner = 1;
};
AxisGeometry axis_geometry(const Shape& shape, int64_t axis);

// A shape viewed as (outer, reduced, inner) around a run of adjacent axes (sorted, non-empty): what
// the reduction kernels walk, on every device.
struct ReduceGeometry {
  int64_t outer = 1, reduced = 1, inner = 1;
};
ReduceGeometry reduce_geometry(const Shape& shape, const std::vector<int64_t>& axes);

// A window sliding over the height and width of NHWC data (conv2d and pooling): its size, its
// strides, and the padding before the first row and column (any other padding is after the last).
struct Window {
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, pad_top = 0, pad_left = 0;
};
// A window op's whole geometry, what the CPU and CUDA conv and pooling kernels walk: the input
// (n, h, w, c), the output's spatial size (oh, ow) and the window.
struct WindowGeometry : Window {
  int64_t n = 0, h = 0, w = 0, c = 0;
  int64_t oh = 0, ow = 0;
  int64_t patch() const { return kh * kw * c; }  // an im2col row
  int64_t rows() const { return n * oh * ow; }   // output positions
};
// input: (n, h, w, c); output: (n, oh, ow, any).
WindowGeometry window_geometry(const Shape& input, const Shape& output, const Window& window);

// A batched matrix product out (..., M, N) = op(a) @ op(b) with broadcast batch axes, op(a) = a^T
// when a is stored transposed (..., K, M): the sizes and where each batch's matrices start.
struct MatmulGeometry {
  int64_t m = 0, n = 0, k = 0, batches = 1;
  Shape batch_shape;                           // the output's batch axes
  std::vector<int64_t> a_strides, b_strides;  // per batch axis, in elements; 0 where broadcast
  // The element offsets of batch `batch`'s matrix in a and in b.
  std::pair<int64_t, int64_t> offsets(int64_t batch) const;
  bool b_shared() const;  // every batch uses the same b
};
MatmulGeometry matmul_geometry(const Shape& a, bool trans_a, const Shape& b, const Shape& out);

// NumPy broadcasting of two shapes. Throws ShapeError naming the op and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace pitfall
