#include "pitfall/layers/depthwise_conv2d.h"

#include "pitfall/core/ops.h"
#include "pitfall/layers/initializers.h"
#include "pitfall/layers/regularizers.h"

namespace pitfall {

namespace {

Argument depth_multiplier_argument() {
  return Argument("depth_multiplier", ArgKind::integer, 1).checked(positive_integer)
      .described("how many filters each input channel gets");
}

Argument use_bias_argument() {
  return Argument("use_bias", ArgKind::boolean, true).described("whether the layer adds a bias vector");
}

Argument bias_initializer_argument() {
  return initializer_argument("bias_initializer", Json(), "initializer of the bias").from_convention("Dense.bias_initializer");
}

Argument kernel_initializer_argument(const std::string& name, const std::string& doc) {
  return initializer_argument(name, Json(), doc).from_convention("Dense.kernel_initializer");
}

Json pair(int64_t value) { return Json::from_vector(std::vector<int64_t>{value, value}); }

}  // namespace

static const ArgumentTable& depthwise_conv2d_arguments() {
  static const ArgumentTable table = layer_table(
      "DepthwiseConv2D", "keras/src/layers/convolutional/depthwise_conv2d.py",
      "Depthwise 2D convolution over NHWC images: each channel convolved with its own depth_multiplier filters.",
      {pair_argument("kernel_size", Json(), "the window's (height, width); one int for both").make_required(),
       pair_argument("strides", pair(1), "the step between windows"), padding_argument(), depth_multiplier_argument(),
       data_format_argument(), dilation_argument(2, pair(1)),
       activation_argument("activation", Json(), "activation function; None means linear"), use_bias_argument(),
       kernel_initializer_argument("depthwise_initializer", "initializer of the depthwise kernel"),
       bias_initializer_argument(), regularizer_argument("depthwise_regularizer", "penalty on the depthwise kernel"),
       regularizer_argument("bias_regularizer", "penalty on the bias"), unsupported_argument("activity_regularizer"),
       unsupported_argument("depthwise_constraint"), unsupported_argument("bias_constraint"),
       kernel_convention_argument()});
  return table;
}

static const ArgumentTable& separable_conv2d_arguments() {
  static const ArgumentTable table = layer_table(
      "SeparableConv2D", "keras/src/layers/convolutional/separable_conv2d.py",
      "Depthwise separable 2D convolution over NHWC images: a depthwise convolution, then a 1x1 convolution.",
      {Argument("filters", ArgKind::integer).make_required().checked(positive_integer)
           .described("the number of output channels"),
       pair_argument("kernel_size", Json(), "the depthwise window's (height, width); one int for both").make_required(),
       pair_argument("strides", pair(1), "the step between windows"), padding_argument(), data_format_argument(),
       dilation_argument(2, pair(1)), depth_multiplier_argument(),
       activation_argument("activation", Json(), "activation function; None means linear"), use_bias_argument(),
       kernel_initializer_argument("depthwise_initializer", "initializer of the depthwise kernel"),
       kernel_initializer_argument("pointwise_initializer", "initializer of the pointwise (1x1) kernel"),
       bias_initializer_argument(), regularizer_argument("depthwise_regularizer", "penalty on the depthwise kernel"),
       regularizer_argument("pointwise_regularizer", "penalty on the pointwise kernel"),
       regularizer_argument("bias_regularizer", "penalty on the bias"), unsupported_argument("activity_regularizer"),
       unsupported_argument("depthwise_constraint"), unsupported_argument("pointwise_constraint"),
       unsupported_argument("bias_constraint"), kernel_convention_argument()});
  return table;
}

PITFALL_REGISTER_LAYER(DepthwiseConv2D, depthwise_conv2d_arguments());
PITFALL_REGISTER_LAYER(SeparableConv2D, separable_conv2d_arguments());

// ---------------------------------------------------------------- DepthwiseConv2D

DepthwiseConv2D::DepthwiseConv2D(const Arguments& arguments, const LayerOptions& options)
    : ConvolutionBase("DepthwiseConv2D", 2, arguments, options),
      depth_multiplier_(arguments.integer("depth_multiplier")) {}

void DepthwiseConv2D::build(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.at(0);
  check_input(shape);
  const Shape kernel_shape = {kernel_size_[0], kernel_size_[1], shape.back(), depth_multiplier_};
  kernel_ = add_weight("kernel", kernel_shape, make_initializer(arguments_.at("depthwise_initializer")), true,
                       regularizer_from_config(arguments_.at("depthwise_regularizer")));
  if (use_bias_) {
    bias_ = add_weight("bias", {shape.back() * depth_multiplier_},
                       make_initializer(arguments_.at("bias_initializer"), compute_fans(kernel_shape).first), true,
                       regularizer_from_config(arguments_.at("bias_regularizer")));
  }
}

std::vector<Tensor> DepthwiseConv2D::call(const std::vector<Tensor>& inputs, bool) {
  // kernel (kh, kw, C, M) read as a grouped kernel (kh, kw, 1, C * M) with C groups: output channel
  // c * M + m belongs to group c, as Keras orders them.
  const Tensor& x = inputs[0];
  const int64_t channels = x.dim(3);
  const Tensor grouped = reshape(in_compute_dtype(kernel_), {kernel_size_[0], kernel_size_[1], 1, channels * depth_multiplier_});
  const Tensor kernel = dilate_kernel(block_diagonal_kernel(grouped, channels), dilation_rate_);
  return {epilogue(conv2d(x, kernel, strides_, padding_), bias_)};
}

std::vector<Shape> DepthwiseConv2D::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& in = input_shapes.at(0);
  check_input(in);
  const std::vector<int64_t> spatial = output_spatial(in);
  return {{in[0], spatial[0], spatial[1], in[3] * depth_multiplier_}};
}

// ---------------------------------------------------------------- SeparableConv2D

SeparableConv2D::SeparableConv2D(const Arguments& arguments, const LayerOptions& options)
    : ConvolutionBase("SeparableConv2D", 2, arguments, options),
      filters_(arguments.integer("filters")),
      depth_multiplier_(arguments.integer("depth_multiplier")) {}

void SeparableConv2D::build(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.at(0);
  check_input(shape);
  const int64_t channels = shape.back();
  depthwise_kernel_ = add_weight("depthwise_kernel", {kernel_size_[0], kernel_size_[1], channels, depth_multiplier_},
                                 make_initializer(arguments_.at("depthwise_initializer")), true,
                                 regularizer_from_config(arguments_.at("depthwise_regularizer")));
  const Shape pointwise_shape = {1, 1, channels * depth_multiplier_, filters_};
  pointwise_kernel_ = add_weight("pointwise_kernel", pointwise_shape,
                                 make_initializer(arguments_.at("pointwise_initializer")), true,
                                 regularizer_from_config(arguments_.at("pointwise_regularizer")));
  if (use_bias_) {
    bias_ = add_weight("bias", {filters_},
                       make_initializer(arguments_.at("bias_initializer"), compute_fans(pointwise_shape).first), true,
                       regularizer_from_config(arguments_.at("bias_regularizer")));
  }
}

std::vector<Tensor> SeparableConv2D::call(const std::vector<Tensor>& inputs, bool) {
  // product[y, x, c, f] = sum_m depthwise[y, x, c, m] * pointwise[0, 0, c * M + m, f]: the depthwise
  // map followed by the 1x1 map, as one kernel (kh, kw, C, F).
  const Tensor& x = inputs[0];
  const int64_t channels = x.dim(3), kh = kernel_size_[0], kw = kernel_size_[1];
  const Tensor depthwise = reshape(in_compute_dtype(depthwise_kernel_), {kh, kw, channels, depth_multiplier_, 1});
  const Tensor pointwise = reshape(in_compute_dtype(pointwise_kernel_), {1, 1, channels, depth_multiplier_, filters_});
  const Tensor product = sum(multiply(depthwise, pointwise), {3});
  return {epilogue(conv2d(x, dilate_kernel(product, dilation_rate_), strides_, padding_), bias_)};
}

std::vector<Shape> SeparableConv2D::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& in = input_shapes.at(0);
  check_input(in);
  const std::vector<int64_t> spatial = output_spatial(in);
  return {{in[0], spatial[0], spatial[1], filters_}};
}

}  // namespace pitfall
