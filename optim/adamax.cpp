// Adamax, both conventions: m is Adam's first moment, u an exponentially weighted infinity norm.
//   keras (added_to_norm):  u = max(b2*u, |g|);        w -= lr*m/((1 - b1^t)*(u + eps))
//   torch (inside_max):     u = max(b2*u, |g| + eps);  w -= lr/(1 - b1^t) * m/u
#include <cmath>

#include "pitfall/core/ops.h"
#include "pitfall/optim/optimizer_registry.h"

namespace pitfall {

namespace {

class Adamax : public Optimizer {
 public:
  using Optimizer::Optimizer;

 protected:
  void update(const Tensor& variable, const Tensor& grad, size_t index, const Step& step) override {
    const Tensor& m = slot("m", index, variable);
    const Tensor& u = slot("u", index, variable);
    moving_average(m, grad, beta_1_);
    const double correction = 1.0 - std::pow(beta_1_, static_cast<double>(step.t));
    if (rule().epsilon == EpsilonForm::added_to_norm) {
      u.assign(maximum(multiply(u, beta_2_), abs(grad)));
      const Tensor lr = learning_rate_scalar(step.learning_rate, variable);
      variable.assign(subtract(variable, divide(multiply(m, lr), multiply(add(u, epsilon_), correction))));
    } else {
      u.assign(maximum(multiply(u, beta_2_), add(abs(grad), epsilon_)));
      variable.assign(subtract(variable, multiply(divide(m, u), step.learning_rate / correction)));
    }
  }

 private:
  const double beta_1_ = number("beta_1"), beta_2_ = number("beta_2"), epsilon_ = number("epsilon");
};

const bool registered = register_optimizer_class<Adamax>({"Adamax"});

}  // namespace

}  // namespace pitfall
