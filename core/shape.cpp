#include "pitfall/core/shape.h"

#include <algorithm>

#include "pitfall/core/error.h"

namespace pitfall {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}

int64_t normalize_axis(int64_t axis, int64_t ndim, const char* op) {
  if (axis < -ndim || axis >= ndim || ndim == 0) {
    throw AxisError(std::string(op) + ": axis " + std::to_string(axis) + " is out of range for a tensor of rank " +
                    std::to_string(ndim) + "; valid axes are " +
                    (ndim == 0 ? std::string("none (the tensor is a scalar)")
                               : "-" + std::to_string(ndim) + " .. " + std::to_string(ndim - 1)));
  }
  return axis < 0 ? axis + ndim : axis;
}

std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t ndim, const char* op,
                                    bool empty_means_all) {
  std::vector<int64_t> out;
  if (axes.empty() && empty_means_all) {
    for (int64_t i = 0; i < ndim; ++i) out.push_back(i);
    return out;
  }
  for (int64_t a : axes) out.push_back(normalize_axis(a, ndim, op));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) {
    throw AxisError(std::string(op) + ": repeated axis; each axis may appear once");
  }
  return out;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw ShapeError(std::string(op) + ": shapes " + shape_str(a) + " and " + shape_str(b) +
                       " cannot be broadcast together (dimension " + std::to_string(i) + ": " +
                       std::to_string(da) + " vs " + std::to_string(db) +
                       "); make the sizes equal or 1, e.g. with reshape or expand_dims");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

AxisGeometry axis_geometry(const Shape& shape, int64_t axis) {
  AxisGeometry g;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    if (i < axis) {
      g.outer *= shape[i];
    } else if (i == axis) {
      g.dim = shape[i];
    } else {
      g.inner *= shape[i];
    }
  }
  return g;
}

ReduceGeometry reduce_geometry(const Shape& shape, const std::vector<int64_t>& axes) {
  ReduceGeometry g;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    if (i < axes.front()) g.outer *= shape[i];
    else if (i <= axes.back()) g.reduced *= shape[i];
    else g.inner *= shape[i];
  }
  return g;
}

WindowGeometry window_geometry(const Shape& input, const Shape& output, const Window& window) {
  WindowGeometry g;
  static_cast<Window&>(g) = window;
  g.n = input[0];
  g.h = input[1];
  g.w = input[2];
  g.c = input[3];
  g.oh = output[1];
  g.ow = output[2];
  return g;
}

MatmulGeometry matmul_geometry(const Shape& a, bool trans_a, const Shape& b, const Shape& out) {
  MatmulGeometry g;
  const int64_t rank = static_cast<int64_t>(out.size());
  g.m = out[rank - 2];
  g.n = out[rank - 1];
  g.k = trans_a ? a[a.size() - 2] : a[a.size() - 1];
  const int64_t batch_rank = rank - 2;
  g.batch_shape.assign(out.begin(), out.end() - 2);
  // An operand's matrix index along each of the output's batch axes: its stride there, or 0 where it
  // has size 1 (broadcast) or lacks the axis (fewer batch axes).
  auto strides_of = [&](const Shape& s, int64_t matrix) {
    std::vector<int64_t> strides(static_cast<size_t>(batch_rank), 0);
    const int64_t lead = batch_rank - (static_cast<int64_t>(s.size()) - 2);
    int64_t stride = matrix;
    for (int64_t i = static_cast<int64_t>(s.size()) - 3; i >= 0; --i) {
      strides[static_cast<size_t>(lead + i)] = s[i] == 1 ? 0 : stride;
      stride *= s[i];
    }
    return strides;
  };
  g.a_strides = strides_of(a, g.m * g.k);
  g.b_strides = strides_of(b, g.k * g.n);
  g.batches = shape_numel(g.batch_shape);
  return g;
}

std::pair<int64_t, int64_t> MatmulGeometry::offsets(int64_t batch) const {
  int64_t a_offset = 0, b_offset = 0, rest = batch;
  for (int64_t i = static_cast<int64_t>(batch_shape.size()) - 1; i >= 0; --i) {
    const int64_t coord = rest % batch_shape[i];
    rest /= batch_shape[i];
    a_offset += coord * a_strides[static_cast<size_t>(i)];
    b_offset += coord * b_strides[static_cast<size_t>(i)];
  }
  return {a_offset, b_offset};
}

bool MatmulGeometry::b_shared() const {
  for (int64_t s : b_strides) {
    if (s != 0) return false;
  }
  return true;
}

}  // namespace pitfall
