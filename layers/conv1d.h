// keras.layers.Conv1D: output = activation(conv1d(inputs, kernel) + bias) on (batch, steps, channels)
// inputs. kernel (kernel_size, channels / groups, filters), bias (filters,): Keras layouts. padding
// "valid", "same" or "causal" (zeros on the left only, so output step t sees inputs up to t).
// Runs as conv2d over a height of 1 (layers/convolution.h: dilation and groups rewrite the kernel).
#pragma once
#include "pitfall/layers/convolution.h"

namespace pitfall {

class Conv1D : public ConvolutionBase {
 public:
  Conv1D(const Arguments& arguments, const LayerOptions& options = {});

  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;

  int64_t filters() const { return filters_; }
  int64_t groups() const { return groups_; }
  const Tensor& kernel() const { return kernel_; }
  const Tensor& bias() const { return bias_; }  // undefined when use_bias is false

 private:
  int64_t filters_, groups_;
  Tensor kernel_, bias_;
};

}  // namespace pitfall
