// Optimizer base: validation, the step counter and the name lookup shared by every optimizer.
#include "pitfall/optim/optimizer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>

#include "pitfall/core/autograd.h"
#include "pitfall/layers/layer.h"

namespace pitfall {

namespace {

std::string describe_variable(const Tensor& variable, size_t index) {
  const std::string position = "variable #" + std::to_string(index);
  if (!variable.defined() || variable.name().empty()) return position;
  return "variable '" + variable.name() + "' (" + position + ")";
}

void check_learning_rate(double learning_rate) {
  if (!std::isfinite(learning_rate) || learning_rate < 0.0) {
    throw ValueError("optimizer: learning_rate must be a finite number >= 0, got " + std::to_string(learning_rate));
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Every Keras optimizer name, in one place. A null factory is a known Keras optimizer that pitfall
// does not implement yet: it gets a clear NotImplementedError rather than "unknown name".
struct OptimizerEntry {
  std::string name;        // lookup key (Keras snake_case alias), matched case-insensitively
  std::string class_name;  // Keras class
  std::function<std::shared_ptr<Optimizer>()> make;
};

const std::vector<OptimizerEntry>& optimizer_table() {
  static const std::vector<OptimizerEntry> table = {
      {"sgd", "SGD", [] { return sgd_optimizer(); }},
      {"adam", "Adam", [] { return adam_optimizer(); }},
      {"adamw", "AdamW", nullptr},
      {"rmsprop", "RMSprop", nullptr},
      {"adagrad", "Adagrad", nullptr},
      {"adadelta", "Adadelta", nullptr},
      {"adamax", "Adamax", nullptr},
      {"nadam", "Nadam", nullptr},
  };
  return table;
}

}  // namespace

Optimizer::Optimizer(std::string class_name, double learning_rate)
    : class_name_(std::move(class_name)), learning_rate_(learning_rate) {
  check_learning_rate(learning_rate);
}

void Optimizer::set_learning_rate(double learning_rate) {
  check_learning_rate(learning_rate);
  learning_rate_ = learning_rate;
}

void Optimizer::apply_gradients(const std::vector<Tensor>& grads, const std::vector<Tensor>& variables) {
  if (grads.size() != variables.size()) {
    throw ValueError(class_name_ + ".apply_gradients: got " + std::to_string(grads.size()) + " gradients for " +
                     std::to_string(variables.size()) +
                     " variables; pass one gradient per variable, in the same order (undefined for none)");
  }
  // Validate everything before touching anything, so a bad gradient never leaves a half-applied step.
  for (size_t i = 0; i < variables.size(); ++i) {
    const Tensor& variable = variables[i];
    const Tensor& grad = grads[i];
    if (!variable.defined()) {
      throw ValueError(class_name_ + ".apply_gradients: variable #" + std::to_string(i) + " is undefined");
    }
    if (!grad.defined()) continue;
    if (!is_floating(variable.dtype())) {
      throw DTypeError(class_name_ + ".apply_gradients: " + describe_variable(variable, i) + " has dtype " +
                       std::string(dtype_name(variable.dtype())) + "; only floating variables can be trained");
    }
    if (grad.shape() != variable.shape()) {
      throw ShapeError(class_name_ + ".apply_gradients: the gradient for " + describe_variable(variable, i) +
                       " has shape " + shape_str(grad.shape()) + ", expected the variable's shape " +
                       shape_str(variable.shape()) + "; are gradients and variables in the same order?");
    }
    if (grad.dtype() != variable.dtype()) {
      throw DTypeError(class_name_ + ".apply_gradients: the gradient for " + describe_variable(variable, i) +
                       " has dtype " + std::string(dtype_name(grad.dtype())) + ", expected the variable's dtype " +
                       std::string(dtype_name(variable.dtype())) + "; cast the gradient (or use a LossScaleOptimizer "
                       "for mixed precision)");
    }
  }
  NoGradGuard no_grad;
  for (size_t i = 0; i < variables.size(); ++i) {
    if (grads[i].defined()) update(variables[i], grads[i].detach(), i);
  }
  ++iterations_;
}

Json Optimizer::get_config() const {
  Json config = Json::object();
  config["name"] = class_name_;
  config["learning_rate"] = learning_rate_;
  return config;
}

std::shared_ptr<Optimizer> get_optimizer(const std::string& name) {
  const std::string key = lower(name);
  std::vector<std::string> candidates;
  for (const auto& entry : optimizer_table()) {
    if (key == entry.name || key == lower(entry.class_name)) {
      if (!entry.make) {
        throw NotImplementedError("optimizer '" + name + "' (keras.optimizers." + entry.class_name +
                                  ") is not implemented in pitfall yet; use 'sgd' or 'adam' for now");
      }
      return entry.make();
    }
    candidates.push_back(entry.name);
  }
  throw ValueError("unknown optimizer '" + name + "'; " + did_you_mean(key, candidates));
}

}  // namespace pitfall
