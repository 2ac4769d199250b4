#include "pitfall/layers/conv2d_transpose.h"

#include "pitfall/core/ops.h"
#include "pitfall/core/ops/conv_grads.h"
#include "pitfall/layers/conv2d.h"
#include "pitfall/layers/initializers.h"

namespace pitfall {

static const ArgumentTable& conv2d_transpose_arguments() {
  static const ArgumentTable table = layer_table(
      "Conv2DTranspose", "keras/src/layers/convolutional/conv2d_transpose.py",
      "Transposed 2D convolution over NHWC images (the adjoint of Conv2D's input map): upsamples by the strides.",
      {Argument("filters", ArgKind::integer).make_required().checked(positive_integer)
           .described("the number of output channels"),
       pair_argument("kernel_size", Json(), "the window's (height, width); one int for both").make_required(),
       pair_argument("strides", Json::from_vector(std::vector<int64_t>{1, 1}),
                     "the upsampling factor: the step between the windows an input position writes"),
       padding_argument(),
       pair_argument("output_padding", Json(),
                     "extra rows and columns at the bottom and right of the output, each below its stride; None: "
                     "the shape rule's default")
           .allow_none()
           .checked(non_negative_integer),
       data_format_argument(), dilation_argument(2, Json::from_vector(std::vector<int64_t>{1, 1})),
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

PITFALL_REGISTER_LAYER(Conv2DTranspose, conv2d_transpose_arguments());

Conv2DTranspose::Conv2DTranspose(const Arguments& arguments, const LayerOptions& options)
    : ConvolutionBase("Conv2DTranspose", 2, arguments, options), filters_(arguments.integer("filters")) {
  if (!arguments_.is_none("output_padding")) {
    output_padding_ = arguments_.ints("output_padding");
    for (int i = 0; i < 2; ++i) {
      // keras/src/layers/convolutional/base_conv_transpose.py: an output_padding of a whole stride or
      // more would add rows no input position writes.
      if (output_padding_[i] >= strides_[i]) {
        throw ValueError("Conv2DTranspose: output_padding must be smaller than strides on each axis, got "
                         "output_padding=" + python_repr(Json::from_vector(output_padding_)) +
                         " and strides=" + python_repr(Json::from_vector(strides_)));
      }
    }
  }
}

int64_t Conv2DTranspose::output_length(int axis, int64_t length) const {
  if (length < 0) return -1;
  const int64_t k = dilated_size(kernel_size_[axis], dilation_rate_[axis]), s = strides_[axis];
  if (padding_ == "valid") {
    const int64_t extra = output_padding_.empty() ? std::max(k, s) - k : output_padding_[axis];
    return (length - 1) * s + k + extra;
  }
  if (output_padding_.empty()) return length * s;
  return (length - 1) * s + k % 2 + output_padding_[axis];
}

void Conv2DTranspose::build(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.at(0);
  check_input(shape);
  const Shape kernel_shape = {kernel_size_[0], kernel_size_[1], filters_, shape.back()};
  std::tie(kernel_, bias_) = add_kernel_and_bias(kernel_shape, {filters_}, compute_fans(kernel_shape).first, use_bias_);
}

std::vector<Tensor> Conv2DTranspose::call(const std::vector<Tensor>& inputs, bool) {
  // inputs (N, H, W, C), kernel (kh, kw, F, C): conv2d's input gradient, which reads the kernel as
  // (kh, kw, in = F, out = C), for the output shape (N, OH, OW, F).
  const Tensor& x = inputs[0];
  const Shape out_shape = {x.dim(0), output_length(0, x.dim(1)), output_length(1, x.dim(2)), filters_};
  const Tensor kernel = dilate_kernel(in_compute_dtype(kernel_), dilation_rate_);
  // The output is a convolution's input: that convolution must map it back onto x's grid.
  for (int axis = 0; axis < 2; ++axis) {
    const int64_t back = conv_output_length(out_shape[1 + axis], kernel.dim(axis), strides_[axis], padding_);
    if (back != x.dim(1 + axis)) {
      throw ValueError("output_padding=" + python_repr(arguments_.at("output_padding")) + " gives an output " +
                       (axis == 0 ? "height" : "width") + " of " + std::to_string(out_shape[1 + axis]) +
                       ", which a stride-" + std::to_string(strides_[axis]) + " \"" + padding_ +
                       "\" convolution maps to " + std::to_string(back) + " positions, not the input's " +
                       std::to_string(x.dim(1 + axis)) + "; pick output_padding so that the shapes agree (None "
                       "always does)");
    }
  }
  return {epilogue(conv2d_backprop_input(x, kernel, out_shape, strides_, padding_), bias_)};
}

std::vector<Shape> Conv2DTranspose::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& in = input_shapes.at(0);
  check_input(in);
  return {{in[0], output_length(0, in[1]), output_length(1, in[2]), filters_}};
}

}  // namespace pitfall
