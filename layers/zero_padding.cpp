#include "pitfall/layers/zero_padding.h"

#include "pitfall/core/ops.h"

namespace pitfall {

Tensor pad_with_zeros(const Tensor& x, int64_t axis, int64_t before, int64_t after) {
  if (before == 0 && after == 0) return x;
  const auto zeros = [&](int64_t size) {
    Shape shape = x.shape();
    shape[axis] = size;
    return Tensor::zeros(shape, x.dtype(), x.device());
  };
  std::vector<Tensor> parts;
  if (before > 0) parts.push_back(zeros(before));
  parts.push_back(x);
  if (after > 0) parts.push_back(zeros(after));
  return concatenate(parts, axis);
}

namespace {

}  // namespace

// ---------------------------------------------------------------- ZeroPadding1D

static const ArgumentTable& zero_padding1d_arguments() {
  static const ArgumentTable table = layer_table(
      "ZeroPadding1D", "keras/src/layers/reshaping/zero_padding1d.py",
      "Zero-padding layer for 1D input (e.g. temporal sequence): zeros at the start and end of the steps axis.",
      {Argument("padding", ArgKind::ints, 1).tuple_of(2).checked(non_negative_integer)
           .described("how many zeros before and after the steps: an int for both, or (left, right)"),
       layout_data_format_argument()});
  return table;
}

PITFALL_REGISTER_LAYER(ZeroPadding1D, zero_padding1d_arguments());

ZeroPadding1D::ZeroPadding1D(const Arguments& arguments, const LayerOptions& options)
    : Layer("ZeroPadding1D", options, arguments),
      padding_(arguments.ints("padding")),
      data_format_(data_format_of(arguments)) {}

std::vector<Tensor> ZeroPadding1D::call(const std::vector<Tensor>& inputs, bool) {
  check_input_rank(class_name(), inputs[0].shape(), 3, spatial_layout(data_format_, 3));
  return {pad_with_zeros(inputs[0], spatial_axes(data_format_, 3)[0], padding_[0], padding_[1])};
}

std::vector<Shape> ZeroPadding1D::compute_output_shape(const std::vector<Shape>& input_shapes) {
  Shape out = input_shapes.at(0);
  check_input_rank(describe(), out, 3, spatial_layout(data_format_, 3));
  const int64_t axis = spatial_axes(data_format_, 3)[0];
  if (out[axis] >= 0) out[axis] += padding_[0] + padding_[1];
  return {out};
}

// ---------------------------------------------------------------- ZeroPadding2D

static const ArgumentTable& zero_padding2d_arguments() {
  static const ArgumentTable table = layer_table(
      "ZeroPadding2D", "keras/src/layers/reshaping/zero_padding2d.py",
      "Zero-padding layer for 2D input (e.g. picture): rows of zeros at the top and bottom, columns at the "
      "left and right.",
      {side_pairs_argument("padding", Json::from_vector(std::vector<int64_t>{1, 1}),
                           "how many zeros around the rows and columns: n, (rows, cols) or "
                           "((top, bottom), (left, right))"),
       layout_data_format_argument()});
  return table;
}

PITFALL_REGISTER_LAYER(ZeroPadding2D, zero_padding2d_arguments());

ZeroPadding2D::ZeroPadding2D(const Arguments& arguments, const LayerOptions& options)
    : Layer("ZeroPadding2D", options, arguments),
      padding_(side_pairs_of(arguments, "padding")),
      data_format_(data_format_of(arguments)) {}

std::vector<Tensor> ZeroPadding2D::call(const std::vector<Tensor>& inputs, bool) {
  check_input_rank(class_name(), inputs[0].shape(), 4, spatial_layout(data_format_, 4));
  const std::vector<int64_t> axes = spatial_axes(data_format_, 4);
  Tensor out = inputs[0];
  for (size_t k = 0; k < 2; ++k) out = pad_with_zeros(out, axes[k], padding_[k][0], padding_[k][1]);
  return {out};
}

std::vector<Shape> ZeroPadding2D::compute_output_shape(const std::vector<Shape>& input_shapes) {
  Shape out = input_shapes.at(0);
  check_input_rank(describe(), out, 4, spatial_layout(data_format_, 4));
  const std::vector<int64_t> axes = spatial_axes(data_format_, 4);
  for (size_t k = 0; k < 2; ++k) {
    if (out[axes[k]] >= 0) out[axes[k]] += padding_[k][0] + padding_[k][1];
  }
  return {out};
}

}  // namespace pitfall
