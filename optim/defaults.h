// The optimizer defaults table: for every optimizer, the Keras row and the PyTorch row, with the
// default values AND the update-rule variant each framework uses. Optimizers read their defaults and
// their rule from here (optim/*.cpp switch on the UpdateRule fields), so the printed table is what
// runs. Facts and upstream files: shared/reference/defaults.md; docs/optimizers.md explains each row.
#pragma once
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "pitfall/core/json.h"
#include "pitfall/core/arguments.h"
#include "pitfall/core/conventions.h"

namespace pitfall {

// Where epsilon enters the denominator.
enum class EpsilonForm {
  none,                      // the optimizer has no epsilon (SGD)
  outside_sqrt_uncorrected,  // Keras Adam: lr*sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)   ("epsilon hat")
  outside_sqrt_corrected,    // PyTorch Adam, both Nadams: ... m / (sqrt(v / (1-b2^t)) + eps)
  inside_sqrt,               // Keras RMSprop/Adagrad, both Adadeltas: g / sqrt(v + eps)
  outside_sqrt,              // PyTorch RMSprop/Adagrad: g / (sqrt(v) + eps)
  added_to_norm,             // Keras Adamax: m / (u + eps), u = max(b2*u, |g|)
  inside_max,                // PyTorch Adamax: u = max(b2*u, |g| + eps); m / u
};

// How a momentum buffer is kept.
enum class MomentumForm {
  none,
  velocity_includes_lr,  // Keras: v = m*v - lr*g; w += v   (RMSprop: buf = m*buf + lr*g/denom; w -= buf)
  buffer_then_lr,        // PyTorch: buf = m*buf + (1-dampening)*g (buf = g at the first step); w -= lr*buf
};

// How weight_decay acts.
enum class WeightDecayForm {
  decoupled_subtract,  // Keras, every optimizer: w = w - w*wd*lr, before the update
  decoupled_scale,     // PyTorch AdamW: w = w * (1 - lr*wd), before the update
  l2_into_gradient,    // PyTorch SGD/Adam/RMSprop/...: g = g + wd*w
};

// Which step a learning-rate schedule sees under gradient accumulation, and whose step counter the
// bias corrections use. Both count updates for bias corrections (t = 1 at the first real update).
enum class StepCounting {
  calls,    // Keras: the schedule sees every call (raw iterations); one step counter for the optimizer
  updates,  // PyTorch: the schedule steps with optimizer.step(); each parameter keeps its own step
};

// global_clipnorm's formula.
enum class GlobalClipForm {
  keras,  // g * c / max(global_norm, c)
  torch,  // torch.nn.utils.clip_grad_norm_: g * min(1, c / (global_norm + 1e-6))
};

struct UpdateRule {
  EpsilonForm epsilon;
  MomentumForm momentum;
  WeightDecayForm weight_decay;
  StepCounting step_counting;
  GlobalClipForm global_clip;
  // Keras keeps the learning rate in a floatx variable (float32: 1e-3 becomes 0.0010000000474974513),
  // computes the step's scalars in the variable's dtype and writes moving averages as
  // m += (g - m) * (1 - b); PyTorch uses Python floats (double) and m = b*m + (1 - b)*g.
  bool keras_arithmetic;
};

// The values a number hyperparameter accepts: [low, high], or [low, high) when high_open (high
// infinite: >= low). Checked when the optimizer is made; the message says "a float in [0, 1)".
struct ValueRange {
  double low;
  double high;
  bool high_open;
  bool contains(double value) const;
  std::string text() const;
};

// One argument of one optimizer. Values are JSON: a number, a bool, or null for "off/None".
struct HyperparameterDefault {
  std::string name;        // the argument, in Keras's spelling (pitfall accepts these names in both conventions)
  Json keras;              // default under convention "keras"
  Json torch;              // default under convention "torch"
  bool keras_argument;     // false: Keras has no such argument (the Keras value is what its rule hard-codes)
  std::string torch_name;  // PyTorch's spelling ("eps", "betas[0]", "alpha"); empty: PyTorch has no such argument
  std::string meaning;     // one line
  std::optional<ValueRange> range = std::nullopt;  // the values accepted (none: any of its kind)
};

struct OptimizerDefaults {
  std::string class_name;    // "Adam"
  std::string keras_source;  // "keras/src/optimizers/adam.py"
  std::string torch_class;   // "torch.optim.Adam"
  std::string torch_source;  // "torch/optim/adam.py"
  std::vector<HyperparameterDefault> hyperparameters;  // the optimizer's own, then the common ones
  UpdateRule keras_rule;
  UpdateRule torch_rule;
  std::string keras_formula;  // the update as a formula, for the printed table
  std::string torch_formula;
  std::string note;           // what bites people porting between the two
  // Keras's positional order of the arguments when it is not the optimizer's own followed by the
  // base optimizer's (AdamW puts weight_decay second); empty otherwise.
  std::vector<std::string> keras_order = {};

  const HyperparameterDefault* find(const std::string& name) const;
  const UpdateRule& rule(Convention convention) const {
    return convention == Convention::keras ? keras_rule : torch_rule;
  }
};

// Every optimizer (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam, LossScaleOptimizer).
const std::vector<OptimizerDefaults>& optimizer_defaults_table();
// One row by class name or Keras alias, case-insensitive ("adam", "Adam"); unknown names raise
// ValueError with "did you mean".
const OptimizerDefaults& optimizer_defaults(const std::string& name);

// The argument table of an optimizer class (core/arguments.h), built from its row: Keras's arguments
// in Keras's order with the Keras row's values (the PyTorch row's under convention="torch", through
// the conventions keys "<Class>.<argument>"), the base optimizer's EMA arguments accepted at their
// default only, name and convention, PyTorch-only arguments as keywords, and PyTorch's spellings
// ("lr", "eps", "betas", "alpha") as hints to the Keras names. Raises for an unknown class.
const ArgumentTable& optimizer_arguments(const std::string& class_name);

// The rule fields as words, for tables and get_config.
std::string describe(EpsilonForm form);
std::string describe(MomentumForm form);
std::string describe(WeightDecayForm form);
std::string describe(StepCounting counting);
std::string describe(GlobalClipForm form);

// The whole table, Keras and PyTorch side by side: per optimizer its arguments with both defaults,
// then its rule variants and formulas. `only` limits it to one optimizer (name as above).
std::string format_optimizer_defaults(const std::string& only = "");
// One line of the side-by-side printout: the name, the Keras cell and the PyTorch cell in their
// columns (a Keras cell too wide for its column puts the PyTorch cell on the next line, under its
// column). training/defaults_table.cpp lays the layer conventions out with it too.
std::string table_line(const std::string& name, const std::string& keras, const std::string& torch);

}  // namespace pitfall
