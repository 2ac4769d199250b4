// keras.layers.Conv2D: output = activation(conv2d(inputs, kernel) + bias) on NHWC (channels_last)
// inputs. kernel (kernel_h, kernel_w, in_channels, filters), bias (filters,): Keras layouts.
// Dilation 1 and channels_last only: other values raise NotImplementedError naming the fix.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "pitfall/layers/activations.h"
#include "pitfall/layers/initializers.h"
#include "pitfall/layers/layer.h"
#include "pitfall/layers/regularizers.h"

namespace pitfall {

struct Conv2DOptions {
  std::vector<int64_t> strides = {1, 1};  // one value = both axes
  std::string padding = "valid";          // "valid" or "same" (any case)
  std::string data_format = "channels_last";
  std::vector<int64_t> dilation_rate = {1, 1};
  std::string activation = "linear";
  bool use_bias = true;
  std::shared_ptr<Initializer> kernel_initializer;  // null = glorot_uniform (Keras default)
  std::shared_ptr<Initializer> bias_initializer;    // null = zeros
  std::shared_ptr<Regularizer> kernel_regularizer;
  std::shared_ptr<Regularizer> bias_regularizer;
};

class Conv2D : public Layer {
 public:
  // kernel_size: one value (square) or (height, width).
  Conv2D(int64_t filters, std::vector<int64_t> kernel_size, Conv2DOptions conv = {}, const LayerOptions& options = {});
  Conv2D(int64_t filters, std::vector<int64_t> kernel_size, const std::string& activation,
         const LayerOptions& options = {});

  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;
  Json get_config() const override;

  int64_t filters() const { return filters_; }
  const std::vector<int64_t>& kernel_size() const { return kernel_size_; }
  const std::vector<int64_t>& strides() const { return conv_.strides; }
  const std::string& padding() const { return conv_.padding; }
  const std::string& activation() const { return activation_name_; }
  const Tensor& kernel() const { return kernel_; }
  const Tensor& bias() const { return bias_; }  // undefined when use_bias is false

 private:
  int64_t filters_;
  std::vector<int64_t> kernel_size_;
  Conv2DOptions conv_;
  std::string activation_name_;
  ActivationFn activation_;
  Tensor kernel_, bias_;
};

// Shared by the conv and pooling layers: validates a Keras "int or tuple of 2 ints" argument of
// `layer`/`cls` and returns it as (height, width).
std::vector<int64_t> normalize_pair_argument(const std::string& cls, const std::string& argument,
                                             const std::vector<int64_t>& value);
// "valid" / "same" in any case, lower-cased; anything else raises ValueError naming both choices.
std::string normalize_padding_argument(const std::string& cls, const std::string& padding);
// channels_last only; "channels_first" raises NotImplementedError, anything else ValueError.
std::string normalize_data_format_argument(const std::string& cls, const std::string& data_format);
// The output length of one spatial axis for "valid"/"same" padding (TensorFlow's rule); -1 stays -1.
int64_t conv_output_length(int64_t input_length, int64_t window, int64_t stride, const std::string& padding);

}  // namespace pitfall
