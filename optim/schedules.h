// Learning-rate schedules (Keras: keras.optimizers.schedules). A schedule maps the optimizer's step
// counter to a learning rate; an optimizer given one evaluates it at every update (Keras evaluates it
// at optimizer.iterations, the number of apply_gradients calls made before this one).
//
// Every schedule computes in double precision; the optimizer rounds the value the way its convention
// does (Keras through floatx, PyTorch not at all) when it uses it.
#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pitfall/core/json.h"

namespace pitfall {

class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  // The learning rate at `step` (>= 0).
  virtual double operator()(int64_t step) const = 0;
  // Keras class name ("ExponentialDecay") and config (Keras argument names).
  virtual std::string class_name() const = 0;
  virtual Json get_config() const = 0;
};

// Every schedule's arguments, with Keras's names, order and defaults, live in its argument table
// (family "schedules", optim/schedules.cpp). make_schedule builds any of them from those arguments;
// the typed factories below take the required ones and the optionals that differ from the default.
// Bad values raise ValueError naming the schedule, the argument, the value and the fix; an empty
// `name` means the Keras default name ("ExponentialDecay", "PiecewiseConstant", "PolynomialDecay",
// "CosineDecay", "SGDRDecay", "InverseTimeDecay"). A negative step raises.
std::shared_ptr<LearningRateSchedule> make_schedule(const std::string& class_name, const Json& arguments);

// initial_learning_rate * decay_rate ^ (step / decay_steps); with staircase the exponent is floored.
// decay_steps > 0, decay_rate >= 0.
std::shared_ptr<LearningRateSchedule> exponential_decay(double initial_learning_rate, int64_t decay_steps,
                                                        double decay_rate, std::optional<bool> staircase = std::nullopt,
                                                        std::string name = {});

// values[0] while step <= boundaries[0], values[1] while boundaries[0] < step <= boundaries[1], ...,
// values.back() after the last boundary. values.size() must be boundaries.size() + 1 and the
// boundaries strictly increasing and not empty.
std::shared_ptr<LearningRateSchedule> piecewise_constant_decay(std::vector<int64_t> boundaries,
                                                               std::vector<double> values, std::string name = {});

// Keras PolynomialDecay: (initial - end_learning_rate) * (1 - p) ^ power + end_learning_rate with
// p = min(step, decay_steps) / decay_steps; with cycle the decay restarts at every multiple of
// decay_steps. decay_steps > 0.
std::shared_ptr<LearningRateSchedule> polynomial_decay(double initial_learning_rate, int64_t decay_steps,
                                                       std::optional<double> end_learning_rate = std::nullopt,
                                                       std::optional<double> power = std::nullopt,
                                                       std::optional<bool> cycle = std::nullopt, std::string name = {});

// Keras CosineDecay. Without warmup (warmup_target unset, or NaN): step is clamped to decay_steps and
// lr = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * step / decay_steps)) + alpha).
// With warmup_target: for step < warmup_steps, lr rises linearly from initial_learning_rate to
// warmup_target; afterwards the cosine decays from warmup_target over decay_steps (step is clamped
// to warmup_steps + decay_steps). alpha in [0, 1]; warmup_steps >= 0 (warns when given without a
// warmup_target, which Keras silently ignores).
std::shared_ptr<LearningRateSchedule> cosine_decay(double initial_learning_rate, int64_t decay_steps,
                                                   std::optional<double> alpha = std::nullopt,
                                                   std::optional<double> warmup_target = std::nullopt,
                                                   std::optional<int64_t> warmup_steps = std::nullopt,
                                                   std::string name = {});

// Keras CosineDecayRestarts (SGDR): a cosine decay over first_decay_steps, then restarts, each
// period t_mul times longer and each peak m_mul times the previous one. first_decay_steps > 0,
// t_mul > 0, alpha in [0, 1].
std::shared_ptr<LearningRateSchedule> cosine_decay_restarts(double initial_learning_rate, int64_t first_decay_steps,
                                                            std::optional<double> t_mul = std::nullopt,
                                                            std::optional<double> m_mul = std::nullopt,
                                                            std::optional<double> alpha = std::nullopt,
                                                            std::string name = {});

// initial_learning_rate / (1 + decay_rate * step / decay_steps); with staircase step / decay_steps is floored.
// decay_steps > 0, decay_rate >= 0.
std::shared_ptr<LearningRateSchedule> inverse_time_decay(double initial_learning_rate, int64_t decay_steps,
                                                         double decay_rate, std::optional<bool> staircase = std::nullopt,
                                                         std::string name = {});

// From {"class_name": ..., "config": {...}} as get_config/class_name write it (also accepts the
// "module"/"registered_name" keys Keras writes). Unknown class names raise ValueError with
// "did you mean"; unknown, bad or missing arguments raise ValueError naming the schedule and the
// argument.
std::shared_ptr<LearningRateSchedule> schedule_from_config(const Json& entry);

// {"class_name": ..., "config": ...} for a schedule.
Json schedule_to_config(const LearningRateSchedule& schedule);

}  // namespace pitfall
