#include "pitfall/layers/layer_normalization.h"

#include <algorithm>

#include "pitfall/core/error.h"
#include "pitfall/core/ops.h"
#include "pitfall/layers/builtin_layers.h"
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

LayerNormalization::LayerNormalization(const LayerNormalizationOptions& ln_options, const LayerOptions& options)
    : Layer("LayerNormalization", options), options_(ln_options) {
  if (options_.axis.empty()) {
    throw ValueError(describe() + ": axis must name at least one axis to normalize over, got []; the default is -1");
  }
  if (!(options_.epsilon > 0.0)) {
    throw ValueError(describe() + ": epsilon must be > 0 (it keeps 1/sqrt(variance + epsilon) finite). Received: "
                     "epsilon=" + std::to_string(options_.epsilon));
  }
  if (!options_.beta_initializer) options_.beta_initializer = zeros_initializer();
  if (!options_.gamma_initializer) options_.gamma_initializer = ones_initializer();
}

void LayerNormalization::build(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.at(0);
  const int64_t rank = static_cast<int64_t>(shape.size());
  axes_.clear();
  for (int64_t a : options_.axis) {
    if (a < -rank || a >= rank) {
      throw AxisError(describe() + ": axis " + std::to_string(a) + " (of axis=" + axes_str(options_.axis) +
                      ") is out of range for an input of shape " + shape_str(shape) + " (rank " +
                      std::to_string(rank) + "); use axes in [" + std::to_string(-rank) + ", " +
                      std::to_string(rank - 1) + "]");
    }
    axes_.push_back(a < 0 ? a + rank : a);
  }
  std::sort(axes_.begin(), axes_.end());
  if (std::adjacent_find(axes_.begin(), axes_.end()) != axes_.end()) {
    throw AxisError(describe() + ": axis=" + axes_str(options_.axis) + " names the same axis twice for an input of "
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
  if (options_.scale) {
    gamma_ = add_weight("gamma", param_shape, options_.gamma_initializer, true, options_.gamma_regularizer);
  }
  if (options_.center) {
    beta_ = add_weight("beta", param_shape, options_.beta_initializer, true, options_.beta_regularizer);
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
  if (!is_reduced_float(x.dtype()) && (options_.scale || options_.center) && x.dtype() != weight_dtype) {
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
  Tensor inv = divide(1.0, sqrt(add(variance_s, options_.epsilon)));
  if (options_.scale) inv = multiply(inv, reshape(in_compute(gamma_), broadcast));
  Tensor out = multiply(subtract(xc, mean_s), inv);
  if (options_.center) out = add(out, reshape(in_compute(beta_), broadcast));
  if (out.dtype() != x.dtype()) out = cast(out, x.dtype());
  return {out};
}

Json LayerNormalization::get_config() const {
  Json config = base_config();
  config["axis"] = options_.axis.size() == 1 ? Json(options_.axis[0]) : Json::from_vector(options_.axis);
  config["epsilon"] = options_.epsilon;
  config["center"] = options_.center;
  config["scale"] = options_.scale;
  config["beta_initializer"] = initializer_to_config(*options_.beta_initializer);
  config["gamma_initializer"] = initializer_to_config(*options_.gamma_initializer);
  config["beta_regularizer"] = regularizer_to_config(options_.beta_regularizer);
  config["gamma_regularizer"] = regularizer_to_config(options_.gamma_regularizer);
  return config;
}

void register_layer_normalization_layer() {
  register_layer_class("LayerNormalization", [](const Json& config) {
    LayerNormalizationOptions o;
    const Json axis = config.get("axis", Json(-1));
    o.axis = axis.is_array() ? axis.as_int_vector() : std::vector<int64_t>{axis.as_int()};
    o.epsilon = config.get("epsilon", Json(1e-3)).as_double();
    o.center = config.get("center", Json(true)).as_bool();
    o.scale = config.get("scale", Json(true)).as_bool();
    o.beta_initializer = initializer_from_config(config.get("beta_initializer", Json()));
    o.gamma_initializer = initializer_from_config(config.get("gamma_initializer", Json()));
    o.beta_regularizer = regularizer_from_config(config.get("beta_regularizer", Json()));
    o.gamma_regularizer = regularizer_from_config(config.get("gamma_regularizer", Json()));
    return std::make_shared<LayerNormalization>(o, layer_options_from_config(config));
  });
}

}  // namespace pitfall
