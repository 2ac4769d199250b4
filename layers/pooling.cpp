#include "pitfall/layers/pooling.h"

#include "pitfall/core/ops.h"
#include "pitfall/layers/builtin_layers.h"
#include "pitfall/layers/conv2d.h"

namespace pitfall {

namespace {

void check_4d(const Layer& layer, const Shape& shape) {
  if (shape.size() != 4) {
    throw ShapeError("layer '" + layer.name() + "' (" + layer.class_name() +
                     ") needs a 4-D input (batch, height, width, channels), got shape " + shape_str(shape) +
                     "; pitfall uses channels_last (NHWC): for a single grayscale image of 28x28 pass (1, 28, 28, 1)");
  }
}

std::vector<int64_t> int_or_list(const Json& value) {
  if (value.is_array()) return value.as_int_vector();
  return {value.as_int()};
}

std::string string_or(const Json& config, const std::string& key, const std::string& fallback) {
  const Json value = config.get(key, Json());
  return value.is_null() ? fallback : value.as_string();
}

}  // namespace

Pooling2D::Pooling2D(const std::string& class_name, bool is_max, std::vector<int64_t> pool_size,
                     Pooling2DOptions pooling, const LayerOptions& options)
    : Layer(class_name, options), is_max_(is_max), pooling_(std::move(pooling)) {
  pool_size_ = normalize_pair_argument(class_name, "pool_size", pool_size);
  // Keras: strides=None means the windows tile the input (strides = pool_size).
  pooling_.strides =
      pooling_.strides.empty() ? pool_size_ : normalize_pair_argument(class_name, "strides", pooling_.strides);
  pooling_.padding = normalize_padding_argument(class_name, pooling_.padding);
  pooling_.data_format = normalize_data_format_argument(class_name, pooling_.data_format);
}

void Pooling2D::build(const std::vector<Shape>& input_shapes) { check_4d(*this, input_shapes.at(0)); }

std::vector<Tensor> Pooling2D::call(const std::vector<Tensor>& inputs, bool) {
  const Tensor& x = inputs[0];
  return {is_max_ ? max_pool2d(x, pool_size_, pooling_.strides, pooling_.padding)
                  : avg_pool2d(x, pool_size_, pooling_.strides, pooling_.padding)};
}

std::vector<Shape> Pooling2D::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& in = input_shapes.at(0);
  check_4d(*this, in);
  return {{in[0], conv_output_length(in[1], pool_size_[0], pooling_.strides[0], pooling_.padding),
           conv_output_length(in[2], pool_size_[1], pooling_.strides[1], pooling_.padding), in[3]}};
}

Json Pooling2D::get_config() const {
  Json config = base_config();
  config["pool_size"] = Json::from_vector(pool_size_);
  config["strides"] = Json::from_vector(pooling_.strides);
  config["padding"] = pooling_.padding;
  config["data_format"] = pooling_.data_format;
  return config;
}

MaxPooling2D::MaxPooling2D(std::vector<int64_t> pool_size, Pooling2DOptions pooling, const LayerOptions& options)
    : Pooling2D("MaxPooling2D", true, std::move(pool_size), std::move(pooling), options) {}

AveragePooling2D::AveragePooling2D(std::vector<int64_t> pool_size, Pooling2DOptions pooling,
                                   const LayerOptions& options)
    : Pooling2D("AveragePooling2D", false, std::move(pool_size), std::move(pooling), options) {}

GlobalAveragePooling2D::GlobalAveragePooling2D(bool keepdims, const std::string& data_format,
                                               const LayerOptions& options)
    : Layer("GlobalAveragePooling2D", options),
      keepdims_(keepdims),
      data_format_(normalize_data_format_argument("GlobalAveragePooling2D", data_format)) {}

void GlobalAveragePooling2D::build(const std::vector<Shape>& input_shapes) { check_4d(*this, input_shapes.at(0)); }

std::vector<Tensor> GlobalAveragePooling2D::call(const std::vector<Tensor>& inputs, bool) {
  return {mean(inputs[0], {1, 2}, keepdims_)};
}

std::vector<Shape> GlobalAveragePooling2D::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& in = input_shapes.at(0);
  check_4d(*this, in);
  if (keepdims_) return {{in[0], 1, 1, in[3]}};
  return {{in[0], in[3]}};
}

Json GlobalAveragePooling2D::get_config() const {
  Json config = base_config();
  config["data_format"] = data_format_;
  config["keepdims"] = keepdims_;
  return config;
}

namespace {

template <class L>
std::shared_ptr<Layer> pooling_from_config(const Json& config) {
  Pooling2DOptions pooling;
  const Json strides = config.get("strides", Json());
  if (!strides.is_null()) pooling.strides = int_or_list(strides);
  pooling.padding = string_or(config, "padding", "valid");
  pooling.data_format = string_or(config, "data_format", "channels_last");
  const Json pool_size = config.get("pool_size", Json());
  return std::make_shared<L>(pool_size.is_null() ? std::vector<int64_t>{2, 2} : int_or_list(pool_size), pooling,
                             layer_options_from_config(config));
}

}  // namespace

void register_max_pooling2d_layer() { register_layer_class("MaxPooling2D", pooling_from_config<MaxPooling2D>); }

void register_average_pooling2d_layer() {
  register_layer_class("AveragePooling2D", pooling_from_config<AveragePooling2D>);
}

void register_global_average_pooling2d_layer() {
  register_layer_class("GlobalAveragePooling2D", [](const Json& config) -> std::shared_ptr<Layer> {
    return std::make_shared<GlobalAveragePooling2D>(config.get("keepdims", false).as_bool(),
                                                    string_or(config, "data_format", "channels_last"),
                                                    layer_options_from_config(config));
  });
}

}  // namespace pitfall
