#include "pitfall/layers/dropout.h"

#include <cmath>

#include "pitfall/core/ops.h"
#include "pitfall/core/random.h"

namespace pitfall {

static const ArgumentTable& dropout_arguments() {
  static const ArgumentTable table = layer_table(
      "Dropout", "keras/src/layers/regularization/dropout.py",
      "Randomly sets inputs to 0 with frequency `rate` in training, scaling the rest by 1 / (1 - rate).",
      {Argument("rate", ArgKind::number).make_required().checked(unit_interval)
           .described("the fraction of the inputs to drop, between 0 and 1"),
       Argument("noise_shape", ArgKind::shape).allow_none()
           .described("the shape of the binary mask, broadcast over the input (None: the input's shape)"),
       Argument("seed", ArgKind::integer).allow_none().checked(non_negative_integer)
           .described("a fixed seed for this layer's masks (None: drawn from the global generator)")});
  return table;
}

PITFALL_REGISTER_LAYER(Dropout, dropout_arguments());

Dropout::Dropout(const Arguments& arguments, const LayerOptions& options) : Dropout("Dropout", arguments, options) {}

Dropout::Dropout(const std::string& class_name, const Arguments& arguments, const LayerOptions& options)
    : Layer(class_name, options, arguments), rate_(arguments.number("rate")) {
  if (arguments.table().find("noise_shape") && !arguments.is_none("noise_shape")) {
    noise_shape_ = Shape{};
    for (const Json& d : arguments.at("noise_shape").as_array()) noise_shape_->push_back(d.is_null() ? -1 : d.as_int());
  }
  if (!arguments.is_none("seed")) {
    seed_ = static_cast<uint64_t>(arguments.integer("seed"));
    set_seed(*seed_);
  }
}

namespace {
Arguments dropout_given(double rate, const std::optional<Shape>& noise_shape, std::optional<uint64_t> seed) {
  Json given = Json::object();
  given["rate"] = rate;
  if (noise_shape) {
    Json shape = Json::array();
    for (int64_t d : *noise_shape) shape.as_array().push_back(d < 0 ? Json() : Json(d));
    given["noise_shape"] = shape;
  }
  if (seed) given["seed"] = static_cast<int64_t>(*seed);
  return parse_arguments(dropout_arguments(), given);
}
}  // namespace

Dropout::Dropout(double rate, std::optional<Shape> noise_shape, std::optional<uint64_t> seed,
                 const LayerOptions& options)
    : Dropout(dropout_given(rate, noise_shape, seed), options) {}

std::vector<Tensor> Dropout::call(const std::vector<Tensor>& inputs, bool training) {
  const Tensor& x = inputs[0];
  if (!training || rate_ == 0.0) return {x};
  if (!is_floating(x.dtype())) {
    throw DTypeError("Dropout needs a floating input, got " + std::string(dtype_name(x.dtype())) +
                     "; cast the input first");
  }
  if (rate_ == 1.0) return {multiply(x, 0.0)};  // everything dropped; avoids x / 0
  const Shape mask = mask_shape(x.shape());
  const double keep = 1.0 - rate_;
  // A fresh key per training call: the masks differ from step to step but not between runs.
  // Drawn on the CPU (the same mask on every device), then moved to x's device.
  const Tensor kept = bernoulli(mask, keep, DType::bool_, next_random_key()).to(x.device());
  return {where(kept, divide(x, keep), Tensor::zeros({}, x.dtype()))};
}

Shape Dropout::mask_shape(const Shape& input_shape) const {
  Shape shape = input_shape;
  if (!noise_shape_) return shape;
  if (noise_shape_->size() != shape.size()) {
    throw ShapeError("Dropout: noise_shape " + shape_str(*noise_shape_) + " must have the input's rank " +
                     std::to_string(shape.size()) + " (input shape " + shape_str(input_shape) + ")");
  }
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t d = (*noise_shape_)[i];
    if (d >= 0) shape[i] = d;
  }
  return shape;
}

std::vector<Shape> Dropout::compute_output_shape(const std::vector<Shape>& input_shapes) { return input_shapes; }

}  // namespace pitfall
