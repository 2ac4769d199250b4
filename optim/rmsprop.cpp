// RMSprop, both conventions. v = rho*v + (1 - rho)*g^2 (PyTorch calls rho "alpha"); centered also
// tracks a = rho*a + (1 - rho)*g and uses v - a^2.
//   keras (inside_sqrt, velocity_includes_lr):  step = lr*g/sqrt(v + eps); buf = m*buf + step; w -= buf
//   torch (outside_sqrt, buffer_then_lr):       buf = m*buf + g/(sqrt(v) + eps); w -= lr*buf
// With momentum 0 both are w -= the step. Keras's defaults (lr 1e-3, rho 0.9, eps 1e-7) are not
// PyTorch's (1e-2, 0.99, 1e-8).
#include "pitfall/core/ops.h"
#include "pitfall/optim/optimizer_registry.h"

namespace pitfall {

namespace {

class RMSprop : public Optimizer {
 public:
  using Optimizer::Optimizer;

 protected:
  void update(const Tensor& variable, const Tensor& grad, size_t index, const Step& step) override {
    const Tensor& v = slot("velocity", index, variable);
    v.assign(add(multiply(v, rho_), multiply(square(grad), 1.0 - rho_)));
    Tensor second_moment = v;
    if (centered_) {
      const Tensor& a = slot("average_gradient", index, variable);
      a.assign(add(multiply(a, rho_), multiply(grad, 1.0 - rho_)));
      second_moment = subtract(v, square(a));
    }
    const Tensor lr = learning_rate_scalar(step.learning_rate, variable);
    const Tensor denominator = rule().epsilon == EpsilonForm::inside_sqrt ? sqrt(add(second_moment, epsilon_))
                                                                          : add(sqrt(second_moment), epsilon_);
    if (rule().momentum == MomentumForm::velocity_includes_lr) {
      // Keras: the increment already carries the learning rate.
      const Tensor increment = divide(multiply(grad, lr), denominator);
      if (momentum_ <= 0.0) {
        variable.assign(subtract(variable, increment));
        return;
      }
      const Tensor& buffer = slot("momentum", index, variable);
      buffer.assign(add(multiply(buffer, momentum_), increment));
      variable.assign(subtract(variable, buffer));
      return;
    }
    const Tensor scaled = divide(grad, denominator);
    if (momentum_ <= 0.0) {
      variable.assign(subtract(variable, multiply(scaled, lr)));
      return;
    }
    const Tensor& buffer = slot("momentum", index, variable);
    buffer.assign(add(multiply(buffer, momentum_), scaled));
    variable.assign(subtract(variable, multiply(buffer, lr)));
  }

 private:
  const double rho_ = number("rho"), momentum_ = number("momentum"), epsilon_ = number("epsilon");
  const bool centered_ = flag("centered");
};

const bool registered = register_optimizer_class<RMSprop>({"RMSprop"});

}  // namespace

}  // namespace pitfall
