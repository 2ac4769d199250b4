// The optimizer defaults table (optim/defaults.h): the data, the lookup and the side-by-side printout.
#include "pitfall/optim/defaults.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <cctype>
#include <limits>

#include "pitfall/core/error.h"

namespace pitfall {

namespace {

using H = HyperparameterDefault;

// The ranges the hyperparameters accept: a decay in [0, 1]; a beta whose bias correction 1 - beta^t
// divides (so beta = 1 would divide by zero on the first step) in [0, 1); the rest >= 0.
constexpr ValueRange kFraction{0.0, 1.0, false};
constexpr ValueRange kBelowOne{0.0, 1.0, true};
constexpr ValueRange kNonNegative{0.0, std::numeric_limits<double>::infinity(), false};

constexpr UpdateRule rule(EpsilonForm epsilon, MomentumForm momentum, WeightDecayForm weight_decay, bool keras) {
  return {epsilon, momentum, weight_decay, keras ? StepCounting::calls : StepCounting::updates,
          keras ? GlobalClipForm::keras : GlobalClipForm::torch, keras};
}

// The arguments every optimizer takes from the base class (Keras base_optimizer.py); PyTorch has
// them as separate utilities or not at all. weight_decay's defaults differ per optimizer.
std::vector<H> with_common(std::vector<H> own, Json keras_weight_decay, Json torch_weight_decay) {
  own.push_back({"weight_decay", std::move(keras_weight_decay), std::move(torch_weight_decay), true, "weight_decay",
                 "decay toward 0; its form is a rule row below"});
  own.push_back({"clipnorm", Json(), Json(), true, "",
                 "clip each gradient to this L2 norm (PyTorch: no per-tensor utility)"});
  own.push_back({"clipvalue", Json(), Json(), true, "clip_grad_value_(clip_value)",
                 "clip each gradient element to [-c, c]"});
  own.push_back({"global_clipnorm", Json(), Json(), true, "clip_grad_norm_(max_norm)",
                 "clip all gradients together to this global L2 norm"});
  own.push_back({"gradient_accumulation_steps", Json(), Json(), true, "",
                 "average k calls' gradients, update on every k-th call (PyTorch: a manual loop)"});
  own.push_back({"loss_scale_factor", Json(), Json(), true, "",
                 "constant loss scale: loss * f before backward, gradients / f"});
  return own;
}

const char* kAdamKeras = "m += (g-m)(1-b1); v += (g^2-v)(1-b2); w -= lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v)+eps)";
const char* kAdamTorch = "m = b1*m + (1-b1)g; v = b2*v + (1-b2)g^2; w -= lr/(1-b1^t) * m/(sqrt(v)/sqrt(1-b2^t)+eps)";

std::vector<OptimizerDefaults> make_table() {
  std::vector<OptimizerDefaults> table;
  table.push_back(
      {"SGD", "keras/src/optimizers/sgd.py", "torch.optim.SGD", "torch/optim/sgd.py",
       with_common({{"learning_rate", 0.01, 0.001, true, "lr", "step size (older PyTorch, e.g. 1.13: required)"},
                    {"momentum", 0.0, 0.0, true, "momentum", "velocity decay", kFraction},
                    {"nesterov", false, false, true, "nesterov", "Nesterov momentum"},
                    {"dampening", 0.0, 0.0, false, "dampening", "PyTorch: scales the gradient entering the buffer",
                     kFraction}},
                   Json(), 0.0),
       rule(EpsilonForm::none, MomentumForm::velocity_includes_lr, WeightDecayForm::decoupled_subtract, true),
       rule(EpsilonForm::none, MomentumForm::buffer_then_lr, WeightDecayForm::l2_into_gradient, false),
       "v = m*v - lr*g; w += v   (nesterov: w += m*v - lr*g)",
       "buf = g (first step) else m*buf + (1-d)*g; w -= lr*buf   (nesterov: w -= lr*(g + m*buf))",
       "same trajectory at a constant learning rate; they differ once the learning rate changes, because "
       "Keras's velocity already holds the old lr"});
  table.push_back({"Adam", "keras/src/optimizers/adam.py", "torch.optim.Adam", "torch/optim/adam.py",
                   with_common({{"learning_rate", 0.001, 0.001, true, "lr", "step size"},
                                {"beta_1", 0.9, 0.9, true, "betas[0]", "first-moment decay", kBelowOne},
                                {"beta_2", 0.999, 0.999, true, "betas[1]", "second-moment decay", kBelowOne},
                                {"epsilon", 1e-7, 1e-8, true, "eps", "denominator fuzz; placement is a rule row",
                                 kNonNegative},
                                {"amsgrad", false, false, true, "amsgrad", "use the running max of v"}},
                               Json(), 0.0),
                   rule(EpsilonForm::outside_sqrt_uncorrected, MomentumForm::none, WeightDecayForm::decoupled_subtract,
                        true),
                   rule(EpsilonForm::outside_sqrt_corrected, MomentumForm::none, WeightDecayForm::l2_into_gradient,
                        false),
                   kAdamKeras, kAdamTorch,
                   "Keras's epsilon is 'epsilon hat': 1e-7 next to sqrt(v) un-corrected weighs like 1e-7/sqrt(1-b2^t) "
                   "(3.2e-6 at t=1) against PyTorch's 1e-8; tiny gradients take much smaller Keras steps (P13). "
                   "weight_decay is L2 in PyTorch's Adam but decoupled in Keras's"});
  table.push_back({"AdamW", "keras/src/optimizers/adamw.py", "torch.optim.AdamW", "torch/optim/adamw.py",
                   with_common({{"learning_rate", 0.001, 0.001, true, "lr", "step size"},
                                {"beta_1", 0.9, 0.9, true, "betas[0]", "first-moment decay", kBelowOne},
                                {"beta_2", 0.999, 0.999, true, "betas[1]", "second-moment decay", kBelowOne},
                                {"epsilon", 1e-7, 1e-8, true, "eps", "denominator fuzz; placement is a rule row",
                                 kNonNegative},
                                {"amsgrad", false, false, true, "amsgrad", "use the running max of v"}},
                               0.004, 0.01),
                   rule(EpsilonForm::outside_sqrt_uncorrected, MomentumForm::none, WeightDecayForm::decoupled_subtract,
                        true),
                   rule(EpsilonForm::outside_sqrt_corrected, MomentumForm::none, WeightDecayForm::decoupled_scale,
                        false),
                   kAdamKeras, kAdamTorch,
                   "both decouple the decay (w -= lr*wd*w); defaults differ 2.5x (0.004 vs 0.01)"});
  table.back().keras_order = {"learning_rate", "weight_decay", "beta_1", "beta_2", "epsilon", "amsgrad"};
  table.push_back(
      {"RMSprop", "keras/src/optimizers/rmsprop.py", "torch.optim.RMSprop", "torch/optim/rmsprop.py",
       with_common({{"learning_rate", 0.001, 0.01, true, "lr", "step size"},
                    {"rho", 0.9, 0.99, true, "alpha", "decay of the squared-gradient average", kFraction},
                    {"momentum", 0.0, 0.0, true, "momentum", "momentum on the scaled step", kFraction},
                    {"epsilon", 1e-7, 1e-8, true, "eps", "denominator fuzz; placement is a rule row", kNonNegative},
                    {"centered", false, false, true, "centered", "divide by the gradient's variance estimate"}},
                   Json(), 0.0),
       rule(EpsilonForm::inside_sqrt, MomentumForm::velocity_includes_lr, WeightDecayForm::decoupled_subtract, true),
       rule(EpsilonForm::outside_sqrt, MomentumForm::buffer_then_lr, WeightDecayForm::l2_into_gradient, false),
       "v = rho*v + (1-rho)g^2; inc = lr*g/sqrt(v + eps); buf = m*buf + inc; w -= buf",
       "v = a*v + (1-a)g^2; buf = m*buf + g/(sqrt(v) + eps); w -= lr*buf",
       "10x learning rate, rho 0.9 vs 0.99 and epsilon inside vs outside the root: the same name, a different "
       "optimizer"});
  table.push_back({"Adagrad", "keras/src/optimizers/adagrad.py", "torch.optim.Adagrad", "torch/optim/adagrad.py",
                   with_common({{"learning_rate", 0.001, 0.01, true, "lr", "step size"},
                                {"initial_accumulator_value", 0.1, 0.0, true, "initial_accumulator_value",
                                 "starting value of the squared-gradient sum", kNonNegative},
                                {"epsilon", 1e-7, 1e-10, true, "eps", "denominator fuzz; placement is a rule row",
                                 kNonNegative},
                                {"lr_decay", 0.0, 0.0, false, "lr_decay", "PyTorch: lr / (1 + (t-1)*lr_decay)",
                                 kNonNegative}},
                               Json(), 0.0),
                   rule(EpsilonForm::inside_sqrt, MomentumForm::none, WeightDecayForm::decoupled_subtract, true),
                   rule(EpsilonForm::outside_sqrt, MomentumForm::none, WeightDecayForm::l2_into_gradient, false),
                   "acc += g^2; w -= lr*g/sqrt(acc + eps)", "sum += g^2; w -= lr/(1+(t-1)*lr_decay) * g/(sqrt(sum) + eps)",
                   "Keras starts the sum at 0.1, which caps the first steps at ~lr*g/0.32; PyTorch starts at 0 so the "
                   "first step is lr*sign(g)"});
  table.push_back({"Adadelta", "keras/src/optimizers/adadelta.py", "torch.optim.Adadelta", "torch/optim/adadelta.py",
                   with_common({{"learning_rate", 0.001, 1.0, true, "lr", "step size"},
                                {"rho", 0.95, 0.9, true, "rho", "decay of both running averages", kFraction},
                                {"epsilon", 1e-7, 1e-6, true, "eps", "inside both roots", kNonNegative}},
                               Json(), 0.0),
                   rule(EpsilonForm::inside_sqrt, MomentumForm::none, WeightDecayForm::decoupled_subtract, true),
                   rule(EpsilonForm::inside_sqrt, MomentumForm::none, WeightDecayForm::l2_into_gradient, false),
                   "Eg = rho*Eg + (1-rho)g^2; d = -sqrt(Ed+eps)/sqrt(Eg+eps)*g; Ed = rho*Ed + (1-rho)d^2; w += lr*d",
                   "same rule",
                   "the same rule, but Keras's lr 1e-3 against PyTorch's 1.0: a Keras Adadelta barely moves"});
  table.push_back({"Adamax", "keras/src/optimizers/adamax.py", "torch.optim.Adamax", "torch/optim/adamax.py",
                   with_common({{"learning_rate", 0.001, 0.002, true, "lr", "step size"},
                                {"beta_1", 0.9, 0.9, true, "betas[0]", "first-moment decay", kBelowOne},
                                {"beta_2", 0.999, 0.999, true, "betas[1]", "infinity-norm decay", kFraction},
                                {"epsilon", 1e-7, 1e-8, true, "eps", "placement is a rule row", kNonNegative}},
                               Json(), 0.0),
                   rule(EpsilonForm::added_to_norm, MomentumForm::none, WeightDecayForm::decoupled_subtract, true),
                   rule(EpsilonForm::inside_max, MomentumForm::none, WeightDecayForm::l2_into_gradient, false),
                   "m += (g-m)(1-b1); u = max(b2*u, |g|); w -= lr*m/((1-b1^t)(u + eps))",
                   "m = b1*m + (1-b1)g; u = max(b2*u, |g| + eps); w -= lr/(1-b1^t) * m/u", ""});
  table.push_back({"Nadam", "keras/src/optimizers/nadam.py", "torch.optim.NAdam", "torch/optim/nadam.py",
                   with_common({{"learning_rate", 0.001, 0.002, true, "lr", "step size"},
                                {"beta_1", 0.9, 0.9, true, "betas[0]", "first-moment decay", kBelowOne},
                                {"beta_2", 0.999, 0.999, true, "betas[1]", "second-moment decay", kBelowOne},
                                {"epsilon", 1e-7, 1e-8, true, "eps", "added after bias correction in both",
                                 kNonNegative},
                                {"momentum_decay", 1.0, 0.004, false, "momentum_decay",
                                 "mu_t = b1*(1 - 0.5*0.96^(t*momentum_decay)); Keras hard-codes 0.96^t", kNonNegative}},
                               Json(), 0.0),
                   rule(EpsilonForm::outside_sqrt_corrected, MomentumForm::none, WeightDecayForm::decoupled_subtract,
                        true),
                   rule(EpsilonForm::outside_sqrt_corrected, MomentumForm::none, WeightDecayForm::l2_into_gradient,
                        false),
                   "mu_t = b1(1-0.5*0.96^t); w -= lr*(mu_{t+1}*m/(1-prod mu_1..t+1) + (1-mu_t)*g/(1-prod mu_1..t)) / "
                   "(sqrt(v/(1-b2^t))+eps)",
                   "the same with 0.96^(0.004*t) (and lr 2e-3)",
                   "Keras's momentum schedule reaches 0.9*b1 within ~50 steps; PyTorch's takes ~17000 (momentum_decay "
                   "4e-3). torch < 2.0 also counted mu twice in the next-step product"});
  table.push_back(
      {"LossScaleOptimizer", "keras/src/optimizers/loss_scale_optimizer.py", "torch.cuda.amp.GradScaler",
       "torch/cuda/amp/grad_scaler.py",
       {{"initial_scale", 32768.0, 65536.0, true, "init_scale", "starting loss scale (2^15 vs 2^16)"},
        {"dynamic_growth_steps", int64_t{2000}, int64_t{2000}, true, "growth_interval",
         "finite steps in a row before the scale grows"},
        {"growth_factor", 2.0, 2.0, false, "growth_factor", "scale *= this after dynamic_growth_steps"},
        {"backoff_factor", 0.5, 0.5, false, "backoff_factor", "scale *= this on non-finite gradients (step skipped)"}},
       rule(EpsilonForm::none, MomentumForm::none, WeightDecayForm::decoupled_subtract, true),
       rule(EpsilonForm::none, MomentumForm::none, WeightDecayForm::l2_into_gradient, false),
       "loss *= scale; grads /= scale; non-finite: scale /= 2, skip; 2000 finite steps: scale *= 2", "same rule",
       "wraps another optimizer; the scale is observable (dynamic_scale, step_counter)"});
  return table;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string value_text(const Json& value) {
  if (value.is_null()) return "None";
  if (value.is_bool()) return value.as_bool() ? "True" : "False";
  if (value.is_int()) return std::to_string(value.as_int());
  if (value.is_number()) return python_float_repr(value.as_double());
  return value.dump();
}

std::string pad(const std::string& text, size_t width) {
  return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

constexpr size_t kNameColumn = 30, kKerasColumn = 56;

}  // namespace

std::string table_line(const std::string& name, const std::string& keras, const std::string& torch) {
  std::string line = pad(name, kNameColumn);
  if (keras.size() + 2 > kKerasColumn) {
    return line + keras + "\n" + std::string(kNameColumn + kKerasColumn, ' ') + torch + "\n";
  }
  return line + pad(keras, kKerasColumn) + torch + "\n";
}

bool ValueRange::contains(double value) const {
  return value >= low && (high_open ? value < high : value <= high);
}

std::string ValueRange::text() const {
  const auto number = [](double v) {
    std::string t = std::to_string(v);
    t.erase(t.find_last_not_of('0') + 1);
    if (!t.empty() && t.back() == '.') t.pop_back();
    return t;
  };
  if (std::isinf(high)) return "a float >= " + number(low);
  return "a float in [" + number(low) + ", " + number(high) + (high_open ? ")" : "]");
}

namespace {

// The base optimizer's arguments, in Keras's order (keras/src/optimizers/base_optimizer.py).
const std::vector<std::string>& base_order() {
  static const std::vector<std::string> names = {"weight_decay", "clipnorm", "clipvalue", "global_clipnorm",
                                                 "use_ema", "ema_momentum", "ema_overwrite_frequency",
                                                 "loss_scale_factor", "gradient_accumulation_steps"};
  return names;
}

Argument hyperparameter_argument(const OptimizerDefaults& row, const HyperparameterDefault& h) {
  const Json& reference = h.keras.is_null() ? h.torch : h.keras;
  const ArgKind kind = h.name == "learning_rate" ? ArgKind::schedule
                       : reference.is_bool()     ? ArgKind::boolean
                                                 : ArgKind::number;
  Argument a = Argument(h.name, kind).from_convention(row.class_name + "." + h.name).described(h.meaning);
  if (h.keras.is_null() || h.torch.is_null()) a.allow_none();
  if (!h.keras_argument) a.pitfall_only();
  return a;
}

ArgumentTable make_optimizer_table(const OptimizerDefaults& row) {
  ArgumentTable table;
  table.family = "optimizers";
  table.class_name = row.class_name;
  table.source = row.keras_source;
  table.doc = row.class_name + " with Keras's defaults and update rule; convention=\"torch\" gives " + row.torch_class +
              "'s (" + row.torch_source + ")" + (row.note.empty() ? "." : ". " + row.note + ".") +
              " pf.optimizers.defaults(\"" + row.class_name + "\") prints both rows.";
  std::vector<std::string> order = row.keras_order;
  for (const auto& h : row.hyperparameters) {
    const bool base = std::find(base_order().begin(), base_order().end(), h.name) != base_order().end();
    if (h.keras_argument && !base && std::find(order.begin(), order.end(), h.name) == order.end()) {
      order.push_back(h.name);
    }
  }
  const bool wraps = row.class_name == "LossScaleOptimizer";
  if (wraps) {
    table.arguments.push_back(Argument("inner_optimizer", ArgKind::object).make_required().holding("optimizer")
                                  .described("the optimizer whose updates are loss-scaled"));
  } else {
    for (const auto& name : base_order()) {
      if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
    }
  }
  for (const auto& name : order) {
    if (const HyperparameterDefault* h = row.find(name)) {
      table.arguments.push_back(hyperparameter_argument(row, *h));
    } else if (name == "use_ema") {
      table.arguments.push_back(Argument("use_ema", ArgKind::boolean, false).unsupported()
                                    .described("keep an exponential moving average of the weights (False only)"));
    } else if (name == "ema_momentum") {
      table.arguments.push_back(Argument("ema_momentum", ArgKind::number, 0.99).unsupported());
    } else if (name == "ema_overwrite_frequency") {
      table.arguments.push_back(Argument("ema_overwrite_frequency", ArgKind::integer).allow_none().unsupported());
    }
  }
  table.arguments.push_back(Argument("name", ArgKind::string).allow_none().described("the optimizer's name"));
  for (const auto& h : row.hyperparameters) {
    if (!h.keras_argument) table.arguments.push_back(hyperparameter_argument(row, h));
  }
  table.arguments.push_back(Argument("convention", ArgKind::string, "keras").one_of({"keras", "torch"}).pitfall_only()
                                .described("whose defaults and update rule: keras or torch (pitfall defaults)"));
  // PyTorch's spellings point to the Keras names (pitfall takes Keras names in both conventions).
  for (const auto& h : row.hyperparameters) {
    const std::string torch = h.torch_name.substr(0, h.torch_name.find('['));
    if (!torch.empty() && torch != h.name && !row.find(torch) && !table.hints.count(torch)) {
      table.hints[torch] = "PyTorch's spelling; pitfall takes Keras names in both conventions: did you mean '" + h.name +
                           "'" + (torch == "betas" ? " (and 'beta_2')" : "") + "?";
    }
  }
  if (!wraps) {
    table.hints["decay"] = "Keras 2's learning-rate decay: use a learning-rate schedule (pf.optimizers.schedules) "
                           "instead of 'decay'";
  } else {
    for (const char* name : {"clipnorm", "clipvalue", "global_clipnorm", "weight_decay", "gradient_accumulation_steps"}) {
      table.hints[name] = "clipping, weight decay and gradient accumulation belong on the inner optimizer";
    }
  }
  return table;
}

// Every row's conventions keys and table, registered when the library loads.
const std::map<std::string, ArgumentTable>& optimizer_tables() {
  static const std::map<std::string, ArgumentTable> tables = [] {
    std::map<std::string, ArgumentTable> out;
    for (const auto& row : optimizer_defaults_table()) {
      for (const auto& h : row.hyperparameters) register_convention_default(row.class_name + "." + h.name, h.keras, h.torch);
      out.emplace(row.class_name, make_optimizer_table(row));
    }
    return out;
  }();
  return tables;
}

const bool optimizer_tables_registered = [] {
  for (const auto& [name, table] : optimizer_tables()) register_argument_table(&table);
  return true;
}();

}  // namespace

const ArgumentTable& optimizer_arguments(const std::string& class_name) {
  const auto& tables = optimizer_tables();
  const auto found = tables.find(optimizer_defaults(class_name).class_name);
  return found->second;
}

const HyperparameterDefault* OptimizerDefaults::find(const std::string& name) const {
  for (const auto& h : hyperparameters) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

const std::vector<OptimizerDefaults>& optimizer_defaults_table() {
  static const std::vector<OptimizerDefaults> table = make_table();
  return table;
}

const OptimizerDefaults& optimizer_defaults(const std::string& name) {
  const std::string key = lower(name);
  std::vector<std::string> candidates;
  for (const auto& row : optimizer_defaults_table()) {
    if (key == lower(row.class_name)) return row;
    candidates.push_back(lower(row.class_name));
  }
  throw ValueError("unknown optimizer '" + name + "'; " + did_you_mean(key, candidates));
}

std::string describe(EpsilonForm form) {
  switch (form) {
    case EpsilonForm::none: return "no epsilon";
    case EpsilonForm::outside_sqrt_uncorrected: return "outside sqrt(v), v NOT bias-corrected (epsilon hat)";
    case EpsilonForm::outside_sqrt_corrected: return "outside sqrt(v / (1-b2^t)), after bias correction";
    case EpsilonForm::inside_sqrt: return "inside the root: sqrt(v + eps)";
    case EpsilonForm::outside_sqrt: return "outside the root: sqrt(v) + eps";
    case EpsilonForm::added_to_norm: return "added to the norm: u + eps";
    case EpsilonForm::inside_max: return "inside the max: max(b2*u, |g| + eps)";
  }
  return "?";
}

std::string describe(MomentumForm form) {
  switch (form) {
    case MomentumForm::none: return "no momentum buffer";
    case MomentumForm::velocity_includes_lr: return "lr folded into the buffer (velocity)";
    case MomentumForm::buffer_then_lr: return "buffer of gradients, lr applied after; first buffer = g";
  }
  return "?";
}

std::string describe(WeightDecayForm form) {
  switch (form) {
    case WeightDecayForm::decoupled_subtract: return "decoupled: w -= w*wd*lr before the step";
    case WeightDecayForm::decoupled_scale: return "decoupled: w *= 1 - lr*wd before the step";
    case WeightDecayForm::l2_into_gradient: return "L2 into the gradient: g += wd*w";
  }
  return "?";
}

std::string describe(StepCounting counting) {
  return counting == StepCounting::calls ? "schedule at every call; one step counter"
                                         : "schedule at every update; a step per parameter";
}

std::string describe(GlobalClipForm form) {
  return form == GlobalClipForm::keras ? "g * c / max(norm, c)" : "g * min(1, c / (norm + 1e-6))";
}

std::string format_optimizer_defaults(const std::string& only) {
  const OptimizerDefaults* selected = only.empty() ? nullptr : &optimizer_defaults(only);
  std::string out = table_line("OPTIMIZERS", "keras", "torch");
  for (const auto& row : optimizer_defaults_table()) {
    if (selected && selected != &row) continue;
    out += "\n" + table_line(row.class_name, row.keras_source, row.torch_class + " (" + row.torch_source + ")");
    for (const auto& h : row.hyperparameters) {
      const std::string keras = value_text(h.keras) + (h.keras_argument ? "" : " (fixed, no argument)");
      const std::string torch = h.torch_name.empty() ? value_text(h.torch) + " (no argument)"
                                                     : value_text(h.torch) + (h.torch_name == h.name ? "" : " (" + h.torch_name + ")");
      out += table_line("  " + h.name, keras, torch);
    }
    const UpdateRule& k = row.keras_rule;
    const UpdateRule& t = row.torch_rule;
    auto rule_line = [&](const std::string& what, const std::string& a, const std::string& b) {
      out += table_line("  rule: " + what, a, b);
    };
    if (row.class_name != "LossScaleOptimizer") {
      if (k.epsilon != EpsilonForm::none || t.epsilon != EpsilonForm::none) {
        rule_line("epsilon", describe(k.epsilon), describe(t.epsilon));
      }
      if (k.momentum != MomentumForm::none || t.momentum != MomentumForm::none) {
        rule_line("momentum", describe(k.momentum), describe(t.momentum));
      }
      rule_line("weight decay", describe(k.weight_decay), describe(t.weight_decay));
      rule_line("step counting", describe(k.step_counting), describe(t.step_counting));
      rule_line("global_clipnorm", describe(k.global_clip), describe(t.global_clip));
      auto arithmetic = [](bool keras) {
        return std::string(keras ? "lr in floatx, scalars in the variable dtype" : "scalars as Python floats (double)");
      };
      rule_line("arithmetic", arithmetic(k.keras_arithmetic), arithmetic(t.keras_arithmetic));
    }
    out += pad("  update (keras)", kNameColumn) + row.keras_formula + "\n";
    out += pad("  update (torch)", kNameColumn) + row.torch_formula + "\n";
    if (!row.note.empty()) out += pad("  note", kNameColumn) + row.note + "\n";
  }
  return out;
}


}  // namespace pitfall
