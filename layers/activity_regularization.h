// keras.layers.ActivityRegularization: passes its input through and adds the penalty
// (l1 * sum(|x|) + l2 * sum(x^2)) / batch_size to the layer's losses on every call, as Keras's
// activity_regularizer does (keras/src/layers/layer.py: the penalty is divided by the batch size).
#pragma once
#include <memory>

#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

class Regularizer;

class ActivityRegularization : public Layer {
 public:
  ActivityRegularization(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;

 private:
  std::shared_ptr<Regularizer> penalty_;  // null when l1 and l2 are both 0
};

}  // namespace pitfall
