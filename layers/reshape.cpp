#include "pitfall/layers/reshape.h"

#include "pitfall/core/ops.h"
#include "pitfall/layers/builtin_layers.h"

namespace pitfall {

Reshape::Reshape(const Shape& target_shape, const LayerOptions& options)
    : Layer("Reshape", options), target_shape_(target_shape) {
  int unknown = 0;
  for (int64_t d : target_shape_) {
    if (d == -1) ++unknown;
    if (d == 0 || d < -1) {
      throw ValueError("Reshape: target_shape dimensions must be positive or -1, got target_shape=" +
                       shape_str(target_shape_));
    }
  }
  if (unknown > 1) {
    throw ValueError("Reshape: at most one -1 is allowed in target_shape, got target_shape=" +
                     shape_str(target_shape_));
  }
}

Shape Reshape::resolve(const Shape& input_shape) const {
  if (input_shape.empty()) throw ShapeError("Reshape needs an input with a batch dimension, got a scalar");
  int64_t input_size = 1;
  for (size_t i = 1; i < input_shape.size(); ++i) input_size = input_shape[i] < 0 ? -1 : input_size * input_shape[i];
  int64_t known = 1;
  int64_t unknown_axis = -1;
  for (size_t i = 0; i < target_shape_.size(); ++i) {
    if (target_shape_[i] == -1) {
      unknown_axis = static_cast<int64_t>(i);
    } else {
      known *= target_shape_[i];
    }
  }
  Shape out{input_shape[0]};
  out.insert(out.end(), target_shape_.begin(), target_shape_.end());
  if (input_size < 0) return out;  // the -1 stays unknown
  const bool fits = unknown_axis >= 0 ? input_size % known == 0 : input_size == known;
  if (!fits) {
    throw ShapeError("Reshape: cannot reshape an input of shape " + shape_str(input_shape) + " (" +
                     std::to_string(input_size) + " values per sample) to target_shape " + shape_str(target_shape_) +
                     "; the total size per sample must stay " + std::to_string(input_size));
  }
  if (unknown_axis >= 0) out[unknown_axis + 1] = input_size / known;
  return out;
}

std::vector<Tensor> Reshape::call(const std::vector<Tensor>& inputs, bool) {
  return {reshape(inputs[0], resolve(inputs[0].shape()))};
}

std::vector<Shape> Reshape::compute_output_shape(const std::vector<Shape>& input_shapes) {
  return {resolve(input_shapes.at(0))};
}

Json Reshape::get_config() const {
  Json config = base_config();
  config["target_shape"] = Json::from_vector(target_shape_);
  return config;
}

void register_reshape_layer() {
  register_layer_class("Reshape", [](const Json& config) -> std::shared_ptr<Layer> {
    return std::make_shared<Reshape>(config.at("target_shape").as_int_vector(), layer_options_from_config(config));
  });
}

}  // namespace pitfall
