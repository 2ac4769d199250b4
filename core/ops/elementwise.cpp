// Front-ends of the elementwise ops: dtype rules, broadcasting, dispatch, backward.
//
// Backward closures capture detached inputs/outputs (a captured output that still pointed at its own
// node would form a reference cycle) and are built from other ops, so they run on any device.
#include <cmath>

#include "pitfall/core/dtype_rules.h"
#include "pitfall/core/ops/op_helpers.h"

namespace pitfall {

using detail::check_floating;
using detail::check_numeric;
using detail::check_same_dtype;
using detail::describe;

namespace {

// Validates and runs a same-dtype broadcasting binary op; the output has the operands' dtype
// unless `out_dtype` says otherwise (comparisons give bool).
Tensor run_binary(const char* op, const Tensor& a, const Tensor& b, DType out_dtype) {
  check_same_dtype(op, a, b);
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  return dispatch(op, {a, b}, shape, out_dtype);
}

Tensor run_unary(const char* op, const Tensor& x, const Attrs& attrs = Attrs()) {
  return dispatch(op, {x}, x.shape(), x.dtype(), attrs);
}

// A zero scalar in the dtype and device of `like` (the "else" branch of masked gradients).
Tensor zero_like(const Tensor& like) { return Tensor::full({}, 0.0, like.dtype(), like.device()); }

// `g` where `mask` holds, 0 elsewhere.
Tensor masked(const Tensor& mask, const Tensor& g) { return where(mask, g, zero_like(g)); }

// Comparisons: same dtype, bool result, never recorded. Ordering needs numbers; equality also
// accepts bool.
Tensor run_compare(const char* op, const Tensor& a, const Tensor& b, bool ordering) {
  if (auto promoted = promote_operands(a, b)) return run_compare(op, promoted->first, promoted->second, ordering);
  OpScope scope(op);
  if (ordering) check_numeric(op, a);
  return run_binary(op, a, b, DType::bool_);
}

}  // namespace

Tensor scalar_like(double value, const Tensor& like, const char* op) {
  if (!is_floating(like.dtype())) {
    if (like.dtype() == DType::bool_) {
      throw DTypeError(std::string(op) + ": a number cannot be combined with a bool tensor " + describe(like) +
                       "; cast the tensor first");
    }
    if (value != std::floor(value) || !std::isfinite(value)) {
      throw DTypeError(std::string(op) + ": the scalar " + std::to_string(value) + " is not an integer and the tensor " +
                       describe(like) + " is; cast the tensor to a floating dtype first");
    }
  }
  return Tensor::full({}, value, like.dtype(), like.device());
}

// ---------------------------------------------------------------------------------------------
// Binary arithmetic

Tensor add(const Tensor& a, const Tensor& b) {
  if (auto promoted = promote_operands(a, b)) return add(promoted->first, promoted->second);
  OpScope scope("add");
  check_numeric("add", a);
  Tensor out = run_binary("add", a, b, a.dtype());
  if (needs_record({a, b})) {
    record(out, "add", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g) {
      return std::vector<Tensor>{sum_to_shape(g, sa), sum_to_shape(g, sb)};
    });
  }
  return out;
}

Tensor subtract(const Tensor& a, const Tensor& b) {
  if (auto promoted = promote_operands(a, b)) return subtract(promoted->first, promoted->second);
  OpScope scope("subtract");
  check_numeric("subtract", a);
  Tensor out = run_binary("subtract", a, b, a.dtype());
  if (needs_record({a, b})) {
    record(out, "subtract", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g) {
      return std::vector<Tensor>{sum_to_shape(g, sa), sum_to_shape(negative(g), sb)};
    });
  }
  return out;
}

Tensor multiply(const Tensor& a, const Tensor& b) {
  if (auto promoted = promote_operands(a, b)) return multiply(promoted->first, promoted->second);
  OpScope scope("multiply");
  check_numeric("multiply", a);
  Tensor out = run_binary("multiply", a, b, a.dtype());
  if (needs_record({a, b})) {
    record(out, "multiply", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g) {
      return std::vector<Tensor>{sum_to_shape(multiply(g, b), a.shape()), sum_to_shape(multiply(g, a), b.shape())};
    });
  }
  return out;
}

Tensor divide(const Tensor& a, const Tensor& b) {
  if (auto promoted = promote_operands(a, b)) return divide(promoted->first, promoted->second);
  OpScope scope("divide");
  check_same_dtype("divide", a, b);
  check_floating("divide", a);
  Tensor out = run_binary("divide", a, b, a.dtype());
  if (needs_record({a, b})) {
    record(out, "divide", {a, b},
           [b = b.detach(), out = out.detach(), sa = a.shape(), need_b = b.requires_grad()](const Tensor& g) {
             const Tensor ga = divide(g, b);
             // d(a/b)/db = -(a/b)/b; reuses the output instead of squaring b.
             Tensor gb;
             if (need_b) gb = sum_to_shape(negative(multiply(ga, out)), b.shape());
             return std::vector<Tensor>{sum_to_shape(ga, sa), gb};
           });
  }
  return out;
}

Tensor power(const Tensor& a, const Tensor& b) {
  if (auto promoted = promote_operands(a, b)) return power(promoted->first, promoted->second);
  OpScope scope("power");
  check_same_dtype("power", a, b);
  check_floating("power", a);
  Tensor out = run_binary("power", a, b, a.dtype());
  if (needs_record({a, b})) {
    record(out, "power", {a, b},
           [a = a.detach(), b = b.detach(), out = out.detach(), need_a = a.requires_grad(),
            need_b = b.requires_grad()](const Tensor& g) {
             Tensor ga, gb;
             if (need_a) {
               // b * a^(b-1)
               const Tensor local = multiply(b, power(a, subtract(b, 1.0)));
               ga = sum_to_shape(multiply(g, local), a.shape());
             }
             if (need_b) {
               // a^b * log(a); taken as 0 where a == 0 (the limit for b > 0), as PyTorch does.
               const Tensor local = masked(not_equal(a, zero_like(a)), multiply(out, log(a)));
               gb = sum_to_shape(multiply(g, local), b.shape());
             }
             return std::vector<Tensor>{ga, gb};
           });
  }
  return out;
}

namespace {

// maximum / minimum: `a_wins` compares so that ties pick `a`, which then takes the whole gradient.
Tensor extremum(const char* op, const Tensor& a, const Tensor& b, Tensor (*a_wins)(const Tensor&, const Tensor&)) {
  if (auto promoted = promote_operands(a, b)) return extremum(op, promoted->first, promoted->second, a_wins);
  OpScope scope(op);
  check_numeric(op, a);
  Tensor out = run_binary(op, a, b, a.dtype());
  if (needs_record({a, b})) {
    record(out, op, {a, b}, [a = a.detach(), b = b.detach(), a_wins](const Tensor& g) {
      const Tensor mask = a_wins(a, b);
      const Tensor zero = zero_like(g);
      return std::vector<Tensor>{sum_to_shape(where(mask, g, zero), a.shape()),
                                 sum_to_shape(where(mask, zero, g), b.shape())};
    });
  }
  return out;
}

}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum("maximum", a, b, &greater_equal); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum("minimum", a, b, &less_equal); }

// Scalar operands take the tensor's dtype (scalar_like rejects a lossy conversion).
Tensor add(const Tensor& a, double b) { return add(a, scalar_like(b, a, "add")); }
Tensor subtract(const Tensor& a, double b) { return subtract(a, scalar_like(b, a, "subtract")); }
Tensor subtract(double a, const Tensor& b) { return subtract(scalar_like(a, b, "subtract"), b); }
Tensor multiply(const Tensor& a, double b) { return multiply(a, scalar_like(b, a, "multiply")); }
// Float-only ops check the tensor first so an integer tensor gets the "cast it" message rather
// than a complaint about the scalar.
Tensor divide(const Tensor& a, double b) {
  check_floating("divide", a);
  return divide(a, scalar_like(b, a, "divide"));
}
Tensor divide(double a, const Tensor& b) {
  check_floating("divide", b);
  return divide(scalar_like(a, b, "divide"), b);
}
Tensor power(const Tensor& a, double b) {
  check_floating("power", a);
  return power(a, scalar_like(b, a, "power"));
}

// ---------------------------------------------------------------------------------------------
// Comparisons and selection

Tensor equal(const Tensor& a, const Tensor& b) { return run_compare("equal", a, b, false); }
Tensor not_equal(const Tensor& a, const Tensor& b) { return run_compare("not_equal", a, b, false); }
Tensor less(const Tensor& a, const Tensor& b) { return run_compare("less", a, b, true); }
Tensor less_equal(const Tensor& a, const Tensor& b) { return run_compare("less_equal", a, b, true); }
Tensor greater(const Tensor& a, const Tensor& b) { return run_compare("greater", a, b, true); }
Tensor greater_equal(const Tensor& a, const Tensor& b) { return run_compare("greater_equal", a, b, true); }

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  OpScope scope("where");
  if (condition.dtype() != DType::bool_) {
    throw DTypeError("where: the condition must be bool, got " + describe(condition) +
                     "; build it with a comparison (e.g. greater(x, 0)) or cast(condition, 'bool')");
  }
  if (auto promoted = promote_operands(a, b)) return where(condition, promoted->first, promoted->second);
  check_same_dtype("where", a, b);
  const Shape shape = broadcast_shapes(broadcast_shapes(condition.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = dispatch("where", {condition, a, b}, shape, a.dtype());
  if (needs_record({a, b})) {
    record(out, "where", {condition, a, b},
           [condition = condition.detach(), sa = a.shape(), sb = b.shape()](const Tensor& g) {
             const Tensor zero = zero_like(g);
             return std::vector<Tensor>{Tensor(), sum_to_shape(where(condition, g, zero), sa),
                                        sum_to_shape(where(condition, zero, g), sb)};
           });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Unary

Tensor negative(const Tensor& x) {
  OpScope scope("negative");
  check_numeric("negative", x);
  Tensor out = run_unary("negative", x);
  if (needs_record({x})) {
    record(out, "negative", {x}, [](const Tensor& g) { return std::vector<Tensor>{negative(g)}; });
  }
  return out;
}

Tensor exp(const Tensor& x) {
  OpScope scope("exp");
  check_floating("exp", x);
  Tensor out = run_unary("exp", x);
  if (needs_record({x})) {
    record(out, "exp", {x}, [y = out.detach()](const Tensor& g) { return std::vector<Tensor>{multiply(g, y)}; });
  }
  return out;
}

Tensor log(const Tensor& x) {
  OpScope scope("log");
  check_floating("log", x);
  Tensor out = run_unary("log", x);
  if (needs_record({x})) {
    record(out, "log", {x}, [x = x.detach()](const Tensor& g) { return std::vector<Tensor>{divide(g, x)}; });
  }
  return out;
}

Tensor sqrt(const Tensor& x) {
  OpScope scope("sqrt");
  check_floating("sqrt", x);
  Tensor out = run_unary("sqrt", x);
  if (needs_record({x})) {
    record(out, "sqrt", {x}, [y = out.detach()](const Tensor& g) {
      return std::vector<Tensor>{divide(multiply(g, 0.5), y)};  // 1 / (2 sqrt(x))
    });
  }
  return out;
}

Tensor square(const Tensor& x) {
  OpScope scope("square");
  check_numeric("square", x);
  Tensor out = run_unary("square", x);
  if (needs_record({x})) {
    record(out, "square", {x}, [x = x.detach()](const Tensor& g) {
      return std::vector<Tensor>{multiply(g, multiply(x, 2.0))};
    });
  }
  return out;
}

Tensor abs(const Tensor& x) {
  OpScope scope("abs");
  check_numeric("abs", x);
  Tensor out = run_unary("abs", x);
  if (needs_record({x})) {
    record(out, "abs", {x}, [x = x.detach()](const Tensor& g) {
      // g * sign(x), with sign(0) = 0.
      const Tensor zero = zero_like(x);
      return std::vector<Tensor>{where(greater(x, zero), g, masked(less(x, zero), negative(g)))};
    });
  }
  return out;
}

Tensor tanh(const Tensor& x) {
  OpScope scope("tanh");
  check_floating("tanh", x);
  Tensor out = run_unary("tanh", x);
  if (needs_record({x})) {
    record(out, "tanh", {x}, [y = out.detach()](const Tensor& g) {
      return std::vector<Tensor>{multiply(g, subtract(1.0, square(y)))};
    });
  }
  return out;
}

Tensor sigmoid(const Tensor& x) {
  OpScope scope("sigmoid");
  check_floating("sigmoid", x);
  Tensor out = run_unary("sigmoid", x);
  if (needs_record({x})) {
    record(out, "sigmoid", {x}, [y = out.detach()](const Tensor& g) {
      return std::vector<Tensor>{multiply(g, multiply(y, subtract(1.0, y)))};
    });
  }
  return out;
}

Tensor relu(const Tensor& x) {
  OpScope scope("relu");
  check_numeric("relu", x);
  Tensor out = run_unary("relu", x);
  if (needs_record({x})) {
    record(out, "relu", {x}, [x = x.detach()](const Tensor& g) {
      return std::vector<Tensor>{relu_grad(g, x, /*overwrite_g=*/true)};  // 0 at 0
    });
  }
  return out;
}

Tensor relu_grad(const Tensor& g, const Tensor& x, bool overwrite_g) {
  OpScope scope("relu_grad");
  check_floating("relu_grad", g);
  if (g.shape() != x.shape()) {
    throw ShapeError("relu_grad: the gradient " + describe(g) + " and the relu input " + describe(x) +
                     " must have the same shape");
  }
  // One pass with no mask tensor; the same values as where(x > 0, g, 0).
  Tensor out;
  // Only a gradient without history is overwritten (its producer's backward might read it).
  if (overwrite_g && !g.requires_grad() && g.dtype() == x.dtype() && g.device() == x.device() &&
      detail::can_overwrite(g)) {
    out = dispatch("relu_grad", {g, x}, g.shape(), g.dtype(), Attrs(), /*overwrite_input=*/0);
  } else {
    out = run_binary("relu_grad", g, x, g.dtype());
  }
  if (needs_record({g})) {
    // Linear in g with the mask fixed; the mask is piecewise constant in x, so x gets no gradient.
    record(out, "relu_grad", {g}, [x = x.detach()](const Tensor& gg) { return std::vector<Tensor>{relu_grad(gg, x)}; });
  }
  return out;
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  OpScope scope("leaky_relu");
  check_floating("leaky_relu", x);
  if (!std::isfinite(negative_slope)) {
    throw ValueError("leaky_relu: negative_slope must be finite, got " + std::to_string(negative_slope));
  }
  Attrs attrs;
  attrs.activation.negative_slope = negative_slope;
  Tensor out = run_unary("leaky_relu", x, attrs);
  if (needs_record({x})) {
    record(out, "leaky_relu", {x}, [x = x.detach(), negative_slope](const Tensor& g) {
      return std::vector<Tensor>{where(greater(x, zero_like(x)), g, multiply(g, negative_slope))};
    });
  }
  return out;
}

Tensor elu(const Tensor& x, double alpha) {
  OpScope scope("elu");
  check_floating("elu", x);
  if (!std::isfinite(alpha)) throw ValueError("elu: alpha must be finite, got " + std::to_string(alpha));
  Attrs attrs;
  attrs.activation.alpha = alpha;
  Tensor out = run_unary("elu", x, attrs);
  if (needs_record({x})) {
    record(out, "elu", {x}, [x = x.detach(), y = out.detach(), alpha](const Tensor& g) {
      // x <= 0: d/dx alpha (e^x - 1) = alpha e^x = y + alpha.
      return std::vector<Tensor>{where(greater(x, zero_like(x)), g, multiply(g, add(y, alpha)))};
    });
  }
  return out;
}

Tensor gelu(const Tensor& x, bool approximate) {
  OpScope scope("gelu");
  check_floating("gelu", x);
  Attrs attrs;
  attrs.activation.approximate = approximate;
  Tensor out = run_unary("gelu", x, attrs);
  if (needs_record({x})) {
    // The derivative needs erf (exact form), which is not an op of its own, so it has a kernel:
    // "gelu_grad" computes g * gelu'(x) for either form.
    record(out, "gelu", {x}, [x = x.detach(), attrs](const Tensor& g) {
      return std::vector<Tensor>{dispatch("gelu_grad", {g, x}, x.shape(), x.dtype(), attrs)};
    });
  }
  return out;
}

Tensor clip(const Tensor& x, double min_value, double max_value) {
  OpScope scope("clip");
  check_numeric("clip", x);
  if (std::isnan(min_value) || std::isnan(max_value) || min_value > max_value) {
    throw ValueError("clip: min_value (" + std::to_string(min_value) + ") must not exceed max_value (" +
                     std::to_string(max_value) + ") and neither may be NaN; pass them in order");
  }
  if (!is_floating(x.dtype())) {
    for (double bound : {min_value, max_value}) {
      if (std::isfinite(bound) && bound != std::floor(bound)) {
        throw DTypeError("clip: the bound " + std::to_string(bound) + " is not an integer and the tensor " +
                         describe(x) + " is; round the bound or cast the tensor to a floating dtype first");
      }
    }
  }
  Attrs attrs;
  attrs.clip.min = min_value;
  attrs.clip.max = max_value;
  Tensor out = run_unary("clip", x, attrs);
  if (needs_record({x})) {
    record(out, "clip", {x}, [x = x.detach(), min_value, max_value](const Tensor& g) {
      // Bounds rounded to x's dtype, as the kernel compares them.
      const Tensor lo = Tensor::full({}, min_value, x.dtype(), x.device());
      const Tensor hi = Tensor::full({}, max_value, x.dtype(), x.device());
      return std::vector<Tensor>{masked(greater_equal(x, lo), masked(less_equal(x, hi), g))};
    });
  }
  return out;
}

Tensor sin(const Tensor& x) {
  OpScope scope("sin");
  check_floating("sin", x);
  Tensor out = run_unary("sin", x);
  if (needs_record({x})) {
    record(out, "sin", {x}, [x = x.detach()](const Tensor& g) { return std::vector<Tensor>{multiply(g, cos(x))}; });
  }
  return out;
}

Tensor cos(const Tensor& x) {
  OpScope scope("cos");
  check_floating("cos", x);
  Tensor out = run_unary("cos", x);
  if (needs_record({x})) {
    record(out, "cos", {x}, [x = x.detach()](const Tensor& g) {
      return std::vector<Tensor>{negative(multiply(g, sin(x)))};
    });
  }
  return out;
}

// Piecewise constant: their derivative is 0 wherever it exists, so they record nothing and the
// result carries no gradient (TensorFlow registers no gradient for them either).
Tensor floor(const Tensor& x) {
  OpScope scope("floor");
  check_floating("floor", x);
  return run_unary("floor", x.detach());
}

Tensor ceil(const Tensor& x) {
  OpScope scope("ceil");
  check_floating("ceil", x);
  return run_unary("ceil", x.detach());
}

Tensor round(const Tensor& x, int64_t decimals) {
  OpScope scope("round");
  check_numeric("round", x);
  if (!is_floating(x.dtype())) {
    // np.round of an integer tensor: the identity for decimals >= 0.
    if (decimals >= 0) return x.detach().clone();
    throw ValueError("round: decimals=" + std::to_string(decimals) + " on the integer tensor " + describe(x) +
                     " is not supported; cast it to a floating dtype first, or pass decimals >= 0");
  }
  Attrs attrs;
  attrs.decimals = decimals;
  return run_unary("round", x.detach(), attrs);
}

Tensor sign(const Tensor& x) {
  OpScope scope("sign");
  check_numeric("sign", x);
  return run_unary("sign", x.detach());
}

namespace {

Tensor run_logical(const char* op, const Tensor& a, const Tensor& b) {
  OpScope scope(op);
  const Tensor x = detail::truth_values(a), y = detail::truth_values(b);
  return dispatch(op, {x, y}, broadcast_shapes(x.shape(), y.shape(), op), DType::bool_);
}

}  // namespace

Tensor logical_and(const Tensor& a, const Tensor& b) { return run_logical("logical_and", a, b); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return run_logical("logical_or", a, b); }

Tensor logical_not(const Tensor& x) {
  OpScope scope("logical_not");
  return run_unary("logical_not", detail::truth_values(x));
}

// tf.math.divide_no_nan / keras.ops.divide_no_nan (keras/src/backend/jax/numpy.py): 0 where b == 0,
// a / b elsewhere. The divisor is replaced by 1 where it is 0 before dividing, so the unused
// quotient is finite and both gradients are exactly 0 there (not 0 * inf = NaN).
Tensor divide_no_nan(const Tensor& a, const Tensor& b) {
  if (auto promoted = promote_operands(a, b)) return divide_no_nan(promoted->first, promoted->second);
  OpScope scope("divide_no_nan");
  check_same_dtype("divide_no_nan", a, b);
  check_floating("divide_no_nan", a);
  const Tensor zero = zero_like(b);
  const Tensor is_zero = equal(b, zero);
  const Tensor safe = where(is_zero, Tensor::full({}, 1.0, b.dtype(), b.device()), b);
  return where(is_zero, zero, divide(a, safe));
}

Tensor cast(const Tensor& x, DType dtype) {
  OpScope scope("cast");
  Attrs attrs;
  attrs.dtype = dtype;
  Tensor out = dispatch("cast", {x}, x.shape(), dtype, attrs);
  // Gradients flow between floating dtypes only (an integer result has no gradient, as in TF).
  if (is_floating(x.dtype()) && is_floating(dtype) && needs_record({x})) {
    record(out, "cast", {x}, [from = x.dtype()](const Tensor& g) { return std::vector<Tensor>{cast(g, from)}; });
  }
  return out;
}

}  // namespace pitfall
