// Keras SGD (keras/src/optimizers/sgd.py):
//   momentum == 0:  w -= lr * g
//   momentum  > 0:  v = momentum * v - lr * g;  w += v            (nesterov: w += momentum * v - lr * g)
// Each product is rounded in the variable's dtype, as Keras computes with ops in that dtype.
#include <cmath>

#include "pitfall/core/ops.h"
#include "pitfall/layers/layer.h"
#include "pitfall/optim/optimizer.h"

namespace pitfall {

namespace {

class SGD : public Optimizer {
 public:
  SGD(double learning_rate, double momentum, bool nesterov)
      : Optimizer("SGD", learning_rate), momentum_(momentum), nesterov_(nesterov) {
    if (!(momentum >= 0.0 && momentum <= 1.0)) {
      throw ValueError("SGD: momentum must be a float in [0, 1], got " + std::to_string(momentum));
    }
  }

  Json get_config() const override {
    Json config = Optimizer::get_config();
    config["momentum"] = momentum_;
    config["nesterov"] = nesterov_;
    return config;
  }

 protected:
  void update(const Tensor& variable, const Tensor& grad, size_t slot) override {
    // Keras keeps the learning rate in a floatx variable and casts it to the variable's dtype.
    const Tensor lr = cast(Tensor::scalar(learning_rate(), floatx(), variable.device()), variable.dtype());
    const Tensor lr_times_grad = multiply(grad, lr);
    if (momentum_ == 0.0) {
      variable.assign(subtract(variable, lr_times_grad));
      return;
    }
    const Tensor& velocity = momentum_slot(variable, slot);
    velocity.assign(subtract(multiply(velocity, momentum_), lr_times_grad));
    if (nesterov_) {
      variable.assign(add(variable, subtract(multiply(velocity, momentum_), lr_times_grad)));
    } else {
      variable.assign(add(variable, velocity));
    }
  }

 private:
  // The velocity of the variable at `slot`, created as zeros on first use.
  const Tensor& momentum_slot(const Tensor& variable, size_t slot) {
    if (slot >= momentums_.size()) momentums_.resize(slot + 1);
    Tensor& velocity = momentums_[slot];
    if (!velocity.defined()) {
      velocity = Tensor::zeros(variable.shape(), variable.dtype(), variable.device());
    } else if (velocity.shape() != variable.shape() || velocity.dtype() != variable.dtype()) {
      throw ValueError("SGD: variable #" + std::to_string(slot) + (variable.name().empty() ? "" : " '" + variable.name() + "'") +
                       " has shape " + shape_str(variable.shape()) + " and dtype " +
                       std::string(dtype_name(variable.dtype())) + ", but this optimizer's momentum for that position "
                       "was built for shape " + shape_str(velocity.shape()) + " and dtype " +
                       std::string(dtype_name(velocity.dtype())) +
                       "; pass the same variables in the same order every step (one optimizer per model)");
    }
    return velocity;
  }

  double momentum_;
  bool nesterov_;
  std::vector<Tensor> momentums_;  // by variable position
};

}  // namespace

std::shared_ptr<Optimizer> sgd_optimizer(double learning_rate, double momentum, bool nesterov) {
  return std::make_shared<SGD>(learning_rate, momentum, nesterov);
}

}  // namespace pitfall
