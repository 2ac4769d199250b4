#include "pitfall/layers/batch_normalization.h"

#include "pitfall/core/autograd.h"
#include "pitfall/core/error.h"
#include "pitfall/core/ops.h"
#include "pitfall/layers/initializers.h"
#include "pitfall/layers/regularizers.h"

namespace pitfall {

static const ArgumentTable& batch_normalization_arguments() {
  static const ArgumentTable table = layer_table(
      "BatchNormalization", "keras/src/layers/normalization/batch_normalization.py",
      "Normalizes with the batch's statistics in training and the moving statistics in inference.",
      {Argument("axis", ArgKind::integer, -1).described("the features axis (the channels)"),
       Argument("momentum", ArgKind::number).from_convention("BatchNormalization.momentum").allow_none()
           .checked(unit_interval)
           .described("moving-average momentum: keras weights the OLD value (0.99), torch the NEW batch (0.1); "
                      "None (torch only): a cumulative average"),
       Argument("epsilon", ArgKind::number).from_convention("BatchNormalization.epsilon").checked(positive_number)
           .described("added to the variance (keras 1e-3, torch 1e-5)"),
       Argument("center", ArgKind::boolean, true).described("whether to add the offset beta"),
       Argument("scale", ArgKind::boolean, true).described("whether to multiply by gamma"),
       initializer_argument("beta_initializer", "zeros", "initializer of beta"),
       initializer_argument("gamma_initializer", "ones", "initializer of gamma"),
       initializer_argument("moving_mean_initializer", "zeros", "initializer of the moving mean"),
       initializer_argument("moving_variance_initializer", "ones", "initializer of the moving variance"),
       regularizer_argument("beta_regularizer", "penalty on beta"),
       regularizer_argument("gamma_regularizer", "penalty on gamma"),
       unsupported_argument("beta_constraint"), unsupported_argument("gamma_constraint"),
       unsupported_argument("renorm", false), unsupported_argument("renorm_clipping"),
       unsupported_argument("renorm_momentum", 0.99), unsupported_argument("synchronized", false),
       Argument("convention", ArgKind::string, "keras").one_of({"keras", "torch"}).pitfall_only()
           .described("keras or torch: the momentum's meaning and the defaults (layers/conventions.h)")});
  return table;
}

PITFALL_REGISTER_LAYER(BatchNormalization, batch_normalization_arguments());

BatchNormalization::BatchNormalization(const Arguments& arguments, const LayerOptions& options)
    : Layer("BatchNormalization", options, arguments),
      convention_(arguments.convention()),
      center_(arguments.flag("center")),
      scale_(arguments.flag("scale")),
      axis_argument_(arguments.integer("axis")) {
  const BatchNormConvention& row = batch_norm_convention(convention_);
  if (arguments.is_none("momentum")) {
    if (!row.none_momentum_is_cumulative) {
      throw ValueError(describe() + ": momentum=None (PyTorch's cumulative average) exists only in the \"torch\" "
                       "convention, got convention=\"" + convention_name(convention_) +
                       "\"; pass convention=\"torch\" or a momentum");
    }
    cumulative_average_ = true;
  } else {
    momentum_ = arguments.number("momentum");
  }
  epsilon_ = arguments.number("epsilon");
}

namespace {
Arguments batch_normalization_given(const BatchNormalizationOptions& o) {
  Json given = Json::object();
  set_given(given, "axis", o.axis);
  if (o.cumulative_average) {
    if (o.momentum) {
      throw ValueError("BatchNormalization: cumulative_average replaces momentum, but momentum=" +
                       python_float_repr(*o.momentum) + " was also given; pass only one of them");
    }
    given["momentum"] = Json();
  }
  set_given(given, "momentum", o.momentum);
  set_given(given, "epsilon", o.epsilon);
  set_given(given, "center", o.center);
  set_given(given, "scale", o.scale);
  set_given(given, "beta_initializer", o.beta_initializer);
  set_given(given, "gamma_initializer", o.gamma_initializer);
  set_given(given, "moving_mean_initializer", o.moving_mean_initializer);
  set_given(given, "moving_variance_initializer", o.moving_variance_initializer);
  set_given(given, "beta_regularizer", o.beta_regularizer);
  set_given(given, "gamma_regularizer", o.gamma_regularizer);
  set_given(given, "convention", o.convention);
  return parse_arguments(batch_normalization_arguments(), given);
}
}  // namespace

BatchNormalization::BatchNormalization(const BatchNormalizationOptions& bn_options, const LayerOptions& options)
    : BatchNormalization(batch_normalization_given(bn_options), options) {}

void BatchNormalization::build(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.at(0);
  const int64_t rank = static_cast<int64_t>(shape.size());
  if (axis_argument_ < -rank || axis_argument_ >= rank) {
    throw AxisError(describe() + ": axis " + std::to_string(axis_argument_) + " is out of range for an input of shape " +
                    shape_str(shape) + " (rank " + std::to_string(rank) + "); pass an axis in [" +
                    std::to_string(-rank) + ", " + std::to_string(rank - 1) + "]");
  }
  axis_ = axis_argument_ < 0 ? axis_argument_ + rank : axis_argument_;
  const int64_t channels = shape[axis_];
  if (channels < 0) {
    throw ValueError(describe() + ": axis " + std::to_string(axis_argument_) +
                     " of the input must have a defined size, but the input shape is " + shape_str(shape) +
                     "; give Input a shape with that dimension known");
  }
  // Keras order: gamma, beta, moving_mean, moving_variance.
  if (scale_) {
    gamma_ = add_weight("gamma", {channels}, make_initializer(arguments_.at("gamma_initializer")), true,
                        regularizer_from_config(arguments_.at("gamma_regularizer")));
  }
  if (center_) {
    beta_ = add_weight("beta", {channels}, make_initializer(arguments_.at("beta_initializer")), true,
                       regularizer_from_config(arguments_.at("beta_regularizer")));
  }
  moving_mean_ = add_weight("moving_mean", {channels}, make_initializer(arguments_.at("moving_mean_initializer")),
                            /*trainable=*/false);
  moving_variance_ =
      add_weight("moving_variance", {channels}, make_initializer(arguments_.at("moving_variance_initializer")),
                 /*trainable=*/false);
  if (cumulative_average_) {
    num_batches_tracked_ =
        add_weight("num_batches_tracked", {}, zeros_initializer(), /*trainable=*/false, nullptr, DType::float64);
  }
}

std::vector<Shape> BatchNormalization::compute_output_shape(const std::vector<Shape>& input_shapes) {
  return {input_shapes.at(0)};
}

std::vector<DType> BatchNormalization::compute_output_dtype(const std::vector<DType>& input_dtypes) const {
  const DType in = input_dtypes.at(0);
  return {is_floating(in) ? in : compute_dtype()};
}

std::vector<Tensor> BatchNormalization::call(const std::vector<Tensor>& inputs, bool training) {
  const Tensor& x = inputs.at(0);
  const DType weight_dtype = moving_mean_.dtype();
  if (!is_floating(x.dtype())) {
    throw DTypeError(describe() + ": expects a floating input, got " + std::string(dtype_name(x.dtype())) +
                     " with shape " + shape_str(x.shape()) + "; cast it to " + std::string(dtype_name(weight_dtype)));
  }
  // Keras computes half-precision inputs in float32 (a float16 variance over a batch overflows or
  // loses the small terms); anything else must match the weights, as no op promotes silently.
  const DType compute = is_reduced_float(x.dtype()) ? DType::float32 : x.dtype();
  if (!is_reduced_float(x.dtype()) && x.dtype() != weight_dtype) {
    throw DTypeError(describe() + ": input dtype " + std::string(dtype_name(x.dtype())) +
                     " differs from the layer's weights (" + std::string(dtype_name(weight_dtype)) +
                     "); cast the input or create the layer with dtype=" + std::string(dtype_name(x.dtype())));
  }
  const auto in_compute = [&](const Tensor& t) { return t.dtype() == compute ? t : cast(t, compute); };

  const int64_t count = x.numel() / std::max<int64_t>(x.shape()[axis_], 1);

  const Tensor xc = in_compute(x);
  Tensor mean_c, variance_c;  // (C,)
  // Keras 3: a frozen BatchNormalization runs in inference mode even when training=true.
  if (training && trainable()) {
    const BatchNormConvention& row = batch_norm_convention(convention_);
    if (!row.batch_of_one_allowed_in_training && count <= 1) {
      throw ValueError(describe() + ": expected more than 1 value per channel when training (PyTorch's rule in "
                       "the \"torch\" convention), got input shape " + shape_str(x.shape()) +
                       "; use a batch larger than 1, call with training=false, or use the \"keras\" convention");
    }
    // The biased batch variance, one pass per moment (batch_norm_moments).
    const Tensor moments = batch_norm_moments(xc, axis_);
    const int64_t channels = x.shape()[axis_];
    mean_c = reshape(slice(moments, {0, 0}, {1, channels}), {channels});
    variance_c = reshape(slice(moments, {1, 0}, {1, channels}), {channels});
    update_moving_statistics(mean_c, variance_c, count);
  } else {
    mean_c = in_compute(moving_mean_);
    variance_c = in_compute(moving_variance_);
  }
  Tensor inv = divide(1.0, sqrt(add(variance_c, epsilon_)));
  if (scale_) inv = multiply(inv, in_compute(gamma_));
  // (x - mean) * inv + beta rather than Keras's x * inv + (beta - mean * inv): the same value, but a
  // batch of one gives exactly beta (x - mean is exactly 0), the signature of pitfall P19. One pass
  // (batch_norm_apply), rounded as subtract, multiply and add would round it.
  Tensor out = batch_norm_apply(xc, mean_c, inv, center_ ? in_compute(beta_) : Tensor(), axis_);
  if (out.dtype() != x.dtype()) out = cast(out, x.dtype());
  return {out};
}

void BatchNormalization::update_moving_statistics(const Tensor& batch_mean, const Tensor& batch_variance,
                                                  int64_t count) {
  NoGradGuard no_grad;  // the moving statistics are state, not part of the graph
  const DType compute = batch_mean.dtype();
  const auto in_compute = [&](const Tensor& t) { return t.dtype() == compute ? t : cast(t, compute); };
  const Tensor old_mean = in_compute(moving_mean_.detach());
  const Tensor old_variance = in_compute(moving_variance_.detach());
  const Tensor new_mean_b = batch_mean.detach();
  Tensor new_variance_b = batch_variance.detach();
  const BatchNormConvention& row = batch_norm_convention(convention_);
  Tensor mean_next, variance_next;
  if (row.momentum_meaning == MomentumMeaning::weight_of_old_value) {
    // Keras 3: moving = moving * momentum + batch * (1 - momentum), biased batch variance.
    mean_next = add(multiply(old_mean, momentum_), multiply(new_mean_b, 1.0 - momentum_));
    variance_next = add(multiply(old_variance, momentum_), multiply(new_variance_b, 1.0 - momentum_));
  } else {
    double factor = momentum_;
    if (cumulative_average_) {
      const double tracked = num_batches_tracked_.item() + 1.0;
      num_batches_tracked_.assign(Tensor::scalar(tracked, DType::float64));
      factor = 1.0 / tracked;
    }
    if (row.unbiased_moving_variance) {
      new_variance_b = multiply(new_variance_b, static_cast<double>(count) / static_cast<double>(count - 1));
    }
    // PyTorch's order: momentum * batch + (1 - momentum) * running.
    mean_next = add(multiply(new_mean_b, factor), multiply(old_mean, 1.0 - factor));
    variance_next = add(multiply(new_variance_b, factor), multiply(old_variance, 1.0 - factor));
  }
  const DType weight_dtype = moving_mean_.dtype();
  moving_mean_.assign(mean_next.dtype() == weight_dtype ? mean_next : cast(mean_next, weight_dtype));
  moving_variance_.assign(variance_next.dtype() == weight_dtype ? variance_next : cast(variance_next, weight_dtype));
}

}  // namespace pitfall
