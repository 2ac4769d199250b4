// keras.ops.nn functions composed from other ops: silu and the elementwise crossentropies that the
// Keras losses reduce (keras/src/backend/jax/nn.py binary_crossentropy, categorical_crossentropy,
// sparse_categorical_crossentropy).
#include "pitfall/core/ops/op_helpers.h"

namespace pitfall {

using detail::describe;

namespace {

// keras.backend.epsilon(): the probability clip of the crossentropies.
constexpr double kProbabilityEpsilon = 1e-7;

// The target in the output's dtype: integer and bool labels are cast (exact for class labels, as
// Keras's losses do); a floating target of another dtype is the usual dtype error.
Tensor target_like(const char* op, const Tensor& target, const Tensor& output) {
  detail::check_floating(op, output);
  if (is_floating(target.dtype())) {
    detail::check_same_dtype(op, target, output);
    return target;
  }
  return cast(target, output.dtype());
}

void check_same_shape(const char* op, const Tensor& target, const Tensor& output) {
  if (target.shape() != output.shape()) {
    throw ShapeError(std::string(op) + ": target " + describe(target) + " and output " + describe(output) +
                     " must have the same shape");
  }
}

// log of the probabilities along `axis`: log_softmax of logits, or of the output renormalized to sum
// to 1 and clipped to [eps, 1 - eps].
Tensor log_probabilities(const Tensor& output, bool from_logits, int64_t axis) {
  if (from_logits) return log_softmax(output, axis);
  const Tensor normalized = divide(output, sum(output, {axis}, true));
  return log(clip(normalized, kProbabilityEpsilon, 1.0 - kProbabilityEpsilon));
}

}  // namespace

Tensor silu(const Tensor& x) {
  OpScope scope("silu");
  return multiply(x, sigmoid(x));
}

Tensor binary_crossentropy(const Tensor& target, const Tensor& output, bool from_logits) {
  OpScope scope("binary_crossentropy");
  const Tensor labels = target_like("binary_crossentropy", target, output);
  check_same_shape("binary_crossentropy", labels, output);
  if (from_logits) {
    // tf.nn.sigmoid_cross_entropy_with_logits: max(x, 0) - x*y + log(1 + exp(-|x|)), with both
    // branches written as where(x >= 0, ...) so the gradient at x == 0 is sigmoid(0) - y.
    const Tensor zero = scalar_like(0.0, output, "binary_crossentropy");
    const Tensor nonnegative = greater_equal(output, zero);
    const Tensor relu_logits = where(nonnegative, output, zero);
    const Tensor neg_abs_logits = where(nonnegative, negative(output), output);
    return add(subtract(relu_logits, multiply(output, labels)), log(add(exp(neg_abs_logits), 1.0)));
  }
  // Clip to [eps, 1 - eps], then -(y log p + (1 - y) log(1 - p)). The clip zeroes the gradient of
  // saturated probabilities (pitfall P09).
  const Tensor p = clip(output, kProbabilityEpsilon, 1.0 - kProbabilityEpsilon);
  return negative(add(multiply(labels, log(p)), multiply(subtract(1.0, labels), log(subtract(1.0, p)))));
}

Tensor categorical_crossentropy(const Tensor& target, const Tensor& output, bool from_logits, int64_t axis) {
  OpScope scope("categorical_crossentropy");
  const Tensor labels = target_like("categorical_crossentropy", target, output);
  check_same_shape("categorical_crossentropy", labels, output);
  if (output.ndim() < 1) {
    throw ShapeError("categorical_crossentropy: target and output need a class axis, got " + describe(output));
  }
  const int64_t a = normalize_axis(axis, output.ndim(), "categorical_crossentropy");
  return negative(sum(multiply(labels, log_probabilities(output, from_logits, a)), {a}));
}

Tensor sparse_categorical_crossentropy(const Tensor& target, const Tensor& output, bool from_logits, int64_t axis) {
  OpScope scope("sparse_categorical_crossentropy");
  detail::check_floating("sparse_categorical_crossentropy", output);
  if (output.ndim() < 1) {
    throw ShapeError("sparse_categorical_crossentropy: output needs a class axis, got " + describe(output));
  }
  if (!is_integral(target.dtype())) {
    throw DTypeError("sparse_categorical_crossentropy: target must hold integer class indices, got " +
                     describe(target) + "; cast it first, e.g. cast(target, 'int32')");
  }
  const int64_t a = normalize_axis(axis, output.ndim(), "sparse_categorical_crossentropy");
  Shape batch = output.shape();
  batch.erase(batch.begin() + a);
  // Keras squeezes a trailing axis of 1 from labels of the output's rank.
  Tensor labels = target.ndim() == output.ndim() && target.ndim() > 0 && target.shape().back() == 1
                      ? squeeze(target, {-1})
                      : target;
  if (labels.shape() != batch) {
    throw ShapeError("sparse_categorical_crossentropy: target " + describe(target) + " does not fit output " +
                     describe(output) + "; expected one class index per position, shape " + shape_str(batch));
  }
  if (labels.dtype() != DType::int32 && labels.dtype() != DType::int64) labels = cast(labels, DType::int64);
  if (from_logits && a == output.ndim() - 1) return sparse_softmax_cross_entropy(output, labels);
  return categorical_crossentropy(one_hot(labels, output.shape()[a], output.dtype(), a), output, from_logits, a);
}

}  // namespace pitfall
