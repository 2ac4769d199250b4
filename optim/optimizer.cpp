// Optimizer base: argument resolution against the defaults table, validation, accumulation, clipping,
// weight decay, learning-rate schedules, per-variable state and its save/load.
#include "pitfall/optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "pitfall/core/autograd.h"
#include "pitfall/core/ops.h"
#include "pitfall/optim/optimizer_registry.h"

namespace pitfall {

namespace {

std::string describe_variable(const Tensor& variable, size_t index) {
  const std::string position = "variable #" + std::to_string(index);
  if (!variable.defined() || variable.name().empty()) return position;
  return "variable '" + variable.name() + "' (" + position + ")";
}

std::string number_text(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return Json(value).dump();
}

void check_learning_rate(const std::string& where, double learning_rate) {
  if (!std::isfinite(learning_rate) || learning_rate < 0.0) {
    throw ValueError(where + ": learning_rate must be a finite number >= 0, got " + number_text(learning_rate));
  }
}

// Keras optimizers pitfall does not implement: a clear NotImplementedError rather than "unknown name".
const std::vector<std::string>& keras_only_optimizers() {
  static const std::vector<std::string> names = {"Ftrl", "Lion", "Lamb", "Adafactor"};
  return names;
}

}  // namespace

// ---------------------------------------------------------------- construction

Optimizer::Optimizer(const OptimizerDefaults& defaults, Convention convention, const Json& arguments,
                     const std::map<std::string, std::shared_ptr<void>>& objects)
    : defaults_(&defaults), convention_(convention), name_(defaults.class_name) {
  resolve_arguments(arguments, objects);
}

void Optimizer::resolve_arguments(const Json& arguments, const std::map<std::string, std::shared_ptr<void>>& objects) {
  const std::string& where = class_name();
  if (!arguments.is_null() && !arguments.is_object()) {
    throw ValueError(where + ": arguments must be a JSON object of argument names to values, got " +
                     arguments.type_name());
  }
  Json given = arguments.is_null() ? Json::object() : arguments;
  if (given.contains("name") && !given.at("name").is_null() && !given.at("name").is_string()) {
    throw ValueError(where + ": name must be a string, got " + given.at("name").type_name());
  }
  given["convention"] = convention_name(convention_);
  // Names, kinds, the convention's defaults, PyTorch's spellings: the optimizer's argument table.
  const Arguments parsed = parse_arguments(optimizer_arguments(where), given, objects);
  if (!parsed.is_none("name")) name_ = parsed.text("name");
  for (const auto& h : defaults_->hyperparameters) {
    if (!parsed.given(h.name)) from_table_.push_back(h.name);
    const Json& value = parsed.at(h.name);
    if (h.name == "learning_rate" && value.is_object()) {
      schedule_ = schedule_from_config(value);
      resolved_[h.name] = schedule_to_config(*schedule_);
      continue;
    }
    resolved_[h.name] = value;
    if (h.range && value.is_number()) require(h.range->contains(value.as_double()), h.name, h.range->text());
  }
  if (defaults_->find("learning_rate") && !schedule_) {
    learning_rate_ = resolved_.at("learning_rate").as_double();
    check_learning_rate(where, learning_rate_);
  }
  // The base-optimizer arguments (Keras base_optimizer.py checks the same).
  int clip_options = 0;
  for (const char* name : {"clipnorm", "clipvalue", "global_clipnorm", "loss_scale_factor"}) {
    if (!defaults_->find(name) || resolved_.at(name).is_null()) continue;
    const double v = resolved_.at(name).as_double();
    if (!(v > 0.0)) throw ValueError(where + ": " + name + " must be > 0 (or None to turn it off), got " + number_text(v));
    if (std::string(name) != "loss_scale_factor") ++clip_options;
  }
  if (clip_options > 1) {
    throw ValueError(where + ": only one of clipnorm, clipvalue and global_clipnorm can be set (Keras rule); got " +
                     std::to_string(clip_options) + " of them");
  }
  if (defaults_->find("weight_decay") && !resolved_.at("weight_decay").is_null() &&
      !(resolved_.at("weight_decay").as_double() >= 0.0)) {
    throw ValueError(where + ": weight_decay must be >= 0, got " + resolved_.at("weight_decay").dump());
  }
  if (defaults_->find("gradient_accumulation_steps") && !resolved_.at("gradient_accumulation_steps").is_null()) {
    const Json& steps = resolved_.at("gradient_accumulation_steps");
    if (!steps.is_int() && !(steps.is_number() && std::floor(steps.as_double()) == steps.as_double())) {
      throw ValueError(where + ": gradient_accumulation_steps must be an integer >= 2, got " + steps.dump());
    }
    if (steps.as_int() < 2) {
      throw ValueError(where + ": gradient_accumulation_steps must be an integer >= 2 (or None), got " + steps.dump());
    }
    resolved_["gradient_accumulation_steps"] = steps.as_int();
  }
}

const Json& Optimizer::hyperparameter(const std::string& name) const {
  if (!resolved_.contains(name)) {
    std::vector<std::string> names;
    for (const auto& h : defaults_->hyperparameters) names.push_back(h.name);
    throw ValueError(class_name() + " has no argument '" + name + "'; " + did_you_mean(name, names));
  }
  return resolved_.at(name);
}

double Optimizer::number(const std::string& name) const { return hyperparameter(name).as_double(); }

bool Optimizer::flag(const std::string& name) const { return hyperparameter(name).as_bool(); }

namespace {
std::map<std::string, OptimizerFactory>& optimizer_factories() {
  static std::map<std::string, OptimizerFactory> factories;
  return factories;
}
}  // namespace

bool register_optimizer_factory(std::initializer_list<const char*> class_names, OptimizerFactory factory) {
  for (const char* name : class_names) optimizer_factories()[name] = factory;
  return true;
}

OptimizerFactory optimizer_factory(const std::string& class_name) {
  const auto found = optimizer_factories().find(class_name);
  if (found == optimizer_factories().end()) {
    throw RuntimeError("optimizer_factory: no factory registered for '" + class_name + "'");
  }
  return found->second;
}

void Optimizer::require(bool ok, const std::string& argument, const std::string& expected) const {
  if (!ok) {
    throw ValueError(class_name() + ": " + argument + " must be " + expected + ", got " +
                     hyperparameter(argument).dump());
  }
}

void Optimizer::moving_average(const Tensor& state, const Tensor& x, double decay) const {
  if (rule().keras_arithmetic) {
    state.assign(add(state, multiply(subtract(x, state), 1.0 - decay)));
  } else {
    state.assign(add(multiply(state, decay), multiply(x, 1.0 - decay)));
  }
}

// ---------------------------------------------------------------- learning rate

int64_t Optimizer::iterations() const {
  const Json* steps = resolved_.contains("gradient_accumulation_steps") ? &resolved_.at("gradient_accumulation_steps")
                                                                        : nullptr;
  return steps && !steps->is_null() ? iterations_ / steps->as_int() : iterations_;
}

int64_t Optimizer::schedule_step() const {
  return rule().step_counting == StepCounting::calls ? iterations_ : updates_;
}

double Optimizer::schedule_value(int64_t step) const {
  if (!schedule_) return learning_rate_;
  const double value = (*schedule_)(step) * schedule_scale_;
  if (!std::isfinite(value) || value < 0.0) {
    throw ValueError(class_name() + ": the learning-rate schedule " + schedule_->class_name() + " gave " +
                     number_text(value) + " at step " + std::to_string(step) + "; a learning rate must be finite and >= 0");
  }
  return value;
}

double Optimizer::learning_rate() const { return schedule_value(schedule_step()); }

void Optimizer::set_learning_rate(double learning_rate) {
  check_learning_rate(class_name(), learning_rate);
  from_table_.erase(std::remove(from_table_.begin(), from_table_.end(), "learning_rate"), from_table_.end());
  if (schedule_) {
    const double base = (*schedule_)(schedule_step());
    if (!(base > 0.0)) {
      throw ValueError(class_name() + ": cannot set the learning rate to " + number_text(learning_rate) +
                       ": the schedule " + schedule_->class_name() + " is " + number_text(base) + " at step " +
                       std::to_string(schedule_step()) + ", so no scale of it gives that value; set a new schedule "
                       "or a constant learning rate with set_learning_rate(schedule)");
    }
    schedule_scale_ = learning_rate / base;
    return;
  }
  learning_rate_ = learning_rate;
  resolved_["learning_rate"] = learning_rate;
}

void Optimizer::set_learning_rate(std::shared_ptr<LearningRateSchedule> schedule) {
  if (!schedule) throw ValueError(class_name() + ": the learning-rate schedule is null");
  from_table_.erase(std::remove(from_table_.begin(), from_table_.end(), "learning_rate"), from_table_.end());
  schedule_ = std::move(schedule);
  schedule_scale_ = 1.0;
  // The schedule's config is asked for only when the optimizer is serialized (Keras asks no sooner):
  // a Python schedule without get_config() trains fine.
  resolved_["learning_rate"] = Json();
}

Tensor Optimizer::learning_rate_scalar(double learning_rate, const Tensor& variable) const {
  // On the CPU whatever the variable's device: a 0-d CPU tensor joins ops on any device, the fused
  // loops read it without a device round trip, and every device gets the same bits.
  if (rule().keras_arithmetic) return cast(Tensor::scalar(learning_rate, floatx()), variable.dtype());
  return Tensor::scalar(learning_rate, variable.dtype());
}

// ---------------------------------------------------------------- config

Json Optimizer::get_config() const {
  Json config = Json::object();
  config["name"] = name_;
  for (const auto& [key, value] : resolved_.as_object()) config[key] = value;
  if (schedule_) config["learning_rate"] = schedule_to_config(*schedule_);
  config["convention"] = convention_name(convention_);
  Json table = Json::array();
  for (const auto& name : from_table_) table.as_array().push_back(name);
  config["defaults_from_table"] = table;
  return config;
}

Tensor Optimizer::scale_loss(const Tensor& loss) const {
  if (!defaults_->find("loss_scale_factor") || resolved_.at("loss_scale_factor").is_null()) return loss;
  return multiply(loss, number("loss_scale_factor"));
}

void Optimizer::exclude_from_weight_decay(std::vector<std::string> name_parts) {
  for (const auto& part : name_parts) {
    if (part.empty()) {
      throw ValueError(class_name() + ".exclude_from_weight_decay: an empty name part would exclude every variable; "
                       "pass parts such as \"bias\" or \"gamma\"");
    }
  }
  weight_decay_exclusions_ = std::move(name_parts);
}

bool Optimizer::decays(const Tensor& variable) const {
  for (const auto& part : weight_decay_exclusions_) {
    if (variable.name().find(part) != std::string::npos) return false;
  }
  return true;
}

// ---------------------------------------------------------------- the step

void Optimizer::check_update_inputs(const std::vector<Tensor>& grads, const std::vector<Tensor>& variables) const {
  const std::string& where = class_name();
  if (grads.size() != variables.size()) {
    throw ValueError(where + ".apply_gradients: got " + std::to_string(grads.size()) + " gradients for " +
                     std::to_string(variables.size()) +
                     " variables; pass one gradient per variable, in the same order (undefined for none)");
  }
  for (size_t i = 0; i < variables.size(); ++i) {
    const Tensor& variable = variables[i];
    const Tensor& grad = grads[i];
    if (!variable.defined()) {
      throw ValueError(where + ".apply_gradients: variable #" + std::to_string(i) + " is undefined");
    }
    if (!grad.defined()) continue;
    if (!is_floating(variable.dtype())) {
      throw DTypeError(where + ".apply_gradients: " + describe_variable(variable, i) + " has dtype " +
                       std::string(dtype_name(variable.dtype())) + "; only floating variables can be trained");
    }
    if (grad.shape() != variable.shape()) {
      throw ShapeError(where + ".apply_gradients: the gradient for " + describe_variable(variable, i) + " has shape " +
                       shape_str(grad.shape()) + ", expected the variable's shape " + shape_str(variable.shape()) +
                       "; are gradients and variables in the same order?");
    }
    if (grad.dtype() != variable.dtype()) {
      throw DTypeError(where + ".apply_gradients: the gradient for " + describe_variable(variable, i) + " has dtype " +
                       std::string(dtype_name(grad.dtype())) + ", expected the variable's dtype " +
                       std::string(dtype_name(variable.dtype())) +
                       "; cast the gradient (or use a LossScaleOptimizer for mixed precision)");
    }
  }
}

std::vector<Tensor> Optimizer::clip_gradients(std::vector<Tensor> grads) const {
  auto squared_norm = [](const Tensor& g) { return sum(square(cast(g, DType::float64))).item(); };
  const Json& clipnorm = resolved_.at("clipnorm");
  const Json& global_clipnorm = resolved_.at("global_clipnorm");
  const Json& clipvalue = resolved_.at("clipvalue");
  if (!clipnorm.is_null()) {
    // Each gradient on its own: g * c / max(||g||, c).
    const double c = clipnorm.as_double();
    for (Tensor& g : grads) {
      if (!g.defined()) continue;
      const double norm = std::sqrt(squared_norm(g));
      if (norm > c) g = divide(multiply(g, c), norm);
    }
  } else if (!global_clipnorm.is_null()) {
    const double c = global_clipnorm.as_double();
    double total = 0.0;
    for (const Tensor& g : grads) {
      if (g.defined()) total += squared_norm(g);
    }
    const double norm = std::sqrt(total);
    double scale;
    if (rule().global_clip == GlobalClipForm::keras) {
      scale = c * std::min(1.0 / norm, 1.0 / c);
    } else {
      scale = std::min(1.0, c / (norm + 1e-6));
    }
    // A non-finite norm makes every gradient NaN, as both frameworks do: the step is visibly broken.
    if (!std::isfinite(norm)) scale = std::numeric_limits<double>::quiet_NaN();
    if (scale != 1.0) {
      for (Tensor& g : grads) {
        if (g.defined()) g = multiply(g, scale);
      }
    }
  } else if (!clipvalue.is_null()) {
    const double c = clipvalue.as_double();
    for (Tensor& g : grads) {
      if (g.defined()) g = pitfall::clip(g, -c, c);
    }
  }
  return grads;
}

void Optimizer::apply_gradients(const std::vector<Tensor>& grads_in, const std::vector<Tensor>& variables) {
  check_update_inputs(grads_in, variables);
  NoGradGuard no_grad;
  if (variable_updates_.size() < variables.size()) variable_updates_.resize(variables.size(), 0);
  std::vector<Tensor> grads(grads_in.size());
  // Every table row with an update rule has the base arguments (LossScaleOptimizer, which has not,
  // overrides apply_gradients).
  const Json& loss_scale = resolved_.at("loss_scale_factor");
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads_in[i].defined()) continue;
    grads[i] = grads_in[i].detach();
    if (!loss_scale.is_null()) grads[i] = divide(grads[i], loss_scale.as_double());
  }

  // Gradient accumulation: only every k-th call updates, with the mean of the k gradients.
  if (!resolved_.at("gradient_accumulation_steps").is_null()) {
    const int64_t k = resolved_.at("gradient_accumulation_steps").as_int();
    const bool update_now = (iterations_ + 1) % k == 0;
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!grads[i].defined()) continue;
      const Tensor& accumulated = slot("accumulated_gradient", i, variables[i]);
      if (update_now) {
        grads[i] = divide(add(grads[i], accumulated), static_cast<double>(k));
        accumulated.assign(Tensor::zeros(accumulated.shape(), accumulated.dtype(), accumulated.device()));
      } else {
        accumulated.assign(add(accumulated, grads[i]));
      }
    }
    if (!update_now) {
      ++iterations_;
      return;
    }
  }
  grads = clip_gradients(std::move(grads));

  const UpdateRule& r = rule();
  const double lr = learning_rate();
  if (!resolved_.at("weight_decay").is_null() && number("weight_decay") != 0.0) {
    const double wd = number("weight_decay");
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!grads[i].defined() || !decays(variables[i])) continue;
      const Tensor& w = variables[i];
      switch (r.weight_decay) {
        case WeightDecayForm::decoupled_subtract:
          w.assign(subtract(w, multiply(multiply(w, wd), learning_rate_scalar(lr, w))));
          break;
        case WeightDecayForm::decoupled_scale:
          w.assign(multiply(w, 1.0 - lr * wd));
          break;
        case WeightDecayForm::l2_into_gradient:
          grads[i] = add(grads[i], multiply(w, wd));
          break;
      }
    }
  }
  // t counts updates in both conventions (current Keras 3; earlier releases counted calls, so the first
  // accumulated update had t = k): one counter for the optimizer in Keras, one per variable in PyTorch.
  before_updates(updates_ + 1);
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined()) continue;
    const int64_t t = r.step_counting == StepCounting::calls ? updates_ + 1 : variable_updates_[i] + 1;
    update(variables[i], grads[i], i, Step{t, lr});
    ++variable_updates_[i];
  }
  ++updates_;
  ++iterations_;
}

// ---------------------------------------------------------------- state

const Tensor& Optimizer::slot(const std::string& name, size_t index, const Tensor& variable, double initial) {
  auto& list = slots_[name];
  if (index >= list.size()) list.resize(index + 1);
  Tensor& value = list[index];
  if (!value.defined()) {
    value = Tensor::full(variable.shape(), initial, variable.dtype(), variable.device());
  } else if (value.shape() != variable.shape() || value.dtype() != variable.dtype()) {
    throw ValueError(class_name() + ": " + describe_variable(variable, index) + " has shape " +
                     shape_str(variable.shape()) + " and dtype " + std::string(dtype_name(variable.dtype())) +
                     ", but this optimizer's " + name + " for that position was built for shape " +
                     shape_str(value.shape()) + " and dtype " + std::string(dtype_name(value.dtype())) +
                     "; pass the same variables in the same order every step (one optimizer per model)");
  }
  return value;
}

bool Optimizer::has_slot(const std::string& name, size_t index) const {
  const auto found = slots_.find(name);
  return found != slots_.end() && index < found->second.size() && found->second[index].defined();
}

Json Optimizer::state_scalars() const {
  Json state = Json::object();
  state["iterations"] = iterations_;
  state["updates"] = updates_;
  state["variable_updates"] = Json::from_vector(variable_updates_);
  state["learning_rate"] = schedule_ ? Json(schedule_to_config(*schedule_)) : Json(learning_rate_);
  state["schedule_scale"] = schedule_scale_;
  state["extra"] = extra_state();
  return state;
}

std::vector<std::pair<std::string, Tensor>> Optimizer::state_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [name, list] : slots_) {
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i].defined()) out.emplace_back(name + "/" + std::to_string(i), list[i]);
    }
  }
  return out;
}

void Optimizer::load_state(const Json& scalars, const std::vector<std::pair<std::string, Tensor>>& tensors) {
  const std::string where = class_name() + ".load_state";
  // Parse and check everything first; assign only when all of it fits.
  int64_t iterations, updates;
  std::vector<int64_t> variable_updates;
  double schedule_scale;
  std::shared_ptr<LearningRateSchedule> schedule;
  double learning_rate = learning_rate_;
  std::map<std::string, std::vector<Tensor>> slots;
  try {
    iterations = scalars.at("iterations").as_int();
    updates = scalars.at("updates").as_int();
    variable_updates = scalars.at("variable_updates").as_int_vector();
    schedule_scale = scalars.at("schedule_scale").as_double();
    const Json& lr = scalars.at("learning_rate");
    if (lr.is_object()) {
      schedule = schedule_from_config(lr);
    } else {
      learning_rate = lr.as_double();
      check_learning_rate(where, learning_rate);
    }
  } catch (const Error& e) {
    throw ValueError(where + ": the saved optimizer state is malformed: " + std::string(e.message()));
  }
  if (iterations < 0 || updates < 0 || updates > iterations) {
    throw ValueError(where + ": the saved counters are inconsistent (iterations " + std::to_string(iterations) +
                     ", updates " + std::to_string(updates) + ")");
  }
  for (size_t i = 0; i < variable_updates.size(); ++i) {
    if (variable_updates[i] < 0 || variable_updates[i] > updates) {
      throw ValueError(where + ": the saved variable_updates (step) of variable #" + std::to_string(i) + " is " +
                       std::to_string(variable_updates[i]) + ", outside [0, updates = " + std::to_string(updates) + "]");
    }
  }
  if (!(std::isfinite(schedule_scale) && schedule_scale > 0.0)) {
    throw ValueError(where + ": the saved schedule_scale is " + number_text(schedule_scale) +
                     "; it must be a finite number > 0");
  }
  for (const auto& [key, tensor] : tensors) {
    const size_t slash = key.rfind('/');
    size_t index = 0;
    bool ok = slash != std::string::npos && slash > 0 && slash + 1 < key.size();
    if (ok) {
      for (size_t c = slash + 1; c < key.size(); ++c) ok = ok && std::isdigit(static_cast<unsigned char>(key[c]));
    }
    if (ok) index = static_cast<size_t>(std::stoull(key.substr(slash + 1)));
    if (!ok || index > 1000000) {
      throw ValueError(where + ": state entry '" + key + "' is not named <slot>/<variable index>");
    }
    if (!tensor.defined()) throw ValueError(where + ": state entry '" + key + "' has no tensor");
    auto& list = slots[key.substr(0, slash)];
    if (index >= list.size()) list.resize(index + 1);
    list[index] = tensor.detach().clone();
  }
  // The subclass checks and takes its part first: if it refuses, nothing has changed.
  load_extra_state(scalars.get("extra", Json()));
  iterations_ = iterations;
  updates_ = updates;
  variable_updates_ = variable_updates;
  schedule_scale_ = schedule_scale;
  if (schedule) {
    schedule_ = schedule;
    resolved_["learning_rate"] = Json();
  } else if (!schedule_) {
    learning_rate_ = learning_rate;
    if (resolved_.contains("learning_rate")) resolved_["learning_rate"] = learning_rate;
  }
  slots_ = std::move(slots);
}

// ---------------------------------------------------------------- factories

std::shared_ptr<Optimizer> make_optimizer(const std::string& name, const Json& arguments, Convention convention) {
  for (const auto& keras_only : keras_only_optimizers()) {
    std::string a = name, b = keras_only;
    std::transform(a.begin(), a.end(), a.begin(), ::tolower);
    std::transform(b.begin(), b.end(), b.begin(), ::tolower);
    if (a == b) {
      throw NotImplementedError("optimizer '" + name + "' (keras.optimizers." + keras_only +
                                ") is not implemented in pitfall; available: SGD, Adam, AdamW, RMSprop, Adagrad, "
                                "Adadelta, Adamax, Nadam");
    }
  }
  Json args = arguments.is_null() ? Json::object() : arguments;
  if (!args.is_object()) throw ValueError("make_optimizer('" + name + "'): arguments must be a JSON object");
  if (args.contains("convention")) {
    convention = parse_convention(args.at("convention").as_string());
    args.as_object().erase("convention");
  }
  const OptimizerDefaults& row = optimizer_defaults(name);
  if (row.class_name == "LossScaleOptimizer") {
    throw ValueError("LossScaleOptimizer wraps another optimizer: use loss_scale_optimizer(inner, arguments) "
                     "(Python: pf.optimizers.LossScaleOptimizer(inner))");
  }
  return optimizer_factory(row.class_name)(row, convention, args);
}

std::shared_ptr<Optimizer> optimizer_from_config(const std::string& class_name, const Json& config) {
  if (!config.is_object()) {
    throw ValueError("optimizer_from_config('" + class_name + "'): the config must be a JSON object, got " +
                     config.type_name());
  }
  Json args = config;
  auto& object = args.as_object();
  const Convention convention = parse_convention(config.get("convention", Json("keras")).as_string());
  object.erase("convention");
  // Arguments that came from the table are left out, so they come from the table again.
  if (config.contains("defaults_from_table")) {
    for (const Json& name : config.at("defaults_from_table").as_array()) object.erase(name.as_string());
    object.erase("defaults_from_table");
  }
  // Keras config keys for features pitfall does not have are accepted at their off value.
  for (const auto& [key, off] : std::vector<std::pair<std::string, Json>>{
           {"use_ema", false}, {"ema_momentum", 0.99}, {"ema_overwrite_frequency", Json()}}) {
    if (!object.count(key)) continue;
    if (!(object.at(key) == off) && !(key == "ema_momentum")) {
      throw NotImplementedError("optimizer_from_config('" + class_name + "'): '" + key + "' = " + object.at(key).dump() +
                                " (exponential moving average of the weights) is not implemented in pitfall");
    }
    object.erase(key);
  }
  if (optimizer_defaults(class_name).class_name == "LossScaleOptimizer") {
    if (!object.count("inner_optimizer")) {
      throw ValueError("optimizer_from_config('LossScaleOptimizer'): the config has no 'inner_optimizer'");
    }
    const Json inner_entry = object.at("inner_optimizer");
    object.erase("inner_optimizer");
    auto inner = optimizer_from_config(inner_entry.at("class_name").as_string(), inner_entry.at("config"));
    return loss_scale_optimizer(std::move(inner), args, convention);
  }
  return make_optimizer(class_name, args, convention);
}

std::shared_ptr<Optimizer> get_optimizer(const std::string& name) { return make_optimizer(name); }


std::shared_ptr<Optimizer> sgd_optimizer(std::optional<double> learning_rate, std::optional<double> momentum,
                                         std::optional<bool> nesterov) {
  return make_optimizer("SGD", given_arguments({{"learning_rate", given_value(learning_rate)},
                                      {"momentum", given_value(momentum)},
                                      {"nesterov", given_value(nesterov)}}));
}

std::shared_ptr<Optimizer> adam_optimizer(std::optional<double> learning_rate, std::optional<double> beta_1,
                                          std::optional<double> beta_2, std::optional<double> epsilon,
                                          std::optional<bool> amsgrad) {
  return make_optimizer("Adam", given_arguments({{"learning_rate", given_value(learning_rate)},
                                       {"beta_1", given_value(beta_1)},
                                       {"beta_2", given_value(beta_2)},
                                       {"epsilon", given_value(epsilon)},
                                       {"amsgrad", given_value(amsgrad)}}));
}

}  // namespace pitfall
