#include "pitfall/layers/flatten.h"

#include "pitfall/core/ops.h"
#include "pitfall/layers/builtin_layers.h"

namespace pitfall {

Flatten::Flatten(const LayerOptions& options) : Layer("Flatten", options) {}

std::vector<Tensor> Flatten::call(const std::vector<Tensor>& inputs, bool) {
  const Tensor& x = inputs[0];
  if (x.ndim() < 1) throw ShapeError("Flatten needs an input with a batch dimension, got a scalar");
  int64_t features = 1;
  for (int64_t i = 1; i < x.ndim(); ++i) features *= x.dim(i);
  // A rank-1 input (batch,) becomes (batch, 1), as in Keras.
  return {reshape(x, {x.dim(0), features})};
}

std::vector<Shape> Flatten::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.at(0);
  if (shape.empty()) throw ShapeError("Flatten needs an input with a batch dimension, got a scalar");
  int64_t features = 1;
  for (size_t i = 1; i < shape.size(); ++i) features = (shape[i] < 0 || features < 0) ? -1 : features * shape[i];
  return {{shape[0], features}};
}

Json Flatten::get_config() const {
  Json config = base_config();
  config["data_format"] = "channels_last";
  return config;
}

void register_flatten_layer() {
  register_layer_class("Flatten", [](const Json& config) -> std::shared_ptr<Layer> {
    const std::string format = config.get("data_format", "channels_last").as_string();
    if (format != "channels_last") {
      throw NotImplementedError("Flatten: only data_format='channels_last' is supported, got '" + format + "'");
    }
    return std::make_shared<Flatten>(layer_options_from_config(config));
  });
}

}  // namespace pitfall
