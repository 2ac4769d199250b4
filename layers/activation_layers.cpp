#include "pitfall/layers/activation_layers.h"

#include <algorithm>

#include "pitfall/core/ops.h"
#include "pitfall/layers/initializers.h"
#include "pitfall/layers/regularizers.h"

namespace pitfall {

namespace {

// An int_list argument as a list (an int n is [n]).
std::vector<int64_t> int_list(const Json& value) {
  return value.is_array() ? value.as_int_vector() : std::vector<int64_t>{value.as_int()};
}

std::string axes_text(const std::vector<int64_t>& axes) {
  std::string text;
  for (int64_t a : axes) text += (text.empty() ? "" : ", ") + std::to_string(a);
  return "[" + text + "]";
}

}  // namespace

// ---------------------------------------------------------------- LeakyReLU

static const ArgumentTable& leaky_relu_arguments() {
  static const ArgumentTable table = [] {
    ArgumentTable t = layer_table(
        "LeakyReLU", "keras/src/layers/activations/leaky_relu.py",
        "Leaky version of a Rectified Linear Unit: x for x >= 0, negative_slope * x below.",
        {Argument("negative_slope", ArgKind::number).from_convention("LeakyReLU.negative_slope")
             .checked(non_negative_number).described("the slope below 0"),
         Argument("convention", ArgKind::string, "keras").one_of({"keras", "torch"}).pitfall_only()
             .described("whose default slope: keras (0.3, the layer's; keras.activations.leaky_relu's is 0.2) "
                        "or torch (0.01, nn.LeakyReLU's)")});
    // Keras 3 still pops Keras 2's `alpha` with a deprecation warning; pitfall names the new spelling.
    t.hints["alpha"] = "Keras 2's name of this argument; pass negative_slope= (the same value) instead";
    return t;
  }();
  return table;
}

PITFALL_REGISTER_LAYER(LeakyReLU, leaky_relu_arguments());

LeakyReLU::LeakyReLU(const Arguments& arguments, const LayerOptions& options)
    : Layer("LeakyReLU", options, arguments), negative_slope_(arguments.number("negative_slope")) {}

std::vector<Tensor> LeakyReLU::call(const std::vector<Tensor>& inputs, bool) {
  return {leaky_relu(inputs[0], negative_slope_)};
}

std::vector<Shape> LeakyReLU::compute_output_shape(const std::vector<Shape>& input_shapes) { return input_shapes; }

// ---------------------------------------------------------------- PReLU

static const ArgumentTable& prelu_arguments() {
  static const ArgumentTable table = layer_table(
      "PReLU", "keras/src/layers/activations/prelu.py",
      "Parametric Rectified Linear Unit: x for x >= 0, alpha * x below, with a learned alpha per position.",
      {initializer_argument("alpha_initializer", "Zeros", "initializer of alpha"),
       regularizer_argument("alpha_regularizer", "penalty on alpha"),
       unsupported_argument("alpha_constraint"),
       Argument("shared_axes", ArgKind::int_list).allow_none().checked(positive_integer)
           .normalized([](const Json& value) { return value.is_null() ? value : Json::from_vector(int_list(value)); })
           .described("the axes (1 = the first after the batch) along which one alpha is shared, e.g. [1, 2] "
                      "for one alpha per channel of (batch, height, width, channels)")});
  return table;
}

PITFALL_REGISTER_LAYER(PReLU, prelu_arguments());

PReLU::PReLU(const Arguments& arguments, const LayerOptions& options) : Layer("PReLU", options, arguments) {
  if (!arguments.is_none("shared_axes")) shared_axes_ = arguments.ints("shared_axes");
}

void PReLU::build(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.at(0);
  const int64_t rank = static_cast<int64_t>(shape.size());
  if (rank < 2) {
    throw ShapeError(describe() + " needs an input with a batch axis and at least one more, got shape " +
                     shape_str(shape));
  }
  Shape alpha_shape(shape.begin() + 1, shape.end());
  for (int64_t a : shared_axes_) {
    if (a >= rank) {
      throw AxisError(describe() + ": shared_axes=" + axes_text(shared_axes_) + " names axis " + std::to_string(a) +
                      ", but the input of shape " + shape_str(shape) + " has axes 1 to " + std::to_string(rank - 1) +
                      " after the batch axis");
    }
    alpha_shape[a - 1] = 1;
  }
  for (size_t i = 0; i < alpha_shape.size(); ++i) {
    if (alpha_shape[i] < 0) {
      throw ValueError(describe() + ": axis " + std::to_string(i + 1) + " of the input shape " + shape_str(shape) +
                       " is unknown, but alpha needs its size; give Input that dimension or add it to shared_axes");
    }
  }
  alpha_ = add_weight("alpha", alpha_shape, make_initializer(arguments_.at("alpha_initializer")), true,
                      regularizer_from_config(arguments_.at("alpha_regularizer")));
}

bool PReLU::input_shape_compatible(size_t, const Shape& built, const Shape& got) {
  if (got.size() != built.size()) return false;
  for (size_t d = 1; d < got.size(); ++d) {
    const bool shared = std::find(shared_axes_.begin(), shared_axes_.end(), static_cast<int64_t>(d)) != shared_axes_.end();
    if (!shared && got[d] >= 0 && built[d] >= 0 && got[d] != built[d]) return false;
  }
  return true;
}

std::vector<Tensor> PReLU::call(const std::vector<Tensor>& inputs, bool) {
  const Tensor& x = inputs[0];
  // keras/src/layers/activations/prelu.py: relu(x) - alpha * relu(-x).
  return {subtract(relu(x), multiply(in_compute_dtype(alpha_), relu(negative(x))))};
}

std::vector<Shape> PReLU::compute_output_shape(const std::vector<Shape>& input_shapes) { return input_shapes; }

// ---------------------------------------------------------------- ReLU

static const ArgumentTable& relu_arguments() {
  static const ArgumentTable table = layer_table(
      "ReLU", "keras/src/layers/activations/relu.py",
      "Rectified Linear Unit: min(x, max_value) above threshold, negative_slope * (x - threshold) below.",
      {Argument("max_value", ArgKind::number).allow_none().checked(non_negative_number)
           .described("the largest output (None: no cap)"),
       Argument("negative_slope", ArgKind::number, 0.0).checked(non_negative_number)
           .described("the slope below the threshold"),
       Argument("threshold", ArgKind::number, 0.0).checked(non_negative_number)
           .described("inputs at or below it are damped (0 without negative_slope)")});
  return table;
}

PITFALL_REGISTER_LAYER(ReLU, relu_arguments());

ReLU::ReLU(const Arguments& arguments, const LayerOptions& options)
    : Layer("ReLU", options, arguments),
      negative_slope_(arguments.number("negative_slope")),
      threshold_(arguments.number("threshold")) {
  if (!arguments.is_none("max_value")) max_value_ = arguments.number("max_value");
}

std::vector<Tensor> ReLU::call(const std::vector<Tensor>& inputs, bool) {
  const Tensor& x = inputs[0];
  // The cases of keras.activations.relu (keras/src/activations/activations.py ReLU.static_call).
  if (negative_slope_ != 0.0 && !max_value_ && threshold_ == 0.0) return {leaky_relu(x, negative_slope_)};
  Tensor out = threshold_ != 0.0 ? where(greater(x, scalar_like(threshold_, x, "ReLU")), x, scalar_like(0.0, x, "ReLU"))
                                 : relu(x);
  if (max_value_) out = clip(out, 0.0, *max_value_);
  if (negative_slope_ != 0.0) {
    const Tensor below = threshold_ != 0.0 ? relu(subtract(threshold_, x)) : relu(negative(x));
    out = subtract(out, multiply(below, negative_slope_));
  }
  return {out};
}

std::vector<Shape> ReLU::compute_output_shape(const std::vector<Shape>& input_shapes) { return input_shapes; }

// ---------------------------------------------------------------- Softmax

static const ArgumentTable& softmax_arguments() {
  static const ArgumentTable table = layer_table(
      "Softmax", "keras/src/layers/activations/softmax.py",
      "Softmax activation: exp(x) / sum(exp(x)) along `axis`.",
      {Argument("axis", ArgKind::int_list, -1)
           .described("the axis, or list of axes, along which the softmax normalization is applied")});
  return table;
}

PITFALL_REGISTER_LAYER(Softmax, softmax_arguments());

Softmax::Softmax(const Arguments& arguments, const LayerOptions& options)
    : Layer("Softmax", options, arguments), axes_(int_list(arguments.at("axis"))) {}

std::vector<Tensor> Softmax::call(const std::vector<Tensor>& inputs, bool) {
  const Tensor& x = inputs[0];
  const int64_t rank = x.ndim();
  std::vector<int64_t> axes;
  for (int64_t a : axes_) {
    if (a < -rank || a >= rank) {
      throw AxisError(class_name() + ": axis=" + axes_text(axes_) + " is out of range for an input of shape " +
                      shape_str(x.shape()) + "; use axes in [" + std::to_string(-rank) + ", " +
                      std::to_string(rank - 1) + "]");
    }
    axes.push_back(a < 0 ? a + rank : a);
  }
  if (axes.size() == 1) return {softmax(x, axes[0])};
  // Several axes normalized together: exp(x - max) / sum(exp(x - max)) over all of them (Keras's
  // exp(x - logsumexp(x, axes))).
  const Tensor shifted = exp(subtract(x, max(x.detach(), axes, /*keepdims=*/true)));
  return {divide(shifted, sum(shifted, axes, /*keepdims=*/true))};
}

std::vector<Shape> Softmax::compute_output_shape(const std::vector<Shape>& input_shapes) { return input_shapes; }

// ---------------------------------------------------------------- ELU

static const ArgumentTable& elu_arguments() {
  static const ArgumentTable table = layer_table(
      "ELU", "keras/src/layers/activations/elu.py",
      "Exponential Linear Unit: x for x > 0, alpha * (exp(x) - 1) otherwise.",
      {Argument("alpha", ArgKind::number, 1.0).described("the scale of the negative section")});
  return table;
}

PITFALL_REGISTER_LAYER(ELU, elu_arguments());

ELU::ELU(const Arguments& arguments, const LayerOptions& options)
    : Layer("ELU", options, arguments), alpha_(arguments.number("alpha")) {}

std::vector<Tensor> ELU::call(const std::vector<Tensor>& inputs, bool) { return {elu(inputs[0], alpha_)}; }

std::vector<Shape> ELU::compute_output_shape(const std::vector<Shape>& input_shapes) { return input_shapes; }

}  // namespace pitfall
