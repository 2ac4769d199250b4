#include "pitfall/layers/pooling.h"

#include "pitfall/core/ops.h"
#include "pitfall/layers/conv2d.h"
#include "pitfall/layers/masking.h"

namespace pitfall {

namespace {

void check_rank(const Layer& layer, int rank, const Shape& shape) {
  if (shape.size() == static_cast<size_t>(rank) + 2) return;
  const std::string layout = rank == 1 ? "3-D input (batch, steps, channels)" : "4-D input (batch, height, width, channels)";
  const std::string example = rank == 1 ? "for one sequence of 100 steps with 3 features pass (1, 100, 3)"
                                        : "for a single grayscale image of 28x28 pass (1, 28, 28, 1)";
  throw ShapeError("layer '" + layer.name() + "' (" + layer.class_name() + ") needs a " + layout + ", got shape " +
                   shape_str(shape) + "; pitfall uses channels_last: " + example);
}

// pool_size, strides, padding, data_format: the shared arguments of the windowed poolings.
std::vector<Argument> pooling_arguments(int rank, Json pool_size_default) {
  const std::string window = rank == 1 ? "the window's length" : "the window's (height, width); one int for both";
  Argument pool_size = window_argument("pool_size", rank, pool_size_default, window);
  if (pool_size_default.is_null()) pool_size.make_required();
  return {pool_size,
          window_argument("strides", rank, Json(), "the step between windows; None: the pool_size (windows tile the input)")
              .allow_none(),
          padding_argument(), data_format_argument()};
}

ArgumentTable windowed_table(const char* class_name, const char* file, const char* doc, int rank, Json pool_size) {
  return layer_table(class_name, std::string("keras/src/layers/pooling/") + file, doc,
                     pooling_arguments(rank, std::move(pool_size)));
}

ArgumentTable global_table(const char* class_name, const char* file, const char* doc) {
  return layer_table(class_name, std::string("keras/src/layers/pooling/") + file, doc,
                     {data_format_argument(),
                      Argument("keepdims", ArgKind::boolean, false).described("keep the spatial axes, of size 1")});
}

}  // namespace

static const ArgumentTable& max_pooling2d_arguments() {
  static const ArgumentTable table =
      windowed_table("MaxPooling2D", "max_pooling2d.py", "Max pooling over (height, width) windows of NHWC images.", 2,
                     Json::from_vector(std::vector<int64_t>{2, 2}));
  return table;
}

static const ArgumentTable& average_pooling2d_arguments() {
  static const ArgumentTable table = windowed_table(
      "AveragePooling2D", "average_pooling2d.py",
      "Average pooling over (height, width) windows of NHWC images (\"same\": over the in-bounds part).", 2, Json());
  return table;
}

static const ArgumentTable& max_pooling1d_arguments() {
  static const ArgumentTable table = windowed_table(
      "MaxPooling1D", "max_pooling1d.py", "Max pooling over windows of steps of (batch, steps, channels) sequences.", 1, 2);
  return table;
}

static const ArgumentTable& average_pooling1d_arguments() {
  static const ArgumentTable table = windowed_table(
      "AveragePooling1D", "average_pooling1d.py",
      "Average pooling over windows of steps of (batch, steps, channels) sequences (\"same\": over the in-bounds part).",
      1, Json());
  return table;
}

static const ArgumentTable& global_average_pooling2d_arguments() {
  static const ArgumentTable table = global_table("GlobalAveragePooling2D", "global_average_pooling2d.py",
                                                  "The mean over height and width of NHWC images.");
  return table;
}

static const ArgumentTable& global_max_pooling2d_arguments() {
  static const ArgumentTable table = global_table("GlobalMaxPooling2D", "global_max_pooling2d.py",
                                                  "The maximum over height and width of NHWC images.");
  return table;
}

static const ArgumentTable& global_average_pooling1d_arguments() {
  static const ArgumentTable table =
      global_table("GlobalAveragePooling1D", "global_average_pooling1d.py",
                   "The mean over the steps of (batch, steps, channels) sequences (masked steps left out).");
  return table;
}

static const ArgumentTable& global_max_pooling1d_arguments() {
  static const ArgumentTable table = global_table("GlobalMaxPooling1D", "global_max_pooling1d.py",
                                                  "The maximum over the steps of (batch, steps, channels) sequences.");
  return table;
}

PITFALL_REGISTER_LAYER(MaxPooling2D, max_pooling2d_arguments());
PITFALL_REGISTER_LAYER(AveragePooling2D, average_pooling2d_arguments());
PITFALL_REGISTER_LAYER(MaxPooling1D, max_pooling1d_arguments());
PITFALL_REGISTER_LAYER(AveragePooling1D, average_pooling1d_arguments());
PITFALL_REGISTER_LAYER(GlobalAveragePooling2D, global_average_pooling2d_arguments());
PITFALL_REGISTER_LAYER(GlobalMaxPooling2D, global_max_pooling2d_arguments());
PITFALL_REGISTER_LAYER(GlobalAveragePooling1D, global_average_pooling1d_arguments());
PITFALL_REGISTER_LAYER(GlobalMaxPooling1D, global_max_pooling1d_arguments());

// ---------------------------------------------------------------- windowed pooling

Pooling::Pooling(const std::string& class_name, int rank, bool is_max, Arguments arguments, const LayerOptions& options)
    : Layer(class_name, options, std::move(arguments)), rank_(rank), is_max_(is_max) {
  pool_size_ = arguments_.ints("pool_size");
  // Keras: strides=None means the windows tile the input (strides = pool_size).
  if (arguments_.is_none("strides")) arguments_.resolve("strides", Json::from_vector(pool_size_));
  strides_ = arguments_.ints("strides");
  padding_ = arguments_.text("padding");
}

Arguments Pooling::given(const ArgumentTable& table, const std::vector<int64_t>& pool_size, const PoolingOptions& pooling) {
  Json given = Json::object();
  if (!pool_size.empty()) given["pool_size"] = pool_size.size() == 1 ? Json(pool_size[0]) : Json::from_vector(pool_size);
  if (!pooling.strides.empty()) {
    given["strides"] = pooling.strides.size() == 1 ? Json(pooling.strides[0]) : Json::from_vector(pooling.strides);
  }
  set_given(given, "padding", pooling.padding);
  set_given(given, "data_format", pooling.data_format);
  return parse_arguments(table, given);
}

void Pooling::build(const std::vector<Shape>& input_shapes) { check_rank(*this, rank_, input_shapes.at(0)); }

std::vector<Tensor> Pooling::call(const std::vector<Tensor>& inputs, bool) {
  const Tensor& x = inputs[0];
  const auto pool = [&](const Tensor& images, const std::vector<int64_t>& window, const std::vector<int64_t>& step) {
    return is_max_ ? max_pool2d(images, window, step, padding_) : avg_pool2d(images, window, step, padding_);
  };
  if (rank_ == 2) return {pool(x, pool_size_, strides_)};
  // (N, L, C) as images of height 1.
  const Tensor y = pool(expand_dims(x, 1), {1, pool_size_[0]}, {1, strides_[0]});
  return {squeeze(y, {1})};
}

std::vector<Shape> Pooling::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& in = input_shapes.at(0);
  check_rank(*this, rank_, in);
  Shape out = {in[0]};
  for (int i = 0; i < rank_; ++i) out.push_back(conv_output_length(in[1 + i], pool_size_[i], strides_[i], padding_));
  out.push_back(in.back());
  return {out};
}

MaxPooling2D::MaxPooling2D(const Arguments& arguments, const LayerOptions& options)
    : Pooling("MaxPooling2D", 2, true, arguments, options) {}

MaxPooling2D::MaxPooling2D(std::vector<int64_t> pool_size, const Pooling2DOptions& pooling, const LayerOptions& options)
    : MaxPooling2D(given(max_pooling2d_arguments(), pool_size, pooling), options) {}

AveragePooling2D::AveragePooling2D(const Arguments& arguments, const LayerOptions& options)
    : Pooling("AveragePooling2D", 2, false, arguments, options) {}

AveragePooling2D::AveragePooling2D(std::vector<int64_t> pool_size, const Pooling2DOptions& pooling,
                                   const LayerOptions& options)
    : AveragePooling2D(given(average_pooling2d_arguments(), pool_size, pooling), options) {}

MaxPooling1D::MaxPooling1D(const Arguments& arguments, const LayerOptions& options)
    : Pooling("MaxPooling1D", 1, true, arguments, options) {}

AveragePooling1D::AveragePooling1D(const Arguments& arguments, const LayerOptions& options)
    : Pooling("AveragePooling1D", 1, false, arguments, options) {}

// ---------------------------------------------------------------- global pooling

GlobalPooling::GlobalPooling(const std::string& class_name, int rank, bool is_max, const Arguments& arguments,
                             const LayerOptions& options)
    : Layer(class_name, options, arguments), rank_(rank), is_max_(is_max), keepdims_(arguments.flag("keepdims")) {}

std::vector<int64_t> GlobalPooling::spatial_axes() const {
  std::vector<int64_t> axes;
  for (int i = 1; i <= rank_; ++i) axes.push_back(i);
  return axes;
}

void GlobalPooling::build(const std::vector<Shape>& input_shapes) { check_rank(*this, rank_, input_shapes.at(0)); }

std::vector<Tensor> GlobalPooling::call(const std::vector<Tensor>& inputs, bool) {
  return {is_max_ ? max(inputs[0], spatial_axes(), keepdims_) : mean(inputs[0], spatial_axes(), keepdims_)};
}

std::vector<Shape> GlobalPooling::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& in = input_shapes.at(0);
  check_rank(*this, rank_, in);
  if (!keepdims_) return {{in[0], in.back()}};
  Shape out(static_cast<size_t>(rank_) + 2, 1);
  out.front() = in[0];
  out.back() = in.back();
  return {out};
}

GlobalAveragePooling2D::GlobalAveragePooling2D(const Arguments& arguments, const LayerOptions& options)
    : GlobalPooling("GlobalAveragePooling2D", 2, false, arguments, options) {}

GlobalAveragePooling2D::GlobalAveragePooling2D(bool keepdims, const LayerOptions& options)
    : GlobalAveragePooling2D(
          parse_arguments(global_average_pooling2d_arguments(), Json(Json::Object{{"keepdims", keepdims}})), options) {}

GlobalMaxPooling2D::GlobalMaxPooling2D(const Arguments& arguments, const LayerOptions& options)
    : GlobalPooling("GlobalMaxPooling2D", 2, true, arguments, options) {}

GlobalMaxPooling1D::GlobalMaxPooling1D(const Arguments& arguments, const LayerOptions& options)
    : GlobalPooling("GlobalMaxPooling1D", 1, true, arguments, options) {}

GlobalAveragePooling1D::GlobalAveragePooling1D(const Arguments& arguments, const LayerOptions& options)
    : GlobalPooling("GlobalAveragePooling1D", 1, false, arguments, options) {}

std::vector<Tensor> GlobalAveragePooling1D::call_masked(const std::vector<Tensor>& inputs,
                                                        const std::vector<Tensor>& masks, bool training) {
  if (masks.empty() || !masks[0].defined()) return call(inputs, training);
  // keras/src/layers/pooling/global_average_pooling1d.py: sum of the kept steps / their count.
  const Tensor& x = inputs[0];
  check_mask(describe(), masks[0], x.shape(), 2);
  const Tensor keep = expand_dims(reshape(masks[0], {x.dim(0), x.dim(1)}), -1);
  const Tensor kept = where(keep, x, scalar_like(0.0, x, "GlobalAveragePooling1D"));
  return {divide(sum(kept, {1}, keepdims_), sum(cast(keep, x.dtype()), {1}, keepdims_))};
}

}  // namespace pitfall
