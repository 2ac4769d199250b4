// LossScaleOptimizer (Keras) / GradScaler (PyTorch): dynamic loss scaling for float16 training.
// Keras: initial scale 2^15; PyTorch: 2^16. Both: a step with any inf/NaN gradient is skipped and
// halves the scale; `dynamic_growth_steps` (2000) finite steps in a row double it.
#include <cmath>

#include "pitfall/core/autograd.h"
#include "pitfall/core/ops.h"
#include "pitfall/optim/optimizer.h"

namespace pitfall {

namespace {

bool all_finite(const std::vector<Tensor>& grads) {
  NoGradGuard no_grad;
  for (const Tensor& g : grads) {
    if (!g.defined() || g.numel() == 0) continue;
    // sum(|g| * 0) is 0 for finite g and NaN as soon as one element is inf or NaN.
    if (!std::isfinite(sum(multiply(abs(cast(g, DType::float64)), 0.0)).item())) return false;
  }
  return true;
}

}  // namespace

LossScaleOptimizer::LossScaleOptimizer(std::shared_ptr<Optimizer> inner, Convention convention, const Json& arguments)
    : Optimizer(optimizer_defaults("LossScaleOptimizer"), convention, arguments, {{"inner_optimizer", inner}}),
      inner_(std::move(inner)) {
  if (!inner_) throw ValueError("LossScaleOptimizer: inner_optimizer is null");
  if (dynamic_cast<LossScaleOptimizer*>(inner_.get())) {
    throw ValueError("LossScaleOptimizer: the inner optimizer is already a LossScaleOptimizer; wrap the plain "
                     "optimizer once");
  }
  if (!inner_->hyperparameter("loss_scale_factor").is_null()) {
    throw ValueError("LossScaleOptimizer: the inner " + inner_->class_name() + " already has loss_scale_factor " +
                     inner_->hyperparameter("loss_scale_factor").dump() +
                     "; gradients would be unscaled twice. Use one of the two");
  }
  scale_ = number("initial_scale");
  require(std::isfinite(scale_) && scale_ > 0.0, "initial_scale", "a finite float > 0");
  const Json& steps = hyperparameter("dynamic_growth_steps");
  require(steps.is_number() && std::floor(steps.as_double()) == steps.as_double() && steps.as_double() >= 1.0,
          "dynamic_growth_steps", "an integer >= 1");
  growth_steps_ = steps.as_int();
  require(number("growth_factor") >= 1.0, "growth_factor", "a float >= 1");
  require(number("backoff_factor") > 0.0 && number("backoff_factor") < 1.0, "backoff_factor", "a float in (0, 1)");
}

void LossScaleOptimizer::apply_gradients(const std::vector<Tensor>& grads, const std::vector<Tensor>& variables) {
  if (!all_finite(grads)) {
    scale_ *= number("backoff_factor");
    step_counter_ = 0;
    ++skipped_;
    return;
  }
  std::vector<Tensor> unscaled(grads.size());
  {
    NoGradGuard no_grad;
    for (size_t i = 0; i < grads.size(); ++i) {
      if (grads[i].defined()) unscaled[i] = divide(grads[i].detach(), scale_);
    }
  }
  inner_->apply_gradients(unscaled, variables);
  if (step_counter_ == growth_steps_ - 1) {
    step_counter_ = 0;
    scale_ *= number("growth_factor");
  } else {
    ++step_counter_;
  }
}

Tensor LossScaleOptimizer::scale_loss(const Tensor& loss) const { return multiply(loss, scale_); }

Json LossScaleOptimizer::get_config() const {
  Json config = Optimizer::get_config();
  config["inner_optimizer"] =
      Json(Json::Object{{"class_name", inner_->class_name()}, {"config", inner_->get_config()}});
  return config;
}

Json LossScaleOptimizer::state_scalars() const {
  Json state = Json::object();
  state["dynamic_scale"] = scale_;
  state["step_counter"] = step_counter_;
  state["skipped_steps"] = skipped_;
  state["inner"] = inner_->state_scalars();
  return state;
}

std::vector<std::pair<std::string, Tensor>> LossScaleOptimizer::state_tensors() const { return inner_->state_tensors(); }

void LossScaleOptimizer::load_state(const Json& scalars, const std::vector<std::pair<std::string, Tensor>>& tensors) {
  double scale;
  int64_t counter, skipped;
  try {
    scale = scalars.at("dynamic_scale").as_double();
    counter = scalars.at("step_counter").as_int();
    skipped = scalars.at("skipped_steps").as_int();
  } catch (const Error& e) {
    throw ValueError("LossScaleOptimizer.load_state: the saved state is malformed: " + std::string(e.message()));
  }
  if (!(std::isfinite(scale) && scale > 0.0) || counter < 0 || counter >= growth_steps_ || skipped < 0) {
    throw ValueError("LossScaleOptimizer.load_state: the saved scale state is out of range (dynamic_scale " +
                     std::to_string(scale) + ", step_counter " + std::to_string(counter) + ")");
  }
  inner_->load_state(scalars.at("inner"), tensors);
  scale_ = scale;
  step_counter_ = counter;
  skipped_ = skipped;
}

std::shared_ptr<LossScaleOptimizer> loss_scale_optimizer(std::shared_ptr<Optimizer> inner, const Json& arguments,
                                                         Convention convention) {
  return std::make_shared<LossScaleOptimizer>(std::move(inner), convention, arguments);
}

}  // namespace pitfall
