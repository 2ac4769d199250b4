#include "pitfall/layers/layer_normalization.h"

#include <algorithm>

#include "pitfall/core/error.h"
#include "pitfall/core/ops.h"
#include "pitfall/layers/initializers.h"
#include "pitfall/layers/regularizers.h"

namespace pitfall {

namespace {

std::string axes_str(const std::vector<int64_t>& axes) {
  std::string s = "[";
  for (size_t i = 0; i < axes.size(); ++i) s += (i ? ", " : "") + std::to_string(axes[i]);
  return s + "]";
}

}  // namespace

static const ArgumentTable& layer_normalization_arguments() {
  static const ArgumentTable table = layer_table(
      "LayerNormalization", "keras/src/layers/normalization/layer_normalization.py",
      "Normalizes each sample over `axis` with its own mean and variance, then scales and shifts.",
      {Argument("axis", ArgKind::int_list, -1).described("the axis or axes to normalize over"),
       Argument("epsilon", ArgKind::number, 1e-3).checked(positive_number).described("added to the variance"),
       Argument("center", ArgKind::boolean, true).described("whether to add the offset beta"),
       Argument("scale", ArgKind::boolean, true).described("whether to multiply by gamma"),
       initializer_argument("beta_initializer", "zeros", "initializer of beta"),
       initializer_argument("gamma_initializer", "ones", "initializer of gamma"),
       regularizer_argument("beta_regularizer", "penalty on beta"),
       regularizer_argument("gamma_regularizer", "penalty on gamma"),
       unsupported_argument("beta_constraint"), unsupported_argument("gamma_constraint"),
       // Keras 3.0-3.5's argument (now RMSNormalization's): still accepted at its default.
       unsupported_argument("rms_scaling", false).pitfall_only()});
  return table;
}

PITFALL_REGISTER_LAYER(LayerNormalization, layer_normalization_arguments());

LayerNormalization::LayerNormalization(const Arguments& arguments, const LayerOptions& options)
    : Layer("LayerNormalization", options, arguments),
      epsilon_(arguments.number("epsilon")),
      center_(arguments.flag("center")),
      scale_(arguments.flag("scale")) {
  const Json& axis = arguments.at("axis");
  axis_argument_ = axis.is_array() ? axis.as_int_vector() : std::vector<int64_t>{axis.as_int()};
}

namespace {
Arguments layer_normalization_given(const LayerNormalizationOptions& o) {
  Json given = Json::object();
  if (!o.axis.empty()) given["axis"] = o.axis.size() == 1 ? Json(o.axis[0]) : Json::from_vector(o.axis);
  set_given(given, "epsilon", o.epsilon);
  set_given(given, "center", o.center);
  set_given(given, "scale", o.scale);
  set_given(given, "beta_initializer", o.beta_initializer);
  set_given(given, "gamma_initializer", o.gamma_initializer);
  set_given(given, "beta_regularizer", o.beta_regularizer);
  set_given(given, "gamma_regularizer", o.gamma_regularizer);
  return parse_arguments(layer_normalization_arguments(), given);
}
}  // namespace

LayerNormalization::LayerNormalization(const LayerNormalizationOptions& ln_options, const LayerOptions& options)
    : LayerNormalization(layer_normalization_given(ln_options), options) {}

void LayerNormalization::build(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.at(0);
  const int64_t rank = static_cast<int64_t>(shape.size());
  axes_.clear();
  for (int64_t a : axis_argument_) {
    if (a < -rank || a >= rank) {
      throw AxisError(describe() + ": axis " + std::to_string(a) + " (of axis=" + axes_str(axis_argument_) +
                      ") is out of range for an input of shape " + shape_str(shape) + " (rank " +
                      std::to_string(rank) + "); use axes in [" + std::to_string(-rank) + ", " +
                      std::to_string(rank - 1) + "]");
    }
    axes_.push_back(a < 0 ? a + rank : a);
  }
  std::sort(axes_.begin(), axes_.end());
  if (std::adjacent_find(axes_.begin(), axes_.end()) != axes_.end()) {
    throw AxisError(describe() + ": axis=" + axes_str(axis_argument_) + " names the same axis twice for an input of "
                    "rank " + std::to_string(rank) + "; list each axis once");
  }
  Shape param_shape;
  for (int64_t a : axes_) {
    if (shape[a] < 0) {
      throw ValueError(describe() + ": normalized axis " + std::to_string(a) + " must have a defined size, but the "
                       "input shape is " + shape_str(shape) + "; give Input a shape with that dimension known");
    }
    param_shape.push_back(shape[a]);
  }
  if (scale_) {
    gamma_ = add_weight("gamma", param_shape, make_initializer(arguments_.at("gamma_initializer")), true,
                        regularizer_from_config(arguments_.at("gamma_regularizer")));
  }
  if (center_) {
    beta_ = add_weight("beta", param_shape, make_initializer(arguments_.at("beta_initializer")), true,
                       regularizer_from_config(arguments_.at("beta_regularizer")));
  }
}

std::vector<Shape> LayerNormalization::compute_output_shape(const std::vector<Shape>& input_shapes) {
  return {input_shapes.at(0)};
}

std::vector<DType> LayerNormalization::compute_output_dtype(const std::vector<DType>& input_dtypes) const {
  const DType in = input_dtypes.at(0);
  return {is_floating(in) ? in : compute_dtype()};
}

std::vector<Tensor> LayerNormalization::call(const std::vector<Tensor>& inputs, bool /*training*/) {
  const Tensor& x = inputs.at(0);
  const DType weight_dtype = dtype();
  if (!is_floating(x.dtype())) {
    throw DTypeError(describe() + ": expects a floating input, got " + std::string(dtype_name(x.dtype())) +
                     " with shape " + shape_str(x.shape()) + "; cast it to " + std::string(dtype_name(weight_dtype)));
  }
  const DType compute = is_reduced_float(x.dtype()) ? DType::float32 : x.dtype();
  if (!is_reduced_float(x.dtype()) && (scale_ || center_) && x.dtype() != weight_dtype) {
    throw DTypeError(describe() + ": input dtype " + std::string(dtype_name(x.dtype())) +
                     " differs from the layer's weights (" + std::string(dtype_name(weight_dtype)) +
                     "); cast the input or create the layer with dtype=" + std::string(dtype_name(x.dtype())));
  }
  const auto in_compute = [&](const Tensor& t) { return t.dtype() == compute ? t : cast(t, compute); };

  Shape broadcast(static_cast<size_t>(x.ndim()), 1);
  for (int64_t a : axes_) broadcast[a] = x.shape()[a];
  const Tensor xc = in_compute(x);
  const Tensor mean_s = mean(xc, axes_, /*keepdims=*/true);
  const Tensor variance_s = var(xc, axes_, /*keepdims=*/true);
  Tensor inv = divide(1.0, sqrt(add(variance_s, epsilon_)));
  if (scale_) inv = multiply(inv, reshape(in_compute(gamma_), broadcast));
  Tensor out = multiply(subtract(xc, mean_s), inv);
  if (center_) out = add(out, reshape(in_compute(beta_), broadcast));
  if (out.dtype() != x.dtype()) out = cast(out, x.dtype());
  return {out};
}

}  // namespace pitfall
