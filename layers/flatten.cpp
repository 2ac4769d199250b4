#include "pitfall/layers/flatten.h"

#include "pitfall/core/ops.h"

namespace pitfall {

static const ArgumentTable& flatten_arguments() {
  static const ArgumentTable table =
      layer_table("Flatten", "keras/src/layers/reshaping/flatten.py",
                  "Flattens the input, keeping the batch axis: (batch, d1, d2, ...) -> (batch, d1*d2*...).",
                  {data_format_argument()});
  return table;
}

PITFALL_REGISTER_LAYER(Flatten, flatten_arguments());

Flatten::Flatten(const Arguments& arguments, const LayerOptions& options) : Layer("Flatten", options, arguments) {}

Flatten::Flatten(const LayerOptions& options) : Flatten(parse_arguments(flatten_arguments(), Json::object()), options) {}

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

}  // namespace pitfall
