#include "pitfall/layers/gaussian_noise.h"

#include <cmath>

#include "pitfall/core/ops.h"
#include "pitfall/core/random.h"

namespace pitfall {

Tensor normal_noise_like(const Tensor& x, double mean, double stddev, RandomKey key) {
  return random_normal(x.shape(), mean, stddev, x.dtype(), key).to(x.device());
}

namespace {

Argument seed_argument() {
  return Argument("seed", ArgKind::integer).allow_none().checked(non_negative_integer)
      .described("a fixed seed for this layer's noise (None: drawn from the global generator)");
}

void check_floating(const Layer& layer, const Tensor& x) {
  if (!is_floating(x.dtype())) {
    throw DTypeError(layer.class_name() + " needs a floating input, got " + std::string(dtype_name(x.dtype())) +
                     "; cast the input first");
  }
}

}  // namespace

// ---------------------------------------------------------------- GaussianNoise

static const ArgumentTable& gaussian_noise_arguments() {
  static const ArgumentTable table = layer_table(
      "GaussianNoise", "keras/src/layers/regularization/gaussian_noise.py",
      "Adds zero-centered Gaussian noise in training (a regularizer; inference is the identity).",
      {Argument("stddev", ArgKind::number).make_required().checked(unit_interval)
           .described("the standard deviation of the noise, between 0 and 1 (Keras 3's range)"),
       seed_argument()});
  return table;
}

PITFALL_REGISTER_LAYER(GaussianNoise, gaussian_noise_arguments());

GaussianNoise::GaussianNoise(const Arguments& arguments, const LayerOptions& options)
    : Layer("GaussianNoise", options, arguments), stddev_(arguments.number("stddev")) {
  if (!arguments.is_none("seed")) set_seed(static_cast<uint64_t>(arguments.integer("seed")));
}

std::vector<Tensor> GaussianNoise::call(const std::vector<Tensor>& inputs, bool training) {
  const Tensor& x = inputs[0];
  if (!training || stddev_ == 0.0) return {x};
  check_floating(*this, x);
  return {add(x, normal_noise_like(x, 0.0, stddev_, next_random_key()))};
}

std::vector<Shape> GaussianNoise::compute_output_shape(const std::vector<Shape>& input_shapes) { return input_shapes; }

// ---------------------------------------------------------------- GaussianDropout

static const ArgumentTable& gaussian_dropout_arguments() {
  static const ArgumentTable table = layer_table(
      "GaussianDropout", "keras/src/layers/regularization/gaussian_dropout.py",
      "Multiplies by 1-centered Gaussian noise of variance rate / (1 - rate) in training (inference is the "
      "identity).",
      // Keras accepts rate=1 and then divides by zero in the first training call; pitfall refuses it here.
      {Argument("rate", ArgKind::number).make_required().checked(in_range(0.0, false, 1.0, true))
           .described("the drop probability, in [0, 1): the noise has standard deviation sqrt(rate / (1 - rate))"),
       seed_argument()});
  return table;
}

PITFALL_REGISTER_LAYER(GaussianDropout, gaussian_dropout_arguments());

GaussianDropout::GaussianDropout(const Arguments& arguments, const LayerOptions& options)
    : Layer("GaussianDropout", options, arguments), rate_(arguments.number("rate")) {
  if (!arguments.is_none("seed")) set_seed(static_cast<uint64_t>(arguments.integer("seed")));
}

std::vector<Tensor> GaussianDropout::call(const std::vector<Tensor>& inputs, bool training) {
  const Tensor& x = inputs[0];
  if (!training || rate_ == 0.0) return {x};
  check_floating(*this, x);
  return {multiply(x, normal_noise_like(x, 1.0, std::sqrt(rate_ / (1.0 - rate_)), next_random_key()))};
}

std::vector<Shape> GaussianDropout::compute_output_shape(const std::vector<Shape>& input_shapes) { return input_shapes; }

}  // namespace pitfall
