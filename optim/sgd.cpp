// SGD, both conventions (optim/defaults.cpp has the rows):
//   keras (velocity_includes_lr):  v = m*v - lr*g;  w += v          (nesterov: w += m*v - lr*g)
//   torch (buffer_then_lr):        buf = g at the first step, then m*buf + (1 - dampening)*g;
//                                  w -= lr*buf                      (nesterov: w -= lr*(g + m*buf))
//   momentum 0, both:              w -= lr*g
// The two agree at a constant learning rate and part once it changes: Keras's velocity holds past
// steps already multiplied by the learning rate of their time.
#include "pitfall/core/ops.h"
#include "pitfall/optim/fused_update.h"
#include "pitfall/optim/optimizer_registry.h"

namespace pitfall {

namespace {

class SGD : public Optimizer {
 public:
  SGD(const OptimizerDefaults& row, Convention convention, const Json& arguments)
      : Optimizer(row, convention, arguments) {
    if (nesterov_ && (momentum_ <= 0.0 || dampening_ != 0.0)) {
      throw ValueError("SGD: nesterov=True needs momentum > 0 and dampening 0 (got momentum " +
                       hyperparameter("momentum").dump() + ", dampening " + hyperparameter("dampening").dump() + ")");
    }
  }

 protected:
  void update(const Tensor& variable, const Tensor& grad, size_t index, const Step& step) override {
    const Tensor lr = learning_rate_scalar(step.learning_rate, variable);
    if (fused::applies({variable, grad})) {
      if (momentum_ == 0.0) {
        fused::sgd(variable, grad, lr.item());
        return;
      }
      if (rule().momentum == MomentumForm::velocity_includes_lr) {
        fused::sgd_velocity(variable, grad, slot("momentum", index, variable), lr.item(), momentum_, nesterov_);
        return;
      }
      const bool first = !has_slot("momentum", index);
      fused::sgd_buffer(variable, grad, slot("momentum", index, variable), first, lr.item(), momentum_, dampening_,
                        nesterov_);
      return;
    }
    if (momentum_ == 0.0) {
      variable.assign(subtract(variable, multiply(grad, lr)));
      return;
    }
    if (rule().momentum == MomentumForm::velocity_includes_lr) {
      const Tensor& velocity = slot("momentum", index, variable);
      const Tensor lr_times_grad = multiply(grad, lr);
      velocity.assign(subtract(multiply(velocity, momentum_), lr_times_grad));
      variable.assign(add(variable, nesterov_ ? subtract(multiply(velocity, momentum_), lr_times_grad) : velocity));
      return;
    }
    const bool first = !has_slot("momentum", index);
    const Tensor& buffer = slot("momentum", index, variable);
    buffer.assign(first ? grad : add(multiply(buffer, momentum_), multiply(grad, 1.0 - dampening_)));
    const Tensor direction = nesterov_ ? add(grad, multiply(buffer, momentum_)) : buffer;
    variable.assign(subtract(variable, multiply(direction, lr)));
  }

 private:
  const double momentum_ = number("momentum"), dampening_ = number("dampening");
  const bool nesterov_ = flag("nesterov");
};

const bool registered = register_optimizer_class<SGD>({"SGD"});

}  // namespace

}  // namespace pitfall
