// Shapes, strides and the axis / broadcasting rules shared by every op.
#pragma once
#include <cstdint>
#include <string>
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

// NumPy broadcasting of two shapes. Throws ShapeError naming the op and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace pitfall
