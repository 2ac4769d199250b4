// keras.layers.Reshape: (batch, ...) -> (batch, *target_shape); one -1 in target_shape is inferred.
#pragma once
#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

class Reshape : public Layer {
 public:
  Reshape(const Arguments& arguments, const LayerOptions& options = {});
  explicit Reshape(const Shape& target_shape, const LayerOptions& options = {});

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  bool takes_float_inputs() const override { return false; }  // moves data of any dtype

  const Shape& target_shape() const { return target_shape_; }

 private:
  // (batch, *target) with the -1 resolved from the input's non-batch size (-1 when unknown).
  Shape resolve(const Shape& input_shape) const;
  Shape target_shape_;
};

}  // namespace pitfall
