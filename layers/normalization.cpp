#include "pitfall/layers/normalization.h"

#include <algorithm>
#include <cmath>

#include "pitfall/core/autograd.h"
#include "pitfall/core/ops.h"
#include "pitfall/layers/initializers.h"

namespace pitfall {

namespace {

// keras.backend.epsilon(): the floor of the standard deviation.
constexpr double kStddevFloor = 1e-7;

std::string axes_text(const std::vector<int64_t>& axes) {
  std::string text;
  for (int64_t a : axes) text += (text.empty() ? "" : ", ") + std::to_string(a);
  return "(" + text + (axes.size() == 1 ? ",)" : ")");
}

bool is_integer(const Json& v) { return v.is_int() && !v.is_bool(); }

// A number or a (nested, rectangular) list of numbers: its shape and values in row-major order;
// false when it is neither.
bool array_of_numbers(const Json& value, Shape& shape, std::vector<double>& values, size_t depth = 0) {
  if (value.is_number() && !value.is_bool()) {
    if (depth != shape.size() || !std::isfinite(value.as_double())) return false;
    values.push_back(value.as_double());
    return true;
  }
  if (!value.is_array()) return false;
  const auto size = static_cast<int64_t>(value.as_array().size());
  if (depth == shape.size()) {
    shape.push_back(size);
  } else if (shape[depth] != size) {
    return false;  // ragged
  }
  for (const Json& item : value.as_array()) {
    if (!array_of_numbers(item, shape, values, depth + 1)) return false;
  }
  return true;
}

Argument statistic_argument(const std::string& name, const std::string& doc) {
  return Argument(name, ArgKind::json)
      .allow_none()
      .checked([](const Json& value) -> std::string {
        Shape shape;
        std::vector<double> values;
        return array_of_numbers(value, shape, values) ? "" : "None, a finite number or a rectangular array of them";
      })
      .described(doc);
}

Tensor statistic_tensor(const Json& value) {
  Shape shape;
  std::vector<double> values;
  array_of_numbers(value, shape, values);
  return Tensor::from_vector(values, shape);
}

}  // namespace

static const ArgumentTable& normalization_arguments() {
  static const ArgumentTable table = layer_table(
      "Normalization", "keras/src/layers/preprocessing/normalization.py",
      "Normalizes its inputs to mean 0 and standard deviation 1 with statistics from adapt() or given: "
      "(x - mean) / sqrt(variance).",
      {Argument("axis", ArgKind::json, -1)
           .allow_none()
           .checked([](const Json& value) -> std::string {
             if (value.is_null() || is_integer(value)) return "";
             if (!value.is_array()) return "an integer, a tuple of integers or None";
             for (const Json& a : value.as_array()) {
               if (!is_integer(a)) return "an integer, a tuple of integers or None";
             }
             return "";
           })
           .normalized([](const Json& value) {
             if (value.is_null()) return Json::array();
             return value.is_array() ? Json::from_vector(value.as_int_vector())
                                     : Json::from_vector(std::vector<int64_t>{value.as_int()});
           })
           .described("the axis or axes with their own mean and variance (-1: one per feature); None or () "
                      "for one mean and variance over everything"),
       statistic_argument("mean", "the mean to use (None: from adapt()); broadcast over the kept axes"),
       statistic_argument("variance", "the variance to use (None: from adapt()); the shape of mean"),
       Argument("invert", ArgKind::boolean, false)
           .described("apply the inverse: mean + x * sqrt(variance), turning normalized values back")});
  return table;
}

PITFALL_REGISTER_LAYER(Normalization, normalization_arguments());

Normalization::Normalization(const Arguments& arguments, const LayerOptions& options)
    : Layer("Normalization", options, arguments),
      axis_(arguments.ints("axis")),
      invert_(arguments.flag("invert")),
      fixed_statistics_(!arguments.is_none("mean")) {
  const bool has_mean = !arguments.is_none("mean"), has_variance = !arguments.is_none("variance");
  if (has_mean != has_variance) {
    throw ValueError("Normalization: pass both mean and variance, or neither (and call adapt()); got mean=" +
                     python_repr(arguments.at("mean")) + " and variance=" + python_repr(arguments.at("variance")));
  }
  if (!has_mean) return;
  const Tensor mean = statistic_tensor(arguments.at("mean")), variance = statistic_tensor(arguments.at("variance"));
  if (mean.shape() != variance.shape()) {
    throw ValueError("Normalization: mean and variance must have the same shape, got mean of shape " +
                     shape_str(mean.shape()) + " and variance of shape " + shape_str(variance.shape()));
  }
  if (mean.ndim() > static_cast<int64_t>(axis_.size())) {
    throw ValueError("Normalization: mean of shape " + shape_str(mean.shape()) + " has more dimensions than axis=" +
                     axes_text(axis_) + " keeps (" + std::to_string(axis_.size()) +
                     "); give one value per position of the kept axes");
  }
}

void Normalization::check_kept_axes(const Shape& shape, const std::string& what) const {
  bool fits = shape.size() == built_shape_.size();
  for (size_t k = 0; fits && k < keep_axes_.size(); ++k) fits = shape[keep_axes_[k]] == built_shape_[keep_axes_[k]];
  if (!fits) {
    throw ValueError(describe() + ": " + what + " of shape " + shape_str(shape) + " does not fit the layer, built for "
                     "inputs of shape " + keras_shape_str(built_shape_) + " with axis=" + axes_text(axis_) +
                     " (the kept axes must have the same sizes)");
  }
}

void Normalization::build(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.at(0);
  const auto rank = static_cast<int64_t>(shape.size());
  built_shape_ = shape;
  if (!built_shape_.empty()) built_shape_[0] = -1;
  keep_axes_.clear();
  for (int64_t a : axis_) {
    if (a < -rank || a >= rank) {
      throw AxisError(describe() + ": axis=" + axes_text(axis_) + " is out of range for inputs of shape " +
                      shape_str(shape) + " (rank " + std::to_string(rank) + "); use axes in [" +
                      std::to_string(-rank) + ", " + std::to_string(rank - 1) + "]");
    }
    const int64_t resolved = a < 0 ? a + rank : a;
    if (std::find(keep_axes_.begin(), keep_axes_.end(), resolved) == keep_axes_.end()) keep_axes_.push_back(resolved);
  }
  std::sort(keep_axes_.begin(), keep_axes_.end());
  reduce_axes_.clear();
  broadcast_shape_.assign(static_cast<size_t>(rank), 1);
  Shape statistics_shape;
  for (int64_t d = 0; d < rank; ++d) {
    if (std::find(keep_axes_.begin(), keep_axes_.end(), d) == keep_axes_.end()) {
      reduce_axes_.push_back(d);
      continue;
    }
    if (shape[d] < 0) {
      throw ValueError(describe() + ": axis " + std::to_string(d) + " is kept (axis=" + axes_text(axis_) +
                       ") but its size is unknown in the input shape " + keras_shape_str(shape) +
                       "; give Input that dimension");
    }
    broadcast_shape_[d] = shape[d];
    statistics_shape.push_back(shape[d]);
  }
  if (!fixed_statistics_) {
    mean_ = add_weight("mean", statistics_shape, zeros_initializer(), /*trainable=*/false);
    variance_ = add_weight("variance", statistics_shape, get_initializer("ones"), /*trainable=*/false);
    count_ = add_weight("count", {}, zeros_initializer(), /*trainable=*/false, nullptr, DType::int64);
    return;
  }
  // Given statistics: a scalar broadcasts everywhere; an array's axes align with the kept axes from
  // the right (keras/src/layers/preprocessing/normalization.py build).
  const auto aligned = [&](const Tensor& statistic, const char* name) {
    Shape expanded(static_cast<size_t>(rank), 1);
    const int64_t n = statistic.ndim();
    for (int64_t i = 1; i <= n; ++i) {
      const int64_t axis = keep_axes_[keep_axes_.size() - i];
      const int64_t size = statistic.shape()[n - i];
      if (size != 1 && size != shape[axis]) {
        throw ValueError(describe() + ": " + name + " of shape " + shape_str(statistic.shape()) +
                         " does not broadcast over the kept axes " + axes_text(keep_axes_) + " of inputs of shape " +
                         keras_shape_str(shape) + "; give one value per position (or 1) along each kept axis");
      }
      expanded[axis] = size;
    }
    return broadcast_to(reshape(statistic, expanded), broadcast_shape_).contiguous();
  };
  fixed_mean_ = aligned(statistic_tensor(arguments_.at("mean")), "mean");
  fixed_variance_ = aligned(statistic_tensor(arguments_.at("variance")), "variance");
}

bool Normalization::input_shape_compatible(size_t, const Shape& built, const Shape& got) {
  if (got.size() != built.size()) return false;
  for (int64_t d : keep_axes_) {
    if (got[d] >= 0 && built[d] >= 0 && got[d] != built[d]) return false;
  }
  return true;
}

Tensor Normalization::broadcast_mean() const {
  if (!built()) throw ValueError(describe() + ": not built yet; call it or adapt() it first");
  return fixed_statistics_ ? fixed_mean_ : reshape(mean_.detach(), broadcast_shape_);
}

Tensor Normalization::broadcast_variance() const {
  if (!built()) throw ValueError(describe() + ": not built yet; call it or adapt() it first");
  return fixed_statistics_ ? fixed_variance_ : reshape(variance_.detach(), broadcast_shape_);
}

std::vector<Tensor> Normalization::call(const std::vector<Tensor>& inputs, bool) {
  const DType compute = compute_dtype();
  if (!is_floating(compute)) {
    throw DTypeError(class_name() + ": computes in " + std::string(dtype_name(compute)) + "; give it a floating dtype");
  }
  // Integer inputs are data to normalize: cast without the integer-input warning (Keras casts too).
  const Tensor x = inputs[0].dtype() == compute ? inputs[0] : cast(inputs[0], compute);
  const auto statistic = [&](const Tensor& fixed, const Tensor& weight) {
    const Tensor t = fixed_statistics_ ? fixed : reshape(in_compute_dtype(weight), broadcast_shape_);
    return (t.dtype() == compute ? t : cast(t, compute)).to(x.device());
  };
  const Tensor mean = statistic(fixed_mean_, mean_);
  const Tensor stddev = maximum(sqrt(statistic(fixed_variance_, variance_)), scalar_like(kStddevFloor, mean, "Normalization"));
  if (invert_) return {add(mean, multiply(x, stddev))};
  return {divide(subtract(x, mean), stddev)};
}

std::vector<Shape> Normalization::compute_output_shape(const std::vector<Shape>& input_shapes) { return input_shapes; }

std::vector<DType> Normalization::compute_output_dtype(const std::vector<DType>&) const { return {compute_dtype()}; }

// ---------------------------------------------------------------- adapt

void Normalization::begin_adapt(const Shape& batch_shape) {
  if (fixed_statistics_) {
    throw ValueError(describe() + " was given mean and variance; adapt() cannot replace them. Create the layer "
                     "without mean and variance to learn them from data");
  }
  if (!built()) {
    ensure_built({batch_shape});
  } else {
    check_kept_axes(batch_shape, "adapt() data");
  }
  Shape statistics_shape;
  for (int64_t d : keep_axes_) statistics_shape.push_back(built_shape_[d]);
  adapting_ = AdaptState{true, Tensor::zeros(statistics_shape, DType::float64), Tensor::zeros(statistics_shape, DType::float64), 0};
}

std::pair<Tensor, Tensor> Normalization::batch_moments(const Tensor& batch) const {
  const Tensor x = cast(batch.detach(), DType::float64).to(Device{});
  if (reduce_axes_.empty()) return {x, Tensor::zeros(x.shape(), DType::float64)};
  return {mean(x, reduce_axes_), var(x, reduce_axes_)};
}

void Normalization::adapt_batch(const Tensor& batch) {
  if (!adapting_.active) throw ValueError(describe() + ": adapt_batch() before begin_adapt()");
  if (batch.dtype() == DType::bool_) {
    throw DTypeError(describe() + ": adapt() data must be numbers, got bool; cast it to a numeric dtype");
  }
  check_kept_axes(batch.shape(), "an adapt() batch");
  int64_t batch_count = 1;
  for (int64_t d : reduce_axes_) batch_count *= batch.shape()[d];
  if (batch_count == 0) return;  // an empty batch adds nothing
  NoGradGuard no_grad;
  const auto [batch_mean, batch_variance] = batch_moments(batch);
  // keras/src/layers/preprocessing/normalization.py adapt: a weighted mean, and the variance by the
  // lack-of-fit sum of squares, so batches of any sizes merge into the statistics of all the data.
  adapting_.count += batch_count;
  const double batch_weight = static_cast<double>(batch_count) / static_cast<double>(adapting_.count);
  const double existing_weight = 1.0 - batch_weight;
  const Tensor merged_mean = add(multiply(adapting_.mean, existing_weight), multiply(batch_mean, batch_weight));
  adapting_.variance = add(multiply(add(adapting_.variance, square(subtract(adapting_.mean, merged_mean))), existing_weight),
                           multiply(add(batch_variance, square(subtract(batch_mean, merged_mean))), batch_weight));
  adapting_.mean = merged_mean;
}

void Normalization::finish_adapt() {
  if (!adapting_.active) throw ValueError(describe() + ": finish_adapt() before begin_adapt()");
  adapting_.active = false;
  if (adapting_.count == 0) {
    throw ValueError(describe() + ": adapt() got no data (every batch was empty); pass at least one sample");
  }
  NoGradGuard no_grad;
  mean_.assign(cast(adapting_.mean, mean_.dtype()).to(mean_.device()));
  variance_.assign(cast(adapting_.variance, variance_.dtype()).to(variance_.device()));
}

void Normalization::adapt(const std::vector<Tensor>& batches) {
  if (batches.empty()) throw ValueError(describe() + ": adapt() got no batches; pass at least one");
  begin_adapt(batches[0].shape());
  for (const Tensor& batch : batches) adapt_batch(batch);
  finish_adapt();
}

}  // namespace pitfall
