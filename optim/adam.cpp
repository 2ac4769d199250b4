// Keras Adam (keras/src/optimizers/adam.py), with t = iterations + 1:
//   m += (g - m) * (1 - beta_1);   v += (g^2 - v) * (1 - beta_2)
//   alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
//   w -= (m * alpha) / (sqrt(v) + epsilon)      (amsgrad: v_hat = max(v_hat, v) replaces v)
// epsilon is the paper's "epsilon hat": added outside the square root of the bias-UNcorrected v, so
// it weighs sqrt(1 - beta_2^t) times more than PyTorch's epsilon early in training.
// Every quantity, alpha included, is computed and rounded in the variable's dtype, as Keras does.
// The PyTorch convention (epsilon added after bias-correcting v, default 1e-8) is not here yet.
#include <cmath>

#include "pitfall/core/ops.h"
#include "pitfall/layers/layer.h"
#include "pitfall/optim/optimizer.h"

namespace pitfall {

namespace {

// The hyperparameters that distinguish one Adam from another; a row of the defaults table.
struct AdamHyperparameters {
  double beta_1;
  double beta_2;
  double epsilon;
  bool amsgrad;
};

void check_hyperparameters(const AdamHyperparameters& h) {
  // beta == 1 would make the bias correction 1 - beta^t zero, so the first step divides by zero.
  for (const auto& [name, beta] : {std::pair<const char*, double>{"beta_1", h.beta_1}, {"beta_2", h.beta_2}}) {
    if (!(beta >= 0.0 && beta < 1.0)) {
      throw ValueError(std::string("Adam: ") + name + " must be a float in [0, 1), got " + std::to_string(beta));
    }
  }
  if (!(std::isfinite(h.epsilon) && h.epsilon >= 0.0)) {
    throw ValueError("Adam: epsilon must be a finite float >= 0 (Keras default 1e-7), got " + std::to_string(h.epsilon));
  }
}

class Adam : public Optimizer {
 public:
  Adam(double learning_rate, AdamHyperparameters hyper) : Optimizer("Adam", learning_rate), hyper_(hyper) {
    check_hyperparameters(hyper_);
  }

  Json get_config() const override {
    Json config = Optimizer::get_config();
    config["beta_1"] = hyper_.beta_1;
    config["beta_2"] = hyper_.beta_2;
    config["epsilon"] = hyper_.epsilon;
    config["amsgrad"] = hyper_.amsgrad;
    return config;
  }

 protected:
  void update(const Tensor& variable, const Tensor& grad, size_t slot) override {
    const DType dtype = variable.dtype();
    const Device device = variable.device();
    // Keras keeps the learning rate in a floatx variable and casts it to the variable's dtype.
    const Tensor lr = cast(Tensor::scalar(learning_rate(), floatx(), device), dtype);
    const Tensor step = Tensor::scalar(static_cast<double>(iterations() + 1), dtype, device);
    const Tensor beta_1_power = power(Tensor::scalar(hyper_.beta_1, dtype, device), step);
    const Tensor beta_2_power = power(Tensor::scalar(hyper_.beta_2, dtype, device), step);
    const Tensor alpha = divide(multiply(lr, sqrt(subtract(1.0, beta_2_power))), subtract(1.0, beta_1_power));

    const Tensor& momentum = state(momentums_, "momentum", variable, slot);
    const Tensor& velocity = state(velocities_, "velocity", variable, slot);
    momentum.assign(add(momentum, multiply(subtract(grad, momentum), 1.0 - hyper_.beta_1)));
    velocity.assign(add(velocity, multiply(subtract(square(grad), velocity), 1.0 - hyper_.beta_2)));
    Tensor second_moment = velocity;
    if (hyper_.amsgrad) {
      const Tensor& velocity_hat = state(velocity_hats_, "velocity_hat", variable, slot);
      velocity_hat.assign(maximum(velocity_hat, velocity));
      second_moment = velocity_hat;
    }
    variable.assign(subtract(variable, divide(multiply(momentum, alpha), add(sqrt(second_moment), hyper_.epsilon))));
  }

 private:
  // The state tensor of kind `what` for the variable at `slot`, created as zeros on first use.
  static const Tensor& state(std::vector<Tensor>& slots, const char* what, const Tensor& variable, size_t slot) {
    if (slot >= slots.size()) slots.resize(slot + 1);
    Tensor& value = slots[slot];
    if (!value.defined()) {
      value = Tensor::zeros(variable.shape(), variable.dtype(), variable.device());
    } else if (value.shape() != variable.shape() || value.dtype() != variable.dtype()) {
      throw ValueError("Adam: variable #" + std::to_string(slot) +
                       (variable.name().empty() ? "" : " '" + variable.name() + "'") + " has shape " +
                       shape_str(variable.shape()) + " and dtype " + std::string(dtype_name(variable.dtype())) +
                       ", but this optimizer's " + what + " for that position was built for shape " +
                       shape_str(value.shape()) + " and dtype " + std::string(dtype_name(value.dtype())) +
                       "; pass the same variables in the same order every step (one optimizer per model)");
    }
    return value;
  }

  AdamHyperparameters hyper_;
  // By variable position; velocity_hats_ only with amsgrad.
  std::vector<Tensor> momentums_, velocities_, velocity_hats_;
};

}  // namespace

std::shared_ptr<Optimizer> adam_optimizer(double learning_rate, double beta_1, double beta_2, double epsilon,
                                          bool amsgrad) {
  return std::make_shared<Adam>(learning_rate, AdamHyperparameters{beta_1, beta_2, epsilon, amsgrad});
}

}  // namespace pitfall
