// Front-ends of the reductions (sum, mean, max, min, var, standard_deviation, argmax, argmin, any,
// all) and of the normalizing activations (softmax, log_softmax), whose kernels reduce along one axis.
#include <algorithm>
#include <string_view>

#include "pitfall/core/ops/op_helpers.h"

namespace pitfall {

using detail::describe;

namespace {

// Output shape of reducing `axes` (sorted) of `shape`.
Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& axes, bool keepdims) {
  Shape out;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    if (std::binary_search(axes.begin(), axes.end(), i)) {
      if (keepdims) out.push_back(1);
    } else {
      out.push_back(shape[i]);
    }
  }
  return out;
}

// Shape of `shape` with the reduced axes kept as size 1 (how a reduction's output broadcasts back).
Shape kept_shape(const Shape& shape, const std::vector<int64_t>& axes) {
  Shape kept = shape;
  for (int64_t a : axes) kept[a] = 1;
  return kept;
}

int64_t reduced_count(const Shape& shape, const std::vector<int64_t>& axes) {
  int64_t count = 1;
  for (int64_t a : axes) count *= shape[a];
  return count;
}

// max / min / argmax have no identity: reducing an empty axis is an error, as in NumPy.
void check_nonempty(const char* op, const Tensor& x, const std::vector<int64_t>& axes) {
  for (int64_t a : axes) {
    if (x.shape()[a] == 0) {
      throw ValueError(std::string(op) + ": axis " + std::to_string(a) + " of " + describe(x) +
                       " has size 0 and the reduction has no identity; reduce a non-empty axis");
    }
  }
}

bool adjacent(const std::vector<int64_t>& axes) {
  return axes.empty() || axes.back() - axes.front() + 1 == static_cast<int64_t>(axes.size());
}

}  // namespace

// Runs a reduction kernel over `axes` (normalized, sorted). Non-adjacent axes are reduced one
// adjacent run at a time, last run first, which keeps the order fixed.
Tensor reduce_with_kernel(const char* op, const Tensor& x, const std::vector<int64_t>& axes, bool keepdims,
                          DType out_dtype) {
  if (axes.empty()) return x;
  if (!adjacent(axes) && std::string_view(op) == "sum" &&
      is_reduced_float(out_dtype)) {
    // Two passes would round the partial sums to the 11/8-bit format in between (a second rounding,
    // with the partials' magnitude: large under cancellation). Moving the reduced axes to the end
    // (the dispatcher packs the view) lets one kernel pass accumulate everything and round once.
    std::vector<int64_t> order;
    for (int64_t i = 0; i < x.ndim(); ++i) {
      if (!std::binary_search(axes.begin(), axes.end(), i)) order.push_back(i);
    }
    const int64_t kept = static_cast<int64_t>(order.size());
    order.insert(order.end(), axes.begin(), axes.end());
    std::vector<int64_t> trailing(axes.size());
    for (size_t i = 0; i < axes.size(); ++i) trailing[i] = kept + static_cast<int64_t>(i);
    const Tensor once = reduce_with_kernel(op, transpose(x.detach(), order), trailing, false, out_dtype);
    return keepdims ? reshape(once, reduced_shape(x.shape(), axes, true)) : once;
  }
  if (!adjacent(axes)) {
    std::vector<int64_t> last_run{axes.back()};
    for (size_t i = axes.size() - 1; i-- > 0 && axes[i] == last_run.front() - 1;) last_run.insert(last_run.begin(), axes[i]);
    const Tensor partial = reduce_with_kernel(op, x, last_run, true, out_dtype);
    std::vector<int64_t> rest(axes.begin(), axes.end() - static_cast<std::ptrdiff_t>(last_run.size()));
    const Tensor full = reduce_with_kernel(op, partial, rest, true, out_dtype);
    return keepdims ? full : reshape(full, reduced_shape(x.shape(), axes, false));
  }
  Attrs attrs;
  attrs.axes = axes;
  attrs.keepdims = keepdims;
  return dispatch(op, {x}, reduced_shape(x.shape(), axes, keepdims), out_dtype, attrs);
}

Tensor sum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  OpScope scope("sum");
  detail::check_numeric("sum", x);
  const auto norm = normalize_axes(axes, x.ndim(), "sum");
  Tensor out = reduce_with_kernel("sum", x, norm, keepdims, x.dtype());
  if (norm.empty()) out = x.clone();
  if (needs_record({x})) {
    record(out, "sum", {x}, [shape = x.shape(), norm](const Tensor& g) {
      return std::vector<Tensor>{broadcast_to(reshape(g, kept_shape(shape, norm)), shape).contiguous()};
    });
  }
  return out;
}

// Composite: sum / count, so its gradient comes by composition.
Tensor mean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  OpScope scope("mean");
  detail::check_floating("mean", x);
  const auto norm = normalize_axes(axes, x.ndim(), "mean");
  if (is_reduced_float(x.dtype())) {
    // In the format itself the sum overflows (float16 tops out at 65504: the mean of 1000 values of
    // 100 would be inf) and the count rounds (integers are exact only up to 2048 in float16, 256 in
    // bfloat16; 70000 is inf in float16). Sum and divide in float32 and round once, as PyTorch and
    // JAX do for half-precision means.
    return cast(mean(cast(x, DType::float32), norm, keepdims), x.dtype());
  }
  return divide(sum(x, norm, keepdims), static_cast<double>(reduced_count(x.shape(), norm)));
}

namespace {

// max and min: the gradient goes to the elements equal to the result, shared equally among ties
// (TensorFlow's rule), so it stays a valid subgradient and sums to the incoming gradient.
Tensor extreme(const char* op, const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  OpScope scope(op);
  detail::check_numeric(op, x);
  const auto norm = normalize_axes(axes, x.ndim(), op);
  check_nonempty(op, x, norm);
  Tensor out = norm.empty() ? x.clone() : reduce_with_kernel(op, x, norm, keepdims, x.dtype());
  if (needs_record({x})) {
    record(out, op, {x}, [x = x.detach(), y = out.detach(), norm](const Tensor& g) {
      const Shape kept = kept_shape(x.shape(), norm);
      const Tensor mask = cast(equal(x, reshape(y, kept)), x.dtype());
      const Tensor ties = sum(mask, norm, true);
      return std::vector<Tensor>{multiply(mask, divide(reshape(g, kept), ties))};
    });
  }
  return out;
}

}  // namespace

Tensor max(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  return extreme("max", x, axes, keepdims);
}

Tensor min(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  return extreme("min", x, axes, keepdims);
}

// Population variance (ddof 0), composed as mean((x - mean(x))^2): two passes, so it does not
// cancel catastrophically the way E[x^2] - E[x]^2 does for data with a large mean.
Tensor var(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  OpScope scope("var");
  detail::check_floating("var", x);
  const auto norm = normalize_axes(axes, x.ndim(), "var");
  const Tensor centered = subtract(x, mean(x, norm, true));
  return mean(multiply(centered, centered), norm, keepdims);
}

// Standard deviation (ddof 0) as sqrt(var): keras/src/backend/numpy/numpy.py std is np.std.
Tensor standard_deviation(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  OpScope scope("standard_deviation");
  detail::check_floating("std", x);
  return sqrt(var(x, axes, keepdims));
}

namespace {

Tensor arg_extreme(const char* op, const Tensor& x, int64_t axis, bool keepdims) {
  OpScope scope(op);
  if (x.ndim() == 0) return Tensor::zeros({}, DType::int64, x.device());  // np.argmax of a scalar
  const int64_t a = normalize_axis(axis, x.ndim(), op);
  check_nonempty(op, x, {a});
  return reduce_with_kernel(op, x.detach(), {a}, keepdims, DType::int64);
}

Tensor logical_reduction(const char* op, const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  OpScope scope(op);
  const Tensor truth = detail::truth_values(x);
  const auto norm = normalize_axes(axes, x.ndim(), op);
  if (norm.empty()) return truth.clone();
  return reduce_with_kernel(op, truth, norm, keepdims, DType::bool_);
}

}  // namespace

Tensor argmax(const Tensor& x, int64_t axis, bool keepdims) { return arg_extreme("argmax", x, axis, keepdims); }
Tensor argmin(const Tensor& x, int64_t axis, bool keepdims) { return arg_extreme("argmin", x, axis, keepdims); }

Tensor any(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  return logical_reduction("any", x, axes, keepdims);
}

Tensor all(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims) {
  return logical_reduction("all", x, axes, keepdims);
}

namespace {

Tensor run_softmax(const char* op, const Tensor& x, int64_t axis) {
  detail::check_floating(op, x);
  Attrs attrs;
  attrs.axes = {normalize_axis(axis, x.ndim(), op)};
  return dispatch(op, {x}, x.shape(), x.dtype(), attrs);
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t axis) {
  OpScope scope("softmax");
  Tensor out = run_softmax("softmax", x, axis);
  if (needs_record({x})) {
    const int64_t a = normalize_axis(axis, x.ndim(), "softmax");
    record(out, "softmax", {x}, [y = out.detach(), a](const Tensor& g) {
      // dx = y * (g - sum(g * y, axis))
      return std::vector<Tensor>{multiply(y, subtract(g, sum(multiply(g, y), {a}, true)))};
    });
  }
  return out;
}

Tensor log_softmax(const Tensor& x, int64_t axis) {
  OpScope scope("log_softmax");
  Tensor out = run_softmax("log_softmax", x, axis);
  if (needs_record({x})) {
    const int64_t a = normalize_axis(axis, x.ndim(), "log_softmax");
    record(out, "log_softmax", {x}, [y = out.detach(), a](const Tensor& g) {
      // dx = g - softmax(x) * sum(g, axis), with softmax(x) = exp(y)
      return std::vector<Tensor>{subtract(g, multiply(exp(y), sum(g, {a}, true)))};
    });
  }
  return out;
}

Tensor sparse_softmax_cross_entropy(const Tensor& logits, const Tensor& labels) {
  OpScope scope("sparse_softmax_cross_entropy");
  detail::check_floating("sparse_softmax_cross_entropy", logits);
  if (logits.ndim() < 1 || logits.shape().back() < 1) {
    throw ShapeError("sparse_softmax_cross_entropy: logits need a class axis of size >= 1, got " + describe(logits));
  }
  if (labels.dtype() != DType::int32 && labels.dtype() != DType::int64) {
    throw DTypeError("sparse_softmax_cross_entropy: labels must be int32 or int64 class indices, got " +
                     describe(labels) + "; cast them first, e.g. cast(labels, 'int64')");
  }
  const Shape batch(logits.shape().begin(), logits.shape().end() - 1);
  if (labels.shape() != batch) {
    throw ShapeError("sparse_softmax_cross_entropy: labels " + describe(labels) + " do not fit logits " +
                     describe(logits) + "; expected one label per row, shape " + shape_str(batch));
  }
  const Tensor x = logits.contiguous();
  const Tensor y = labels.detach().contiguous();
  Tensor out = dispatch("sparse_softmax_cross_entropy", {x, y}, batch, logits.dtype());
  if (needs_record({logits})) {
    record(out, "sparse_softmax_cross_entropy", {logits, labels}, [x = x.detach(), y](const Tensor& g) {
      return std::vector<Tensor>{
          dispatch("sparse_softmax_cross_entropy_grad", {x, y, g.contiguous()}, x.shape(), x.dtype()), Tensor()};
    });
  }
  return out;
}

}  // namespace pitfall
