#include "pitfall/layers/activity_regularization.h"

#include "pitfall/core/ops.h"
#include "pitfall/layers/regularizers.h"

namespace pitfall {

static const ArgumentTable& activity_regularization_arguments() {
  static const ArgumentTable table = layer_table(
      "ActivityRegularization", "keras/src/layers/regularization/activity_regularization.py",
      "Passes its input through and adds an L1/L2 penalty on it to the loss: (l1 * sum(|x|) + l2 * sum(x^2)) / "
      "batch size.",
      {Argument("l1", ArgKind::number, 0.0).checked(non_negative_number).described("the L1 factor"),
       Argument("l2", ArgKind::number, 0.0).checked(non_negative_number).described("the L2 factor")});
  return table;
}

PITFALL_REGISTER_LAYER(ActivityRegularization, activity_regularization_arguments());

ActivityRegularization::ActivityRegularization(const Arguments& arguments, const LayerOptions& options)
    : Layer("ActivityRegularization", options, arguments) {
  const double l1 = arguments.number("l1"), l2 = arguments.number("l2");
  if (l1 != 0.0 || l2 != 0.0) penalty_ = l1_l2_regularizer(l1, l2);
}

std::vector<Tensor> ActivityRegularization::call(const std::vector<Tensor>& inputs, bool) {
  const Tensor& x = inputs[0];
  if (penalty_) {
    Tensor loss = (*penalty_)(x);
    // keras/src/layers/layer.py: divided by the batch size (no division for a scalar output or an
    // empty batch, as divide_no_nan).
    if (x.ndim() > 0 && x.shape()[0] > 0) loss = divide(loss, static_cast<double>(x.shape()[0]));
    add_loss(loss);
  }
  return {x};
}

std::vector<Shape> ActivityRegularization::compute_output_shape(const std::vector<Shape>& input_shapes) {
  return input_shapes;
}

}  // namespace pitfall
