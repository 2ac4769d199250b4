// Optimizer base. Updates run in place on each variable, outside autograd.
//
// Every optimizer is built from a row of the defaults table (optim/defaults.h) and a convention:
// "keras" (default) takes the Keras row's values and update rule, "torch" the PyTorch row's; explicit
// arguments override the values (never the rule). The base does what every optimizer shares, in
// Keras's order: gradient accumulation, clipping (clipnorm / global_clipnorm / clipvalue), weight
// decay (in the convention's form), then the optimizer's own update. It owns all state (per-variable
// slots, step counters, the learning-rate schedule) so that state saves and loads generically.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pitfall/core/json.h"
#include "pitfall/core/tensor.h"
#include "pitfall/optim/defaults.h"
#include "pitfall/optim/schedules.h"

namespace pitfall {

class Optimizer {
 public:
  // `arguments`: a JSON object of Keras argument names -> values (numbers, bools, null; learning_rate
  // may also be a schedule config), checked against the class's argument table
  // (optimizer_arguments): unknown names raise ValueError naming the accepted ones. `objects`: the
  // object arguments (LossScaleOptimizer's inner optimizer).
  Optimizer(const OptimizerDefaults& defaults, Convention convention, const Json& arguments,
            const std::map<std::string, std::shared_ptr<void>>& objects = {});
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One step: updates each variable from its gradient; an undefined gradient leaves it untouched.
  // Raises naming the variable when a gradient's shape or dtype does not match it. Everything is
  // validated before anything changes.
  virtual void apply_gradients(const std::vector<Tensor>& grads, const std::vector<Tensor>& variables);

  // The learning rate the next update uses (a schedule evaluated at the current step).
  virtual double learning_rate() const;
  // A constant learning rate. On an optimizer with a schedule this rescales the schedule so its current
  // value becomes `learning_rate` (Keras raises TypeError instead; rescaling is what lets
  // ReduceLROnPlateau and LearningRateScheduler work on top of a schedule).
  virtual void set_learning_rate(double learning_rate);
  // Replaces the learning rate by a schedule (the scale set by set_learning_rate resets to 1).
  virtual void set_learning_rate(std::shared_ptr<LearningRateSchedule> schedule);
  const std::shared_ptr<LearningRateSchedule>& learning_rate_schedule() const { return schedule_; }

  // Keras optimizer.iterations: apply_gradients calls so far, divided by gradient_accumulation_steps
  // when accumulating (so it counts updates).
  virtual int64_t iterations() const;
  const std::string& class_name() const { return defaults_->class_name; }
  Convention convention() const { return convention_; }
  const UpdateRule& rule() const { return defaults_->rule(convention_); }
  const OptimizerDefaults& defaults() const { return *defaults_; }

  // Every resolved argument (learning_rate as a number or a schedule config), plus "name",
  // "convention" and "defaults_from_table": the arguments whose value came from the table because
  // they were not passed. optimizer_from_config(class_name(), get_config()) rebuilds it exactly.
  virtual Json get_config() const;
  // A resolved argument's value (null when off).
  const Json& hyperparameter(const std::string& name) const;

  // The loss a training step differentiates: loss * loss_scale_factor (LossScaleOptimizer: * its
  // dynamic scale). Gradients of the scaled loss are divided back in apply_gradients.
  virtual Tensor scale_loss(const Tensor& loss) const;

  // Variables whose name contains any of `name_parts` get no weight decay (Keras
  // exclude_from_weight_decay(var_names=...); e.g. {"bias", "gamma", "beta"}). Call before training.
  void exclude_from_weight_decay(std::vector<std::string> name_parts);
  const std::vector<std::string>& excluded_from_weight_decay() const { return weight_decay_exclusions_; }

  // ---- state (saving and resuming)
  // Scalars: counters, the learning-rate scale, subclass scalars. Tensors: "<slot>/<variable index>",
  // the index being the variable's position in the lists given to apply_gradients.
  virtual Json state_scalars() const;
  virtual std::vector<std::pair<std::string, Tensor>> state_tensors() const;
  // Restores what the two functions above returned; checks everything before changing anything and
  // raises ValueError naming the entry that does not fit.
  virtual void load_state(const Json& scalars, const std::vector<std::pair<std::string, Tensor>>& tensors);

 protected:
  // What one update step needs besides the gradient.
  struct Step {
    int64_t t;             // 1-based step number in the convention's counting (bias corrections)
    double learning_rate;  // the learning rate of this step, before any dtype rounding
  };
  // Updates one variable (index = its position) from its processed gradient (accumulated, clipped,
  // L2 term added where the rule says so).
  virtual void update(const Tensor& variable, const Tensor& grad, size_t index, const Step& step) = 0;
  // Called once per real update, before the per-variable updates (Keras Nadam's u_product).
  virtual void before_updates(int64_t /*t*/) {}
  // Subclass scalar state, saved with the rest (Nadam's momentum products).
  virtual Json extra_state() const { return Json(); }
  virtual void load_extra_state(const Json& /*state*/) {}

  // Per-variable state tensor `name` of the variable at `index`, created filled with `initial` on first
  // use (same shape, dtype and device as the variable).
  const Tensor& slot(const std::string& name, size_t index, const Tensor& variable, double initial = 0.0);
  bool has_slot(const std::string& name, size_t index) const;

  double number(const std::string& name) const;  // a resolved numeric argument
  bool flag(const std::string& name) const;       // a resolved bool argument
  // Raises ValueError "<Class>: <argument> must be <expected>, got <value>" unless `ok`.
  void require(bool ok, const std::string& argument, const std::string& expected) const;

  // state = decay*state + (1-decay)*x, written as Keras writes it (state += (x - state)*(1 - decay))
  // or as PyTorch does (state*decay + x*(1 - decay)), per the convention's arithmetic.
  void moving_average(const Tensor& state, const Tensor& x, double decay) const;

  // A scalar of the step in the variable's dtype, on the CPU (0-d CPU tensors join ops on any
  // device): Keras convention rounds through `floatx` first where Keras keeps the value in a
  // float32 variable (the learning rate).
  Tensor learning_rate_scalar(double learning_rate, const Tensor& variable) const;

 private:
  void resolve_arguments(const Json& arguments, const std::map<std::string, std::shared_ptr<void>>& objects);
  void check_update_inputs(const std::vector<Tensor>& grads, const std::vector<Tensor>& variables) const;
  std::vector<Tensor> clip_gradients(std::vector<Tensor> grads) const;
  bool decays(const Tensor& variable) const;
  double schedule_value(int64_t step) const;
  int64_t schedule_step() const;

  const OptimizerDefaults* defaults_;
  Convention convention_;
  Json resolved_ = Json::object();
  std::vector<std::string> from_table_;
  std::string name_;
  double learning_rate_ = 0.0;                      // constant learning rate (no schedule)
  std::shared_ptr<LearningRateSchedule> schedule_;  // or a schedule,
  double schedule_scale_ = 1.0;                     // times this scale (set_learning_rate on a schedule)
  int64_t iterations_ = 0;                          // apply_gradients calls
  int64_t updates_ = 0;                             // real updates (differs under gradient accumulation)
  std::vector<int64_t> variable_updates_;           // per variable: updates it took part in (PyTorch's per-parameter step)
  std::map<std::string, std::vector<Tensor>> slots_;
  std::vector<std::string> weight_decay_exclusions_;
};

// Makes the optimizer `name` (class name or Keras alias, case-insensitive) under `convention` from
// Keras-named arguments (JSON object; missing ones come from the table). Unknown names and
// arguments raise ValueError with "did you mean" and the accepted list.
std::shared_ptr<Optimizer> make_optimizer(const std::string& name, const Json& arguments = Json::object(),
                                          Convention convention = Convention::keras);
// From get_config() output ("convention" and "defaults_from_table" honoured, so a table default stays
// a table default).
std::shared_ptr<Optimizer> optimizer_from_config(const std::string& class_name, const Json& config);
// By name with every default ("sgd", "adam", "rmsprop", ...): make_optimizer(name).
std::shared_ptr<Optimizer> get_optimizer(const std::string& name);

// Typed shortcuts for C++ users (Keras convention, Keras argument order); an argument left unset
// takes the defaults table's value.
std::shared_ptr<Optimizer> sgd_optimizer(std::optional<double> learning_rate = {}, std::optional<double> momentum = {},
                                         std::optional<bool> nesterov = {});
std::shared_ptr<Optimizer> adam_optimizer(std::optional<double> learning_rate = {}, std::optional<double> beta_1 = {},
                                          std::optional<double> beta_2 = {}, std::optional<double> epsilon = {},
                                          std::optional<bool> amsgrad = {});

// Keras LossScaleOptimizer (PyTorch GradScaler under convention "torch"): the loss is multiplied by
// a dynamic scale before differentiation; apply_gradients checks the gradients: any inf/NaN halves
// the scale and skips the step (the inner optimizer does not move, its iterations do not advance);
// otherwise the gradients are divided by the scale and handed to the inner optimizer, and after
// `dynamic_growth_steps` finite steps in a row the scale doubles.
class LossScaleOptimizer : public Optimizer {
 public:
  LossScaleOptimizer(std::shared_ptr<Optimizer> inner, Convention convention, const Json& arguments);
  void apply_gradients(const std::vector<Tensor>& grads, const std::vector<Tensor>& variables) override;
  double learning_rate() const override { return inner_->learning_rate(); }
  void set_learning_rate(double learning_rate) override { inner_->set_learning_rate(learning_rate); }
  void set_learning_rate(std::shared_ptr<LearningRateSchedule> schedule) override {
    inner_->set_learning_rate(std::move(schedule));
  }
  int64_t iterations() const override { return inner_->iterations(); }
  Json get_config() const override;
  Tensor scale_loss(const Tensor& loss) const override;
  Json state_scalars() const override;
  std::vector<std::pair<std::string, Tensor>> state_tensors() const override;
  void load_state(const Json& scalars, const std::vector<std::pair<std::string, Tensor>>& tensors) override;

  const std::shared_ptr<Optimizer>& inner_optimizer() const { return inner_; }
  double dynamic_scale() const { return scale_; }
  int64_t step_counter() const { return step_counter_; }  // finite steps since the scale last changed
  int64_t skipped_steps() const { return skipped_; }      // steps skipped for non-finite gradients, in total

 protected:
  void update(const Tensor&, const Tensor&, size_t, const Step&) override {}

 private:
  std::shared_ptr<Optimizer> inner_;
  double scale_;
  int64_t growth_steps_;
  int64_t step_counter_ = 0;
  int64_t skipped_ = 0;
};

std::shared_ptr<LossScaleOptimizer> loss_scale_optimizer(std::shared_ptr<Optimizer> inner,
                                                         const Json& arguments = Json::object(),
                                                         Convention convention = Convention::keras);

}  // namespace pitfall
