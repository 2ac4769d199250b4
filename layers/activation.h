// keras.layers.Activation: applies a named activation function; no weights.
#pragma once
#include <string>

#include "pitfall/layers/activations.h"
#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

class Activation : public Layer {
 public:
  bool supports_masking() const override { return true; }  // Keras: passes the input's mask on
  Activation(const Arguments& arguments, const LayerOptions& options = {});
  explicit Activation(const std::string& activation, const LayerOptions& options = {});

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;

  const std::string& activation() const { return activation_name_; }

 private:
  std::string activation_name_;
  ActivationFn activation_;
};

}  // namespace pitfall
