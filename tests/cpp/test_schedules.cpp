// Learning-rate schedules against the Keras formulas written out here, config round trips, and
// every argument check.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <pitfall/core/error.h>
#include <pitfall/core/warnings.h>
#include <pitfall/optim/schedules.h>

#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kPi = 3.14159265358979323846;

// Steps that cross every interesting point of the schedules below: 0, boundaries, decay_steps and
// beyond, plus large steps.
std::vector<int64_t> probe_steps() {
  std::vector<int64_t> steps;
  for (int64_t s = 0; s <= 120; ++s) steps.push_back(s);
  for (int64_t s : {199, 200, 201, 999, 1000, 1001, 12345, 100000}) steps.push_back(s);
  return steps;
}

// Keras ExponentialDecay: lr0 * rate ** (step / decay_steps), the exponent an integer division with staircase.
double reference_exponential(double lr0, int64_t decay_steps, double rate, bool staircase, int64_t step) {
  const double exponent = staircase ? static_cast<double>(step / decay_steps)
                                    : static_cast<double>(step) / static_cast<double>(decay_steps);
  return lr0 * std::exp(exponent * std::log(rate));
}

double reference_inverse_time(double lr0, int64_t decay_steps, double rate, bool staircase, int64_t step) {
  const double t = staircase ? static_cast<double>(step / decay_steps)
                             : static_cast<double>(step) / static_cast<double>(decay_steps);
  return lr0 / (1.0 + rate * t);
}

// Keras PiecewiseConstantDecay: values[i] for the first i with step <= boundaries[i], else the last.
double reference_piecewise(const std::vector<int64_t>& boundaries, const std::vector<double>& values, int64_t step) {
  for (size_t i = 0; i < boundaries.size(); ++i) {
    if (step <= boundaries[i]) return values[i];
  }
  return values.back();
}

// Keras CosineDecay, warmup written as an interpolation and the decay as the SGDR formula.
double reference_cosine(double lr0, int64_t decay_steps, double alpha, double warmup_target, int64_t warmup_steps,
                        int64_t step) {
  double start = lr0;
  int64_t into_decay = step;
  if (!std::isnan(warmup_target)) {
    if (step < warmup_steps) {
      const double t = static_cast<double>(step) / static_cast<double>(warmup_steps);
      return lr0 * (1.0 - t) + warmup_target * t;
    }
    start = warmup_target;
    into_decay = step - warmup_steps;
  }
  if (into_decay >= decay_steps) return start * alpha;
  const double fraction = static_cast<double>(into_decay) / static_cast<double>(decay_steps);
  const double factor = alpha + (1.0 - alpha) * (1.0 + std::cos(kPi * fraction)) / 2.0;
  return start * factor;
}

void check_close(double got, double want, int64_t step) {
  INFO("step " << step << ": got " << got << ", want " << want);
  CHECK(std::abs(got - want) <= 1e-12 * std::abs(want) + 1e-15);
}

}  // namespace

TEST_CASE("schedules: ExponentialDecay matches lr0 * rate ** (step / decay_steps), continuous and staircase") {
  for (bool staircase : {false, true}) {
    for (auto [lr0, decay_steps, rate] : {std::tuple{0.1, int64_t{10}, 0.96}, std::tuple{1e-3, int64_t{7}, 0.5},
                                          std::tuple{2.0, int64_t{1}, 0.999}}) {
      const auto schedule = exponential_decay(lr0, decay_steps, rate, staircase);
      for (int64_t step : probe_steps()) {
        check_close((*schedule)(step), reference_exponential(lr0, decay_steps, rate, staircase, step), step);
      }
    }
  }
  // Staircase: constant within a period, one decay exactly at each multiple of decay_steps.
  const auto stairs = exponential_decay(1.0, 10, 0.5, true);
  CHECK((*stairs)(0) == 1.0);
  CHECK((*stairs)(9) == 1.0);
  CHECK((*stairs)(10) == 0.5);
  CHECK((*stairs)(19) == 0.5);
  CHECK((*stairs)(20) == 0.25);
  // decay_rate 0 (allowed): 0 ** 0 is 1 for the first period under staircase.
  const auto to_zero = exponential_decay(0.1, 5, 0.0, true);
  CHECK((*to_zero)(4) == 0.1);
  CHECK((*to_zero)(5) == 0.0);
}

TEST_CASE("schedules: InverseTimeDecay matches lr0 / (1 + rate * step / decay_steps), continuous and staircase") {
  for (bool staircase : {false, true}) {
    for (auto [lr0, decay_steps, rate] : {std::tuple{0.1, int64_t{1}, 0.5}, std::tuple{0.01, int64_t{13}, 2.0},
                                          std::tuple{1.0, int64_t{100}, 0.0}}) {
      const auto schedule = inverse_time_decay(lr0, decay_steps, rate, staircase);
      for (int64_t step : probe_steps()) {
        check_close((*schedule)(step), reference_inverse_time(lr0, decay_steps, rate, staircase, step), step);
      }
    }
  }
  const auto stairs = inverse_time_decay(1.0, 4, 1.0, true);
  CHECK((*stairs)(3) == 1.0);
  CHECK((*stairs)(4) == 0.5);
  CHECK((*stairs)(8) == 1.0 / 3.0);
}

TEST_CASE("schedules: PiecewiseConstantDecay uses value i while step <= boundary i") {
  const std::vector<int64_t> boundaries = {10, 20, 100, 1000};
  const std::vector<double> values = {1.0, 0.5, 0.1, 0.01, 0.001};
  const auto schedule = piecewise_constant_decay(boundaries, values);
  for (int64_t step : probe_steps()) check_close((*schedule)(step), reference_piecewise(boundaries, values, step), step);
  // The boundary step itself still belongs to the interval below it (Keras: step <= boundary).
  CHECK((*schedule)(10) == 1.0);
  CHECK((*schedule)(11) == 0.5);
  CHECK((*schedule)(20) == 0.5);
  CHECK((*schedule)(21) == 0.1);
  CHECK((*schedule)(1000) == 0.01);
  CHECK((*schedule)(1001) == 0.001);
  // A boundary at 0: step 0 takes values[0], step 1 the next.
  const auto from_zero = piecewise_constant_decay({0}, {3.0, 4.0});
  CHECK((*from_zero)(0) == 3.0);
  CHECK((*from_zero)(1) == 4.0);
}

TEST_CASE("schedules: CosineDecay without warmup decays to alpha * lr0 and stays there") {
  for (double alpha : {0.0, 0.1, 1.0}) {
    for (int64_t decay_steps : {int64_t{1}, int64_t{10}, int64_t{100}}) {
      const auto schedule = cosine_decay(0.5, decay_steps, alpha);
      for (int64_t step : probe_steps()) {
        check_close((*schedule)(step), reference_cosine(0.5, decay_steps, alpha, kNaN, 0, step), step);
      }
      CHECK((*schedule)(0) == 0.5);
      // Clamped beyond decay_steps: the value at decay_steps, forever.
      check_close((*schedule)(decay_steps), 0.5 * alpha, decay_steps);
      CHECK((*schedule)(decay_steps + 1) == (*schedule)(decay_steps));
      CHECK((*schedule)(decay_steps * 50) == (*schedule)(decay_steps));
    }
  }
  // Half way: the cosine factor is exactly one half of (1 - alpha), plus alpha.
  check_close((*cosine_decay(1.0, 10, 0.2))(5), 0.2 + 0.8 * 0.5, 5);
}

TEST_CASE("schedules: CosineDecay with warmup rises linearly to warmup_target, then decays from it") {
  for (auto [lr0, target, warmup_steps, decay_steps, alpha] :
       {std::tuple{0.0, 0.1, int64_t{10}, int64_t{100}, 0.0}, std::tuple{0.01, 0.5, int64_t{1}, int64_t{7}, 0.25},
        std::tuple{0.2, 0.05, int64_t{30}, int64_t{3}, 0.0}}) {
    const auto schedule = cosine_decay(lr0, decay_steps, alpha, target, warmup_steps);
    for (int64_t step : probe_steps()) {
      check_close((*schedule)(step), reference_cosine(lr0, decay_steps, alpha, target, warmup_steps, step), step);
    }
    // Warmup start and end: initial_learning_rate at step 0, warmup_target at step warmup_steps.
    CHECK((*schedule)(0) == lr0);
    CHECK((*schedule)(warmup_steps) == target);
    // Clamped at warmup_steps + decay_steps.
    check_close((*schedule)(warmup_steps + decay_steps), target * alpha, warmup_steps + decay_steps);
    CHECK((*schedule)(warmup_steps + decay_steps + 1000) == (*schedule)(warmup_steps + decay_steps));
  }
  // warmup_target with warmup_steps 0: no warmup phase, the decay starts from warmup_target.
  const auto no_steps = cosine_decay(1.0, 10, 0.0, 0.3, 0);
  CHECK((*no_steps)(0) == 0.3);
  check_close((*no_steps)(5), 0.15, 5);
}

// PolynomialDecay with cycle, by walking the periods: the decay horizon is the first multiple of
// decay_steps at or above the step (decay_steps itself at step 0).
static double reference_polynomial(double lr0, int64_t decay_steps, double end, double power, bool cycle, int64_t step) {
  double horizon = static_cast<double>(decay_steps);
  double at = static_cast<double>(step);
  if (cycle) {
    while (horizon < at) horizon += static_cast<double>(decay_steps);
  } else if (at > horizon) {
    at = horizon;
  }
  return (lr0 - end) * std::pow(1.0 - at / horizon, power) + end;
}

TEST_CASE("schedules: PolynomialDecay decays to end_learning_rate, restarting with cycle") {
  for (auto [power, end, cycle] : {std::tuple{1.0, 0.0001, false}, std::tuple{0.5, 0.01, false},
                                   std::tuple{2.0, 0.0, true}, std::tuple{1.0, 0.05, true}}) {
    const auto schedule = polynomial_decay(0.5, 10, end, power, cycle);
    for (int64_t step : probe_steps()) {
      check_close((*schedule)(step), reference_polynomial(0.5, 10, end, power, cycle, step), step);
    }
    CHECK((*schedule)(0) == 0.5);
    check_close((*schedule)(10), end, 10);
    if (!cycle) CHECK((*schedule)(1000) == (*schedule)(10));
  }
  // Linear by default: half way is the midpoint of the two rates.
  check_close((*polynomial_decay(1.0, 10))(5), (1.0 + 0.0001) / 2, 5);
  const Json config = polynomial_decay(0.1, 100)->get_config();
  CHECK(config.at("end_learning_rate").as_double() == 0.0001);
  CHECK(config.at("power").as_double() == 1.0);
  CHECK(!config.at("cycle").as_bool());
  CHECK(config.at("name").as_string() == "PolynomialDecay");
}

// CosineDecayRestarts by walking the periods: period i lasts first * t_mul^i steps and peaks at
// m_mul^i; inside a period the cosine goes from its peak to alpha.
static double reference_restarts(double lr0, int64_t first, double t_mul, double m_mul, double alpha, int64_t step) {
  double begin = 0.0, length = static_cast<double>(first), peak = 1.0;
  while (static_cast<double>(step) >= begin + length) {
    begin += length;
    length *= t_mul;
    peak *= m_mul;
  }
  const double fraction = (static_cast<double>(step) - begin) / length;
  return lr0 * ((1.0 - alpha) * peak * 0.5 * (1.0 + std::cos(M_PI * fraction)) + alpha);
}

TEST_CASE("schedules: CosineDecayRestarts restarts every period, t_mul longer and m_mul lower each time") {
  for (auto [t_mul, m_mul, alpha] : {std::tuple{2.0, 1.0, 0.0}, std::tuple{1.0, 0.5, 0.1}, std::tuple{1.5, 0.8, 0.0},
                                     std::tuple{3.0, 1.0, 0.2}}) {
    const auto schedule = cosine_decay_restarts(0.4, 7, t_mul, m_mul, alpha);
    for (int64_t step : probe_steps()) {
      if (step > 2000) continue;
      check_close((*schedule)(step), reference_restarts(0.4, 7, t_mul, m_mul, alpha, step), step);
    }
    CHECK((*schedule)(0) == 0.4);
  }
  // The defaults: t_mul 2, m_mul 1, alpha 0; the first restart (step 10 of first_decay_steps 10)
  // is back at the full rate, the next at 10 + 20.
  const auto sgdr = cosine_decay_restarts(1.0, 10);
  check_close((*sgdr)(10), 1.0, 10);
  check_close((*sgdr)(30), 1.0, 30);
  check_close((*sgdr)(20), 0.5, 20);
  CHECK(sgdr->get_config().at("name").as_string() == "SGDRDecay");
  CHECK(message_of([] { cosine_decay_restarts(0.1, 0); }).find("CosineDecayRestarts: argument 'first_decay_steps' must be > 0") !=
        std::string::npos);
  CHECK(message_of([] { cosine_decay_restarts(0.1, 10, 0.0); }).find("argument 't_mul' must be > 0") != std::string::npos);
}

TEST_CASE("schedules: get_config uses the Keras argument names and default names") {
  const Json exp_config = exponential_decay(0.1, 1000, 0.96, true)->get_config();
  CHECK(exp_config.at("initial_learning_rate").as_double() == 0.1);
  CHECK(exp_config.at("decay_steps").as_int() == 1000);
  CHECK(exp_config.at("decay_rate").as_double() == 0.96);
  CHECK(exp_config.at("staircase").as_bool());
  CHECK(exp_config.at("name").as_string() == "ExponentialDecay");
  CHECK(exp_config.as_object().size() == 5);

  const Json pw = piecewise_constant_decay({5, 9}, {1.0, 0.5, 0.25})->get_config();
  CHECK(pw.at("boundaries").as_int_vector() == std::vector<int64_t>{5, 9});
  CHECK(pw.at("values").as_array().size() == 3);
  CHECK(pw.at("name").as_string() == "PiecewiseConstant");
  CHECK(pw.as_object().size() == 3);

  const Json cos = cosine_decay(0.1, 50)->get_config();
  CHECK(cos.at("alpha").as_double() == 0.0);
  CHECK(cos.at("warmup_target").is_null());
  CHECK(cos.at("warmup_steps").as_int() == 0);
  CHECK(cos.at("name").as_string() == "CosineDecay");
  CHECK(cos.as_object().size() == 6);
  CHECK(cosine_decay(0.0, 50, 0.1, 0.2, 5)->get_config().at("warmup_target").as_double() == 0.2);

  const Json inv = inverse_time_decay(0.1, 3, 0.5, false, "my_decay")->get_config();
  CHECK(inv.at("name").as_string() == "my_decay");
  CHECK(inverse_time_decay(0.1, 3, 0.5)->get_config().at("name").as_string() == "InverseTimeDecay");

  CHECK(exponential_decay(0.1, 10, 0.9)->class_name() == "ExponentialDecay");
  CHECK(piecewise_constant_decay({1}, {1.0, 2.0})->class_name() == "PiecewiseConstantDecay");
  CHECK(cosine_decay(0.1, 10)->class_name() == "CosineDecay");
  CHECK(inverse_time_decay(0.1, 10, 0.9)->class_name() == "InverseTimeDecay");
}

TEST_CASE("schedules: schedule_to_config and schedule_from_config round-trip every schedule") {
  const std::vector<std::shared_ptr<LearningRateSchedule>> schedules = {
      exponential_decay(0.1, 7, 0.9, true, "exp"),
      exponential_decay(0.3, 1, 0.5),
      piecewise_constant_decay({3, 8, 20}, {0.4, 0.3, 0.2, 0.1}, "steps"),
      cosine_decay(0.2, 40, 0.05),
      cosine_decay(0.0, 40, 0.0, 0.7, 9, "warm"),
      inverse_time_decay(0.5, 4, 1.5, true),
      polynomial_decay(0.5, 30, 0.01, 2.0, true, "poly"),
      cosine_decay_restarts(0.3, 5, 1.5, 0.9, 0.1),
  };
  for (const auto& original : schedules) {
    const Json entry = schedule_to_config(*original);
    CHECK(entry.at("class_name").as_string() == original->class_name());
    // Through text, as a saved model stores it.
    const auto restored = schedule_from_config(Json::parse(entry.dump()));
    CHECK(restored->class_name() == original->class_name());
    CHECK(restored->get_config() == original->get_config());
    for (int64_t step : probe_steps()) CHECK((*restored)(step) == (*original)(step));
  }
}

TEST_CASE("schedules: schedule_from_config reads Keras serialize() output and fills defaults") {
  const Json keras = Json::parse(R"({"module": "keras.optimizers.schedules", "class_name": "CosineDecay",
      "config": {"initial_learning_rate": 0.1, "decay_steps": 1000.0, "alpha": 0.0, "name": "CosineDecay",
                 "warmup_target": null, "warmup_steps": 0}, "registered_name": null})");
  const auto cos = schedule_from_config(keras);
  check_close((*cos)(500), reference_cosine(0.1, 1000, 0.0, kNaN, 0, 500), 500);

  // Only the required arguments: the Keras defaults for the rest.
  const auto exp = schedule_from_config(Json::parse(
      R"({"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 1, "decay_steps": 10, "decay_rate": 0.5}})"));
  CHECK(exp->get_config().at("staircase").as_bool() == false);
  CHECK(exp->get_config().at("name").as_string() == "ExponentialDecay");
  check_close((*exp)(15), reference_exponential(1.0, 10, 0.5, false, 15), 15);
  const auto cos_min = schedule_from_config(
      Json::parse(R"({"class_name": "CosineDecay", "config": {"initial_learning_rate": 1, "decay_steps": 10}})"));
  CHECK(cos_min->get_config().at("alpha").as_double() == 0.0);
  CHECK(cos_min->get_config().at("warmup_target").is_null());
}

TEST_CASE("schedules: schedule_from_config errors name the schedule, the argument and the fix") {
  auto from = [](const std::string& text) { return [text] { schedule_from_config(Json::parse(text)); }; };

  std::string m = message_of(from(R"({"class_name": "CosineDecai", "config": {}})"));
  CHECK(m.find("unknown learning-rate schedule 'CosineDecai'") != std::string::npos);
  CHECK(m.find("did you mean 'CosineDecay'") != std::string::npos);

  m = message_of(from(R"({"class_name": "Nothing", "config": {}})"));
  CHECK(m.find("CosineDecay, CosineDecayRestarts, ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, "
               "PolynomialDecay") != std::string::npos);

  m = message_of(from(R"({"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1,
      "decay_steps": 10, "decay_rte": 0.5}})"));
  CHECK(m.find("ExponentialDecay: unknown argument 'decay_rte'") != std::string::npos);
  CHECK(m.find("did you mean 'decay_rate'") != std::string::npos);

  m = message_of(from(R"({"class_name": "InverseTimeDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 10}})"));
  CHECK(m.find("InverseTimeDecay: argument 'decay_rate' is required") != std::string::npos);

  m = message_of(from(R"({"class_name": "PiecewiseConstantDecay", "config": {"values": [1, 2]}})"));
  CHECK(m.find("PiecewiseConstantDecay: argument 'boundaries' is required") != std::string::npos);

  m = message_of(from(R"({"class_name": "CosineDecay", "config": {"initial_learning_rate": "high", "decay_steps": 10}})"));
  CHECK(m.find("CosineDecay: argument 'initial_learning_rate' must be a number, got 'high'") != std::string::npos);

  m = message_of(from(R"({"class_name": "CosineDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 2.5}})"));
  CHECK(m.find("CosineDecay: argument 'decay_steps' must be an integer, got 2.5") != std::string::npos);

  m = message_of(from(R"({"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 0,
      "decay_rate": 0.5}})"));
  CHECK(m.find("ExponentialDecay: argument 'decay_steps' must be > 0") != std::string::npos);

  m = message_of(from(R"({"config": {}})"));
  CHECK(m.find("expected {\"class_name\"") != std::string::npos);
  m = message_of(from(R"({"class_name": "CosineDecay", "confg": {}})"));
  CHECK(m.find("unexpected key 'confg'") != std::string::npos);
  CHECK(m.find("did you mean 'config'") != std::string::npos);
  m = message_of(from(R"({"class_name": "CosineDecay", "config": [1]})"));
  CHECK(m.find("the config of CosineDecay must be an object") != std::string::npos);
}

TEST_CASE("schedules: decay_steps must be positive for every schedule that has it") {
  for (int64_t bad : {int64_t{0}, int64_t{-5}}) {
    const std::string value = std::to_string(bad);
    std::string m = message_of([&] { exponential_decay(0.1, bad, 0.9); });
    CHECK(m.find("ExponentialDecay: argument 'decay_steps' must be > 0") != std::string::npos);
    CHECK(m.find("got " + value + "; pass a positive integer") != std::string::npos);
    m = message_of([&] { inverse_time_decay(0.1, bad, 0.9); });
    CHECK(m.find("InverseTimeDecay: argument 'decay_steps' must be > 0") != std::string::npos);
    m = message_of([&] { cosine_decay(0.1, bad); });
    CHECK(m.find("CosineDecay: argument 'decay_steps' must be > 0") != std::string::npos);
  }
  CHECK_THROWS_AS(exponential_decay(0.1, 0, 0.9), ValueError);
}

TEST_CASE("schedules: rates must be finite and decay rates non-negative") {
  const double inf = std::numeric_limits<double>::infinity();
  std::string m = message_of([&] { exponential_decay(kNaN, 10, 0.9); });
  CHECK(m.find("ExponentialDecay: argument 'initial_learning_rate' must be a finite number, got nan") != std::string::npos);
  m = message_of([&] { exponential_decay(0.1, 10, inf); });
  CHECK(m.find("ExponentialDecay: argument 'decay_rate' must be a finite number, got inf") != std::string::npos);
  m = message_of([&] { exponential_decay(0.1, 10, -0.5); });
  CHECK(m.find("ExponentialDecay: argument 'decay_rate' must be >= 0") != std::string::npos);
  CHECK(m.find("got -0.5") != std::string::npos);

  m = message_of([&] { inverse_time_decay(-inf, 10, 0.9); });
  CHECK(m.find("InverseTimeDecay: argument 'initial_learning_rate' must be a finite number, got -inf") != std::string::npos);
  m = message_of([&] { inverse_time_decay(0.1, 10, kNaN); });
  CHECK(m.find("InverseTimeDecay: argument 'decay_rate' must be a finite number") != std::string::npos);
  m = message_of([&] { inverse_time_decay(0.1, 10, -1.0); });
  CHECK(m.find("InverseTimeDecay: argument 'decay_rate' must be >= 0, got -1") != std::string::npos);

  m = message_of([&] { cosine_decay(inf, 10); });
  CHECK(m.find("CosineDecay: argument 'initial_learning_rate' must be a finite number") != std::string::npos);
  m = message_of([&] { cosine_decay(0.1, 10, kNaN); });
  CHECK(m.find("CosineDecay: argument 'alpha' must be a finite number") != std::string::npos);
  for (double bad_alpha : {-0.1, 1.5}) {
    m = message_of([&] { cosine_decay(0.1, 10, bad_alpha); });
    CHECK(m.find("CosineDecay: argument 'alpha' must be in [0, 1]") != std::string::npos);
  }
  m = message_of([&] { cosine_decay(0.1, 10, 0.0, inf, 5); });
  CHECK(m.find("CosineDecay: argument 'warmup_target' must be a finite number or None") != std::string::npos);
  m = message_of([&] { cosine_decay(0.1, 10, 0.0, 0.5, -1); });
  CHECK(m.find("CosineDecay: argument 'warmup_steps' must be >= 0, got -1") != std::string::npos);
}

TEST_CASE("schedules: CosineDecay warns when warmup_steps is given without warmup_target") {
  std::vector<std::string> warnings;
  const auto previous = set_warning_handler([&](const std::string& w) { warnings.push_back(w); });
  cosine_decay(0.1, 10, 0.0, kNaN, 5);
  cosine_decay(0.1, 10, 0.0, 0.2, 5);  // with a target: no warning
  set_warning_handler(previous);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("warmup_steps=5 has no effect without warmup_target") != std::string::npos);
}

TEST_CASE("schedules: PiecewiseConstantDecay checks its boundaries and values") {
  std::string m = message_of([] { piecewise_constant_decay({10, 20}, {1.0, 0.5}); });
  CHECK(m.find("PiecewiseConstantDecay: 'values' must have one more element than 'boundaries'") != std::string::npos);
  CHECK(m.find("boundaries=[10,20] of length 2 and values=[1.0, 0.5] of length 2") != std::string::npos);
  m = message_of([] { piecewise_constant_decay({10}, {1.0, 0.5, 0.1}); });
  CHECK(m.find("of length 1 and values=[1.0, 0.5, 0.1] of length 3") != std::string::npos);

  m = message_of([] { piecewise_constant_decay({}, {1.0}); });
  CHECK(m.find("PiecewiseConstantDecay: argument 'boundaries' is empty") != std::string::npos);

  m = message_of([] { piecewise_constant_decay({10, 5}, {1.0, 0.5, 0.1}); });
  CHECK(m.find("PiecewiseConstantDecay: argument 'boundaries' must be strictly increasing, got [10,5]") != std::string::npos);
  CHECK(m.find("boundaries[1] = 5 <= boundaries[0] = 10") != std::string::npos);
  m = message_of([] { piecewise_constant_decay({10, 10}, {1.0, 0.5, 0.1}); });
  CHECK(m.find("strictly increasing") != std::string::npos);

  m = message_of([] { piecewise_constant_decay({10}, {1.0, kNaN}); });
  CHECK(m.find("PiecewiseConstantDecay: values[1] must be a finite number, got nan") != std::string::npos);
}

TEST_CASE("schedules: a negative step is an error naming the schedule") {
  const std::vector<std::shared_ptr<LearningRateSchedule>> schedules = {
      exponential_decay(0.1, 10, 0.9), piecewise_constant_decay({1}, {1.0, 2.0}), cosine_decay(0.1, 10),
      inverse_time_decay(0.1, 10, 0.9), polynomial_decay(0.1, 10), cosine_decay_restarts(0.1, 10)};
  for (const auto& schedule : schedules) {
    const std::string m = message_of([&] { (*schedule)(-1); });
    CHECK(m.find(schedule->class_name() + ": the step must be >= 0") != std::string::npos);
    CHECK(m.find("got -1") != std::string::npos);
  }
}
