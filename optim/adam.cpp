// Adam and AdamW, both conventions (AdamW is Adam with a weight_decay default; the decay itself is the
// base's, in the convention's form). With t the step and m, v the moving averages of g and g^2:
//   keras (outside_sqrt_uncorrected):  alpha = lr*sqrt(1 - b2^t)/(1 - b1^t);  w -= alpha*m/(sqrt(v) + eps)
//   torch (outside_sqrt_corrected):    w -= lr/(1 - b1^t) * m/(sqrt(v)/sqrt(1 - b2^t) + eps)
// amsgrad replaces v by its running maximum in both. Keras's epsilon is the paper's "epsilon hat":
// it sits next to the UNcorrected sqrt(v), so early on it weighs 1/sqrt(1 - b2^t) times more than
// PyTorch's (pitfall P13). Keras computes alpha in the variable's dtype, PyTorch in double.
#include <cmath>

#include "pitfall/core/ops.h"
#include "pitfall/optim/fused_update.h"
#include "pitfall/optim/optimizer_registry.h"

namespace pitfall {

namespace {

class Adam : public Optimizer {
 public:
  using Optimizer::Optimizer;

 protected:
  void update(const Tensor& variable, const Tensor& grad, size_t index, const Step& step) override {
    const Tensor& m = slot("momentum", index, variable);
    const Tensor& v = slot("velocity", index, variable);
    const bool keras_epsilon = rule().epsilon == EpsilonForm::outside_sqrt_uncorrected;
    const double t = static_cast<double>(step.t);
    if (!amsgrad_ && fused::applies({variable, grad, m, v})) {
      const fused::AdamMoments moments{m, v, rule().keras_arithmetic, beta_1_, beta_2_};
      if (keras_epsilon) {
        fused::adam_keras(variable, grad, moments, keras_alpha(step, variable).item(), epsilon_);
      } else {
        fused::adam_torch(variable, grad, moments, std::sqrt(1.0 - std::pow(beta_2_, t)), epsilon_,
                          step.learning_rate / (1.0 - std::pow(beta_1_, t)));
      }
      return;
    }
    moving_average(m, grad, beta_1_);
    moving_average(v, square(grad), beta_2_);
    Tensor second_moment = v;
    if (amsgrad_) {
      const Tensor& v_hat = slot("velocity_hat", index, variable);
      v_hat.assign(maximum(v_hat, v));
      second_moment = v_hat;
    }
    if (keras_epsilon) {
      const Tensor alpha = keras_alpha(step, variable);
      variable.assign(subtract(variable, divide(multiply(m, alpha), add(sqrt(second_moment), epsilon_))));
    } else {
      const double correction_1 = 1.0 - std::pow(beta_1_, t);
      const double correction_2 = 1.0 - std::pow(beta_2_, t);
      const Tensor denominator = add(divide(sqrt(second_moment), std::sqrt(correction_2)), epsilon_);
      variable.assign(subtract(variable, multiply(divide(m, denominator), step.learning_rate / correction_1)));
    }
  }

 private:
  // Keras's step size lr*sqrt(1 - b2^t)/(1 - b1^t), computed in the variable's dtype as Keras does.
  Tensor keras_alpha(const Step& step, const Tensor& variable) const {
    // 0-d tensors on the CPU (see learning_rate_scalar): `power` is not correctly rounded, so
    // computing it on each variable's device could give the GPU a different step size.
    const DType dtype = variable.dtype();
    const Tensor t = Tensor::scalar(static_cast<double>(step.t), dtype);
    const Tensor beta_1_power = power(Tensor::scalar(beta_1_, dtype), t);
    const Tensor beta_2_power = power(Tensor::scalar(beta_2_, dtype), t);
    return divide(multiply(learning_rate_scalar(step.learning_rate, variable), sqrt(subtract(1.0, beta_2_power))),
                  subtract(1.0, beta_1_power));
  }

  const double beta_1_ = number("beta_1"), beta_2_ = number("beta_2"), epsilon_ = number("epsilon");
  const bool amsgrad_ = flag("amsgrad");
};

const bool registered = register_optimizer_class<Adam>({"Adam", "AdamW"});

}  // namespace

}  // namespace pitfall
