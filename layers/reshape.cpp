#include "pitfall/layers/reshape.h"

#include "pitfall/core/ops.h"

namespace pitfall {

static const ArgumentTable& reshape_arguments() {
  static const ArgumentTable table = layer_table(
      "Reshape", "keras/src/layers/reshaping/reshape.py",
      "Reshapes the input to (batch, *target_shape); one -1 in target_shape is inferred.",
      {Argument("target_shape", ArgKind::shape).make_required()
           .checked([](const Json& value) -> std::string {
             int unknown = 0;
             for (const Json& d : value.as_array()) {
               const int64_t v = d.is_null() ? -1 : d.as_int();
               if (v == 0 || v < -1) return "a tuple of positive sizes (one of them may be -1)";
               unknown += v == -1;
             }
             return unknown > 1 ? "a tuple with at most one -1 (the size to infer)" : "";
           })
           .normalized([](const Json& value) {
             Json out = Json::array();  // None (an unknown size) is stored as -1, as Keras does
             for (const Json& d : value.as_array()) out.as_array().push_back(Json(d.is_null() ? int64_t{-1} : d.as_int()));
             return out;
           })
           .described("the output shape without the batch axis; -1 once for a size to infer")});
  return table;
}

PITFALL_REGISTER_LAYER(Reshape, reshape_arguments());

Reshape::Reshape(const Arguments& arguments, const LayerOptions& options)
    : Layer("Reshape", options, arguments), target_shape_(arguments.ints("target_shape")) {}

Reshape::Reshape(const Shape& target_shape, const LayerOptions& options)
    : Reshape(parse_arguments(reshape_arguments(), Json(Json::Object{{"target_shape", Json::from_vector(target_shape)}})),
              options) {}

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

}  // namespace pitfall
