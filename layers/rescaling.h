// keras.layers.Rescaling: inputs * scale + offset, in the compute dtype, in training and inference.
// Integer inputs (uint8 images) are cast as part of the layer's job, without the integer-input
// warning. scale and offset are numbers, or lists of numbers (one per channel, along the last axis).
#pragma once
#include <vector>

#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

class Rescaling : public Layer {
 public:
  Rescaling(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;
  bool takes_float_inputs() const override { return false; }  // integers are cast in call()

 private:
  std::vector<double> scale_, offset_;  // one value, or one per channel
};

}  // namespace pitfall
