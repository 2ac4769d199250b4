// Adagrad, both conventions: acc starts at initial_accumulator_value (Keras 0.1, PyTorch 0) and
// adds g^2 every step.
//   keras (inside_sqrt):   w -= lr*g/sqrt(acc + eps)
//   torch (outside_sqrt):  w -= lr/(1 + (t - 1)*lr_decay) * g/(sqrt(acc) + eps)
// Keras has no lr_decay (its row holds 0, which makes the two learning-rate forms equal).
#include "pitfall/core/ops.h"
#include "pitfall/optim/optimizer_registry.h"

namespace pitfall {

namespace {

class Adagrad : public Optimizer {
 public:
  using Optimizer::Optimizer;

 protected:
  void update(const Tensor& variable, const Tensor& grad, size_t index, const Step& step) override {
    const Tensor& accumulator = slot("accumulator", index, variable, initial_);
    accumulator.assign(add(accumulator, square(grad)));
    const double lr = step.learning_rate / (1.0 + static_cast<double>(step.t - 1) * lr_decay_);
    const Tensor lr_scalar = learning_rate_scalar(lr, variable);
    if (rule().epsilon == EpsilonForm::inside_sqrt) {
      variable.assign(subtract(variable, divide(multiply(grad, lr_scalar), sqrt(add(accumulator, epsilon_)))));
    } else {
      variable.assign(subtract(variable, multiply(divide(grad, add(sqrt(accumulator), epsilon_)), lr_scalar)));
    }
  }

 private:
  const double initial_ = number("initial_accumulator_value"),
               epsilon_ = number("epsilon"), lr_decay_ = number("lr_decay");
};

const bool registered = register_optimizer_class<Adagrad>({"Adagrad"});

}  // namespace

}  // namespace pitfall
