#include "pitfall/layers/conv2d.h"

#include <algorithm>
#include <cctype>
#include <tuple>

#include "pitfall/core/ops.h"
#include "pitfall/layers/convolution.h"

namespace pitfall {

static const ArgumentTable& conv2d_arguments() {
  static const ArgumentTable table = layer_table(
      "Conv2D", "keras/src/layers/convolutional/conv2d.py",
      "2D convolution over NHWC images: activation(conv2d(inputs, kernel) + bias).",
      {Argument("filters", ArgKind::integer).make_required().checked(positive_integer)
           .described("the number of output channels"),
       pair_argument("kernel_size", Json(), "the window's (height, width); one int for both").make_required(),
       pair_argument("strides", Json::from_vector(std::vector<int64_t>{1, 1}), "the step between windows"),
       padding_argument(), data_format_argument(),
       dilation_argument(2, Json::from_vector(std::vector<int64_t>{1, 1})),
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
       unsupported_argument("bias_constraint"),
       Argument("convention", ArgKind::string, "keras").one_of({"keras", "torch"}).pitfall_only()
           .described("whose default initializers: keras (glorot_uniform, zeros) or torch (kaiming_uniform(a=sqrt(5)), "
                      "U(+-1/sqrt(fan_in)))")});
  return table;
}

PITFALL_REGISTER_LAYER(Conv2D, conv2d_arguments());

int64_t conv_output_length(int64_t input_length, int64_t window, int64_t stride, const std::string& padding) {
  if (input_length < 0) return -1;
  if (padding == "same" || padding == "causal") return (input_length + stride - 1) / stride;
  return input_length < window ? 0 : (input_length - window) / stride + 1;
}

Conv2D::Conv2D(const Arguments& arguments, const LayerOptions& options)
    : Layer("Conv2D", options, arguments),
      filters_(arguments.integer("filters")),
      kernel_size_(arguments.ints("kernel_size")),
      strides_(arguments.ints("strides")),
      padding_(arguments.text("padding")),
      use_bias_(arguments.flag("use_bias")),
      activation_name_(arguments.text("activation")),
      activation_(get_activation(activation_name_)) {
  check_strides_and_dilation("Conv2D", strides_, arguments_.ints("dilation_rate"));
  const int64_t groups = arguments_.integer("groups");
  if (filters_ % groups != 0) {
    throw ValueError("Conv2D: filters must be a multiple of groups, got filters=" + std::to_string(filters_) +
                     " and groups=" + std::to_string(groups) + "; each group has filters / groups output channels");
  }
}

namespace {
Arguments conv2d_given(int64_t filters, const std::vector<int64_t>& kernel_size, const Conv2DOptions& o) {
  Json given = Json::object();
  given["filters"] = filters;
  given["kernel_size"] = kernel_size.size() == 1 ? Json(kernel_size[0]) : Json::from_vector(kernel_size);
  if (!o.strides.empty()) given["strides"] = o.strides.size() == 1 ? Json(o.strides[0]) : Json::from_vector(o.strides);
  set_given(given, "padding", o.padding);
  set_given(given, "data_format", o.data_format);
  if (!o.dilation_rate.empty()) {
    given["dilation_rate"] = o.dilation_rate.size() == 1 ? Json(o.dilation_rate[0]) : Json::from_vector(o.dilation_rate);
  }
  set_kernel_layer_given(given, o);
  return parse_arguments(conv2d_arguments(), given);
}
}  // namespace

Conv2D::Conv2D(int64_t filters, std::vector<int64_t> kernel_size, const Conv2DOptions& conv, const LayerOptions& options)
    : Conv2D(conv2d_given(filters, kernel_size, conv), options) {}

Conv2D::Conv2D(int64_t filters, std::vector<int64_t> kernel_size, const std::string& activation,
               const LayerOptions& options)
    : Conv2D(filters, std::move(kernel_size), Conv2DOptions{.activation = activation}, options) {}

void Conv2D::build(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.at(0);
  if (shape.size() != 4 || shape.back() < 0) {
    throw ShapeError("layer '" + name() + "' (Conv2D) needs a 4-D input (batch, height, width, channels) with a known "
                     "channel count, got shape " + shape_str(shape) +
                     "; pitfall uses channels_last (NHWC): for a single grayscale image of 28x28 pass (1, 28, 28, 1)");
  }
  const int64_t groups = arguments_.integer("groups");
  if (shape.back() % groups != 0) {
    throw ShapeError(describe() + ": the input's " + std::to_string(shape.back()) + " channels do not divide into "
                     "groups=" + std::to_string(groups) + "; use a groups value that divides the channel count");
  }
  const Shape kernel_shape = {kernel_size_[0], kernel_size_[1], shape.back() / groups, filters_};
  std::tie(kernel_, bias_) = add_kernel_and_bias(kernel_shape, {filters_}, compute_fans(kernel_shape).first, use_bias_);
}

std::vector<Tensor> Conv2D::call(const std::vector<Tensor>& inputs, bool) {
  // inputs (N, H, W, C) * kernel (kh, kw, C / groups, filters) -> (N, OH, OW, filters); a grouped or
  // dilated kernel is rewritten as an ordinary one (layers/convolution.h).
  const Tensor kernel = dilate_kernel(block_diagonal_kernel(in_compute_dtype(kernel_), arguments_.integer("groups")),
                                      arguments_.ints("dilation_rate"));
  return {add_bias_and_activate(conv2d(inputs[0], kernel, strides_, padding_), use_bias_ ? in_compute_dtype(bias_) : Tensor(),
                                activation_, activation_name_)};
}

std::vector<DType> Conv2D::compute_output_dtype(const std::vector<DType>&) const {
  return {activation_output_dtype(activation_name_, compute_dtype())};
}

std::vector<Shape> Conv2D::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& in = input_shapes.at(0);
  if (in.size() != 4) {
    throw ShapeError("layer '" + name() + "' (Conv2D) needs a 4-D input (batch, height, width, channels), got shape " +
                     shape_str(in));
  }
  const std::vector<int64_t> dilation = arguments_.ints("dilation_rate");
  return {{in[0], conv_output_length(in[1], dilated_size(kernel_size_[0], dilation[0]), strides_[0], padding_),
           conv_output_length(in[2], dilated_size(kernel_size_[1], dilation[1]), strides_[1], padding_), filters_}};
}

}  // namespace pitfall
