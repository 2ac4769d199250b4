// keras.layers.Conv2DTranspose: the transposed convolution (the adjoint of Conv2D's input map, often
// called deconvolution) on NHWC inputs. kernel (kernel_h, kernel_w, filters, in_channels) and bias
// (filters,): Keras layouts. Each output axis has length (keras/src/backend/common/backend_utils.py
// _get_output_shape_given_tf_padding, with k the dilated kernel extent)
//   valid: (in - 1) * stride + k + output_padding   (output_padding None: max(k, stride) - k)
//   same:  in * stride                                (output_padding None)
//          (in - 1) * stride + k % 2 + output_padding
// and is computed as conv2d's input gradient for that output shape, as TensorFlow does.
#pragma once
#include "pitfall/layers/convolution.h"

namespace pitfall {

class Conv2DTranspose : public ConvolutionBase {
 public:
  Conv2DTranspose(const Arguments& arguments, const LayerOptions& options = {});

  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;

  int64_t filters() const { return filters_; }
  const Tensor& kernel() const { return kernel_; }
  const Tensor& bias() const { return bias_; }  // undefined when use_bias is false

 private:
  // The output length of spatial axis `axis` for an input length (-1 stays -1).
  int64_t output_length(int axis, int64_t length) const;

  int64_t filters_;
  std::vector<int64_t> output_padding_;  // empty: None
  Tensor kernel_, bias_;
};

}  // namespace pitfall
