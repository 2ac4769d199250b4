// The shared body of the convolution layers Conv1D, Conv2DTranspose, DepthwiseConv2D and
// SeparableConv2D (keras/src/layers/convolutional/base_*.py): the window arguments, the epilogue
// (bias and activation), the input checks, and the kernel rewrites that let all of them run on core's
// conv2d and its input adjoint.
//
// core's conv2d takes an ordinary kernel (kh, kw, in, out) with dilation 1. A dilated kernel is
// rewritten as an ordinary one with zeros between its taps, and a grouped kernel (depthwise: one
// group per channel) as a dense one that is zero off its group blocks. Both are differentiable
// compositions, so the layers keep conv2d's tested gradients, determinism and devices; the price is
// the zeros' arithmetic (a factor `groups` for grouped kernels, `rate` per dilated axis).
#pragma once
#include <string>
#include <vector>

#include "pitfall/layers/activations.h"
#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

// ---- kernel rewrites
// The extent of a window of `size` taps spaced `rate` apart: (size - 1) * rate + 1.
int64_t dilated_size(int64_t size, int64_t rate);
// kernel (k_1, ..., k_r, in, out) with rates[i] - 1 zeros between the taps of spatial axis i, i.e.
// (dilated_size(k_1, rates[0]), ..., in, out). Returns the kernel itself when every rate is 1.
Tensor dilate_kernel(const Tensor& kernel, const std::vector<int64_t>& rates);
// A grouped kernel (k..., in / groups, filters) as the dense kernel (k..., in, filters) that maps the
// input channels of group g (in / groups consecutive ones) to the output channels of group g
// (filters / groups consecutive ones) and is zero elsewhere. Returns the kernel itself for 1 group.
Tensor block_diagonal_kernel(const Tensor& kernel, int64_t groups);

// keras/src/layers/convolutional/base_conv.py: TensorFlow's convolution has no strided dilation, so
// strides and dilation_rate above 1 together raise ValueError naming `class_name` and both values.
void check_strides_and_dilation(const std::string& class_name, const std::vector<int64_t>& strides,
                                const std::vector<int64_t>& dilation_rate);

// ---- the layers' shared arguments
// The pitfall-only `convention` argument of a kernel layer: whose default initializers.
Argument kernel_convention_argument();
// dilation_rate for `rank` spatial axes (default 1 on each).
Argument dilation_argument(int rank, Json default_value);

// The shared state and epilogue of a convolution layer. `rank` is the number of spatial axes.
class ConvolutionBase : public Layer {
 public:
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;
  // Keras's InputSpec(min_ndim, axes={-1: channels}): the spatial sizes may change between calls.
  bool input_shape_compatible(size_t input_index, const Shape& built, const Shape& got) override;

  int rank() const { return rank_; }
  const std::vector<int64_t>& kernel_size() const { return kernel_size_; }
  const std::vector<int64_t>& strides() const { return strides_; }
  const std::vector<int64_t>& dilation_rate() const { return dilation_rate_; }
  const std::string& padding() const { return padding_; }
  const std::string& activation() const { return activation_name_; }

 protected:
  ConvolutionBase(const std::string& class_name, int rank, Arguments arguments, const LayerOptions& options);
  // Raises ShapeError unless `shape` is (batch, spatial..., channels) with known channels.
  void check_input(const Shape& shape) const;
  // activation(y + bias) (bias undefined: no bias).
  Tensor epilogue(const Tensor& y, const Tensor& bias) const;
  // The output's spatial sizes for an input of shape (batch, spatial..., channels).
  std::vector<int64_t> output_spatial(const Shape& input_shape) const;

  int rank_;
  std::vector<int64_t> kernel_size_, strides_, dilation_rate_;
  std::string padding_;
  bool use_bias_;
  std::string activation_name_;
  ActivationFn activation_;
};

}  // namespace pitfall
