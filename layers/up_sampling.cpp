#include "pitfall/layers/up_sampling.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "pitfall/core/ops.h"

namespace pitfall {

namespace {

// x with each position along axes[k] repeated factors[k] times in a row (numpy.repeat per axis):
// a size-1 axis after each, broadcast to the factor, merged back.
Tensor repeat_positions(const Tensor& x, const std::vector<int64_t>& axes, const std::vector<int64_t>& factors) {
  Shape expanded, repeated, merged;
  for (int64_t d = 0; d < x.ndim(); ++d) {
    const int64_t size = x.shape()[d];
    expanded.push_back(size);
    repeated.push_back(size);
    const auto k = std::find(axes.begin(), axes.end(), d);
    if (k == axes.end()) {
      merged.push_back(size);
      continue;
    }
    const int64_t factor = factors[k - axes.begin()];
    expanded.push_back(1);
    repeated.push_back(factor);
    merged.push_back(size * factor);
  }
  return reshape(broadcast_to(reshape(x, expanded), repeated), merged);
}

// Linear interpolation along `axis` to `factor` times its size, with half-pixel centers: output i
// samples the input at (i + 0.5) / factor - 0.5, clamped to the first and last positions
// (jax.image.resize and tf.image.resize "bilinear", torch's interpolate(align_corners=False)).
Tensor interpolate_axis(const Tensor& x, int64_t axis, int64_t factor) {
  const int64_t size = x.shape()[axis];
  const int64_t out_size = size * factor;
  std::vector<int64_t> lower(out_size), upper(out_size);
  std::vector<double> upper_weight(out_size), lower_weight(out_size);
  for (int64_t i = 0; i < out_size; ++i) {
    const double source = std::max((static_cast<double>(i) + 0.5) / static_cast<double>(factor) - 0.5, 0.0);
    const auto below = std::min(static_cast<int64_t>(std::floor(source)), size - 1);
    lower[i] = below;
    upper[i] = std::min(below + 1, size - 1);
    upper_weight[i] = source - static_cast<double>(below);
    lower_weight[i] = 1.0 - upper_weight[i];
  }
  Shape weight_shape(static_cast<size_t>(x.ndim()), 1);
  weight_shape[axis] = out_size;
  const auto weights = [&](const std::vector<double>& w) {
    return cast(Tensor::from_vector(w, weight_shape, x.device()), x.dtype());
  };
  const auto positions = [&](const std::vector<int64_t>& p) { return Tensor::from_vector(p, {out_size}, x.device()); };
  return add(multiply(take(x, positions(lower), axis), weights(lower_weight)),
             multiply(take(x, positions(upper), axis), weights(upper_weight)));
}

Shape scaled_shape(const Shape& shape, const std::vector<int64_t>& axes, const std::vector<int64_t>& factors) {
  Shape out = shape;
  for (size_t k = 0; k < axes.size(); ++k) {
    if (out[axes[k]] >= 0) out[axes[k]] *= factors[k];
  }
  return out;
}

std::string lower_case(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

// ---------------------------------------------------------------- UpSampling1D

static const ArgumentTable& up_sampling1d_arguments() {
  static const ArgumentTable table = layer_table(
      "UpSampling1D", "keras/src/layers/reshaping/up_sampling1d.py",
      "Upsampling layer for 1D inputs: repeats each temporal step `size` times along the time axis.",
      {Argument("size", ArgKind::integer, 2).checked(positive_integer).described("the upsampling factor")});
  return table;
}

PITFALL_REGISTER_LAYER(UpSampling1D, up_sampling1d_arguments());

UpSampling1D::UpSampling1D(const Arguments& arguments, const LayerOptions& options)
    : Layer("UpSampling1D", options, arguments), size_(arguments.integer("size")) {}

std::vector<Tensor> UpSampling1D::call(const std::vector<Tensor>& inputs, bool) {
  check_input_rank(class_name(), inputs[0].shape(), 3, spatial_layout(DataFormat::channels_last, 3));
  return {repeat_positions(inputs[0], {1}, {size_})};
}

std::vector<Shape> UpSampling1D::compute_output_shape(const std::vector<Shape>& input_shapes) {
  check_input_rank(describe(), input_shapes.at(0), 3, spatial_layout(DataFormat::channels_last, 3));
  return {scaled_shape(input_shapes[0], {1}, {size_})};
}

// ---------------------------------------------------------------- UpSampling2D

static const ArgumentTable& up_sampling2d_arguments() {
  static const ArgumentTable table = layer_table(
      "UpSampling2D", "keras/src/layers/reshaping/up_sampling2d.py",
      "Upsampling layer for 2D inputs: rows and columns scaled by size[0] and size[1].",
      {pair_argument("size", Json::from_vector(std::vector<int64_t>{2, 2}),
                     "the upsampling factors for rows and columns (an int for both)"),
       layout_data_format_argument(),
       Argument("interpolation", ArgKind::string, "nearest")
           .normalized([](const Json& value) -> Json {
             const std::string method = lower_case(value.as_string());
             if (method == "nearest" || method == "bilinear") return Json(method);
             // keras/src/layers/reshaping/up_sampling2d.py hands these to ops.image.resize.
             for (const char* other : {"bicubic", "lanczos3", "lanczos5", "area"}) {
               if (method == other) {
                 throw NotImplementedError("interpolation=" + python_repr(value) + " is not supported by pitfall; "
                                           "use \"nearest\" or \"bilinear\"");
               }
             }
             throw ValueError("must be \"nearest\" or \"bilinear\" (Keras also names \"bicubic\", \"lanczos3\", "
                              "\"lanczos5\", \"area\", which pitfall lacks), got interpolation=" + python_repr(value));
           })
           .described("\"nearest\" (repeat) or \"bilinear\" (half-pixel centers)")});
  return table;
}

PITFALL_REGISTER_LAYER(UpSampling2D, up_sampling2d_arguments());

UpSampling2D::UpSampling2D(const Arguments& arguments, const LayerOptions& options)
    : Layer("UpSampling2D", options, arguments),
      size_(arguments.ints("size")),
      data_format_(data_format_of(arguments)),
      nearest_(arguments.text("interpolation") == "nearest") {}

std::vector<Tensor> UpSampling2D::call(const std::vector<Tensor>& inputs, bool) {
  const Tensor& x = inputs[0];
  check_input_rank(class_name(), x.shape(), 4, spatial_layout(data_format_, 4));
  const std::vector<int64_t> axes = spatial_axes(data_format_, 4);
  if (nearest_) return {repeat_positions(x, axes, size_)};
  return {interpolate_axis(interpolate_axis(x, axes[0], size_[0]), axes[1], size_[1])};
}

std::vector<Shape> UpSampling2D::compute_output_shape(const std::vector<Shape>& input_shapes) {
  check_input_rank(describe(), input_shapes.at(0), 4, spatial_layout(data_format_, 4));
  return {scaled_shape(input_shapes[0], spatial_axes(data_format_, 4), size_)};
}

}  // namespace pitfall
