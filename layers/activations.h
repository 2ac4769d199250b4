// Activation functions by Keras name ("relu", "softmax", ...), composed from core ops so that their
// gradients come from the ops' own backward passes.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "pitfall/core/tensor.h"

namespace pitfall {

using ActivationFn = std::function<Tensor(const Tensor&)>;

// keras.activations.get: "linear" (also "" / "none" / "None"), relu, relu6, sigmoid, hard_sigmoid,
// tanh, softmax, log_softmax (last axis), elu, selu, gelu (exact erf form, as
// keras.activations.gelu), leaky_relu (negative_slope 0.2, as keras.activations.leaky_relu; the
// LeakyReLU layer's 0.3 is a different default), softplus, softsign, swish / silu, hard_silu /
// hard_swish, mish, exponential. Unknown names raise ValueError with the closest names.
ActivationFn get_activation(const std::string& name);

// Registers a user's activation function under `name` (process-wide; a later registration of the
// same name replaces it). Built-in names cannot be registered. get_activation finds it after the
// built-ins; configs record the name, so a model using it loads once the name is registered again.
void register_activation(const std::string& name, ActivationFn fn);

// The canonical name for `name` ("" / "None" -> "linear", "silu" -> "silu"), as configs record it.
// Raises like get_activation for unknown names.
std::string canonical_activation_name(const std::string& name);

// Every accepted name, sorted.
std::vector<std::string> activation_names();

// Half-precision layers (float16 / bfloat16 compute dtype, e.g. under mixed_float16) run softmax and
// log_softmax in float32 and return float32: their outputs are the probabilities and log
// probabilities a loss reads, which float16 holds to only ~3 digits (Keras's mixed-precision guide
// asks for a float32 output layer; here it is automatic). Every other activation keeps the dtype.
DType activation_output_dtype(const std::string& canonical_name, DType compute_dtype);
// fn(x), with x cast to activation_output_dtype first.
Tensor apply_activation(const ActivationFn& fn, const std::string& canonical_name, const Tensor& x);
// A kernel layer's epilogue: x + bias (bias undefined: none), then the activation; one fused kernel
// (written into x's buffer) where the activation allows it (core/ops.h is_fused_activation).
Tensor add_bias_and_activate(Tensor x, const Tensor& bias, const ActivationFn& fn, const std::string& canonical_name);

}  // namespace pitfall
