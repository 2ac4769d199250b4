// The Keras learning-rate schedules (keras.optimizers.schedules), evaluated in double precision.
// Each class's arguments live once, in its argument table (family "schedules"): names, order, Keras
// defaults and kinds; the classes check the values' ranges with messages that say why.
#include "pitfall/optim/schedules.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>

#include "pitfall/core/arguments.h"
#include "pitfall/core/error.h"
#include "pitfall/core/warnings.h"

namespace pitfall {
namespace {

// A number as the user wrote it: shortest round-trip form, so 0.1 prints as 0.1.
std::string show(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return Json(value).dump();
}
std::string show(int64_t value) { return std::to_string(value); }

void require_positive_steps(const char* schedule, const char* argument, int64_t value) {
  if (value <= 0) {
    throw ValueError(std::string(schedule) + ": argument '" + argument + "' must be > 0 (a number of optimizer steps), got " +
                     show(value) + "; pass a positive integer");
  }
}

void require_step(const std::string& schedule, int64_t step) {
  if (step < 0) {
    throw ValueError(schedule + ": the step must be >= 0 (it counts optimizer updates), got " + show(step));
  }
}

// The arguments a schedule was made with, resolved: its class name and get_config come from them.
class TableSchedule : public LearningRateSchedule {
 public:
  explicit TableSchedule(Arguments arguments) : arguments_(std::move(arguments)) {}
  std::string class_name() const override { return arguments_.table().class_name; }
  Json get_config() const override { return arguments_.values(); }

 protected:
  const std::string& where() const { return arguments_.table().class_name; }
  Arguments arguments_;
};

// step / decay_steps, floored with staircase (Keras: cast to float, divide, floor).
double decay_progress(int64_t step, int64_t decay_steps, bool staircase) {
  const double p = static_cast<double>(step) / static_cast<double>(decay_steps);
  return staircase ? std::floor(p) : p;
}

// ---- ExponentialDecay and InverseTimeDecay: the same arguments, a different formula.
class RateDecay : public TableSchedule {
 public:
  RateDecay(Arguments arguments, const char* why_rate_must_be_non_negative)
      : TableSchedule(std::move(arguments)),
        initial_(arguments_.number("initial_learning_rate")),
        decay_steps_(arguments_.integer("decay_steps")),
        decay_rate_(arguments_.number("decay_rate")),
        staircase_(arguments_.flag("staircase")) {
    require_positive_steps(where().c_str(), "decay_steps", decay_steps_);
    if (decay_rate_ < 0) {
      throw ValueError(where() + ": argument 'decay_rate' must be >= 0, got " + show(decay_rate_) + "; " +
                       why_rate_must_be_non_negative);
    }
  }

 protected:
  double progress(int64_t step) const {
    require_step(where(), step);
    return decay_progress(step, decay_steps_, staircase_);
  }

  double initial_;
  int64_t decay_steps_;
  double decay_rate_;
  bool staircase_;
};

class ExponentialDecay : public RateDecay {
 public:
  explicit ExponentialDecay(Arguments arguments)
      : RateDecay(std::move(arguments),
                  // A negative base makes decay_rate ** (step / decay_steps) NaN at every fractional exponent.
                  "it is the factor applied every decay_steps steps (e.g. 0.96); a negative base makes "
                  "decay_rate ** (step / decay_steps) NaN") {}
  double operator()(int64_t step) const override { return initial_ * std::pow(decay_rate_, progress(step)); }
};

class InverseTimeDecay : public RateDecay {
 public:
  explicit InverseTimeDecay(Arguments arguments)
      : RateDecay(std::move(arguments), "a negative rate makes the denominator 1 + decay_rate * step / decay_steps reach 0") {}
  double operator()(int64_t step) const override { return initial_ / (1.0 + decay_rate_ * progress(step)); }
};

// ---- PiecewiseConstantDecay

std::string show_list(const std::vector<int64_t>& values) {
  return Json::from_vector(values).dump();
}
std::string show_list(const std::vector<double>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + show(values[i]);
  return out + "]";
}

std::vector<double> numbers(const Json& list) {
  std::vector<double> out;
  for (const Json& item : list.as_array()) out.push_back(item.as_double());
  return out;
}

class PiecewiseConstantDecay : public TableSchedule {
 public:
  explicit PiecewiseConstantDecay(Arguments arguments)
      : TableSchedule(std::move(arguments)),
        boundaries_(arguments_.ints("boundaries")),
        values_(numbers(arguments_.at("values"))) {
    if (boundaries_.empty()) {
      throw ValueError("PiecewiseConstantDecay: argument 'boundaries' is empty; give at least one step boundary "
                       "(e.g. boundaries=[1000], values=[0.1, 0.01]), or pass a float learning rate for a constant one");
    }
    if (values_.size() != boundaries_.size() + 1) {
      throw ValueError("PiecewiseConstantDecay: 'values' must have one more element than 'boundaries' (one value per "
                       "interval), got boundaries=" + show_list(boundaries_) + " of length " +
                       std::to_string(boundaries_.size()) + " and values=" + show_list(values_) + " of length " +
                       std::to_string(values_.size()));
    }
    for (size_t i = 1; i < boundaries_.size(); ++i) {
      if (boundaries_[i] <= boundaries_[i - 1]) {
        throw ValueError("PiecewiseConstantDecay: argument 'boundaries' must be strictly increasing, got " +
                         show_list(boundaries_) + " (boundaries[" + std::to_string(i) + "] = " + show(boundaries_[i]) +
                         " <= boundaries[" + std::to_string(i - 1) + "] = " + show(boundaries_[i - 1]) +
                         "); sort them and remove duplicates");
      }
    }
    for (size_t i = 0; i < values_.size(); ++i) {
      if (!std::isfinite(values_[i])) {
        throw ValueError("PiecewiseConstantDecay: values[" + std::to_string(i) + "] must be a finite number, got " +
                         show(values_[i]) + " in values=" + show_list(values_));
      }
    }
  }
  double operator()(int64_t step) const override {
    require_step("PiecewiseConstantDecay", step);
    // The first boundary not below step: values[i] covers boundaries[i-1] < step <= boundaries[i].
    const auto it = std::lower_bound(boundaries_.begin(), boundaries_.end(), step);
    return values_[static_cast<size_t>(it - boundaries_.begin())];
  }

 private:
  std::vector<int64_t> boundaries_;
  std::vector<double> values_;
};

// ---- PolynomialDecay

// Keras PolynomialDecay: (initial - end) * (1 - p) ** power + end with p = min(step, decay_steps) /
// decay_steps; with cycle, decay_steps grows to the first multiple of itself at or above step (1x
// at step 0), so the decay restarts from the top.
class PolynomialDecay : public TableSchedule {
 public:
  explicit PolynomialDecay(Arguments arguments)
      : TableSchedule(std::move(arguments)),
        initial_(arguments_.number("initial_learning_rate")),
        decay_steps_(arguments_.integer("decay_steps")),
        end_(arguments_.number("end_learning_rate")),
        power_(arguments_.number("power")),
        cycle_(arguments_.flag("cycle")) {
    require_positive_steps("PolynomialDecay", "decay_steps", decay_steps_);
  }
  double operator()(int64_t step) const override {
    require_step("PolynomialDecay", step);
    double s = static_cast<double>(step);
    double decay_steps = static_cast<double>(decay_steps_);
    if (cycle_) {
      decay_steps *= step == 0 ? 1.0 : std::ceil(s / static_cast<double>(decay_steps_));
    } else {
      s = std::min(s, decay_steps);
    }
    return (initial_ - end_) * std::pow(1.0 - s / decay_steps, power_) + end_;
  }

 private:
  double initial_;
  int64_t decay_steps_;
  double end_, power_;
  bool cycle_;
};

// ---- CosineDecay

void require_fraction(const char* schedule, double alpha) {
  if (alpha < 0 || alpha > 1) {
    throw ValueError(std::string(schedule) + ": argument 'alpha' must be in [0, 1] (the final rate as a fraction of the "
                     "starting one), got " + show(alpha));
  }
}

double half_cosine(double fraction) { return 0.5 * (1.0 + std::cos(std::numbers::pi * fraction)); }

class CosineDecay : public TableSchedule {
 public:
  explicit CosineDecay(Arguments arguments)
      : TableSchedule(std::move(arguments)),
        initial_(arguments_.number("initial_learning_rate")),
        decay_steps_(arguments_.integer("decay_steps")),
        alpha_(arguments_.number("alpha")),
        warmup_target_(arguments_.is_none("warmup_target") ? std::numeric_limits<double>::quiet_NaN()
                                                           : arguments_.number("warmup_target")),
        warmup_steps_(arguments_.integer("warmup_steps")) {
    require_positive_steps("CosineDecay", "decay_steps", decay_steps_);
    require_fraction("CosineDecay", alpha_);
    if (warmup_steps_ < 0) {
      throw ValueError("CosineDecay: argument 'warmup_steps' must be >= 0, got " + show(warmup_steps_));
    }
    if (!has_warmup() && warmup_steps_ > 0) {
      // Keras ignores warmup_steps without a warmup_target; say so rather than silently skip the warmup.
      warn("CosineDecay: warmup_steps=" + show(warmup_steps_) + " has no effect without warmup_target; the decay starts "
           "at step 0 from initial_learning_rate. Pass warmup_target=<peak rate> to warm up");
    }
  }
  double operator()(int64_t step) const override {
    require_step("CosineDecay", step);
    const double s = static_cast<double>(step);
    const double decay_steps = static_cast<double>(decay_steps_);
    if (!has_warmup()) return decayed(std::min(s, decay_steps), initial_);
    const double warmup_steps = static_cast<double>(warmup_steps_);
    const double clamped = std::min(s, decay_steps + warmup_steps);
    if (clamped < warmup_steps) {
      return (warmup_target_ - initial_) * (clamped / warmup_steps) + initial_;
    }
    return decayed(clamped - warmup_steps, warmup_target_);
  }

 private:
  bool has_warmup() const { return !std::isnan(warmup_target_); }
  double decayed(double step, double from) const {
    return from * ((1.0 - alpha_) * half_cosine(step / static_cast<double>(decay_steps_)) + alpha_);
  }

  double initial_;
  int64_t decay_steps_;
  double alpha_, warmup_target_;
  int64_t warmup_steps_;
};

// ---- CosineDecayRestarts (SGDR, Loshchilov & Hutter)

// Keras CosineDecayRestarts: the cosine restarts after first_decay_steps steps, each period t_mul
// times the previous one and each restart's peak m_mul times the previous one's; every period
// decays to alpha * initial_learning_rate.
class CosineDecayRestarts : public TableSchedule {
 public:
  explicit CosineDecayRestarts(Arguments arguments)
      : TableSchedule(std::move(arguments)),
        initial_(arguments_.number("initial_learning_rate")),
        first_decay_steps_(arguments_.integer("first_decay_steps")),
        t_mul_(arguments_.number("t_mul")),
        m_mul_(arguments_.number("m_mul")),
        alpha_(arguments_.number("alpha")) {
    require_positive_steps("CosineDecayRestarts", "first_decay_steps", first_decay_steps_);
    if (t_mul_ <= 0) {
      throw ValueError("CosineDecayRestarts: argument 't_mul' must be > 0 (each period's length as a multiple of the "
                       "previous one), got " + show(t_mul_));
    }
    require_fraction("CosineDecayRestarts", alpha_);
  }
  double operator()(int64_t step) const override {
    require_step("CosineDecayRestarts", step);
    double fraction = static_cast<double>(step) / static_cast<double>(first_decay_steps_);
    double restart = 0.0;
    if (t_mul_ == 1.0) {
      restart = std::floor(fraction);
      fraction -= restart;
    } else {
      // Periods 1, t, t^2, ...: restart i begins at (1 - t^i) / (1 - t) periods of the first length.
      // Keras takes i = floor(log(1 - fraction * (1 - t)) / log(t)); at a step where a period
      // begins the quotient can round to just below the integer, so i is settled on the periods'
      // starts themselves.
      const auto start = [this](double i) { return (1.0 - std::pow(t_mul_, i)) / (1.0 - t_mul_); };
      restart = std::floor(std::log(1.0 - fraction * (1.0 - t_mul_)) / std::log(t_mul_));
      if (start(restart + 1) <= fraction) restart += 1;
      if (restart > 0 && start(restart) > fraction) restart -= 1;
      fraction = (fraction - start(restart)) / std::pow(t_mul_, restart);
    }
    const double cosine = std::pow(m_mul_, restart) * half_cosine(fraction);
    return initial_ * ((1.0 - alpha_) * cosine + alpha_);
  }

 private:
  double initial_;
  int64_t first_decay_steps_;
  double t_mul_, m_mul_, alpha_;
};

// ---- the argument tables

Argument rate(const char* name, const char* doc) {
  return Argument(name, ArgKind::number).make_required().described(doc);
}
Argument steps(const char* name, const char* doc) {
  return Argument(name, ArgKind::integer).make_required().described(doc);
}
Argument name_argument(const char* default_name) {
  return Argument("name", ArgKind::string, default_name).described("the schedule's name");
}
std::string list_of(const Json& value, bool integers) {
  const char* what = integers ? "a list of integers" : "a list of numbers";
  if (!value.is_array()) return what;
  for (const Json& item : value.as_array()) {
    if (item.is_bool() || !item.is_number()) return what;
    if (integers && (!std::isfinite(item.as_double()) || std::floor(item.as_double()) != item.as_double())) return what;
  }
  return "";
}

template <class T>
ArgumentClass<LearningRateSchedule> schedule_class(std::string class_name, std::string doc,
                                                   std::vector<Argument> arguments) {
  return {argument_table("schedules", std::move(class_name), "keras/src/optimizers/schedules/learning_rate_schedule.py",
                         std::move(doc), std::move(arguments)),
          [](const Arguments& a) { return std::make_shared<T>(a); }};
}

const ArgumentClasses<LearningRateSchedule>& schedule_classes() {
  static const ArgumentClasses<LearningRateSchedule> classes = [] {
    ArgumentClasses<LearningRateSchedule> c;
    const Argument initial = rate("initial_learning_rate", "the learning rate at step 0");
    const Argument staircase =
        Argument("staircase", ArgKind::boolean, false).described("decay in whole steps of decay_steps");
    c["ExponentialDecay"] = schedule_class<ExponentialDecay>(
        "ExponentialDecay", "initial_learning_rate * decay_rate ** (step / decay_steps)",
        {initial, steps("decay_steps", "steps per factor of decay_rate"),
         rate("decay_rate", "the factor applied every decay_steps steps"), staircase, name_argument("ExponentialDecay")});
    c["InverseTimeDecay"] = schedule_class<InverseTimeDecay>(
        "InverseTimeDecay", "initial_learning_rate / (1 + decay_rate * step / decay_steps)",
        {initial, steps("decay_steps", "steps per unit of decay"), rate("decay_rate", "how fast the rate decays"),
         staircase, name_argument("InverseTimeDecay")});
    c["PiecewiseConstantDecay"] = schedule_class<PiecewiseConstantDecay>(
        "PiecewiseConstantDecay", "values[i] while boundaries[i-1] < step <= boundaries[i]",
        {Argument("boundaries", ArgKind::json).make_required()
             .checked([](const Json& v) { return list_of(v, true); })
             .normalized([](const Json& v) { return Json::from_vector(v.as_int_vector()); })
             .described("the steps where the rate changes, increasing"),
         Argument("values", ArgKind::json).make_required()
             .checked([](const Json& v) { return list_of(v, false); })
             .described("the rate of each interval, one more than boundaries"),
         name_argument("PiecewiseConstant")});
    c["PolynomialDecay"] = schedule_class<PolynomialDecay>(
        "PolynomialDecay", "(initial - end) * (1 - step / decay_steps) ** power + end",
        {initial, steps("decay_steps", "steps to reach end_learning_rate"),
         Argument("end_learning_rate", ArgKind::number, 0.0001).described("the rate after decay_steps"),
         Argument("power", ArgKind::number, 1.0).described("the polynomial's power (1: linear)"),
         Argument("cycle", ArgKind::boolean, false).described("restart the decay after every decay_steps steps"),
         name_argument("PolynomialDecay")});
    c["CosineDecay"] = schedule_class<CosineDecay>(
        "CosineDecay", "cosine decay from initial_learning_rate to alpha times it, with an optional linear warmup",
        {initial, steps("decay_steps", "steps the cosine decay lasts"),
         Argument("alpha", ArgKind::number, 0.0).described("the final rate as a fraction of the decay's starting rate"),
         name_argument("CosineDecay"),
         Argument("warmup_target", ArgKind::number).allow_none().described("the rate the warmup reaches (None: no warmup)"),
         Argument("warmup_steps", ArgKind::integer, 0).described("steps the warmup lasts")});
    c["CosineDecayRestarts"] = schedule_class<CosineDecayRestarts>(
        "CosineDecayRestarts", "cosine decay with warm restarts (SGDR)",
        {initial, steps("first_decay_steps", "steps of the first period"),
         Argument("t_mul", ArgKind::number, 2.0).described("each period's length as a multiple of the previous one"),
         Argument("m_mul", ArgKind::number, 1.0).described("each restart's peak as a multiple of the previous one"),
         Argument("alpha", ArgKind::number, 0.0).described("the final rate of a period as a fraction of its peak"),
         name_argument("SGDRDecay")});
    return c;
  }();
  return classes;
}

const bool schedule_tables_registered = register_argument_classes(schedule_classes());

std::optional<Json> given_name(const std::string& name) {
  return name.empty() ? std::nullopt : std::optional<Json>(Json(name));
}

}  // namespace

std::shared_ptr<LearningRateSchedule> make_schedule(const std::string& class_name, const Json& arguments) {
  return make_argument_class(schedule_classes(), class_name, "learning-rate schedule", arguments);
}

std::shared_ptr<LearningRateSchedule> exponential_decay(double initial_learning_rate, int64_t decay_steps,
                                                        double decay_rate, std::optional<bool> staircase,
                                                        std::string name) {
  return make_schedule("ExponentialDecay",
                       given_arguments({{"initial_learning_rate", Json(initial_learning_rate)},
                                        {"decay_steps", Json(decay_steps)},
                                        {"decay_rate", Json(decay_rate)},
                                        {"staircase", given_value(staircase)},
                                        {"name", given_name(name)}}));
}

std::shared_ptr<LearningRateSchedule> piecewise_constant_decay(std::vector<int64_t> boundaries, std::vector<double> values,
                                                               std::string name) {
  return make_schedule("PiecewiseConstantDecay",
                       given_arguments({{"boundaries", Json::from_vector(boundaries)},
                                        {"values", Json::from_vector(values)},
                                        {"name", given_name(name)}}));
}

std::shared_ptr<LearningRateSchedule> polynomial_decay(double initial_learning_rate, int64_t decay_steps,
                                                       std::optional<double> end_learning_rate,
                                                       std::optional<double> power, std::optional<bool> cycle,
                                                       std::string name) {
  return make_schedule("PolynomialDecay",
                       given_arguments({{"initial_learning_rate", Json(initial_learning_rate)},
                                        {"decay_steps", Json(decay_steps)},
                                        {"end_learning_rate", given_value(end_learning_rate)},
                                        {"power", given_value(power)},
                                        {"cycle", given_value(cycle)},
                                        {"name", given_name(name)}}));
}

std::shared_ptr<LearningRateSchedule> cosine_decay(double initial_learning_rate, int64_t decay_steps,
                                                   std::optional<double> alpha, std::optional<double> warmup_target,
                                                   std::optional<int64_t> warmup_steps, std::string name) {
  // NaN for warmup_target means None (no warmup), as the header says.
  if (warmup_target && std::isnan(*warmup_target)) warmup_target.reset();
  return make_schedule("CosineDecay",
                       given_arguments({{"initial_learning_rate", Json(initial_learning_rate)},
                                        {"decay_steps", Json(decay_steps)},
                                        {"alpha", given_value(alpha)},
                                        {"warmup_target", given_value(warmup_target)},
                                        {"warmup_steps", given_value(warmup_steps)},
                                        {"name", given_name(name)}}));
}

std::shared_ptr<LearningRateSchedule> cosine_decay_restarts(double initial_learning_rate, int64_t first_decay_steps,
                                                            std::optional<double> t_mul, std::optional<double> m_mul,
                                                            std::optional<double> alpha, std::string name) {
  return make_schedule("CosineDecayRestarts",
                       given_arguments({{"initial_learning_rate", Json(initial_learning_rate)},
                                        {"first_decay_steps", Json(first_decay_steps)},
                                        {"t_mul", given_value(t_mul)},
                                        {"m_mul", given_value(m_mul)},
                                        {"alpha", given_value(alpha)},
                                        {"name", given_name(name)}}));
}

std::shared_ptr<LearningRateSchedule> inverse_time_decay(double initial_learning_rate, int64_t decay_steps,
                                                         double decay_rate, std::optional<bool> staircase,
                                                         std::string name) {
  return make_schedule("InverseTimeDecay",
                       given_arguments({{"initial_learning_rate", Json(initial_learning_rate)},
                                        {"decay_steps", Json(decay_steps)},
                                        {"decay_rate", Json(decay_rate)},
                                        {"staircase", given_value(staircase)},
                                        {"name", given_name(name)}}));
}

std::shared_ptr<LearningRateSchedule> schedule_from_config(const Json& entry) {
  if (!entry.is_object() || !entry.contains("class_name") || !entry.at("class_name").is_string()) {
    throw ValueError("schedule_from_config: expected {\"class_name\": \"ExponentialDecay\", \"config\": {...}} as "
                     "schedule_to_config writes it, got " + entry.dump());
  }
  for (const auto& [key, value] : entry.as_object()) {
    static const std::vector<std::string> keys = {"class_name", "config", "module", "registered_name"};
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      throw ValueError("schedule_from_config: unexpected key '" + key + "' in " + entry.dump() + "; " +
                       did_you_mean(key, keys));
    }
  }
  const std::string class_name = entry.at("class_name").as_string();
  const Json config = entry.get("config", Json::object());
  if (!config.is_object()) {
    throw ValueError("schedule_from_config: the config of " + class_name + " must be an object of its arguments, got " +
                     config.dump());
  }
  return make_schedule(class_name, config);
}

Json schedule_to_config(const LearningRateSchedule& schedule) {
  Json out = Json::object();
  out["class_name"] = schedule.class_name();
  out["config"] = schedule.get_config();
  return out;
}

}  // namespace pitfall
