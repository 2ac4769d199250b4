// Optimizer base. Updates run in place on each variable, outside autograd.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "pitfall/core/json.h"
#include "pitfall/core/tensor.h"

namespace pitfall {

class Optimizer {
 public:
  Optimizer(std::string class_name, double learning_rate);
  virtual ~Optimizer() = default;
  // One step: updates each variable from its gradient; an undefined gradient leaves it untouched.
  // Raises naming the variable when a gradient's shape or dtype does not match it.
  void apply_gradients(const std::vector<Tensor>& grads, const std::vector<Tensor>& variables);
  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double learning_rate);
  int64_t iterations() const { return iterations_; }
  const std::string& class_name() const { return class_name_; }
  virtual Json get_config() const;

 protected:
  // Updates one variable; `slot` indexes per-variable state kept by the subclass (by position).
  virtual void update(const Tensor& variable, const Tensor& grad, size_t slot) = 0;

 private:
  std::string class_name_;
  double learning_rate_;
  int64_t iterations_ = 0;
};

// Keras SGD: v = momentum * v - lr * g; w += v (plain w -= lr * g when momentum is 0);
// nesterov: w += momentum * v - lr * g.
std::shared_ptr<Optimizer> sgd_optimizer(double learning_rate = 0.01, double momentum = 0.0, bool nesterov = false);
// Keras Adam: m += (g - m)(1 - beta_1); v += (g^2 - v)(1 - beta_2);
// w -= lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon), t = iterations + 1
// (epsilon outside the square root of the uncorrected v); amsgrad uses max over steps of v instead.
std::shared_ptr<Optimizer> adam_optimizer(double learning_rate = 0.001, double beta_1 = 0.9, double beta_2 = 0.999,
                                          double epsilon = 1e-7, bool amsgrad = false);
// By name ("sgd", "adam"); unknown names raise ValueError with "did you mean".
std::shared_ptr<Optimizer> get_optimizer(const std::string& name);

}  // namespace pitfall
