#include "pitfall/layers/conv1d.h"

#include "pitfall/core/ops.h"
#include "pitfall/layers/initializers.h"

namespace pitfall {

static const ArgumentTable& conv1d_arguments() {
  static const ArgumentTable table = layer_table(
      "Conv1D", "keras/src/layers/convolutional/conv1d.py",
      "1D convolution over (batch, steps, channels) sequences: activation(conv1d(inputs, kernel) + bias).",
      {Argument("filters", ArgKind::integer).make_required().checked(positive_integer)
           .described("the number of output channels"),
       window_argument("kernel_size", 1, Json(), "the window's length").make_required(),
       window_argument("strides", 1, 1, "the step between windows"),
       padding_argument(/*allow_causal=*/true), data_format_argument(), dilation_argument(1, 1),
       Argument("groups", ArgKind::integer, 1).checked(positive_integer)
           .described("channel groups convolved separately; channels and filters must both divide by it"),
       activation_argument("activation", Json(), "activation function; None means linear"),
       Argument("use_bias", ArgKind::boolean, true).described("whether the layer adds a bias vector"),
       initializer_argument("kernel_initializer", Json(), "initializer of the kernel")
           .from_convention("Dense.kernel_initializer"),
       initializer_argument("bias_initializer", Json(), "initializer of the bias").from_convention("Dense.bias_initializer"),
       regularizer_argument("kernel_regularizer", "penalty on the kernel"),
       regularizer_argument("bias_regularizer", "penalty on the bias"),
       unsupported_argument("activity_regularizer"), unsupported_argument("kernel_constraint"),
       unsupported_argument("bias_constraint"), kernel_convention_argument()});
  return table;
}

PITFALL_REGISTER_LAYER(Conv1D, conv1d_arguments());

Conv1D::Conv1D(const Arguments& arguments, const LayerOptions& options)
    : ConvolutionBase("Conv1D", 1, arguments, options),
      filters_(arguments.integer("filters")),
      groups_(arguments.integer("groups")) {
  if (filters_ % groups_ != 0) {
    throw ValueError("Conv1D: filters must be a multiple of groups, got filters=" + std::to_string(filters_) +
                     " and groups=" + std::to_string(groups_) + "; each group has filters / groups output channels");
  }
}

void Conv1D::build(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.at(0);
  check_input(shape);
  const int64_t channels = shape.back();
  if (channels % groups_ != 0) {
    throw ShapeError(describe() + ": the input's " + std::to_string(channels) + " channels do not divide into groups=" +
                     std::to_string(groups_) + "; use a groups value that divides the channel count");
  }
  const Shape kernel_shape = {kernel_size_[0], channels / groups_, filters_};
  std::tie(kernel_, bias_) = add_kernel_and_bias(kernel_shape, {filters_}, compute_fans(kernel_shape).first, use_bias_);
}

std::vector<Tensor> Conv1D::call(const std::vector<Tensor>& inputs, bool) {
  // inputs (N, L, C) as (N, 1, L, C); kernel (k, C / groups, F) as (1, k', C, F) with k' the dilated extent.
  const Tensor& x = inputs[0];
  const int64_t batch = x.dim(0), channels = x.dim(2);
  Tensor kernel = dilate_kernel(block_diagonal_kernel(in_compute_dtype(kernel_), groups_), dilation_rate_);
  const int64_t extent = kernel.dim(0);
  kernel = reshape(kernel, {1, extent, channels, filters_});
  Tensor images = reshape(x, {batch, 1, x.dim(1), channels});
  std::string padding = padding_;
  if (padding == "causal") {
    // keras/src/ops/nn.py: causal is extent - 1 zeros on the left, then a valid convolution.
    if (extent > 1) {
      images = concatenate({Tensor::zeros({batch, 1, extent - 1, channels}, x.dtype(), x.device()), images}, 2);
    }
    padding = "valid";
  }
  const Tensor y = conv2d(images, kernel, {1, strides_[0]}, padding);
  return {epilogue(reshape(y, {batch, y.dim(2), filters_}), bias_)};
}

std::vector<Shape> Conv1D::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& in = input_shapes.at(0);
  check_input(in);
  return {{in[0], output_spatial(in)[0], filters_}};
}

}  // namespace pitfall
