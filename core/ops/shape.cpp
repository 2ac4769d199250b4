// Shape and indexing ops that move data: concatenate, stack, take, take_grad (take's adjoint),
// one_hot, take_along_axis (and its adjoint), tile, repeat, split, pad and slice_update. The pure
// views live in views.cpp.
#include <algorithm>
#include <limits>
#include <numeric>

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

Tensor one_hot(const Tensor& indices, int64_t depth, DType dtype, int64_t axis) {
  OpScope scope("one_hot");
  check_index_dtype("one_hot", indices);
  if (depth < 0) throw ValueError("one_hot: depth must be >= 0, got " + std::to_string(depth));
  const int64_t ndim = indices.ndim() + 1;
  if (axis < -ndim || axis >= ndim) {
    throw AxisError("one_hot: axis " + std::to_string(axis) + " is out of range for a result of rank " +
                    std::to_string(ndim) + " (indices " + describe(indices) + " plus the class axis)");
  }
  const int64_t a = normalize_axis(axis, ndim, "one_hot");
  Shape shape = indices.shape();
  shape.push_back(depth);
  Attrs attrs;
  attrs.depth = depth;
  attrs.dtype = dtype;
  const Tensor out = dispatch("one_hot", {indices.detach()}, shape, dtype, attrs);
  if (a == ndim - 1) return out;
  // The class axis moved to `axis` (a view).
  std::vector<int64_t> order(static_cast<size_t>(ndim - 1));
  std::iota(order.begin(), order.end(), int64_t{0});
  order.insert(order.begin() + a, ndim - 1);
  return transpose(out, order);
}

namespace {

// x and indices brought to one shape except along `axis`, where x keeps its size and indices
// theirs (np.take_along_axis broadcasting). Views; x's view records its gradient (a sum back).
std::pair<Tensor, Tensor> along_axis_operands(const Tensor& x, const Tensor& indices, int64_t axis) {
  Shape x_shape = x.shape(), index_shape = indices.shape();
  for (int64_t d = 0; d < x.ndim(); ++d) {
    if (d == axis || x_shape[d] == index_shape[d]) continue;
    if (x_shape[d] != 1 && index_shape[d] != 1) {
      throw ShapeError("take_along_axis: x " + describe(x) + " and indices " + describe(indices) +
                       " differ in axis " + std::to_string(d) + " (" + std::to_string(x_shape[d]) + " vs " +
                       std::to_string(index_shape[d]) +
                       "); outside `axis` their sizes must match or be 1 (broadcast)");
    }
    x_shape[d] = index_shape[d] = std::max(x_shape[d], index_shape[d]);
  }
  return {x_shape == x.shape() ? x : broadcast_to(x, x_shape),
          broadcast_to(indices.detach(), index_shape).contiguous()};
}

}  // namespace

Tensor take_along_axis(const Tensor& x, const Tensor& indices, int64_t axis) {
  OpScope scope("take_along_axis");
  check_index_dtype("take_along_axis", indices);
  if (x.ndim() == 0 || indices.ndim() != x.ndim()) {
    throw ShapeError("take_along_axis: indices " + describe(indices) + " must have the rank of x " + describe(x) +
                     " (at least 1); add size-1 axes to the indices, e.g. expand_dims(indices, axis)");
  }
  const int64_t a = normalize_axis(axis, x.ndim(), "take_along_axis");
  const auto [source, index] = along_axis_operands(x, indices, a);
  if (source.shape()[a] == 0 && index.numel() > 0) {
    throw IndexError("take_along_axis: cannot take from axis " + std::to_string(a) + " of size 0 in " + describe(x));
  }
  Attrs attrs;
  attrs.axis = a;
  Tensor out = dispatch("take_along_axis", {source, index}, index.shape(), x.dtype(), attrs);
  if (needs_record({source})) {
    record(out, "take_along_axis", {source, index}, [index, shape = source.shape(), a](const Tensor& g) {
      return std::vector<Tensor>{take_along_axis_grad(g, index, shape, a), Tensor()};
    });
  }
  return out;
}

Tensor take_along_axis_grad(const Tensor& grad, const Tensor& indices, const Shape& input_shape, int64_t axis) {
  OpScope scope("take_along_axis_grad");
  check_index_dtype("take_along_axis_grad", indices);
  detail::check_numeric("take_along_axis_grad", grad);
  const int64_t a = normalize_axis(axis, static_cast<int64_t>(input_shape.size()), "take_along_axis_grad");
  Shape expected = input_shape;
  expected[a] = indices.ndim() == static_cast<int64_t>(input_shape.size()) ? indices.shape()[a] : -1;
  if (grad.shape() != indices.shape() || indices.shape() != expected) {
    throw ShapeError("take_along_axis_grad: gradient " + describe(grad) + " and indices " + describe(indices) +
                     " must both have the input shape " + shape_str(input_shape) + " with axis " + std::to_string(a) +
                     " resized to the number of indices");
  }
  Attrs attrs;
  attrs.axis = a;
  Tensor out = dispatch("take_along_axis_grad", {grad, indices.detach()}, input_shape, grad.dtype(), attrs);
  if (needs_record({grad})) {
    record(out, "take_along_axis_grad", {grad, indices}, [indices = indices.detach(), a](const Tensor& g) {
      return std::vector<Tensor>{take_along_axis(g, indices, a), Tensor()};
    });
  }
  return out;
}

Tensor tile(const Tensor& x, const std::vector<int64_t>& repeats) {
  OpScope scope("tile");
  for (int64_t r : repeats) {
    if (r < 0) throw ValueError("tile: repeats must be >= 0, got " + std::to_string(r) + " in " + shape_str(repeats));
  }
  // np.tile: the shorter of x's shape and repeats is padded with leading 1s. Each axis d of size n
  // repeated r times is an (r, n) broadcast of a (1, n) view, packed once by the final reshape.
  const size_t rank = std::max(static_cast<size_t>(x.ndim()), repeats.size());
  Shape shape(rank - x.shape().size(), 1);
  shape.insert(shape.end(), x.shape().begin(), x.shape().end());
  std::vector<int64_t> reps(rank - repeats.size(), 1);
  reps.insert(reps.end(), repeats.begin(), repeats.end());
  Shape interleaved, broadcast, result;
  for (size_t d = 0; d < rank; ++d) {
    interleaved.insert(interleaved.end(), {1, shape[d]});
    broadcast.insert(broadcast.end(), {reps[d], shape[d]});
    result.push_back(reps[d] * shape[d]);
  }
  return reshape(broadcast_to(reshape(x, interleaved), broadcast), result);
}

Tensor repeat(const Tensor& x, int64_t repeats, int64_t axis) {
  OpScope scope("repeat");
  if (repeats < 0) throw ValueError("repeat: repeats must be >= 0, got " + std::to_string(repeats));
  const int64_t a = normalize_axis(axis, x.ndim(), "repeat");
  // Each element along `axis` followed by its copies: (..., n, 1, ...) broadcast to (..., n, r, ...).
  Shape expanded = x.shape();
  expanded.insert(expanded.begin() + a + 1, 1);
  Shape broadcast = expanded;
  broadcast[a + 1] = repeats;
  Shape result = x.shape();
  result[a] *= repeats;
  return reshape(broadcast_to(reshape(x, expanded), broadcast), result);
}

Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats, int64_t axis) {
  OpScope scope("repeat");
  const int64_t a = normalize_axis(axis, x.ndim(), "repeat");
  if (repeats.size() == 1) return repeat(x, repeats[0], a);
  if (static_cast<int64_t>(repeats.size()) != x.shape()[a]) {
    throw ValueError("repeat: " + std::to_string(repeats.size()) + " repeat counts for axis " + std::to_string(a) +
                     " of size " + std::to_string(x.shape()[a]) + " in " + describe(x) +
                     "; pass one count per element, or a single count");
  }
  std::vector<int64_t> index;
  for (size_t i = 0; i < repeats.size(); ++i) {
    if (repeats[i] < 0) throw ValueError("repeat: repeats must be >= 0, got " + std::to_string(repeats[i]));
    index.insert(index.end(), static_cast<size_t>(repeats[i]), static_cast<int64_t>(i));
  }
  return take(x, Tensor::from_vector(index, Shape{static_cast<int64_t>(index.size())}).to(x.device()), a);
}

namespace {

// The pieces of x between consecutive boundaries along `axis` (views).
std::vector<Tensor> split_at(const Tensor& x, const std::vector<int64_t>& boundaries, int64_t axis) {
  const int64_t n = x.ndim();
  std::vector<int64_t> begin(n, 0), end = x.shape(), step(n, 1);
  std::vector<Tensor> pieces;
  int64_t start = 0;
  for (size_t i = 0; i <= boundaries.size(); ++i) {
    const int64_t stop = i < boundaries.size() ? std::max(start, boundaries[i]) : x.shape()[axis];
    begin[axis] = start;
    end[axis] = stop;
    pieces.push_back(strided_slice(x, begin, end, step));
    // np.split: a boundary before the previous one gives an empty piece and restarts there.
    start = i < boundaries.size() ? boundaries[i] : stop;
  }
  return pieces;
}

}  // namespace

std::vector<Tensor> split(const Tensor& x, int64_t sections, int64_t axis) {
  OpScope scope("split");
  if (x.ndim() == 0) throw ShapeError("split: cannot split the scalar " + describe(x));
  const int64_t a = normalize_axis(axis, x.ndim(), "split");
  const int64_t dim = x.shape()[a];
  if (sections <= 0 || dim % sections != 0) {
    throw ValueError("split: axis " + std::to_string(a) + " of " + describe(x) + " (size " + std::to_string(dim) +
                     ") cannot be split into " + std::to_string(sections) +
                     " equal sections; pass a divisor of the size, or a list of split indices");
  }
  std::vector<int64_t> boundaries;
  for (int64_t s = 1; s < sections; ++s) boundaries.push_back(s * (dim / sections));
  return split_at(x, boundaries, a);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& indices, int64_t axis) {
  OpScope scope("split");
  if (x.ndim() == 0) throw ShapeError("split: cannot split the scalar " + describe(x));
  const int64_t a = normalize_axis(axis, x.ndim(), "split");
  const int64_t dim = x.shape()[a];
  std::vector<int64_t> boundaries;
  for (int64_t i : indices) boundaries.push_back(std::clamp(i < 0 ? i + dim : i, int64_t{0}, dim));  // slice rules
  return split_at(x, boundaries, a);
}

namespace {

// Source position of padded position p (p < 0: before the data) along an axis of size n, for the
// index-mapping modes. Valid for the widths pad() accepts (one reflection), where these agree with
// np.pad.
int64_t padded_source(int64_t p, int64_t n, const std::string& mode) {
  if (mode == "edge") return std::clamp(p, int64_t{0}, n - 1);
  if (mode == "wrap") return ((p % n) + n) % n;
  const int64_t period = mode == "reflect" ? 2 * (n - 1) : 2 * n;
  if (period == 0) return 0;  // reflect of a single element
  const int64_t m = ((p % period) + period) % period;
  if (m < n) return m;
  return mode == "reflect" ? period - m : period - 1 - m;
}

}  // namespace

Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pad_width, const std::string& mode,
           double constant_value) {
  OpScope scope("pad");
  const bool constant = mode == "constant";
  if (!constant && mode != "edge" && mode != "reflect" && mode != "symmetric" && mode != "wrap") {
    throw NotImplementedError("pad: mode '" + mode +
                              "' is not supported; use 'constant', 'edge', 'reflect', 'symmetric' or 'wrap'");
  }
  if (static_cast<int64_t>(pad_width.size()) != x.ndim()) {
    throw ValueError("pad: pad_width has " + std::to_string(pad_width.size()) + " (before, after) pairs for " +
                     describe(x) + "; give one pair per axis");
  }
  for (int64_t d = 0; d < x.ndim(); ++d) {
    const auto [before, after] = pad_width[d];
    const int64_t n = x.shape()[d];
    if (before < 0 || after < 0) {
      throw ValueError("pad: widths must be >= 0, got (" + std::to_string(before) + ", " + std::to_string(after) +
                       ") for axis " + std::to_string(d));
    }
    // One reflection at most, as tf.pad and torch's padding allow (np.pad would reflect the padded
    // values again, a different rule); edge needs a value to repeat.
    int64_t limit = std::numeric_limits<int64_t>::max();
    if (mode == "reflect") {
      limit = n - 1;
    } else if (mode == "symmetric" || mode == "wrap" || (mode == "edge" && n == 0)) {
      limit = n;
    }
    if (std::max(before, after) > 0 && std::max(before, after) > limit) {
      throw ValueError("pad: mode '" + mode + "' pads axis " + std::to_string(d) + " of size " + std::to_string(n) +
                       " by at most " + std::to_string(limit) + " on each side, got (" + std::to_string(before) +
                       ", " + std::to_string(after) + ")");
    }
  }
  if (!constant) {
    // Each padded axis gathers its source positions: the gradient adds up where positions repeat.
    Tensor out = x;
    for (int64_t d = 0; d < x.ndim(); ++d) {
      const auto [before, after] = pad_width[d];
      if (before == 0 && after == 0) continue;
      std::vector<int64_t> source;
      for (int64_t p = -before; p < x.shape()[d] + after; ++p) source.push_back(padded_source(p, x.shape()[d], mode));
      out = take(out, Tensor::from_vector(source, Shape{static_cast<int64_t>(source.size())}).to(x.device()), d);
    }
    return out;
  }
  // 0.5 does not fit an integer tensor, nor anything but 0 or 1 a bool one.
  if (x.dtype() != DType::bool_ || (constant_value != 0.0 && constant_value != 1.0)) {
    scalar_like(constant_value, x, "pad");
  }
  Shape shape = x.shape();
  std::vector<int64_t> begin, end, step(static_cast<size_t>(x.ndim()), 1);
  for (int64_t d = 0; d < x.ndim(); ++d) {
    begin.push_back(pad_width[d].first);
    end.push_back(pad_width[d].first + x.shape()[d]);
    shape[d] += pad_width[d].first + pad_width[d].second;
  }
  Tensor out = Tensor::full(shape, constant_value, x.dtype(), x.device());
  strided_slice(out, begin, end, step).assign(x.detach());
  if (needs_record({x})) {
    record(out, "pad", {x}, [begin, end, step](const Tensor& g) {
      return std::vector<Tensor>{strided_slice(g, begin, end, step).contiguous()};
    });
  }
  return out;
}

Tensor slice_update(const Tensor& x, const std::vector<int64_t>& start, const Tensor& updates) {
  OpScope scope("slice_update");
  detail::check_same_dtype("slice_update", x, updates);
  if (static_cast<int64_t>(start.size()) != x.ndim() || updates.ndim() != x.ndim()) {
    throw ShapeError("slice_update: inputs " + describe(x) + " need " + std::to_string(x.ndim()) +
                     " start indices and updates of the same rank, got " + std::to_string(start.size()) +
                     " start indices and updates " + describe(updates));
  }
  std::vector<int64_t> end(start.size()), step(start.size(), 1);
  for (int64_t d = 0; d < x.ndim(); ++d) {
    end[d] = start[d] + updates.shape()[d];
    if (start[d] < 0 || end[d] > x.shape()[d]) {
      throw IndexError("slice_update: updates " + describe(updates) + " at start " + shape_str(start) +
                       " do not fit inside inputs " + describe(x) + " along axis " + std::to_string(d) +
                       "; start must be in [0, " + std::to_string(x.shape()[d] - updates.shape()[d]) + "]");
    }
  }
  Tensor out = x.detach().clone();
  strided_slice(out, start, end, step).assign(updates.detach());
  if (needs_record({x, updates})) {
    record(out, "slice_update", {x, updates}, [start, end, step, shape = updates.shape()](const Tensor& g) {
      const Tensor cleared = slice_update(g, start, Tensor::zeros(shape, g.dtype(), g.device()));
      return std::vector<Tensor>{cleared, strided_slice(g, start, end, step).contiguous()};
    });
  }
  return out;
}

}  // namespace pitfall
