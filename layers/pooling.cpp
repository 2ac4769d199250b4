#include "pitfall/layers/pooling.h"

#include "pitfall/core/ops.h"
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

// pool_size, strides, padding, data_format: the shared arguments of the two windowed poolings.
std::vector<Argument> pooling_arguments(Json pool_size_default) {
  Argument pool_size = pair_argument("pool_size", pool_size_default, "the window's (height, width); one int for both");
  if (pool_size_default.is_null()) pool_size.make_required();
  return {pool_size,
          pair_argument("strides", Json(), "the step between windows; None: the pool_size (windows tile the input)")
              .allow_none(),
          padding_argument(), data_format_argument()};
}

}  // namespace

static const ArgumentTable& max_pooling2d_arguments() {
  static const ArgumentTable table =
      layer_table("MaxPooling2D", "keras/src/layers/pooling/max_pooling2d.py",
                  "Max pooling over (height, width) windows of NHWC images.",
                  pooling_arguments(Json::from_vector(std::vector<int64_t>{2, 2})));
  return table;
}

static const ArgumentTable& average_pooling2d_arguments() {
  static const ArgumentTable table =
      layer_table("AveragePooling2D", "keras/src/layers/pooling/average_pooling2d.py",
                  "Average pooling over (height, width) windows of NHWC images (\"same\": over the in-bounds part).",
                  pooling_arguments(Json()));
  return table;
}

static const ArgumentTable& global_average_pooling2d_arguments() {
  static const ArgumentTable table = layer_table(
      "GlobalAveragePooling2D", "keras/src/layers/pooling/global_average_pooling2d.py",
      "The mean over height and width of NHWC images.",
      {data_format_argument(),
       Argument("keepdims", ArgKind::boolean, false).described("keep the spatial axes, of size 1")});
  return table;
}

PITFALL_REGISTER_LAYER(MaxPooling2D, max_pooling2d_arguments());
PITFALL_REGISTER_LAYER(AveragePooling2D, average_pooling2d_arguments());
PITFALL_REGISTER_LAYER(GlobalAveragePooling2D, global_average_pooling2d_arguments());

Pooling2D::Pooling2D(const std::string& class_name, bool is_max, Arguments arguments, const LayerOptions& options)
    : Layer(class_name, options, std::move(arguments)), is_max_(is_max) {
  pool_size_ = arguments_.ints("pool_size");
  // Keras: strides=None means the windows tile the input (strides = pool_size).
  if (arguments_.is_none("strides")) arguments_.resolve("strides", Json::from_vector(pool_size_));
  strides_ = arguments_.ints("strides");
  padding_ = arguments_.text("padding");
}

Arguments Pooling2D::given(const ArgumentTable& table, const std::vector<int64_t>& pool_size,
                           const Pooling2DOptions& pooling) {
  Json given = Json::object();
  if (!pool_size.empty()) given["pool_size"] = pool_size.size() == 1 ? Json(pool_size[0]) : Json::from_vector(pool_size);
  if (!pooling.strides.empty()) {
    given["strides"] = pooling.strides.size() == 1 ? Json(pooling.strides[0]) : Json::from_vector(pooling.strides);
  }
  set_given(given, "padding", pooling.padding);
  set_given(given, "data_format", pooling.data_format);
  return parse_arguments(table, given);
}

void Pooling2D::build(const std::vector<Shape>& input_shapes) { check_4d(*this, input_shapes.at(0)); }

std::vector<Tensor> Pooling2D::call(const std::vector<Tensor>& inputs, bool) {
  const Tensor& x = inputs[0];
  return {is_max_ ? max_pool2d(x, pool_size_, strides_, padding_) : avg_pool2d(x, pool_size_, strides_, padding_)};
}

std::vector<Shape> Pooling2D::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& in = input_shapes.at(0);
  check_4d(*this, in);
  return {{in[0], conv_output_length(in[1], pool_size_[0], strides_[0], padding_),
           conv_output_length(in[2], pool_size_[1], strides_[1], padding_), in[3]}};
}

MaxPooling2D::MaxPooling2D(const Arguments& arguments, const LayerOptions& options)
    : Pooling2D("MaxPooling2D", true, arguments, options) {}

MaxPooling2D::MaxPooling2D(std::vector<int64_t> pool_size, const Pooling2DOptions& pooling, const LayerOptions& options)
    : MaxPooling2D(given(max_pooling2d_arguments(), pool_size, pooling), options) {}

AveragePooling2D::AveragePooling2D(const Arguments& arguments, const LayerOptions& options)
    : Pooling2D("AveragePooling2D", false, arguments, options) {}

AveragePooling2D::AveragePooling2D(std::vector<int64_t> pool_size, const Pooling2DOptions& pooling,
                                   const LayerOptions& options)
    : AveragePooling2D(given(average_pooling2d_arguments(), pool_size, pooling), options) {}

GlobalAveragePooling2D::GlobalAveragePooling2D(const Arguments& arguments, const LayerOptions& options)
    : Layer("GlobalAveragePooling2D", options, arguments), keepdims_(arguments.flag("keepdims")) {}

GlobalAveragePooling2D::GlobalAveragePooling2D(bool keepdims, const LayerOptions& options)
    : GlobalAveragePooling2D(
          parse_arguments(global_average_pooling2d_arguments(), Json(Json::Object{{"keepdims", keepdims}})), options) {}

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

}  // namespace pitfall
