#include "pitfall/layers/dropout.h"

#include <cmath>

#include "pitfall/core/ops.h"
#include "pitfall/core/random.h"
#include "pitfall/layers/builtin_layers.h"

namespace pitfall {

Dropout::Dropout(double rate, std::optional<Shape> noise_shape, std::optional<uint64_t> seed,
                 const LayerOptions& options)
    : Layer("Dropout", options), rate_(rate), noise_shape_(std::move(noise_shape)), seed_(seed) {
  if (!(rate_ >= 0.0 && rate_ <= 1.0)) {
    throw ValueError("Dropout: `rate` must be a float between 0 and 1 (the fraction of inputs to drop), got rate=" +
                     std::to_string(rate_));
  }
  if (seed_) set_seed(*seed_);
}

std::vector<Tensor> Dropout::call(const std::vector<Tensor>& inputs, bool training) {
  const Tensor& x = inputs[0];
  if (!training || rate_ == 0.0) return {x};
  if (!is_floating(x.dtype())) {
    throw DTypeError("Dropout needs a floating input, got " + std::string(dtype_name(x.dtype())) +
                     "; cast the input first");
  }
  if (rate_ == 1.0) return {multiply(x, 0.0)};  // everything dropped; avoids x / 0
  Shape mask_shape = x.shape();
  if (noise_shape_) {
    if (noise_shape_->size() != mask_shape.size()) {
      throw ShapeError("Dropout: noise_shape " + shape_str(*noise_shape_) + " must have the input's rank " +
                       std::to_string(mask_shape.size()) + " (input shape " + shape_str(x.shape()) + ")");
    }
    for (size_t i = 0; i < mask_shape.size(); ++i) {
      const int64_t d = (*noise_shape_)[i];
      if (d >= 0) mask_shape[i] = d;
    }
  }
  const double keep = 1.0 - rate_;
  // A fresh key per training call: the masks differ from step to step but not between runs.
  // Drawn on the CPU (the same mask on every device), then moved to x's device.
  const Tensor mask = bernoulli(mask_shape, keep, DType::bool_, next_random_key()).to(x.device());
  return {where(mask, divide(x, keep), Tensor::zeros({}, x.dtype()))};
}

std::vector<Shape> Dropout::compute_output_shape(const std::vector<Shape>& input_shapes) { return input_shapes; }

Json Dropout::get_config() const {
  Json config = base_config();
  config["rate"] = rate_;
  if (noise_shape_) {
    Json shape = Json::array();
    for (int64_t d : *noise_shape_) shape.as_array().push_back(d < 0 ? Json() : Json(d));
    config["noise_shape"] = shape;
  } else {
    config["noise_shape"] = Json();
  }
  config["seed"] = seed_ ? Json(static_cast<int64_t>(*seed_)) : Json();
  return config;
}

void register_dropout_layer() {
  register_layer_class("Dropout", [](const Json& config) -> std::shared_ptr<Layer> {
    std::optional<Shape> noise_shape;
    const Json noise = config.get("noise_shape", Json());
    if (noise.is_array()) {
      noise_shape = Shape{};
      for (const auto& d : noise.as_array()) noise_shape->push_back(d.is_null() ? -1 : d.as_int());
    }
    const Json seed = config.get("seed", Json());
    return std::make_shared<Dropout>(config.at("rate").as_double(), noise_shape,
                                     seed.is_null() ? std::nullopt : std::optional<uint64_t>(seed.as_int()),
                                     layer_options_from_config(config));
  });
}

}  // namespace pitfall
