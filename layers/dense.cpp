#include "pitfall/layers/dense.h"

#include "pitfall/core/ops.h"
#include "pitfall/layers/builtin_layers.h"

namespace pitfall {

Dense::Dense(int64_t units, DenseOptions dense, const LayerOptions& options)
    : Layer("Dense", options), units_(units), dense_(std::move(dense)) {
  if (units_ <= 0) {
    throw ValueError("Dense: `units` must be a positive integer, got units=" + std::to_string(units_));
  }
  activation_name_ = canonical_activation_name(dense_.activation);
  activation_ = get_activation(activation_name_);
  if (!dense_.kernel_initializer) dense_.kernel_initializer = get_initializer("glorot_uniform");
  if (!dense_.bias_initializer) dense_.bias_initializer = zeros_initializer();
}

Dense::Dense(int64_t units, const std::string& activation, const LayerOptions& options)
    : Dense(units, [&] {
        DenseOptions dense;
        dense.activation = activation;
        return dense;
      }(), options) {}

void Dense::build(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.at(0);
  if (shape.size() < 2 || shape.back() < 0) {
    throw ShapeError("layer '" + name() + "' (Dense) needs an input of rank >= 2 with a known last dimension, got " +
                     shape_str(shape) + "; add a batch dimension or Flatten/Reshape first");
  }
  kernel_ = add_weight("kernel", {shape.back(), units_}, dense_.kernel_initializer, true, dense_.kernel_regularizer);
  if (dense_.use_bias) bias_ = add_weight("bias", {units_}, dense_.bias_initializer, true, dense_.bias_regularizer);
}

std::vector<Tensor> Dense::call(const std::vector<Tensor>& inputs, bool) {
  // inputs (..., input_dim) @ kernel (input_dim, units) -> (..., units)
  Tensor out = matmul(inputs[0], in_compute_dtype(kernel_));
  if (dense_.use_bias && is_fused_activation(activation_name_)) {
    return {bias_activation(std::move(out), in_compute_dtype(bias_), activation_name_, /*overwrite_x=*/true)};
  }
  if (dense_.use_bias) out = add(out, in_compute_dtype(bias_));
  return {apply_activation(activation_, activation_name_, out)};
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

Json Dense::get_config() const {
  Json config = base_config();
  config["units"] = units_;
  config["activation"] = activation_name_;
  config["use_bias"] = dense_.use_bias;
  config["kernel_initializer"] = initializer_to_config(*dense_.kernel_initializer);
  config["bias_initializer"] = initializer_to_config(*dense_.bias_initializer);
  config["kernel_regularizer"] = regularizer_to_config(dense_.kernel_regularizer);
  config["bias_regularizer"] = regularizer_to_config(dense_.bias_regularizer);
  return config;
}

void register_dense_layer() {
  register_layer_class("Dense", [](const Json& config) -> std::shared_ptr<Layer> {
    DenseOptions dense;
    dense.activation = config.get("activation", "linear").as_string();
    dense.use_bias = config.get("use_bias", true).as_bool();
    dense.kernel_initializer = initializer_from_config(config.get("kernel_initializer", "glorot_uniform"));
    dense.bias_initializer = initializer_from_config(config.get("bias_initializer", "zeros"));
    dense.kernel_regularizer = regularizer_from_config(config.get("kernel_regularizer", Json()));
    dense.bias_regularizer = regularizer_from_config(config.get("bias_regularizer", Json()));
    return std::make_shared<Dense>(config.at("units").as_int(), dense, layer_options_from_config(config));
  });
}

}  // namespace pitfall
