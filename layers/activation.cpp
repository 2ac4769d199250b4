#include "pitfall/layers/activation.h"


namespace pitfall {

static const ArgumentTable& activation_arguments() {
  static const ArgumentTable table = layer_table(
      "Activation", "keras/src/layers/activations/activation.py", "Applies an activation function to an output.",
      {activation_argument("activation", Json(), "activation function, by name").make_required()});
  return table;
}

PITFALL_REGISTER_LAYER(Activation, activation_arguments());

Activation::Activation(const Arguments& arguments, const LayerOptions& options)
    : Layer("Activation", options, arguments),
      activation_name_(arguments.text("activation")),
      activation_(get_activation(activation_name_)) {}

Activation::Activation(const std::string& activation, const LayerOptions& options)
    : Activation(parse_arguments(activation_arguments(), Json(Json::Object{{"activation", activation}})), options) {}

std::vector<Tensor> Activation::call(const std::vector<Tensor>& inputs, bool) { return {apply_activation(activation_, activation_name_, inputs[0])}; }

std::vector<Shape> Activation::compute_output_shape(const std::vector<Shape>& input_shapes) { return input_shapes; }

std::vector<DType> Activation::compute_output_dtype(const std::vector<DType>&) const {
  return {activation_output_dtype(activation_name_, compute_dtype())};
}

}  // namespace pitfall
