// Adadelta: the same rule in both conventions, only the defaults differ (Keras lr 1e-3, rho 0.95,
// eps 1e-7; PyTorch lr 1.0, rho 0.9, eps 1e-6, so a Keras Adadelta barely moves by comparison):
//   Eg = rho*Eg + (1 - rho)*g^2;  d = sqrt(Ed + eps)/sqrt(Eg + eps) * g;
//   Ed = rho*Ed + (1 - rho)*d^2;  w -= lr*d
#include "pitfall/core/ops.h"
#include "pitfall/optim/optimizer_registry.h"

namespace pitfall {

namespace {

class Adadelta : public Optimizer {
 public:
  using Optimizer::Optimizer;

 protected:
  void update(const Tensor& variable, const Tensor& grad, size_t index, const Step& step) override {
    const Tensor& grad_average = slot("accumulated_grad", index, variable);
    const Tensor& delta_average = slot("accumulated_delta_var", index, variable);
    grad_average.assign(add(multiply(grad_average, rho_), multiply(square(grad), 1.0 - rho_)));
    const Tensor delta = multiply(divide(sqrt(add(delta_average, epsilon_)), sqrt(add(grad_average, epsilon_))), grad);
    delta_average.assign(add(multiply(delta_average, rho_), multiply(square(delta), 1.0 - rho_)));
    variable.assign(subtract(variable, multiply(delta, learning_rate_scalar(step.learning_rate, variable))));
  }

 private:
  const double rho_ = number("rho"), epsilon_ = number("epsilon");
};

const bool registered = register_optimizer_class<Adadelta>({"Adadelta"});

}  // namespace

}  // namespace pitfall
