#include "pitfall/layers/spatial_dropout.h"

namespace pitfall {

namespace {

Argument rate_argument() {
  return Argument("rate", ArgKind::number).make_required().checked(unit_interval)
      .described("the fraction of the feature maps (channels) to drop, between 0 and 1");
}

Argument seed_argument() {
  return Argument("seed", ArgKind::integer).allow_none().checked(non_negative_integer)
      .described("a fixed seed for this layer's masks (None: drawn from the global generator)");
}

}  // namespace

static const ArgumentTable& spatial_dropout1d_arguments() {
  static const ArgumentTable table = layer_table(
      "SpatialDropout1D", "keras/src/layers/regularization/spatial_dropout.py",
      "Spatial 1D version of Dropout: drops entire 1D feature maps (channels) in training.",
      {rate_argument(), seed_argument()});
  return table;
}

static const ArgumentTable& spatial_dropout2d_arguments() {
  static const ArgumentTable table = layer_table(
      "SpatialDropout2D", "keras/src/layers/regularization/spatial_dropout.py",
      "Spatial 2D version of Dropout: drops entire 2D feature maps (channels) in training.",
      {rate_argument(), layout_data_format_argument(), seed_argument()});
  return table;
}

PITFALL_REGISTER_LAYER(SpatialDropout1D, spatial_dropout1d_arguments());
PITFALL_REGISTER_LAYER(SpatialDropout2D, spatial_dropout2d_arguments());

SpatialDropout1D::SpatialDropout1D(const Arguments& arguments, const LayerOptions& options)
    : Dropout("SpatialDropout1D", arguments, options) {}

std::vector<Tensor> SpatialDropout1D::call(const std::vector<Tensor>& inputs, bool training) {
  check_input_rank(class_name(), inputs[0].shape(), 3, spatial_layout(DataFormat::channels_last, 3));
  return Dropout::call(inputs, training);
}

Shape SpatialDropout1D::mask_shape(const Shape& input_shape) const { return {input_shape[0], 1, input_shape[2]}; }

SpatialDropout2D::SpatialDropout2D(const Arguments& arguments, const LayerOptions& options)
    : Dropout("SpatialDropout2D", arguments, options), data_format_(data_format_of(arguments)) {}

std::vector<Tensor> SpatialDropout2D::call(const std::vector<Tensor>& inputs, bool training) {
  check_input_rank(class_name(), inputs[0].shape(), 4, spatial_layout(data_format_, 4));
  return Dropout::call(inputs, training);
}

Shape SpatialDropout2D::mask_shape(const Shape& input_shape) const {
  Shape shape(4, 1);
  shape[0] = input_shape[0];
  const int64_t channels = channels_axis(data_format_, 4);
  shape[channels] = input_shape[channels];
  return shape;
}

}  // namespace pitfall
