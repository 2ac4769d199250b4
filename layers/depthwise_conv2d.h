// keras.layers.DepthwiseConv2D and keras.layers.SeparableConv2D on NHWC inputs.
//
// DepthwiseConv2D convolves each input channel with its own depth_multiplier filters: kernel
// (kernel_h, kernel_w, channels, depth_multiplier), bias (channels * depth_multiplier,); output
// channel c * depth_multiplier + m is channel c convolved with filter m. It runs as conv2d with the
// kernel spread block-diagonally (layers/convolution.h), one group per channel.
//
// SeparableConv2D is a depthwise convolution followed by a 1x1 convolution to `filters` channels:
// depthwise_kernel (kernel_h, kernel_w, channels, depth_multiplier), pointwise_kernel
// (1, 1, channels * depth_multiplier, filters), bias (filters,). Both maps are linear, so they run as
// one conv2d with the product kernel (kernel_h, kernel_w, channels, filters); values differ from the
// two-pass order only by rounding.
#pragma once
#include "pitfall/layers/convolution.h"

namespace pitfall {

class DepthwiseConv2D : public ConvolutionBase {
 public:
  DepthwiseConv2D(const Arguments& arguments, const LayerOptions& options = {});

  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;

  int64_t depth_multiplier() const { return depth_multiplier_; }
  const Tensor& kernel() const { return kernel_; }
  const Tensor& bias() const { return bias_; }  // undefined when use_bias is false

 private:
  int64_t depth_multiplier_;
  Tensor kernel_, bias_;
};

class SeparableConv2D : public ConvolutionBase {
 public:
  SeparableConv2D(const Arguments& arguments, const LayerOptions& options = {});

  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;

  int64_t filters() const { return filters_; }
  int64_t depth_multiplier() const { return depth_multiplier_; }
  const Tensor& depthwise_kernel() const { return depthwise_kernel_; }
  const Tensor& pointwise_kernel() const { return pointwise_kernel_; }
  const Tensor& bias() const { return bias_; }  // undefined when use_bias is false

 private:
  int64_t filters_, depth_multiplier_;
  Tensor depthwise_kernel_, pointwise_kernel_, bias_;
};

}  // namespace pitfall
