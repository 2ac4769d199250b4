// Shape and indexing ops that move data: concatenate, stack, take, take_grad (take's adjoint) and
// one_hot. The pure views live in views.cpp.
#include <algorithm>

#include "pitfall/core/ops/op_helpers.h"

namespace pitfall {

using detail::describe;
using detail::dtype_str;

namespace {

void check_index_dtype(const char* op, const Tensor& indices) {
  if (indices.dtype() != DType::int32 && indices.dtype() != DType::int64) {
    throw DTypeError(std::string(op) + ": indices must be int32 or int64, got " + describe(indices) +
                     "; cast them first, e.g. cast(indices, 'int64')");
  }
}

// Shape of take(x, indices, axis): x.shape[:axis] + indices.shape + x.shape[axis+1:].
Shape take_shape(const Shape& x, const Shape& indices, int64_t axis) {
  Shape out(x.begin(), x.begin() + axis);
  out.insert(out.end(), indices.begin(), indices.end());
  out.insert(out.end(), x.begin() + axis + 1, x.end());
  return out;
}

}  // namespace

Tensor concatenate(const std::vector<Tensor>& xs, int64_t axis) {
  OpScope scope("concatenate");
  if (xs.empty()) throw ValueError("concatenate needs at least one tensor, got an empty list");
  const Tensor& first = xs[0];
  if (first.ndim() == 0) {
    throw ShapeError("concatenate: input 0 is a scalar " + describe(first) +
                     "; zero-dimensional tensors cannot be concatenated (use stack)");
  }
  const int64_t a = normalize_axis(axis, first.ndim(), "concatenate");
  Shape shape = first.shape();
  shape[a] = 0;
  for (size_t k = 0; k < xs.size(); ++k) {
    const Tensor& x = xs[k];
    if (x.dtype() != first.dtype()) {
      throw DTypeError("concatenate: input " + std::to_string(k) + " has dtype " + dtype_str(x.dtype()) +
                       " but input 0 has " + dtype_str(first.dtype()) +
                       "; all inputs need one dtype (pitfall never promotes silently), cast them first");
    }
    bool match = x.ndim() == first.ndim();
    for (int64_t i = 0; match && i < x.ndim(); ++i) match = i == a || x.shape()[i] == first.shape()[i];
    if (!match) {
      throw ShapeError("concatenate along axis " + std::to_string(a) + ": input " + std::to_string(k) +
                       " has shape " + shape_str(x.shape()) + " but input 0 has shape " + shape_str(first.shape()) +
                       "; all dimensions except axis " + std::to_string(a) + " must match");
    }
    shape[a] += x.shape()[a];
  }
  Attrs attrs;
  attrs.axis = a;
  Tensor out = dispatch("concatenate", xs, shape, first.dtype(), attrs);
  if (needs_record(xs)) {
    std::vector<Shape> shapes;
    for (const auto& x : xs) shapes.push_back(x.shape());
    record(out, "concatenate", xs, [shapes, a](const Tensor& g) {
      std::vector<Tensor> grads;
      const int64_t n = static_cast<int64_t>(shapes[0].size());
      std::vector<int64_t> begin(n, 0), end = g.shape(), step(n, 1);
      for (const auto& s : shapes) {
        end[a] = begin[a] + s[a];
        grads.push_back(strided_slice(g, begin, end, step).contiguous());
        begin[a] = end[a];
      }
      return grads;
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t axis) {
  OpScope scope("stack");
  if (xs.empty()) throw ValueError("stack needs at least one tensor, got an empty list");
  for (size_t k = 1; k < xs.size(); ++k) {
    if (xs[k].shape() != xs[0].shape()) {
      throw ShapeError("stack: input " + std::to_string(k) + " has shape " + shape_str(xs[k].shape()) +
                       " but input 0 has shape " + shape_str(xs[0].shape()) + "; stacked tensors need equal shapes");
    }
  }
  const int64_t a = normalize_axis(axis, xs[0].ndim() + 1, "stack");
  std::vector<Tensor> expanded;
  expanded.reserve(xs.size());
  for (const auto& x : xs) expanded.push_back(expand_dims(x, a));
  return concatenate(expanded, a);
}

Tensor take(const Tensor& x, const Tensor& indices, int64_t axis) {
  OpScope scope("take");
  check_index_dtype("take", indices);
  const int64_t a = normalize_axis(axis, x.ndim(), "take");
  if (x.shape()[a] == 0 && indices.numel() > 0) {
    throw IndexError("take: cannot take from axis " + std::to_string(a) + " of size 0 in " + describe(x));
  }
  Attrs attrs;
  attrs.axis = a;
  Tensor out = dispatch("take", {x, indices}, take_shape(x.shape(), indices.shape(), a), x.dtype(), attrs);
  if (needs_record({x})) {
    record(out, "take", {x, indices}, [indices = indices.detach(), shape = x.shape(), a](const Tensor& g) {
      return std::vector<Tensor>{take_grad(g, indices, shape, a), Tensor()};
    });
  }
  return out;
}

Tensor take_grad(const Tensor& grad, const Tensor& indices, const Shape& input_shape, int64_t axis) {
  OpScope scope("take_grad");
  check_index_dtype("take_grad", indices);
  detail::check_numeric("take_grad", grad);
  const int64_t a = normalize_axis(axis, static_cast<int64_t>(input_shape.size()), "take_grad");
  const Shape expected = take_shape(input_shape, indices.shape(), a);
  if (grad.shape() != expected) {
    throw ShapeError("take_grad: gradient " + describe(grad) + " does not match take of input shape " +
                     shape_str(input_shape) + " with indices " + shape_str(indices.shape()) + " along axis " +
                     std::to_string(a) + " (expected " + shape_str(expected) + ")");
  }
  Attrs attrs;
  attrs.axis = a;
  Tensor out = dispatch("take_grad", {grad, indices}, input_shape, grad.dtype(), attrs);
  if (needs_record({grad})) {
    record(out, "take_grad", {grad, indices}, [indices = indices.detach(), a](const Tensor& g) {
      return std::vector<Tensor>{take(g, indices, a), Tensor()};
    });
  }
  return out;
}

Tensor one_hot(const Tensor& indices, int64_t depth, DType dtype) {
  OpScope scope("one_hot");
  check_index_dtype("one_hot", indices);
  if (depth < 0) throw ValueError("one_hot: depth must be >= 0, got " + std::to_string(depth));
  Shape shape = indices.shape();
  shape.push_back(depth);
  Attrs attrs;
  attrs.depth = depth;
  attrs.dtype = dtype;
  return dispatch("one_hot", {indices.detach()}, shape, dtype, attrs);
}

}  // namespace pitfall
