#include "pitfall/layers/dense.h"

#include <tuple>

#include "pitfall/core/ops.h"

namespace pitfall {

static const ArgumentTable& dense_arguments() {
  static const ArgumentTable table = layer_table(
      "Dense", "keras/src/layers/core/dense.py",
      "Just your regular densely-connected NN layer: activation(inputs @ kernel + bias) on the last axis.",
      {Argument("units", ArgKind::integer).make_required().checked(positive_integer)
           .described("dimensionality of the output space"),
       activation_argument("activation", Json(), "activation function; None means linear (a(x) = x)"),
       Argument("use_bias", ArgKind::boolean, true).described("whether the layer adds a bias vector"),
       initializer_argument("kernel_initializer", Json(), "initializer of the kernel weights matrix")
           .from_convention("Dense.kernel_initializer"),
       initializer_argument("bias_initializer", Json(), "initializer of the bias vector")
           .from_convention("Dense.bias_initializer"),
       regularizer_argument("kernel_regularizer", "penalty on the kernel"),
       regularizer_argument("bias_regularizer", "penalty on the bias"),
       unsupported_argument("activity_regularizer"), unsupported_argument("kernel_constraint"),
       unsupported_argument("bias_constraint"), unsupported_argument("lora_rank"),
       unsupported_argument("lora_alpha"), unsupported_argument("quantization_config"),
       Argument("convention", ArgKind::string, "keras").one_of({"keras", "torch"}).pitfall_only()
           .described("whose default initializers: keras (glorot_uniform, zeros) or torch (kaiming_uniform(a=sqrt(5)), "
                      "U(+-1/sqrt(fan_in)))")});
  return table;
}

PITFALL_REGISTER_LAYER(Dense, dense_arguments());

Dense::Dense(const Arguments& arguments, const LayerOptions& options)
    : Layer("Dense", options, arguments),
      units_(arguments.integer("units")),
      use_bias_(arguments.flag("use_bias")),
      activation_name_(arguments.text("activation")),
      activation_(get_activation(activation_name_)) {}

namespace {
Arguments dense_given(int64_t units, const DenseOptions& o) {
  Json given = Json::object();
  given["units"] = units;
  set_kernel_layer_given(given, o);
  return parse_arguments(dense_arguments(), given);
}
}  // namespace

Dense::Dense(int64_t units, const DenseOptions& dense, const LayerOptions& options)
    : Dense(dense_given(units, dense), options) {}

Dense::Dense(int64_t units, const std::string& activation, const LayerOptions& options)
    : Dense(units, DenseOptions{.activation = activation}, options) {}

void Dense::build(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.at(0);
  if (shape.size() < 2 || shape.back() < 0) {
    throw ShapeError("layer '" + name() + "' (Dense) needs an input of rank >= 2 with a known last dimension, got " +
                     shape_str(shape) + "; add a batch dimension or Flatten/Reshape first");
  }
  const auto fan_in = static_cast<double>(shape.back());
  std::tie(kernel_, bias_) = add_kernel_and_bias({shape.back(), units_}, {units_}, fan_in, use_bias_);
}

std::vector<Tensor> Dense::call(const std::vector<Tensor>& inputs, bool) {
  // inputs (..., input_dim) @ kernel (input_dim, units) -> (..., units)
  return {add_bias_and_activate(matmul(inputs[0], in_compute_dtype(kernel_)), use_bias_ ? in_compute_dtype(bias_) : Tensor(), activation_,
                                activation_name_)};
}

std::vector<DType> Dense::compute_output_dtype(const std::vector<DType>&) const {
  return {activation_output_dtype(activation_name_, compute_dtype())};
}

std::vector<Shape> Dense::compute_output_shape(const std::vector<Shape>& input_shapes) {
  Shape out = input_shapes.at(0);
  if (out.empty()) throw ShapeError("layer '" + name() + "' (Dense) cannot take a scalar input");
  out.back() = units_;
  return {out};
}

bool Dense::input_shape_compatible(size_t, const Shape& built, const Shape& got) {
  return got.size() >= 2 && (got.back() < 0 || got.back() == built.back());
}

}  // namespace pitfall
