// Front-ends of the scans (cumsum, cumprod) and of the sorting ops (argsort, sort, top_k), whose
// kernels walk one axis (core/cpu/scan_kernels.cpp).
#include "pitfall/core/ops/op_helpers.h"

namespace pitfall {

using detail::describe;

namespace {

// x reversed along `axis` (a view with a negative stride).
Tensor flip(const Tensor& x, int64_t axis) {
  std::vector<int64_t> begin(static_cast<size_t>(x.ndim()), 0), end = x.shape(), step(static_cast<size_t>(x.ndim()), 1);
  begin[axis] = x.shape()[axis] - 1;
  end[axis] = -1;
  step[axis] = -1;
  return strided_slice(x, begin, end, step);
}

// The normalized axis whose lines a scan or sort walks; a scalar has none.
int64_t line_axis(const char* op, const Tensor& x, int64_t axis) {
  if (x.ndim() == 0) {
    throw AxisError(std::string(op) + ": the scalar " + describe(x) + " has no axis " + std::to_string(axis) +
                    "; reshape it to 1-D first (keras.ops." + op + " with axis=None flattens)");
  }
  return normalize_axis(axis, x.ndim(), op);
}

Tensor run_scan(const char* op, const Tensor& x, int64_t axis) {
  detail::check_numeric(op, x);
  Attrs attrs;
  attrs.axis = axis;
  return dispatch(op, {x}, x.shape(), x.dtype(), attrs);
}

}  // namespace

Tensor cumsum(const Tensor& x, int64_t axis) {
  OpScope scope("cumsum");
  const int64_t a = line_axis("cumsum", x, axis);
  Tensor out = run_scan("cumsum", x, a);
  if (needs_record({x})) {
    // Each x_i reaches every y_j with j >= i: the gradient is the reversed cumulative sum of g.
    record(out, "cumsum", {x}, [a](const Tensor& g) { return std::vector<Tensor>{flip(cumsum(flip(g, a), a), a)}; });
  }
  return out;
}

Tensor cumprod(const Tensor& x, int64_t axis) {
  OpScope scope("cumprod");
  const int64_t a = line_axis("cumprod", x, axis);
  Tensor out = run_scan("cumprod", x, a);
  if (needs_record({x})) {
    // A kernel of its own: exact where x has zeros (no division by x), first order only.
    record(out, "cumprod", {x}, [x = x.detach(), a](const Tensor& g) {
      Attrs attrs;
      attrs.axis = a;
      return std::vector<Tensor>{dispatch("cumprod_grad", {x, g}, x.shape(), x.dtype(), attrs)};
    });
  }
  return out;
}

namespace {

// The first `k` positions of each line along `axis` in sorted order (int64).
Tensor sorted_positions(const Tensor& x, int64_t axis, bool descending, int64_t k) {
  Attrs attrs;
  attrs.axis = axis;
  attrs.descending = descending;
  attrs.depth = k;
  Shape shape = x.shape();
  shape[axis] = k;
  return dispatch("argsort", {x.detach()}, shape, DType::int64, attrs);
}

}  // namespace

Tensor argsort(const Tensor& x, int64_t axis, bool descending) {
  OpScope scope("argsort");
  const int64_t a = line_axis("argsort", x, axis);
  return sorted_positions(x, a, descending, x.shape()[a]);
}

Tensor sort(const Tensor& x, int64_t axis) {
  OpScope scope("sort");
  const int64_t a = line_axis("sort", x, axis);
  return take_along_axis(x, sorted_positions(x, a, false, x.shape()[a]), a);
}

std::pair<Tensor, Tensor> top_k(const Tensor& x, int64_t k) {
  OpScope scope("top_k");
  const int64_t a = line_axis("top_k", x, -1);
  if (k < 0 || k > x.shape()[a]) {
    throw ValueError("top_k: k=" + std::to_string(k) + " is outside [0, " + std::to_string(x.shape()[a]) +
                     "] for " + describe(x) + " (k counts entries of the last axis)");
  }
  const Tensor indices = sorted_positions(x, a, true, k);
  return {take_along_axis(x, indices, a), indices};
}

}  // namespace pitfall
