#include "pitfall/layers/cropping.h"

#include "pitfall/core/ops.h"

namespace pitfall {

namespace {

std::string pair_text(const std::vector<int64_t>& pair) {
  return "(" + std::to_string(pair[0]) + ", " + std::to_string(pair[1]) + ")";
}

// `shape` with `crops[k]` = (start, end) taken off axes[k]; ValueError when a known axis would be
// left empty (keras/src/layers/reshaping/cropping2d.py: the crops must be smaller than the axis).
Shape cropped_shape(const std::string& where, const Shape& shape, const std::vector<int64_t>& axes,
                    const std::vector<std::vector<int64_t>>& crops, const std::string& cropping_text) {
  Shape out = shape;
  for (size_t k = 0; k < axes.size(); ++k) {
    const int64_t size = shape[axes[k]];
    if (size < 0) continue;
    const int64_t removed = crops[k][0] + crops[k][1];
    if (removed >= size) {
      throw ValueError(where + ": cropping=" + cropping_text + " removes " + std::to_string(removed) +
                       " positions from axis " + std::to_string(axes[k]) + " of size " + std::to_string(size) +
                       " (input shape " + shape_str(shape) + "); the cropping must leave at least one position");
    }
    out[axes[k]] = size - removed;
  }
  return out;
}

Tensor crop(const Tensor& x, const std::vector<int64_t>& axes, const std::vector<std::vector<int64_t>>& crops) {
  std::vector<int64_t> start(static_cast<size_t>(x.ndim()), 0), size(static_cast<size_t>(x.ndim()), -1);
  for (size_t k = 0; k < axes.size(); ++k) {
    start[axes[k]] = crops[k][0];
    size[axes[k]] = x.shape()[axes[k]] - crops[k][0] - crops[k][1];
  }
  return slice(x, start, size);
}

}  // namespace

// ---------------------------------------------------------------- Cropping1D

static const ArgumentTable& cropping1d_arguments() {
  static const ArgumentTable table = layer_table(
      "Cropping1D", "keras/src/layers/reshaping/cropping1d.py",
      "Cropping layer for 1D input (e.g. temporal sequence): steps removed from the start and the end.",
      {Argument("cropping", ArgKind::ints, Json::from_vector(std::vector<int64_t>{1, 1})).tuple_of(2)
           .checked(non_negative_integer)
           .described("how many steps to remove at the start and the end: an int for both, or (start, end)")});
  return table;
}

PITFALL_REGISTER_LAYER(Cropping1D, cropping1d_arguments());

Cropping1D::Cropping1D(const Arguments& arguments, const LayerOptions& options)
    : Layer("Cropping1D", options, arguments), cropping_(arguments.ints("cropping")) {}

namespace {
Shape cropping1d_output(const std::string& where, const Shape& shape, const std::vector<int64_t>& cropping) {
  check_input_rank(where, shape, 3, spatial_layout(DataFormat::channels_last, 3));
  return cropped_shape(where, shape, {1}, {cropping}, pair_text(cropping));
}
}  // namespace

std::vector<Tensor> Cropping1D::call(const std::vector<Tensor>& inputs, bool) {
  cropping1d_output(class_name(), inputs[0].shape(), cropping_);  // the checks
  return {crop(inputs[0], {1}, {cropping_})};
}

std::vector<Shape> Cropping1D::compute_output_shape(const std::vector<Shape>& input_shapes) {
  return {cropping1d_output(describe(), input_shapes.at(0), cropping_)};
}

// ---------------------------------------------------------------- Cropping2D

static const ArgumentTable& cropping2d_arguments() {
  static const ArgumentTable table = layer_table(
      "Cropping2D", "keras/src/layers/reshaping/cropping2d.py",
      "Cropping layer for 2D input (e.g. picture): rows removed at the top and bottom, columns at the left "
      "and right.",
      {side_pairs_argument("cropping", Json(Json::Array{Json::from_vector(std::vector<int64_t>{0, 0}),
                                                        Json::from_vector(std::vector<int64_t>{0, 0})}),
                           "how much to remove: n, (rows, cols) or ((top, bottom), (left, right))"),
       layout_data_format_argument()});
  return table;
}

PITFALL_REGISTER_LAYER(Cropping2D, cropping2d_arguments());

Cropping2D::Cropping2D(const Arguments& arguments, const LayerOptions& options)
    : Layer("Cropping2D", options, arguments),
      cropping_(side_pairs_of(arguments, "cropping")),
      data_format_(data_format_of(arguments)) {}

namespace {
Shape cropping2d_output(const std::string& where, const Shape& shape, DataFormat format,
                        const std::vector<std::vector<int64_t>>& cropping) {
  check_input_rank(where, shape, 4, spatial_layout(format, 4));
  return cropped_shape(where, shape, spatial_axes(format, 4), cropping,
                       "(" + pair_text(cropping[0]) + ", " + pair_text(cropping[1]) + ")");
}
}  // namespace

std::vector<Tensor> Cropping2D::call(const std::vector<Tensor>& inputs, bool) {
  cropping2d_output(class_name(), inputs[0].shape(), data_format_, cropping_);  // the checks
  return {crop(inputs[0], spatial_axes(data_format_, 4), cropping_)};
}

std::vector<Shape> Cropping2D::compute_output_shape(const std::vector<Shape>& input_shapes) {
  return {cropping2d_output(describe(), input_shapes.at(0), data_format_, cropping_)};
}

}  // namespace pitfall
