#include "pitfall/layers/conv2d.h"

#include <algorithm>
#include <cctype>

#include "pitfall/core/ops.h"
#include "pitfall/layers/builtin_layers.h"

namespace pitfall {

namespace {

std::string pair_text(const std::vector<int64_t>& v) {
  std::string out = "(";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + ")";
}


}  // namespace

std::vector<int64_t> normalize_pair_argument(const std::string& cls, const std::string& argument,
                                             const std::vector<int64_t>& value) {
  if (value.size() != 1 && value.size() != 2) {
    throw ValueError(cls + ": `" + argument + "` must be an integer or a tuple of 2 integers, got " +
                     pair_text(value));
  }
  std::vector<int64_t> out = {value[0], value.size() == 2 ? value[1] : value[0]};
  if (out[0] < 1 || out[1] < 1) {
    throw ValueError(cls + ": `" + argument + "` must be positive, got " + argument + "=" + pair_text(value));
  }
  return out;
}

std::string normalize_padding_argument(const std::string& cls, const std::string& padding) {
  std::string lower = padding;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower != "valid" && lower != "same") {
    throw ValueError(cls + ": `padding` must be \"valid\" or \"same\", got padding=\"" + padding + "\"");
  }
  return lower;
}

std::string normalize_data_format_argument(const std::string& cls, const std::string& data_format) {
  std::string lower = data_format;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "channels_last") return lower;
  if (lower == "channels_first") {
    throw NotImplementedError(cls + ": data_format=\"channels_first\" is not supported; pitfall's convolution and "
                              "pooling use channels_last (N, H, W, C). Transpose the input with "
                              "transpose(x, {0, 2, 3, 1}) and use data_format=\"channels_last\"");
  }
  throw ValueError(cls + ": `data_format` must be \"channels_last\" (or \"channels_first\", unsupported), got \"" +
                   data_format + "\"");
}

int64_t conv_output_length(int64_t input_length, int64_t window, int64_t stride, const std::string& padding) {
  if (input_length < 0) return -1;
  if (padding == "same") return (input_length + stride - 1) / stride;
  return input_length < window ? 0 : (input_length - window) / stride + 1;
}

Conv2D::Conv2D(int64_t filters, std::vector<int64_t> kernel_size, Conv2DOptions conv, const LayerOptions& options)
    : Layer("Conv2D", options), filters_(filters), conv_(std::move(conv)) {
  if (filters_ <= 0) {
    throw ValueError("Conv2D: `filters` must be a positive integer, got filters=" + std::to_string(filters_));
  }
  kernel_size_ = normalize_pair_argument("Conv2D", "kernel_size", kernel_size);
  conv_.strides = normalize_pair_argument("Conv2D", "strides", conv_.strides);
  conv_.padding = normalize_padding_argument("Conv2D", conv_.padding);
  conv_.data_format = normalize_data_format_argument("Conv2D", conv_.data_format);
  conv_.dilation_rate = normalize_pair_argument("Conv2D", "dilation_rate", conv_.dilation_rate);
  if (conv_.dilation_rate != std::vector<int64_t>{1, 1}) {
    throw NotImplementedError("Conv2D: dilation_rate=" + pair_text(conv_.dilation_rate) +
                              " is not supported (only (1, 1)); a dilated k x k kernel equals a (d*(k-1)+1)-sized "
                              "kernel with zeros between the taps");
  }
  activation_name_ = canonical_activation_name(conv_.activation);
  activation_ = get_activation(activation_name_);
  if (!conv_.kernel_initializer) conv_.kernel_initializer = get_initializer("glorot_uniform");
  if (!conv_.bias_initializer) conv_.bias_initializer = zeros_initializer();
}

Conv2D::Conv2D(int64_t filters, std::vector<int64_t> kernel_size, const std::string& activation,
               const LayerOptions& options)
    : Conv2D(filters, std::move(kernel_size), [&] {
        Conv2DOptions conv;
        conv.activation = activation;
        return conv;
      }(), options) {}

void Conv2D::build(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.at(0);
  if (shape.size() != 4 || shape.back() < 0) {
    throw ShapeError("layer '" + name() + "' (Conv2D) needs a 4-D input (batch, height, width, channels) with a known "
                     "channel count, got shape " + shape_str(shape) +
                     "; pitfall uses channels_last (NHWC): for a single grayscale image of 28x28 pass (1, 28, 28, 1)");
  }
  kernel_ = add_weight("kernel", {kernel_size_[0], kernel_size_[1], shape.back(), filters_}, conv_.kernel_initializer,
                       true, conv_.kernel_regularizer);
  if (conv_.use_bias) bias_ = add_weight("bias", {filters_}, conv_.bias_initializer, true, conv_.bias_regularizer);
}

std::vector<Tensor> Conv2D::call(const std::vector<Tensor>& inputs, bool) {
  // inputs (N, H, W, C) * kernel (kh, kw, C, filters) -> (N, OH, OW, filters)
  Tensor out = conv2d(inputs[0], in_compute_dtype(kernel_), conv_.strides, conv_.padding);
  if (conv_.use_bias && is_fused_activation(activation_name_)) {
    return {bias_activation(std::move(out), in_compute_dtype(bias_), activation_name_, /*overwrite_x=*/true)};
  }
  if (conv_.use_bias) out = add(out, in_compute_dtype(bias_));
  return {apply_activation(activation_, activation_name_, out)};
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
  return {{in[0], conv_output_length(in[1], kernel_size_[0], conv_.strides[0], conv_.padding),
           conv_output_length(in[2], kernel_size_[1], conv_.strides[1], conv_.padding), filters_}};
}

Json Conv2D::get_config() const {
  Json config = base_config();
  config["filters"] = filters_;
  config["kernel_size"] = Json::from_vector(kernel_size_);
  config["strides"] = Json::from_vector(conv_.strides);
  config["padding"] = conv_.padding;
  config["data_format"] = conv_.data_format;
  config["dilation_rate"] = Json::from_vector(conv_.dilation_rate);
  config["activation"] = activation_name_;
  config["use_bias"] = conv_.use_bias;
  config["kernel_initializer"] = initializer_to_config(*conv_.kernel_initializer);
  config["bias_initializer"] = initializer_to_config(*conv_.bias_initializer);
  config["kernel_regularizer"] = regularizer_to_config(conv_.kernel_regularizer);
  config["bias_regularizer"] = regularizer_to_config(conv_.bias_regularizer);
  return config;
}

namespace {
// Keras configs hold either an int or a list for these arguments.
std::vector<int64_t> int_or_list(const Json& value) {
  if (value.is_array()) return value.as_int_vector();
  return {value.as_int()};
}
}  // namespace

void register_conv2d_layer() {
  register_layer_class("Conv2D", [](const Json& config) -> std::shared_ptr<Layer> {
    Conv2DOptions conv;
    conv.strides = int_or_list(config.get("strides", Json::from_vector(std::vector<int64_t>{1, 1})));
    conv.padding = config.get("padding", "valid").as_string();
    conv.data_format = config.get("data_format", "channels_last").is_null()
                           ? "channels_last"
                           : config.get("data_format", "channels_last").as_string();
    conv.dilation_rate = int_or_list(config.get("dilation_rate", Json::from_vector(std::vector<int64_t>{1, 1})));
    conv.activation = config.get("activation", "linear").is_null() ? "linear"
                                                                   : config.get("activation", "linear").as_string();
    conv.use_bias = config.get("use_bias", true).as_bool();
    conv.kernel_initializer = initializer_from_config(config.get("kernel_initializer", "glorot_uniform"));
    conv.bias_initializer = initializer_from_config(config.get("bias_initializer", "zeros"));
    conv.kernel_regularizer = regularizer_from_config(config.get("kernel_regularizer", Json()));
    conv.bias_regularizer = regularizer_from_config(config.get("bias_regularizer", Json()));
    return std::make_shared<Conv2D>(config.at("filters").as_int(), int_or_list(config.at("kernel_size")), conv,
                                    layer_options_from_config(config));
  });
}

}  // namespace pitfall
