// View ops: reshape, transpose, expand_dims, squeeze, broadcast_to, strided_slice, slice, and
// sum_to_shape (the adjoint of broadcast_to).
#include <algorithm>
#include <numeric>

#include "pitfall/core/ops/op_helpers.h"

namespace pitfall {

using detail::describe;

Tensor to_device(const Tensor& x, const Device& device) {
  OpScope scope("to_device");
  if (x.device() == device) return x;
  check_device_available(device, "to_device");
  Tensor out = x.detach().to(device);
  if (needs_record({x})) {
    record(out, "to_device", {x},
           [source = x.device()](const Tensor& g) { return std::vector<Tensor>{to_device(g, source)}; });
  }
  return out;
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  OpScope scope("reshape");
  Shape target = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      if (infer >= 0) throw ShapeError("reshape to " + shape_str(shape) + ": only one dimension may be -1");
      infer = static_cast<int64_t>(i);
    } else if (target[i] < 0) {
      throw ShapeError("reshape to " + shape_str(shape) + ": dimensions must be >= 0 (or -1 to infer one)");
    } else {
      known *= target[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0) {
      throw ShapeError("cannot reshape " + describe(x) + " (" + std::to_string(x.numel()) + " elements) to " +
                       shape_str(shape) + ": the known dimensions multiply to " + std::to_string(known) +
                       ", which does not divide the element count");
    }
    target[infer] = x.numel() / known;
  }
  if (shape_numel(target) != x.numel()) {
    throw ShapeError("cannot reshape " + describe(x) + " (" + std::to_string(x.numel()) + " elements) to " +
                     shape_str(shape) + " (" + std::to_string(shape_numel(target)) +
                     " elements); the element counts must match (use -1 to infer one dimension)");
  }
  const Tensor packed = x.contiguous();
  Tensor out = packed.as_strided(target, contiguous_strides(target), packed.offset());
  if (needs_record({x})) {
    const Shape input_shape = x.shape();
    record(out, "reshape", {x}, [input_shape](const Tensor& g) { return std::vector<Tensor>{reshape(g, input_shape)}; });
  }
  return out;
}

Tensor transpose(const Tensor& x, const std::vector<int64_t>& axes) {
  OpScope scope("transpose");
  const int64_t n = x.ndim();
  std::vector<int64_t> perm(static_cast<size_t>(n));
  if (axes.empty()) {
    for (int64_t i = 0; i < n; ++i) perm[i] = n - 1 - i;
  } else {
    if (static_cast<int64_t>(axes.size()) != n) {
      throw AxisError("transpose of a rank-" + std::to_string(n) + " tensor " + describe(x) + " needs " +
                      std::to_string(n) + " axes, got " + std::to_string(axes.size()));
    }
    std::vector<bool> seen(static_cast<size_t>(n), false);
    for (int64_t i = 0; i < n; ++i) {
      perm[i] = normalize_axis(axes[i], n, "transpose");
      if (seen[perm[i]]) throw AxisError("transpose: axis " + std::to_string(axes[i]) + " repeated; give a permutation");
      seen[perm[i]] = true;
    }
  }
  Shape shape(static_cast<size_t>(n));
  std::vector<int64_t> strides(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    shape[i] = x.shape()[perm[i]];
    strides[i] = x.strides()[perm[i]];
  }
  Tensor out = x.as_strided(shape, strides, x.offset());
  if (needs_record({x})) {
    std::vector<int64_t> inverse(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) inverse[perm[i]] = i;
    record(out, "transpose", {x}, [inverse](const Tensor& g) { return std::vector<Tensor>{transpose(g, inverse)}; });
  }
  return out;
}

Tensor expand_dims(const Tensor& x, int64_t axis) {
  OpScope scope("expand_dims");
  const int64_t a = normalize_axis(axis, x.ndim() + 1, "expand_dims");
  Shape shape = x.shape();
  shape.insert(shape.begin() + a, 1);
  return reshape(x, shape);
}

Tensor squeeze(const Tensor& x, const std::vector<int64_t>& axes) {
  OpScope scope("squeeze");
  Shape shape;
  if (axes.empty()) {
    for (int64_t d : x.shape()) {
      if (d != 1) shape.push_back(d);
    }
  } else {
    const auto drop = normalize_axes(axes, x.ndim(), "squeeze", false);
    for (int64_t a : drop) {
      if (x.shape()[a] != 1) {
        throw ShapeError("squeeze: axis " + std::to_string(a) + " of " + describe(x) + " has size " +
                         std::to_string(x.shape()[a]) + ", not 1; only size-1 axes can be removed");
      }
    }
    for (int64_t i = 0; i < x.ndim(); ++i) {
      if (!std::binary_search(drop.begin(), drop.end(), i)) shape.push_back(x.shape()[i]);
    }
  }
  return reshape(x, shape);
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  OpScope scope("broadcast_to");
  const Shape joined = broadcast_shapes(x.shape(), shape, "broadcast_to");
  if (joined != shape) {
    throw ShapeError("broadcast_to: " + describe(x) + " cannot be broadcast to " + shape_str(shape) +
                     " (it would need shape " + shape_str(joined) + ")");
  }
  const size_t lead = shape.size() - x.shape().size();
  std::vector<int64_t> strides(shape.size(), 0);
  for (size_t i = 0; i < x.shape().size(); ++i) {
    strides[lead + i] = x.shape()[i] == 1 ? 0 : x.strides()[i];
  }
  Tensor out = x.as_strided(shape, strides, x.offset());
  if (needs_record({x})) {
    const Shape input_shape = x.shape();
    record(out, "broadcast_to", {x},
           [input_shape](const Tensor& g) { return std::vector<Tensor>{sum_to_shape(g, input_shape)}; });
  }
  return out;
}

Tensor sum_to_shape(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  OpScope scope("sum_to_shape");
  if (shape.size() > x.shape().size()) {
    throw ShapeError("sum_to_shape: cannot reduce " + describe(x) + " to the larger rank shape " + shape_str(shape));
  }
  const size_t lead = x.shape().size() - shape.size();
  std::vector<int64_t> axes;
  for (size_t i = 0; i < x.shape().size(); ++i) {
    if (i < lead) {
      axes.push_back(static_cast<int64_t>(i));
    } else if (shape[i - lead] == 1 && x.shape()[i] != 1) {
      axes.push_back(static_cast<int64_t>(i));
    } else if (shape[i - lead] != x.shape()[i]) {
      throw ShapeError("sum_to_shape: " + describe(x) + " was not broadcast from " + shape_str(shape));
    }
  }
  const Tensor summed = axes.empty() ? x : sum(x, axes, true);
  return reshape(summed, shape);
}

Tensor strided_slice(const Tensor& x, const std::vector<int64_t>& begin, const std::vector<int64_t>& end,
                     const std::vector<int64_t>& step) {
  OpScope scope("strided_slice");
  const int64_t n = x.ndim();
  if (static_cast<int64_t>(begin.size()) != n || static_cast<int64_t>(end.size()) != n ||
      static_cast<int64_t>(step.size()) != n) {
    throw ShapeError("strided_slice of " + describe(x) + " needs begin, end and step for each of its " +
                     std::to_string(n) + " axes");
  }
  Shape shape(static_cast<size_t>(n));
  std::vector<int64_t> strides(static_cast<size_t>(n));
  int64_t offset = x.offset();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t dim = x.shape()[i];
    if (step[i] == 0) throw ValueError("strided_slice: step of axis " + std::to_string(i) + " is 0; use a nonzero step");
    const bool ok = step[i] > 0 ? (begin[i] >= 0 && begin[i] <= dim && end[i] >= 0 && end[i] <= dim)
                                : (begin[i] >= -1 && begin[i] < dim && end[i] >= -1 && end[i] < dim);
    if (!ok) {
      throw IndexError("strided_slice: range " + std::to_string(begin[i]) + ":" + std::to_string(end[i]) + ":" +
                       std::to_string(step[i]) + " is out of bounds for axis " + std::to_string(i) + " of size " +
                       std::to_string(dim) + " in " + describe(x));
    }
    const int64_t count = step[i] > 0 ? std::max<int64_t>(0, (end[i] - begin[i] + step[i] - 1) / step[i])
                                      : std::max<int64_t>(0, (begin[i] - end[i] - step[i] - 1) / -step[i]);
    shape[i] = count;
    strides[i] = x.strides()[i] * step[i];
    if (count > 0) offset += begin[i] * x.strides()[i];
  }
  Tensor out = x.as_strided(shape, strides, offset);
  if (needs_record({x})) {
    const Shape input_shape = x.shape();
    record(out, "strided_slice", {x}, [input_shape, begin, step](const Tensor& g) {
      return std::vector<Tensor>{strided_slice_grad(g, input_shape, begin, step)};
    });
  }
  return out;
}

Tensor strided_slice_grad(const Tensor& grad, const Shape& input_shape, const std::vector<int64_t>& begin,
                          const std::vector<int64_t>& step) {
  OpScope scope("strided_slice_grad");
  const size_t n = input_shape.size();
  if (begin.size() != n || step.size() != n || grad.shape().size() != n) {
    throw ShapeError("strided_slice_grad: rank mismatch between gradient " + describe(grad) + " and input shape " +
                     shape_str(input_shape));
  }
  std::vector<int64_t> end(n);
  for (size_t i = 0; i < n; ++i) {
    end[i] = begin[i] + grad.shape()[i] * step[i];
    const int64_t last = begin[i] + (grad.shape()[i] - 1) * step[i];
    if (grad.shape()[i] > 0 && (last < 0 || last >= input_shape[i] || begin[i] < 0 || begin[i] >= input_shape[i])) {
      throw IndexError("strided_slice_grad: slice of axis " + std::to_string(i) + " falls outside size " +
                       std::to_string(input_shape[i]));
    }
    if (end[i] < -1) end[i] = -1;
  }
  Attrs attrs;
  attrs.axes = begin;
  attrs.steps = step;
  Tensor out = dispatch("strided_slice_grad", {grad}, input_shape, grad.dtype(), attrs);
  if (needs_record({grad})) {
    record(out, "strided_slice_grad", {grad}, [begin, end, step](const Tensor& g) {
      return std::vector<Tensor>{strided_slice(g, begin, end, step)};
    });
  }
  return out;
}

Tensor slice(const Tensor& x, const std::vector<int64_t>& start, const std::vector<int64_t>& size) {
  OpScope scope("slice");
  const int64_t n = x.ndim();
  if (static_cast<int64_t>(start.size()) != n || static_cast<int64_t>(size.size()) != n) {
    throw ShapeError("slice of " + describe(x) + " needs start and size for each of its " + std::to_string(n) +
                     " axes, got " + std::to_string(start.size()) + " and " + std::to_string(size.size()));
  }
  std::vector<int64_t> end(static_cast<size_t>(n)), step(static_cast<size_t>(n), 1);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t extent = size[i] == -1 ? x.shape()[i] - start[i] : size[i];
    if (start[i] < 0 || extent < 0 || start[i] + extent > x.shape()[i]) {
      throw IndexError("slice: start " + std::to_string(start[i]) + " with size " + std::to_string(size[i]) +
                       " exceeds axis " + std::to_string(i) + " of size " + std::to_string(x.shape()[i]) + " in " +
                       describe(x));
    }
    end[i] = start[i] + extent;
  }
  return strided_slice(x, start, end, step);
}

}  // namespace pitfall
