#include "pitfall/layers/repeat_vector.h"

#include "pitfall/core/ops.h"
#include "pitfall/layers/spatial_arguments.h"

namespace pitfall {

static const ArgumentTable& repeat_vector_arguments() {
  static const ArgumentTable table = layer_table(
      "RepeatVector", "keras/src/layers/reshaping/repeat_vector.py", "Repeats the input n times: (batch, features) -> "
      "(batch, n, features).",
      {Argument("n", ArgKind::integer).make_required().checked(positive_integer).described("the repetition factor")});
  return table;
}

PITFALL_REGISTER_LAYER(RepeatVector, repeat_vector_arguments());

RepeatVector::RepeatVector(const Arguments& arguments, const LayerOptions& options)
    : Layer("RepeatVector", options, arguments), n_(arguments.integer("n")) {}

std::vector<Tensor> RepeatVector::call(const std::vector<Tensor>& inputs, bool) {
  const Tensor& x = inputs[0];
  check_input_rank(class_name(), x.shape(), 2, "(batch, features)");
  // A copy rather than a broadcast view: the output is an ordinary packed tensor.
  return {reshape(broadcast_to(expand_dims(x, 1), {x.shape()[0], n_, x.shape()[1]}), {x.shape()[0], n_, x.shape()[1]})};
}

std::vector<Shape> RepeatVector::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& in = input_shapes.at(0);
  check_input_rank(describe(), in, 2, "(batch, features)");
  return {{in[0], n_, in[1]}};
}

}  // namespace pitfall
