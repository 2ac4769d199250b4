#include "pitfall/layers/activation.h"

#include "pitfall/layers/builtin_layers.h"

namespace pitfall {

Activation::Activation(const std::string& activation, const LayerOptions& options)
    : Layer("Activation", options),
      activation_name_(canonical_activation_name(activation)),
      activation_(get_activation(activation_name_)) {}

std::vector<Tensor> Activation::call(const std::vector<Tensor>& inputs, bool) { return {apply_activation(activation_, activation_name_, inputs[0])}; }

std::vector<Shape> Activation::compute_output_shape(const std::vector<Shape>& input_shapes) { return input_shapes; }

std::vector<DType> Activation::compute_output_dtype(const std::vector<DType>&) const {
  return {activation_output_dtype(activation_name_, compute_dtype())};
}

Json Activation::get_config() const {
  Json config = base_config();
  config["activation"] = activation_name_;
  return config;
}

void register_activation_layer() {
  register_layer_class("Activation", [](const Json& config) -> std::shared_ptr<Layer> {
    return std::make_shared<Activation>(config.at("activation").as_string(), layer_options_from_config(config));
  });
}

}  // namespace pitfall
