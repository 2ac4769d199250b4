// keras.layers.Conv2D: output = activation(conv2d(inputs, kernel) + bias) on NHWC (channels_last)
// inputs. kernel (kernel_h, kernel_w, in_channels / groups, filters), bias (filters,): Keras layouts.
// dilation_rate and groups rewrite the kernel for core's conv2d (layers/convolution.h); channels_last
// only.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pitfall/layers/activations.h"
#include "pitfall/layers/initializers.h"
#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"
#include "pitfall/layers/regularizers.h"

namespace pitfall {

// The C++ spelling of the arguments: anything left unset (empty) takes the table's default
// (the table in conv2d.cpp: Keras's values, the initializers from the conventions table).
struct Conv2DOptions {
  std::vector<int64_t> strides;        // one value = both axes
  std::optional<std::string> padding;  // "valid" or "same" (any case)
  std::optional<std::string> data_format;
  std::vector<int64_t> dilation_rate;
  std::optional<std::string> activation;
  std::optional<bool> use_bias;
  std::shared_ptr<Initializer> kernel_initializer;
  std::shared_ptr<Initializer> bias_initializer;
  std::shared_ptr<Regularizer> kernel_regularizer;
  std::shared_ptr<Regularizer> bias_regularizer;
  std::optional<Convention> convention;
};

class Conv2D : public Layer {
 public:
  Conv2D(const Arguments& arguments, const LayerOptions& options = {});
  // kernel_size: one value (square) or (height, width).
  Conv2D(int64_t filters, std::vector<int64_t> kernel_size, const Conv2DOptions& conv = {},
         const LayerOptions& options = {});
  Conv2D(int64_t filters, std::vector<int64_t> kernel_size, const std::string& activation,
         const LayerOptions& options = {});

  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;

  int64_t filters() const { return filters_; }
  const std::vector<int64_t>& kernel_size() const { return kernel_size_; }
  const std::vector<int64_t>& strides() const { return strides_; }
  const std::string& padding() const { return padding_; }
  const std::string& activation() const { return activation_name_; }
  const Tensor& kernel() const { return kernel_; }
  const Tensor& bias() const { return bias_; }  // undefined when use_bias is false

 private:
  int64_t filters_;
  std::vector<int64_t> kernel_size_, strides_;
  std::string padding_;
  bool use_bias_;
  std::string activation_name_;
  ActivationFn activation_;
  Tensor kernel_, bias_;
};

// The output length of one spatial axis for "valid", "same" or "causal" padding (TensorFlow's rule;
// "causal" pads window - 1 on the left, so it gives "same"'s length) with a window of `window`
// positions (a dilated kernel's extent); -1 stays -1.
int64_t conv_output_length(int64_t input_length, int64_t window, int64_t stride, const std::string& padding);

}  // namespace pitfall
