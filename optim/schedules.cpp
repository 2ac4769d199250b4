// The Keras learning-rate schedules (keras.optimizers.schedules), evaluated in double precision.
#include "pitfall/optim/schedules.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>

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

void require_finite(const char* schedule, const char* argument, double value) {
  if (!std::isfinite(value)) {
    throw ValueError(std::string(schedule) + ": argument '" + argument + "' must be a finite number, got " +
                     show(value) + "; pass a finite float");
  }
}

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

// ---- ExponentialDecay and InverseTimeDecay share their arguments and the staircase exponent.

// step / decay_steps, floored with staircase (Keras: cast to float, divide, floor).
double decay_progress(int64_t step, int64_t decay_steps, bool staircase) {
  const double p = static_cast<double>(step) / static_cast<double>(decay_steps);
  return staircase ? std::floor(p) : p;
}

// ExponentialDecay and InverseTimeDecay: the same arguments and config, a different formula.
class RateDecay : public LearningRateSchedule {
 public:
  RateDecay(const char* class_name, double initial, int64_t decay_steps, double decay_rate, bool staircase,
            std::string name, const char* why_rate_must_be_non_negative)
      : class_name_(class_name),
        initial_(initial),
        decay_steps_(decay_steps),
        decay_rate_(decay_rate),
        staircase_(staircase),
        name_(std::move(name)) {
    require_finite(class_name, "initial_learning_rate", initial);
    require_positive_steps(class_name, "decay_steps", decay_steps);
    require_finite(class_name, "decay_rate", decay_rate);
    if (decay_rate < 0) {
      throw ValueError(std::string(class_name) + ": argument 'decay_rate' must be >= 0, got " + show(decay_rate) +
                       "; " + why_rate_must_be_non_negative);
    }
  }
  std::string class_name() const override { return class_name_; }
  Json get_config() const override {
    Json config = Json::object();
    config["initial_learning_rate"] = initial_;
    config["decay_steps"] = decay_steps_;
    config["decay_rate"] = decay_rate_;
    config["staircase"] = staircase_;
    config["name"] = name_;
    return config;
  }

 protected:
  double progress(int64_t step) const {
    require_step(class_name_, step);
    return decay_progress(step, decay_steps_, staircase_);
  }

  std::string class_name_;
  double initial_;
  int64_t decay_steps_;
  double decay_rate_;
  bool staircase_;
  std::string name_;
};

class ExponentialDecay : public RateDecay {
 public:
  ExponentialDecay(double initial, int64_t decay_steps, double decay_rate, bool staircase, std::string name)
      : RateDecay("ExponentialDecay", initial, decay_steps, decay_rate, staircase, std::move(name),
                  // A negative base makes decay_rate ** (step / decay_steps) NaN at every fractional exponent.
                  "it is the factor applied every decay_steps steps (e.g. 0.96); a negative base makes "
                  "decay_rate ** (step / decay_steps) NaN") {}
  double operator()(int64_t step) const override { return initial_ * std::pow(decay_rate_, progress(step)); }
};

class InverseTimeDecay : public RateDecay {
 public:
  InverseTimeDecay(double initial, int64_t decay_steps, double decay_rate, bool staircase, std::string name)
      : RateDecay("InverseTimeDecay", initial, decay_steps, decay_rate, staircase, std::move(name),
                  "a negative rate makes the denominator 1 + decay_rate * step / decay_steps reach 0") {}
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

class PiecewiseConstantDecay : public LearningRateSchedule {
 public:
  PiecewiseConstantDecay(std::vector<int64_t> boundaries, std::vector<double> values, std::string name)
      : boundaries_(std::move(boundaries)), values_(std::move(values)), name_(std::move(name)) {
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
  std::string class_name() const override { return "PiecewiseConstantDecay"; }
  Json get_config() const override {
    Json config = Json::object();
    config["boundaries"] = Json::from_vector(boundaries_);
    config["values"] = Json::from_vector(values_);
    config["name"] = name_;
    return config;
  }

 private:
  std::vector<int64_t> boundaries_;
  std::vector<double> values_;
  std::string name_;
};

// ---- CosineDecay

class CosineDecay : public LearningRateSchedule {
 public:
  CosineDecay(double initial, int64_t decay_steps, double alpha, double warmup_target, int64_t warmup_steps, std::string name)
      : initial_(initial), decay_steps_(decay_steps), alpha_(alpha), warmup_target_(warmup_target),
        warmup_steps_(warmup_steps), name_(std::move(name)) {
    require_finite("CosineDecay", "initial_learning_rate", initial);
    require_positive_steps("CosineDecay", "decay_steps", decay_steps);
    require_finite("CosineDecay", "alpha", alpha);
    if (alpha < 0 || alpha > 1) {
      throw ValueError("CosineDecay: argument 'alpha' must be in [0, 1] (the final rate as a fraction of the "
                       "starting one), got " + show(alpha));
    }
    if (std::isinf(warmup_target)) {
      throw ValueError("CosineDecay: argument 'warmup_target' must be a finite number or None (no warmup), got " +
                       show(warmup_target));
    }
    if (warmup_steps < 0) {
      throw ValueError("CosineDecay: argument 'warmup_steps' must be >= 0, got " + show(warmup_steps));
    }
    if (!has_warmup() && warmup_steps > 0) {
      // Keras ignores warmup_steps without a warmup_target; say so rather than silently skip the warmup.
      warn("CosineDecay: warmup_steps=" + show(warmup_steps) + " has no effect without warmup_target; the decay starts "
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
  std::string class_name() const override { return "CosineDecay"; }
  Json get_config() const override {
    Json config = Json::object();
    config["initial_learning_rate"] = initial_;
    config["decay_steps"] = decay_steps_;
    config["alpha"] = alpha_;
    config["name"] = name_;
    config["warmup_target"] = has_warmup() ? Json(warmup_target_) : Json();
    config["warmup_steps"] = warmup_steps_;
    return config;
  }

 private:
  bool has_warmup() const { return !std::isnan(warmup_target_); }
  double decayed(double step, double from) const {
    const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * (step / static_cast<double>(decay_steps_))));
    return from * ((1.0 - alpha_) * cosine + alpha_);
  }

  double initial_;
  int64_t decay_steps_;
  double alpha_, warmup_target_;
  int64_t warmup_steps_;
  std::string name_;
};

std::string or_default(std::string name, const char* fallback) { return name.empty() ? fallback : name; }

// ---- from_config

const std::vector<std::string>& implemented_schedules() {
  static const std::vector<std::string> names = {"ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay",
                                                 "InverseTimeDecay"};
  return names;
}

// A schedule's config, checked: every key known, the required ones present, the types right.
class ConfigReader {
 public:
  ConfigReader(std::string schedule, const Json& config, std::vector<std::string> accepted)
      : schedule_(std::move(schedule)), config_(config) {
    if (!config.is_object()) {
      throw ValueError("schedule_from_config: the config of " + schedule_ + " must be an object of its arguments, got " +
                       config.dump());
    }
    for (const auto& [key, value] : config.as_object()) {
      if (std::find(accepted.begin(), accepted.end(), key) == accepted.end()) {
        throw ValueError("schedule_from_config: " + schedule_ + " has no argument '" + key + "'; " +
                         did_you_mean(key, accepted));
      }
    }
  }
  const Json& required(const std::string& key) const {
    if (!config_.contains(key) || config_.at(key).is_null()) {
      throw ValueError("schedule_from_config: " + schedule_ + " config is missing the required argument '" + key +
                       "' in " + config_.dump());
    }
    return config_.at(key);
  }
  double number(const std::string& key) const { return convert(key, [](const Json& v) { return v.as_double(); }); }
  double number(const std::string& key, double fallback) const {
    return present(key) ? number(key) : fallback;
  }
  int64_t integer(const std::string& key) const { return convert(key, [](const Json& v) { return v.as_int(); }); }
  int64_t integer(const std::string& key, int64_t fallback) const { return present(key) ? integer(key) : fallback; }
  bool boolean(const std::string& key, bool fallback) const {
    return present(key) ? convert(key, [](const Json& v) { return v.as_bool(); }) : fallback;
  }
  std::string name() const {
    return present("name") ? convert("name", [](const Json& v) { return v.as_string(); }) : std::string();
  }
  bool present(const std::string& key) const { return config_.contains(key) && !config_.at(key).is_null(); }
  template <class T>
  std::vector<T> list(const std::string& key) const {
    const Json& value = required(key);
    return convert(key, [&](const Json&) {
      std::vector<T> out;
      for (const Json& item : value.as_array()) {
        if constexpr (std::is_same_v<T, int64_t>) {
          out.push_back(item.as_int());
        } else {
          out.push_back(item.as_double());
        }
      }
      return out;
    });
  }

 private:
  template <class Fn>
  auto convert(const std::string& key, Fn fn) const -> decltype(fn(Json())) {
    const Json& value = required(key);
    try {
      return fn(value);
    } catch (const ValueError& e) {
      throw ValueError("schedule_from_config: " + schedule_ + " argument '" + key + "' = " + value.dump() + ": " +
                       e.message());
    }
  }

  std::string schedule_;
  const Json& config_;
};

}  // namespace

std::shared_ptr<LearningRateSchedule> exponential_decay(double initial_learning_rate, int64_t decay_steps,
                                                        double decay_rate, bool staircase, std::string name) {
  return std::make_shared<ExponentialDecay>(initial_learning_rate, decay_steps, decay_rate, staircase,
                                            or_default(std::move(name), "ExponentialDecay"));
}

std::shared_ptr<LearningRateSchedule> piecewise_constant_decay(std::vector<int64_t> boundaries, std::vector<double> values,
                                                               std::string name) {
  return std::make_shared<PiecewiseConstantDecay>(std::move(boundaries), std::move(values),
                                                  or_default(std::move(name), "PiecewiseConstant"));
}

std::shared_ptr<LearningRateSchedule> cosine_decay(double initial_learning_rate, int64_t decay_steps, double alpha,
                                                   double warmup_target, int64_t warmup_steps, std::string name) {
  return std::make_shared<CosineDecay>(initial_learning_rate, decay_steps, alpha, warmup_target, warmup_steps,
                                       or_default(std::move(name), "CosineDecay"));
}

std::shared_ptr<LearningRateSchedule> inverse_time_decay(double initial_learning_rate, int64_t decay_steps,
                                                         double decay_rate, bool staircase, std::string name) {
  return std::make_shared<InverseTimeDecay>(initial_learning_rate, decay_steps, decay_rate, staircase,
                                            or_default(std::move(name), "InverseTimeDecay"));
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
  if (class_name == "ExponentialDecay" || class_name == "InverseTimeDecay") {
    const ConfigReader args(class_name, config, {"initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name"});
    const auto make = class_name == "ExponentialDecay" ? exponential_decay : inverse_time_decay;
    return make(args.number("initial_learning_rate"), args.integer("decay_steps"), args.number("decay_rate"),
                args.boolean("staircase", false), args.name());
  }
  if (class_name == "PiecewiseConstantDecay") {
    const ConfigReader args(class_name, config, {"boundaries", "values", "name"});
    return piecewise_constant_decay(args.list<int64_t>("boundaries"), args.list<double>("values"), args.name());
  }
  if (class_name == "CosineDecay") {
    const ConfigReader args(class_name, config,
                            {"initial_learning_rate", "decay_steps", "alpha", "name", "warmup_target", "warmup_steps"});
    return cosine_decay(args.number("initial_learning_rate"), args.integer("decay_steps"), args.number("alpha", 0.0),
                        args.number("warmup_target", std::numeric_limits<double>::quiet_NaN()),
                        args.integer("warmup_steps", 0), args.name());
  }
  if (class_name == "PolynomialDecay" || class_name == "CosineDecayRestarts") {
    throw NotImplementedError("schedule_from_config: the Keras schedule " + class_name +
                              " is not implemented in pitfall yet; available: ExponentialDecay, PiecewiseConstantDecay, "
                              "CosineDecay, InverseTimeDecay");
  }
  throw ValueError("schedule_from_config: unknown learning-rate schedule '" + class_name + "'; " +
                   did_you_mean(class_name, implemented_schedules()));
}

Json schedule_to_config(const LearningRateSchedule& schedule) {
  Json out = Json::object();
  out["class_name"] = schedule.class_name();
  out["config"] = schedule.get_config();
  return out;
}

}  // namespace pitfall
