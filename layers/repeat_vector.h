// keras.layers.RepeatVector: (batch, features) -> (batch, n, features), the input repeated n times.
#pragma once
#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

class RepeatVector : public Layer {
 public:
  RepeatVector(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  bool takes_float_inputs() const override { return false; }  // moves data of any dtype

 private:
  int64_t n_;
};

}  // namespace pitfall
