#include "pitfall/layers/activations.h"

#include <map>
#include <mutex>

#include "pitfall/core/error.h"
#include "pitfall/core/ops.h"
#include "pitfall/core/warnings.h"
#include "pitfall/layers/layer.h"

namespace pitfall {
namespace {

// keras.activations.selu constants (Klambauer et al. 2017).
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

// Stable softplus: max(x, 0) + log(1 + exp(-|x|)). The max is written (x + |x|) / 2 so that the
// gradient at exactly 0 is sigmoid(0) = 0.5 like the true derivative.
Tensor stable_softplus(const Tensor& x) {
  const Tensor magnitude = abs(x);
  return multiply(add(x, magnitude), 0.5) + log(add(exp(negative(magnitude)), 1.0));
}

// Keras 3: relu6(x + 3) / 6.
Tensor keras_hard_sigmoid(const Tensor& x) { return divide(clip(add(x, 3.0), 0.0, 6.0), 6.0); }

const std::map<std::string, ActivationFn>& table() {
  static const std::map<std::string, ActivationFn> activations = {
      {"linear", [](const Tensor& x) { return x; }},
      {"relu", [](const Tensor& x) { return relu(x); }},
      {"relu6", [](const Tensor& x) { return clip(x, 0.0, 6.0); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"hard_sigmoid", keras_hard_sigmoid},
      {"tanh", [](const Tensor& x) { return tanh(x); }},
      {"softmax", [](const Tensor& x) { return softmax(x, -1); }},
      {"log_softmax", [](const Tensor& x) { return log_softmax(x, -1); }},
      {"elu", [](const Tensor& x) { return elu(x, 1.0); }},
      {"selu", [](const Tensor& x) { return multiply(elu(x, kSeluAlpha), kSeluScale); }},
      {"gelu", [](const Tensor& x) { return gelu(x, /*approximate=*/false); }},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2); }},
      {"softplus", stable_softplus},
      {"softsign", [](const Tensor& x) { return divide(x, add(abs(x), 1.0)); }},
      {"swish", [](const Tensor& x) { return multiply(x, sigmoid(x)); }},
      {"silu", [](const Tensor& x) { return multiply(x, sigmoid(x)); }},
      {"hard_silu", [](const Tensor& x) { return multiply(x, keras_hard_sigmoid(x)); }},
      {"hard_swish", [](const Tensor& x) { return multiply(x, keras_hard_sigmoid(x)); }},
      {"mish", [](const Tensor& x) { return multiply(x, tanh(stable_softplus(x))); }},
      {"exponential", [](const Tensor& x) { return exp(x); }},
  };
  return activations;
}

// Functions a user registered by name (a Python function given as activation=, or named in
// custom_objects / register_keras_serializable): looked up after the built-ins, which they cannot replace.
struct UserActivations {
  std::mutex mutex;
  std::map<std::string, ActivationFn> functions;
};
UserActivations& user_activations() {
  // Never destroyed: the functions may hold objects of an interpreter that is gone at exit.
  static UserActivations* registry = new UserActivations;
  return *registry;
}

bool find_user_activation(const std::string& name, ActivationFn* fn) {
  UserActivations& user = user_activations();
  std::lock_guard<std::mutex> lock(user.mutex);
  const auto it = user.functions.find(name);
  if (it == user.functions.end()) return false;
  if (fn) *fn = it->second;
  return true;
}

}  // namespace

void register_activation(const std::string& name, ActivationFn fn) {
  if (name.empty() || table().count(name) || name == "None" || name == "none" || name == "null") {
    throw ValueError("register_activation: '" + name + "' is a built-in activation name (or empty); register "
                     "the function under a name of its own");
  }
  UserActivations& user = user_activations();
  std::lock_guard<std::mutex> lock(user.mutex);
  user.functions[name] = std::move(fn);
}

std::vector<std::string> activation_names() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : table()) names.push_back(name);
  return names;
}

std::string canonical_activation_name(const std::string& name) {
  if (name.empty() || name == "None" || name == "none" || name == "null") return "linear";
  if (table().count(name) == 0 && !find_user_activation(name, nullptr)) {
    throw ValueError("unknown activation '" + name + "'; " + did_you_mean(name, activation_names()) +
                     " (a function of your own: pass it in custom_objects, or register it with "
                     "register_keras_serializable)");
  }
  return name;
}

ActivationFn get_activation(const std::string& name) {
  const std::string canonical = canonical_activation_name(name);
  const auto builtin = table().find(canonical);
  if (builtin != table().end()) return builtin->second;
  ActivationFn fn;
  find_user_activation(canonical, &fn);
  return fn;
}

DType activation_output_dtype(const std::string& canonical_name, DType compute_dtype) {
  const bool probabilities = canonical_name == "softmax" || canonical_name == "log_softmax";
  return is_reduced_float(compute_dtype) && probabilities ? DType::float32 : compute_dtype;
}

Tensor add_bias_and_activate(Tensor x, const Tensor& bias, const ActivationFn& fn, const std::string& canonical_name) {
  if (!bias.defined()) return apply_activation(fn, canonical_name, x);
  if (is_fused_activation(canonical_name)) return bias_activation(std::move(x), bias, canonical_name, /*overwrite_x=*/true);
  return apply_activation(fn, canonical_name, add(x, bias));
}

Tensor apply_activation(const ActivationFn& fn, const std::string& canonical_name, const Tensor& x) {
  const bool probabilities = canonical_name == "softmax" || canonical_name == "log_softmax";
  if (probabilities && !x.shape().empty() && x.shape().back() == 1) {
    // softmax over one unit is exp(z)/exp(z) = 1 whatever z: constant output, zero gradient (pitfall P11)
    const std::string where = current_layer_path().empty() ? "a layer" : "layer '" + current_layer_path() + "'";
    warn_once("softmax-one-unit:" + current_layer_path(),
              where + " applies " + canonical_name + " over a single unit: the output is always " +
                  (canonical_name == "softmax" ? "1.0" : "0.0") +
                  " and no gradient flows through it, so the layer never learns (pitfall P11). For one "
                  "binary output use activation='sigmoid' with binary_crossentropy; for C classes use "
                  "Dense(C, activation='softmax')");
  }
  const DType out = activation_output_dtype(canonical_name, x.dtype());
  return fn(out == x.dtype() ? x : cast(x, out));
}

}  // namespace pitfall
