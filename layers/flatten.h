// keras.layers.Flatten: (batch, d1, d2, ...) -> (batch, d1*d2*...), channels_last order.
#pragma once
#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

class Flatten : public Layer {
 public:
  Flatten(const Arguments& arguments, const LayerOptions& options = {});
  explicit Flatten(const LayerOptions& options = {});

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  bool takes_float_inputs() const override { return false; }  // moves data of any dtype
};

}  // namespace pitfall
