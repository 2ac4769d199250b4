// The optimizer machinery every update rule shares: argument resolution against the defaults table,
// get_config / optimizer_from_config, clipping, weight decay and its exclusions, gradient accumulation,
// learning-rate schedules (and ReduceLROnPlateau on top of one), state save/load, and bitwise resume
// of a model through save_model/load_model. The update rules themselves are checked against NumPy
// references in tests/python/test_optimizer_rules.py; here every expected value is a formula written
// in the test (SGD without momentum, so that the update is exactly w -= lr * processed gradient).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include <unistd.h>

#include "optimizer_test_util.h"
#include "saved_file_util.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kClasses = {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam"};
const std::vector<Convention> kConventions = {Convention::keras, Convention::torch};
// Keras keeps the learning rate in a float32 variable: a float64 variable sees it rounded.
double through_float32(double value) { return static_cast<double>(static_cast<float>(value)); }

void check_close(const std::vector<double>& got, const std::vector<double>& expected, double relative = 1e-14) {
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CAPTURE(got[i]);
    CAPTURE(expected[i]);
    CHECK(std::abs(got[i] - expected[i]) <= relative * std::max(std::abs(expected[i]), 1e-300));
  }
}

// Arguments that switch on each class's less common branches (momentum buffers, amsgrad, centered,
// weight decay) so that config and state round trips cover them.
Json rich_arguments(const std::string& class_name) {
  if (class_name == "SGD") return object({{"learning_rate", 0.05}, {"momentum", 0.9}, {"nesterov", true}});
  if (class_name == "Adam") return object({{"amsgrad", true}, {"weight_decay", 0.01}, {"learning_rate", 0.01}});
  if (class_name == "AdamW") return object({{"learning_rate", 0.01}});
  if (class_name == "RMSprop") return object({{"momentum", 0.5}, {"centered", true}});
  if (class_name == "Adagrad") return object({{"learning_rate", 0.05}});
  if (class_name == "Adadelta") return object({{"learning_rate", 0.5}});
  if (class_name == "Adamax") return object({{"beta_1", 0.8}});
  return object({{"learning_rate", 0.01}});  // Nadam
}

// Two float64 variables (a kernel and a bias) and a scripted gradient sequence independent of them.
// Every 7th step the bias gets no gradient, so per-variable step counters (PyTorch) drift apart;
// a few steps are tiny (~1e-8).
std::vector<Tensor> make_variables() {
  Tensor kernel = vec({1.0, -2.0, 0.5, 3.0, 0.25});
  kernel.set_name("dense/kernel");
  Tensor bias = Tensor::from_vector(std::vector<double>{0.1, -0.2, 0.3, 0.0, 0.7, -1.1}, {2, 3});
  bias.set_name("dense/bias");
  return {kernel, bias};
}

std::vector<Tensor> clone_all(const std::vector<Tensor>& tensors) {
  std::vector<Tensor> out;
  for (const Tensor& t : tensors) {
    Tensor c = t.clone();
    c.set_name(t.name());
    out.push_back(c);
  }
  return out;
}

std::vector<Tensor> scripted_grads(int step) {
  std::vector<double> k(5), b(6);
  for (size_t i = 0; i < k.size(); ++i) k[i] = std::sin(0.37 * step + static_cast<double>(i)) * (1.0 + static_cast<double>(i));
  for (size_t i = 0; i < b.size(); ++i) b[i] = 0.3 * std::cos(0.21 * step + 2.0 * static_cast<double>(i)) + 0.05;
  if (step % 11 == 5) {
    for (double& v : k) v *= 1e-8;
  }
  Tensor bias_grad = step % 7 == 3 ? Tensor() : Tensor::from_vector(b, {2, 3});
  return {vec(k), bias_grad};
}

void run_steps(Optimizer& optimizer, const std::vector<Tensor>& variables, int from, int to) {
  for (int step = from; step < to; ++step) optimizer.apply_gradients(scripted_grads(step), variables);
}

void check_bitwise(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    CHECK(bitwise_equal(a[i], b[i]));
  }
}

// The state as a file would carry it: scalars through JSON text, tensors copied.
struct SavedState {
  Json scalars;
  std::vector<std::pair<std::string, Tensor>> tensors;
};
SavedState save_state(const Optimizer& optimizer) {
  SavedState s{Json::parse(optimizer.state_scalars().dump()), {}};
  for (const auto& [key, t] : optimizer.state_tensors()) s.tensors.emplace_back(key, t.clone());
  return s;
}

// Runs `before` steps, saves the state, loads it into an optimizer rebuilt from get_config(), then
// runs `after` more steps on both: the variables must stay bitwise equal.
void check_resume(const std::shared_ptr<Optimizer>& uninterrupted, int before, int after) {
  const std::vector<Tensor> a = make_variables();
  run_steps(*uninterrupted, a, 0, before);
  const SavedState saved = save_state(*uninterrupted);
  const std::vector<Tensor> b = clone_all(a);
  auto resumed = optimizer_from_config(uninterrupted->class_name(), uninterrupted->get_config());
  resumed->load_state(saved.scalars, saved.tensors);
  CHECK(resumed->iterations() == uninterrupted->iterations());
  CHECK(resumed->learning_rate() == uninterrupted->learning_rate());
  CHECK(resumed->state_scalars().dump() == uninterrupted->state_scalars().dump());
  run_steps(*uninterrupted, a, before, before + after);
  run_steps(*resumed, b, before, before + after);
  check_bitwise(a, b);
  CHECK(resumed->iterations() == uninterrupted->iterations());
  CHECK(resumed->state_scalars().dump() == uninterrupted->state_scalars().dump());
}

std::set<std::string> string_set(const Json& array) {
  std::set<std::string> out;
  for (const Json& v : array.as_array()) out.insert(v.as_string());
  return out;
}

}  // namespace

// ---------------------------------------------------------------- 1. argument resolution

TEST_CASE("optimizer base: unknown arguments raise ValueError with did-you-mean for every class") {
  for (const auto& name : kClasses) {
    for (Convention convention : kConventions) {
      CAPTURE(name);
      const std::string msg = message_of([&] { make_optimizer(name, object({{"learning_rat", 0.1}}), convention); });
      CHECK(contains(msg, name + ": unknown argument 'learning_rat'"));
      CHECK(contains(msg, "did you mean 'learning_rate'?"));
      bool value_error = false;
      try {
        make_optimizer(name, object({{"learning_rat", 0.1}}), convention);
      } catch (const ValueError&) {
        value_error = true;
      }
      CHECK(value_error);
      // A name far from every argument lists the accepted ones.
      const std::string far = message_of([&] { make_optimizer(name, object({{"zzzzzzzzzzzz", 1.0}}), convention); });
      CHECK(contains(far, "unknown argument 'zzzzzzzzzzzz'"));
      CHECK(contains(far, "learning_rate"));
      CHECK(contains(far, "clipnorm"));
      // Keras 2's `decay` points to schedules.
      CHECK(contains(message_of([&] { make_optimizer(name, object({{"decay", 0.1}}), convention); }), "schedule"));
    }
  }
  CHECK(contains(message_of([] { make_optimizer("Adamm"); }), "did you mean"));
}

TEST_CASE("optimizer base: PyTorch spellings point to the Keras argument names") {
  struct Case {
    std::string optimizer, torch_name, keras_name;
  };
  const std::vector<Case> cases = {
      {"SGD", "lr", "learning_rate"},      {"Adam", "lr", "learning_rate"},   {"Adam", "eps", "epsilon"},
      {"Adam", "betas", "beta_1"},         {"AdamW", "betas", "beta_1"},      {"AdamW", "eps", "epsilon"},
      {"RMSprop", "alpha", "rho"},         {"RMSprop", "eps", "epsilon"},     {"Adagrad", "eps", "epsilon"},
      {"Adadelta", "eps", "epsilon"},      {"Adamax", "betas", "beta_1"},     {"Nadam", "betas", "beta_1"},
      {"Nadam", "lr", "learning_rate"},    {"Adadelta", "lr", "learning_rate"},
  };
  for (const auto& c : cases) {
    for (Convention convention : kConventions) {
      CAPTURE(c.optimizer);
      CAPTURE(c.torch_name);
      const std::string msg = message_of([&] { make_optimizer(c.optimizer, object({{c.torch_name, 0.5}}), convention); });
      CHECK(contains(msg, "unknown argument '" + c.torch_name + "'"));
      CHECK(contains(msg, "PyTorch"));
      CHECK(contains(msg, "did you mean '" + c.keras_name + "'"));
      if (c.torch_name == "betas") CHECK(contains(msg, "'beta_2'"));
    }
  }
}

TEST_CASE("optimizer base: wrong types and non-finite values name the argument") {
  for (const auto& name : kClasses) {
    for (Convention convention : kConventions) {
      CAPTURE(name);
      auto message = [&](const std::string& key, const Json& value) {
        return message_of([&] { make_optimizer(name, object({{key, value}}), convention); });
      };
      std::string msg = message("learning_rate", true);
      CHECK(contains(msg, "argument 'learning_rate' must be a number"));
      msg = message("learning_rate", "0.1");
      CHECK(contains(msg, "argument 'learning_rate' must be a number"));
      // Non-finite values are refused (their message: the skipped test below).
      for (const double bad : {kNaN, kInf, -kInf}) {
        bool value_error = false;
        try {
          make_optimizer(name, object({{"learning_rate", bad}}), convention);
        } catch (const ValueError&) {
          value_error = true;
        }
        CHECK(value_error);
      }
      CHECK(contains(message("learning_rate", -0.1), "learning_rate must be a finite number >= 0"));
      CHECK(contains(message("clipnorm", false), "argument 'clipnorm' must be a number or None"));
      CHECK(contains(message("clipnorm", 0.0), "clipnorm must be > 0"));
      CHECK(contains(message("weight_decay", -1.0), "weight_decay must be >= 0"));
      CHECK(contains(message("learning_rate", Json()), "cannot be None"));
      // Every argument of the table: a string is refused (bool arguments ask for True/False).
      for (const auto& h : optimizer_defaults(name).hyperparameters) {
        CAPTURE(h.name);
        const std::string m = message(h.name, "text");
        const Json& reference = h.keras.is_null() ? h.torch : h.keras;
        CHECK(contains(m, "argument '" + h.name + "' must be " + (reference.is_bool() ? "True or False" : "a number")));
      }
      CHECK(message("clipnorm", Json()).empty());  // None turns an option off
      for (const char* flag : {"nesterov", "amsgrad", "centered"}) {
        if (optimizer_defaults(name).find(flag)) CHECK(contains(message(flag, 1), "must be True or False, got 1"));
      }
    }
  }
  CHECK(contains(message_of([] { make_optimizer("Adam", Json(3.0)); }), "arguments must be a JSON object"));
  CHECK(contains(message_of([] { make_optimizer("Adam", object({{"name", 3}})); }), "name must be a string"));
}

TEST_CASE("optimizer base: a non-finite argument's message names the argument") {
  // JSON has no NaN or infinity: the message must still name the argument, not fail to print it.
  for (const auto& name : kClasses) {
    CAPTURE(name);
    for (const double bad : {kNaN, kInf, -kInf}) {
      const std::string msg = message_of([&] { make_optimizer(name, object({{"learning_rate", bad}})); });
      CHECK(contains(msg, name + ": argument 'learning_rate' must be a finite number"));
      CHECK(contains(message_of([&] { make_optimizer(name, object({{"clipnorm", bad}})); }),
                     "argument 'clipnorm' must be a finite number"));
    }
    // The same for a learning rate set later.
    auto optimizer = make_optimizer(name);
    CHECK(contains(message_of([&] { optimizer->set_learning_rate(kNaN); }), "learning_rate must be a finite number"));
  }
}

TEST_CASE("optimizer base: only one clipping option, gradient_accumulation_steps an integer >= 2") {
  for (const auto& name : kClasses) {
    CAPTURE(name);
    const std::vector<std::pair<std::string, std::string>> pairs = {
        {"clipnorm", "clipvalue"}, {"clipnorm", "global_clipnorm"}, {"clipvalue", "global_clipnorm"}};
    for (const auto& [a, b] : pairs) {
      const std::string msg = message_of([&] { make_optimizer(name, object({{a, 1.0}, {b, 1.0}})); });
      CHECK(contains(msg, "only one of clipnorm, clipvalue and global_clipnorm"));
      CHECK(contains(msg, "got 2"));
    }
    CHECK(contains(message_of([&] {
                     make_optimizer(name, object({{"clipnorm", 1.0}, {"clipvalue", 1.0}, {"global_clipnorm", 1.0}}));
                   }),
                   "got 3"));
    CHECK(contains(message_of([&] { make_optimizer(name, object({{"gradient_accumulation_steps", 1}})); }),
                   "gradient_accumulation_steps must be an integer >= 2"));
    CHECK(contains(message_of([&] { make_optimizer(name, object({{"gradient_accumulation_steps", 2.5}})); }),
                   "gradient_accumulation_steps must be an integer >= 2, got 2.5"));
    CHECK(contains(message_of([&] { make_optimizer(name, object({{"gradient_accumulation_steps", -3}})); }),
                   "gradient_accumulation_steps must be an integer >= 2"));
    // An integral float is an integer; it resolves to one.
    auto ok = make_optimizer(name, object({{"gradient_accumulation_steps", 3.0}}));
    CHECK(ok->get_config().at("gradient_accumulation_steps").is_int());
    CHECK(ok->get_config().at("gradient_accumulation_steps").as_int() == 3);
  }
}

TEST_CASE("optimizer base: get_config lists every resolved value and which came from the table") {
  // A few rows of shared/reference/defaults.md, written out here.
  struct Known {
    std::string optimizer, argument;
    double keras, torch;
  };
  const std::vector<Known> known = {
      {"SGD", "learning_rate", 0.01, 0.001},   {"Adam", "epsilon", 1e-7, 1e-8},    {"AdamW", "weight_decay", 0.004, 0.01},
      {"RMSprop", "learning_rate", 1e-3, 1e-2}, {"RMSprop", "rho", 0.9, 0.99},      {"RMSprop", "epsilon", 1e-7, 1e-8},
      {"Adagrad", "initial_accumulator_value", 0.1, 0.0}, {"Adagrad", "epsilon", 1e-7, 1e-10},
      {"Adadelta", "learning_rate", 1e-3, 1.0}, {"Adadelta", "rho", 0.95, 0.9},     {"Adadelta", "epsilon", 1e-7, 1e-6},
      {"Nadam", "learning_rate", 1e-3, 2e-3},   {"Adam", "beta_2", 0.999, 0.999},
  };
  for (const auto& k : known) {
    CAPTURE(k.optimizer);
    CAPTURE(k.argument);
    CHECK(make_optimizer(k.optimizer)->get_config().at(k.argument).as_double() == k.keras);
    CHECK(make_optimizer(k.optimizer, object(), Convention::torch)->get_config().at(k.argument).as_double() == k.torch);
  }
  for (const auto& name : kClasses) {
    for (Convention convention : kConventions) {
      CAPTURE(name);
      const Json passed = object({{"learning_rate", 0.125}, {"clipvalue", 2.0}, {"name", "my_opt"}});
      const auto optimizer = make_optimizer(name, passed, convention);
      const Json config = optimizer->get_config();
      CHECK(config.at("name").as_string() == "my_opt");
      CHECK(config.at("convention").as_string() == convention_name(convention));
      CHECK(config.at("learning_rate").as_double() == 0.125);
      CHECK(config.at("clipvalue").as_double() == 2.0);
      std::set<std::string> expected_from_table;
      for (const auto& h : optimizer_defaults(name).hyperparameters) {
        CAPTURE(h.name);
        REQUIRE(config.contains(h.name));
        if (h.name != "learning_rate" && h.name != "clipvalue") {
          expected_from_table.insert(h.name);
          CHECK(config.at(h.name) == (convention == Convention::keras ? h.keras : h.torch));
        }
      }
      CHECK(string_set(config.at("defaults_from_table")) == expected_from_table);
      CHECK(config.at("defaults_from_table").as_array().size() == expected_from_table.size());
      // Nothing else: the arguments, name, convention and defaults_from_table.
      CHECK(config.as_object().size() == optimizer_defaults(name).hyperparameters.size() + 3);
      // Nothing passed: everything came from the table.
      CHECK(make_optimizer(name, object(), convention)->get_config().at("defaults_from_table").as_array().size() ==
            optimizer_defaults(name).hyperparameters.size());
    }
  }
}

TEST_CASE("optimizer base: optimizer_from_config rebuilds the same optimizer, stepping bitwise alike") {
  for (const auto& name : kClasses) {
    for (Convention convention : kConventions) {
      CAPTURE(name);
      CAPTURE(convention_name(convention));
      Json arguments = rich_arguments(name);
      arguments["clipnorm"] = 3.0;
      const auto original = make_optimizer(name, arguments, convention);
      const Json config = original->get_config();
      const auto rebuilt = optimizer_from_config(name, config);
      CHECK(rebuilt->get_config() == config);
      CHECK(rebuilt->convention() == convention);
      // Through JSON text, as a saved file carries it.
      const auto from_text = optimizer_from_config(name, Json::parse(config.dump()));
      CHECK(from_text->get_config().dump() == config.dump());
      // A table default stays a table default.
      CHECK(string_set(rebuilt->get_config().at("defaults_from_table")) == string_set(config.at("defaults_from_table")));
      const std::vector<Tensor> a = make_variables(), b = clone_all(a), c = clone_all(a);
      run_steps(*original, a, 0, 15);
      run_steps(*rebuilt, b, 0, 15);
      run_steps(*from_text, c, 0, 15);
      check_bitwise(a, b);
      check_bitwise(a, c);
    }
  }
}

TEST_CASE("optimizer base: convention inside the arguments JSON selects the row") {
  const auto adam = make_optimizer("Adam", object({{"convention", "torch"}}));
  CHECK(adam->convention() == Convention::torch);
  CHECK(adam->get_config().at("epsilon").as_double() == 1e-8);
  CHECK(adam->rule().weight_decay == WeightDecayForm::l2_into_gradient);
  // It overrides the convention argument, and it is not itself an optimizer argument.
  const auto rms = make_optimizer("RMSprop", object({{"convention", "keras"}}), Convention::torch);
  CHECK(rms->convention() == Convention::keras);
  CHECK(rms->get_config().at("rho").as_double() == 0.9);
  CHECK(string_set(rms->get_config().at("defaults_from_table")).count("convention") == 0);
  CHECK_FALSE(message_of([] { make_optimizer("SGD", object({{"convention", "jax"}})); }).empty());
}

// ---------------------------------------------------------------- 2. clipping

TEST_CASE("optimizer base: clipnorm clips each gradient to its own norm") {
  for (Convention convention : kConventions) {
    const double lr = 0.5, c = 1.0;  // lr exact in float32
    const std::vector<Tensor> w = {vec({1.0, 2.0}), vec({-1.0, 0.5, 0.25})};
    const std::vector<double> w0 = values_of(w[0]), w1 = values_of(w[1]);
    const std::vector<double> g0 = {3.0, 4.0}, g1 = {0.1, 0.2, -0.3};  // norms 5 and ~0.37
    auto sgd = make_optimizer("SGD", object({{"learning_rate", lr}, {"clipnorm", c}}), convention);
    sgd->apply_gradients({vec(g0), vec(g1)}, w);
    const double norm0 = std::sqrt(g0[0] * g0[0] + g0[1] * g0[1]);
    check_close(values_of(w[0]), {w0[0] - lr * (g0[0] * c / norm0), w0[1] - lr * (g0[1] * c / norm0)});
    // Below the threshold: untouched, bit for bit.
    CHECK(values_of(w[1]) == std::vector<double>{w1[0] - lr * g1[0], w1[1] - lr * g1[1], w1[2] - lr * g1[2]});
  }
}

TEST_CASE("optimizer base: global_clipnorm uses Keras's and PyTorch's formulas") {
  const double lr = 0.5, c = 1.0;
  const std::vector<double> g0 = {3.0, 4.0}, g1 = {0.0, 12.0};  // global norm 13
  const double norm = 13.0;
  for (Convention convention : kConventions) {
    CAPTURE(convention_name(convention));
    const std::vector<Tensor> w = {vec({1.0, 2.0}), vec({-1.0, 0.5})};
    const std::vector<double> w0 = values_of(w[0]), w1 = values_of(w[1]);
    auto sgd = make_optimizer("SGD", object({{"learning_rate", lr}, {"global_clipnorm", c}}), convention);
    sgd->apply_gradients({vec(g0), vec(g1)}, w);
    // Keras: g * c / max(norm, c); torch.nn.utils.clip_grad_norm_: g * min(1, c / (norm + 1e-6)).
    const double keras_scale = c / std::max(norm, c);
    const double torch_scale = std::min(1.0, c / (norm + 1e-6));
    const double scale = convention == Convention::keras ? keras_scale : torch_scale;
    const double other = convention == Convention::keras ? torch_scale : keras_scale;
    check_close(values_of(w[0]), {w0[0] - lr * g0[0] * scale, w0[1] - lr * g0[1] * scale});
    check_close(values_of(w[1]), {w1[0] - lr * g1[0] * scale, w1[1] - lr * g1[1] * scale});
    // The two formulas are told apart (relative difference ~8e-8).
    const double got = values_of(w[1])[1];
    CHECK(std::abs(got - (w1[1] - lr * g1[1] * other)) > 1e-9);
  }
  // Below the threshold nothing changes, in both conventions.
  for (Convention convention : kConventions) {
    const std::vector<Tensor> w = {vec({1.0, 2.0}), vec({-1.0, 0.5})};
    const std::vector<double> w0 = values_of(w[0]), w1 = values_of(w[1]);
    auto sgd = make_optimizer("SGD", object({{"learning_rate", lr}, {"global_clipnorm", 20.0}}), convention);
    sgd->apply_gradients({vec(g0), vec(g1)}, w);
    CHECK(values_of(w[0]) == std::vector<double>{w0[0] - lr * g0[0], w0[1] - lr * g0[1]});
    CHECK(values_of(w[1]) == std::vector<double>{w1[0] - lr * g1[0], w1[1] - lr * g1[1]});
  }
}

TEST_CASE("optimizer base: clipvalue clips each element to the interval -c..c") {
  for (Convention convention : kConventions) {
    const double lr = 0.25, c = 0.5;
    const std::vector<Tensor> w = {vec({1.0, 2.0, 3.0, 4.0})};
    const std::vector<double> w0 = values_of(w[0]);
    const std::vector<double> g = {-2.0, 0.3, 0.5, 7.0};
    auto sgd = make_optimizer("SGD", object({{"learning_rate", lr}, {"clipvalue", c}}), convention);
    sgd->apply_gradients({vec(g)}, w);
    std::vector<double> expected;
    for (size_t i = 0; i < g.size(); ++i) expected.push_back(w0[i] - lr * std::clamp(g[i], -c, c));
    CHECK(values_of(w[0]) == expected);
  }
}

// ---------------------------------------------------------------- 3. weight decay

TEST_CASE("optimizer base: Keras weight decay subtracts w*wd*lr before the update") {
  const double lr = 0.5, wd = 0.1;
  const std::vector<double> w0 = {1.0, -2.0, 0.5}, g = {0.2, 0.4, -0.6};
  Tensor w = vec(w0);
  w.set_name("dense/kernel");
  auto sgd = make_optimizer("SGD", object({{"learning_rate", lr}, {"weight_decay", wd}}));
  sgd->apply_gradients({vec(g)}, {w});
  std::vector<double> expected;
  for (size_t i = 0; i < g.size(); ++i) {
    const double decayed = w0[i] - w0[i] * wd * lr;
    expected.push_back(decayed - lr * g[i]);
  }
  check_close(values_of(w), expected);
  // Keras's AdamW: the same form, with the Adam step on top (zero gradient: no Adam step).
  Tensor v = vec(w0);
  auto adamw = make_optimizer("AdamW", object({{"learning_rate", lr}, {"weight_decay", wd}}));
  adamw->apply_gradients({vec({0.0, 0.0, 0.0})}, {v});
  check_close(values_of(v), {w0[0] - w0[0] * wd * lr, w0[1] - w0[1] * wd * lr, w0[2] - w0[2] * wd * lr});
}

TEST_CASE("optimizer base: PyTorch AdamW scales w by 1 - lr*wd, PyTorch SGD adds wd*w to the gradient") {
  const double lr = 0.1, wd = 0.3;
  const std::vector<double> w0 = {1.0, -2.0, 0.5}, g = {0.2, 0.4, -0.6};
  Tensor v = vec(w0);
  auto adamw = make_optimizer("AdamW", object({{"learning_rate", lr}, {"weight_decay", wd}}), Convention::torch);
  adamw->apply_gradients({vec({0.0, 0.0, 0.0})}, {v});  // m = v = 0: the Adam step is 0
  check_close(values_of(v), {w0[0] * (1.0 - lr * wd), w0[1] * (1.0 - lr * wd), w0[2] * (1.0 - lr * wd)});

  Tensor w = vec(w0);
  auto sgd = make_optimizer("SGD", object({{"learning_rate", lr}, {"weight_decay", wd}}), Convention::torch);
  sgd->apply_gradients({vec(g)}, {w});
  std::vector<double> expected;
  for (size_t i = 0; i < g.size(); ++i) expected.push_back(w0[i] - lr * (g[i] + wd * w0[i]));
  check_close(values_of(w), expected);
  // L2 goes through the optimizer's rule: PyTorch Adam's first step is lr * sign(g + wd*w) (m/sqrt(v) = +-1).
  Tensor u = vec(w0);
  auto adam = make_optimizer("Adam", object({{"learning_rate", lr}, {"weight_decay", wd}, {"epsilon", 0.0}}),
                             Convention::torch);
  adam->apply_gradients({vec(g)}, {u});
  expected.clear();
  for (size_t i = 0; i < g.size(); ++i) expected.push_back(w0[i] - lr * std::copysign(1.0, g[i] + wd * w0[i]));
  check_close(values_of(u), expected, 1e-12);
}

TEST_CASE("optimizer base: exclude_from_weight_decay leaves matching variables undecayed") {
  const double lr = 0.5, wd = 0.1;
  for (Convention convention : kConventions) {
    CAPTURE(convention_name(convention));
    Tensor kernel = vec({1.0, -2.0});
    kernel.set_name("model/dense/kernel");
    Tensor bias = vec({0.5, 0.25});
    bias.set_name("model/dense/bias");
    auto sgd = make_optimizer("SGD", object({{"learning_rate", lr}, {"weight_decay", wd}}), convention);
    sgd->exclude_from_weight_decay({"bias"});
    CHECK(sgd->excluded_from_weight_decay() == std::vector<std::string>{"bias"});
    sgd->apply_gradients({vec({0.0, 0.0}), vec({0.0, 0.0})}, {kernel, bias});
    // Zero gradient: only the decay moves anything.
    if (convention == Convention::keras) {
      check_close(values_of(kernel), {1.0 - 1.0 * wd * lr, -2.0 - (-2.0) * wd * lr});
    } else {
      check_close(values_of(kernel), {1.0 - lr * (wd * 1.0), -2.0 - lr * (wd * -2.0)});
    }
    CHECK(values_of(bias) == std::vector<double>{0.5, 0.25});
  }
  auto sgd = make_optimizer("SGD");
  CHECK(contains(message_of([&] { sgd->exclude_from_weight_decay({""}); }), "empty name part"));
}

// ---------------------------------------------------------------- 4. gradient accumulation

TEST_CASE("optimizer base: gradient accumulation over 3 calls updates with the mean on the third") {
  for (Convention convention : kConventions) {
    CAPTURE(convention_name(convention));
    const double lr = 0.5;
    Tensor w = vec({1.0, -1.0, 2.0});
    auto sgd = make_optimizer("SGD", object({{"learning_rate", lr}, {"gradient_accumulation_steps", 3}}), convention);
    const std::vector<std::vector<double>> g = {{0.3, 0.6, -0.9}, {1.5, -0.3, 0.25}, {0.75, 0.125, 3.0},
                                                {0.1, 0.2, 0.3},  {-0.4, 0.5, 0.6},  {0.7, -0.8, 0.9}};
    std::vector<double> expected = values_of(w);
    const std::vector<int64_t> expected_iterations = {0, 0, 1, 1, 1, 2};
    for (size_t call = 0; call < g.size(); ++call) {
      CAPTURE(call);
      const std::vector<double> before = values_of(w);
      sgd->apply_gradients({vec(g[call])}, {w});
      CHECK(sgd->iterations() == expected_iterations[call]);
      if (call % 3 != 2) {
        CHECK(values_of(w) == before);
        continue;
      }
      for (size_t i = 0; i < expected.size(); ++i) {
        const double mean = (g[call][i] + (g[call - 2][i] + g[call - 1][i])) / 3.0;
        expected[i] -= lr * mean;
      }
      check_close(values_of(w), expected);
    }
  }
}

TEST_CASE("optimizer base: under accumulation Keras evaluates a schedule at calls, PyTorch at updates") {
  // 0.5 at step 0, 0.25 after: Keras's first update happens at call index 2 (0.25), PyTorch's first
  // update is update 0 (0.5), its second update 1 (0.25).
  for (Convention convention : kConventions) {
    CAPTURE(convention_name(convention));
    Tensor w = vec({1.0});
    auto sgd = make_optimizer("SGD", object({{"gradient_accumulation_steps", 3}}), convention);
    sgd->set_learning_rate(piecewise_constant_decay({0}, {0.5, 0.25}));
    double expected = 1.0;
    const double g = 0.5;
    const std::vector<double> update_lr =
        convention == Convention::keras ? std::vector<double>{0.25, 0.25} : std::vector<double>{0.5, 0.25};
    for (int update = 0; update < 2; ++update) {
      for (int call = 0; call < 3; ++call) sgd->apply_gradients({vec({g})}, {w});
      expected -= update_lr[static_cast<size_t>(update)] * g;
      CHECK(values_of(w)[0] == expected);
    }
    CHECK(sgd->iterations() == 2);
    CHECK(sgd->learning_rate() == 0.25);
  }
}

// ---------------------------------------------------------------- 5. schedules on optimizers

TEST_CASE("optimizer base: a schedule drives the learning rate step by step") {
  const double lr0 = 0.5, rate = 0.5;
  const int64_t decay_steps = 4;
  auto expected_lr = [&](int64_t step) { return lr0 * std::pow(rate, static_cast<double>(step) / decay_steps); };
  for (Convention convention : kConventions) {
    CAPTURE(convention_name(convention));
    Tensor w = vec({1.0, -1.0});
    auto sgd = make_optimizer("SGD", object(), convention);
    sgd->set_learning_rate(exponential_decay(lr0, decay_steps, rate));
    CHECK(sgd->learning_rate_schedule() != nullptr);
    CHECK(sgd->get_config().at("learning_rate").at("class_name").as_string() == "ExponentialDecay");
    CHECK(string_set(sgd->get_config().at("defaults_from_table")).count("learning_rate") == 0);
    std::vector<double> expected = values_of(w);
    const std::vector<double> g = {0.3, -0.7};
    for (int64_t step = 0; step < 12; ++step) {
      CAPTURE(step);
      CHECK(std::abs(sgd->learning_rate() - expected_lr(step)) <= 1e-15 * expected_lr(step));
      sgd->apply_gradients({vec(g)}, {w});
      const double lr = convention == Convention::keras ? through_float32(expected_lr(step)) : expected_lr(step);
      for (size_t i = 0; i < g.size(); ++i) expected[i] -= g[i] * lr;
      check_close(values_of(w), expected, 1e-13);
    }
  }
}

TEST_CASE("optimizer base: set_learning_rate on a scheduled optimizer rescales the schedule") {
  const double lr0 = 0.5, rate = 0.5;
  const int64_t decay_steps = 4;
  auto schedule_value = [&](int64_t step) { return lr0 * std::pow(rate, static_cast<double>(step) / decay_steps); };
  auto sgd = make_optimizer("SGD", object(), Convention::torch);
  sgd->set_learning_rate(exponential_decay(lr0, decay_steps, rate));
  Tensor w = vec({1.0});
  for (int i = 0; i < 6; ++i) sgd->apply_gradients({vec({0.1})}, {w});
  sgd->set_learning_rate(0.01);
  CHECK(std::abs(sgd->learning_rate() - 0.01) <= 1e-15);
  const double factor = 0.01 / schedule_value(6);
  for (int64_t step = 6; step < 14; ++step) {
    CAPTURE(step);
    CHECK(std::abs(sgd->learning_rate() - factor * schedule_value(step)) <= 1e-14 * factor * schedule_value(step));
    sgd->apply_gradients({vec({0.1})}, {w});
  }
  // The schedule is still the schedule (get_config keeps it); its scale travels with the state.
  CHECK(sgd->get_config().at("learning_rate").is_object());
  CHECK(std::abs(sgd->state_scalars().at("schedule_scale").as_double() - factor) <= 1e-14 * factor);
  // A new schedule resets the scale.
  sgd->set_learning_rate(exponential_decay(lr0, decay_steps, rate));
  CHECK(std::abs(sgd->learning_rate() - schedule_value(14)) <= 1e-15);

  // A schedule at 0 cannot be scaled to a nonzero value.
  auto zero = make_optimizer("Adam");
  zero->set_learning_rate(piecewise_constant_decay({5}, {0.0, 0.1}));
  CHECK(zero->learning_rate() == 0.0);
  const std::string msg = message_of([&] { zero->set_learning_rate(0.001); });
  CHECK(contains(msg, "cannot set the learning rate to 0.001"));
  CHECK(contains(msg, "PiecewiseConstant"));
  CHECK(contains(msg, "is 0.0 at step 0"));
  CHECK(zero->learning_rate() == 0.0);  // unchanged
  CHECK(contains(message_of([&] { zero->set_learning_rate(std::shared_ptr<LearningRateSchedule>()); }), "null"));
  CHECK(contains(message_of([&] { zero->set_learning_rate(-1.0); }), "finite number >= 0"));
}

TEST_CASE("optimizer base: ReduceLROnPlateau scales an ExponentialDecay schedule") {
  set_random_seed(7);
  LayerOptions with_shape;
  with_shape.input_shape = Shape{2};
  auto model = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{std::make_shared<Dense>(1, "linear", with_shape)});
  auto optimizer = make_optimizer("SGD");
  const double lr0 = 0.1, rate = 0.5;
  const int64_t decay_steps = 8;
  optimizer->set_learning_rate(exponential_decay(lr0, decay_steps, rate));
  auto schedule_value = [&](int64_t step) { return lr0 * std::pow(rate, static_cast<double>(step) / decay_steps); };
  model->compile_by_name(optimizer, {"mean_squared_error"});
  const Tensor x = random_normal({16, 2}, 0.0, 1.0, DType::float32, RandomKey{5, 1});
  const Tensor y = random_normal({16, 1}, 0.0, 1.0, DType::float32, RandomKey{5, 2});

  // Driven by hand: patience 1, factor 0.5, a flat val_loss. Each "epoch" is 2 batches of 8.
  ReduceLROnPlateau reduce({.factor = 0.5, .patience = 1, .min_delta = 0.0});
  reduce.set_model(model.get());
  reduce.on_train_begin({});
  double factor = 1.0;
  for (int epoch = 0; epoch < 5; ++epoch) {
    CAPTURE(epoch);
    FitOptions options;
    options.epochs = 1;
    options.batch_size = 8;
    options.verbose = 0;
    options.shuffle = false;
    model->fit({x}, {y}, options);
    Logs logs{{"val_loss", 1.0}};
    reduce.on_epoch_end_with_logs(epoch, logs);
    if (epoch >= 1) factor *= 0.5;  // epoch 0 sets best, every later flat epoch waits 1 = patience
    const int64_t step = optimizer->iterations();
    CHECK(step == 2 * (epoch + 1));
    CHECK(std::abs(optimizer->learning_rate() - factor * schedule_value(step)) <= 1e-14 * schedule_value(step));
  }
  // The schedule keeps decaying underneath the reduced scale.
  const double before = optimizer->learning_rate();
  model->train_on_batch({x}, {y});
  CHECK(std::abs(optimizer->learning_rate() - before * std::pow(rate, 1.0 / decay_steps)) <= 1e-14 * before);

  // Through fit's callback list: History records the scaled schedule the epoch trained with.
  set_random_seed(7);
  auto model2 =
      std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{std::make_shared<Dense>(1, "linear", with_shape)});
  auto optimizer2 = make_optimizer("SGD");
  optimizer2->set_learning_rate(exponential_decay(lr0, decay_steps, rate));
  model2->compile_by_name(optimizer2, {"mean_squared_error"});
  FitOptions options;
  options.epochs = 3;
  options.batch_size = 8;
  options.verbose = 0;
  options.shuffle = false;
  options.callbacks = {std::make_shared<ReduceLROnPlateau>(
      ReduceLROnPlateauOptions{.monitor = "loss", .factor = 0.5, .patience = 0, .min_delta = 1e9})};
  model2->fit({x}, {y}, options);
  // Epoch 0 sets best; epochs 1 and 2 each halve. After 6 steps: 0.25 x the schedule at step 6.
  CHECK(std::abs(optimizer2->learning_rate() - 0.25 * schedule_value(6)) <= 1e-14 * schedule_value(6));
}

// ---------------------------------------------------------------- 6. state

TEST_CASE("optimizer base: state round trip resumes bitwise for every class and convention") {
  for (const auto& name : kClasses) {
    for (Convention convention : kConventions) {
      CAPTURE(name);
      CAPTURE(convention_name(convention));
      check_resume(make_optimizer(name, rich_arguments(name), convention), 20, 50);
      // Defaults only.
      check_resume(make_optimizer(name, object(), convention), 13, 50);
    }
  }
}

TEST_CASE("optimizer base: state round trip mid accumulation cycle, with a rescaled schedule, with clipping") {
  for (const auto& name : kClasses) {
    for (Convention convention : kConventions) {
      CAPTURE(name);
      CAPTURE(convention_name(convention));
      Json arguments = rich_arguments(name);
      arguments["gradient_accumulation_steps"] = 3;
      arguments["global_clipnorm"] = 2.0;
      auto accumulating = make_optimizer(name, arguments, convention);
      check_resume(accumulating, 20, 50);  // 20 = 6 updates and 2 calls into the 7th cycle
      auto scheduled = make_optimizer(name, rich_arguments(name), convention);
      scheduled->set_learning_rate(exponential_decay(0.05, 7, 0.8));
      const std::vector<Tensor> warm = make_variables();
      run_steps(*scheduled, warm, 0, 4);
      scheduled->set_learning_rate(0.02);  // schedule_scale != 1
      check_resume(scheduled, 20, 50);
    }
  }
}

TEST_CASE("optimizer base: malformed states raise ValueError and leave the optimizer untouched") {
  for (const auto& name : kClasses) {
    for (Convention convention : kConventions) {
      CAPTURE(name);
      CAPTURE(convention_name(convention));
      auto optimizer = make_optimizer(name, rich_arguments(name), convention);
      const std::vector<Tensor> variables = make_variables();
      run_steps(*optimizer, variables, 0, 9);
      const SavedState good = save_state(*optimizer);
      const std::string scalars_before = optimizer->state_scalars().dump();
      const double lr_before = optimizer->learning_rate();

      auto check_rejected = [&](const Json& scalars, const std::vector<std::pair<std::string, Tensor>>& tensors,
                                const std::string& expected_part) {
        std::string msg;
        bool value_error = false;
        try {
          optimizer->load_state(scalars, tensors);
        } catch (const ValueError& e) {
          value_error = true;
          msg = e.what();
        } catch (const Error& e) {
          msg = e.what();
        }
        CHECK(value_error);
        CHECK(contains(msg, expected_part));
        CHECK(optimizer->state_scalars().dump() == scalars_before);
        CHECK(optimizer->learning_rate() == lr_before);
        const auto now = optimizer->state_tensors();
        REQUIRE(now.size() == good.tensors.size());
        for (size_t i = 0; i < now.size(); ++i) {
          CHECK(now[i].first == good.tensors[i].first);
          CHECK(bitwise_equal(now[i].second, good.tensors[i].second));
        }
      };
      for (const char* key : {"iterations", "updates", "variable_updates", "learning_rate", "schedule_scale"}) {
        CAPTURE(key);
        Json scalars = good.scalars;
        scalars.as_object().erase(key);
        check_rejected(scalars, good.tensors, "malformed");
      }
      {
        Json scalars = good.scalars;
        scalars["iterations"] = -1;
        check_rejected(scalars, good.tensors, "inconsistent");
        scalars = good.scalars;
        scalars["updates"] = good.scalars.at("iterations").as_int() + 1;
        check_rejected(scalars, good.tensors, "inconsistent");
        scalars = good.scalars;
        scalars["learning_rate"] = -0.5;
        check_rejected(scalars, good.tensors, "learning_rate");
        scalars = good.scalars;
        scalars["iterations"] = "nine";
        check_rejected(scalars, good.tensors, "malformed");
      }
      for (const std::string bad_key : {"momentum", "momentum/", "/0", "momentum/x", "momentum/-1", "momentum/1e3"}) {
        CAPTURE(bad_key);
        auto tensors = good.tensors;
        tensors.emplace_back(bad_key, Tensor::zeros({5}, DType::float64));
        check_rejected(good.scalars, tensors, "is not named <slot>/<variable index>");
      }
      {
        auto tensors = good.tensors;
        tensors.emplace_back("momentum/0", Tensor());
        check_rejected(good.scalars, tensors, "has no tensor");
      }
      // After all that, a good state still loads and the optimizer continues as before.
      optimizer->load_state(good.scalars, good.tensors);
      CHECK(optimizer->state_scalars().dump() == scalars_before);
    }
  }
}

TEST_CASE("optimizer base: a negative per-variable step counter is refused") {
  // variable_updates is a counter like iterations and updates; a negative entry would give PyTorch's
  // bias corrections a step t <= 0 (1 - beta^0 = 0: a division by zero at the next update).
  auto adam = make_optimizer("Adam", object(), Convention::torch);
  const std::vector<Tensor> variables = make_variables();
  run_steps(*adam, variables, 0, 3);
  const SavedState good = save_state(*adam);
  const std::string before = adam->state_scalars().dump();
  Json scalars = good.scalars;
  scalars["variable_updates"] = Json(Json::Array{Json(-1), Json(2)});
  std::string msg;
  try {
    adam->load_state(scalars, good.tensors);
  } catch (const ValueError& e) {
    msg = e.what();
  }
  CHECK(contains(msg, "variable_updates"));
  CHECK(adam->state_scalars().dump() == before);
}

TEST_CASE("optimizer base: a malformed Nadam extra state leaves the optimizer untouched") {
  // The subclass's part of the state is checked before anything is assigned: a bad one must not
  // leave the optimizer half-loaded (new counters, old momentum products).
  auto nadam = make_optimizer("Nadam");
  const std::vector<Tensor> variables = make_variables();
  run_steps(*nadam, variables, 0, 5);
  const SavedState good = save_state(*nadam);
  auto fresh = make_optimizer("Nadam");
  const std::string before = fresh->state_scalars().dump();
  Json scalars = good.scalars;
  scalars["extra"] = object({{"shared_product", 0.5}});  // "products" missing
  bool value_error = false;
  try {
    fresh->load_state(scalars, good.tensors);
  } catch (const ValueError&) {
    value_error = true;
  }
  CHECK(value_error);
  CHECK(fresh->state_scalars().dump() == before);
  CHECK(fresh->state_tensors().empty());
}

TEST_CASE("optimizer base: a non-finite schedule scale in a state is refused") {
  // schedule_scale multiplies the schedule; NaN or a negative value would only surface at the next
  // step ("the learning-rate schedule gave nan"), far from the file that held it.
  auto sgd = make_optimizer("SGD");
  sgd->set_learning_rate(exponential_decay(0.1, 10, 0.5));
  Tensor w = vec({1.0});
  sgd->apply_gradients({vec({0.5})}, {w});
  SavedState state = save_state(*sgd);
  const std::string before = sgd->state_scalars().dump();
  for (double bad : {kNaN, -2.0, kInf}) {
    CAPTURE(bad);
    Json scalars = state.scalars;
    scalars["schedule_scale"] = bad;
    CHECK(contains(message_of([&] { sgd->load_state(scalars, state.tensors); }), "schedule_scale"));
    CHECK(sgd->state_scalars().dump() == before);
  }
}

// ---------------------------------------------------------------- 7. model-level resume

namespace {

std::shared_ptr<Sequential> seeded_mlp() {
  set_random_seed(1234);
  LayerOptions with_shape;
  with_shape.input_shape = Shape{4};
  return std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<Dense>(8, "relu", with_shape), std::make_shared<Dense>(3, "softmax")});
}

struct ResumeData {
  Tensor x, y;
};
ResumeData resume_data() {
  const int64_t rows = 24;
  std::vector<int64_t> labels(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) labels[static_cast<size_t>(i)] = (i * 7 + 3) % 3;
  return {random_normal({rows, 4}, 0.0, 1.0, DType::float32, RandomKey{42, 3}), Tensor::from_vector(labels, {rows})};
}

FitOptions fit_options(int epochs) {
  FitOptions options;
  options.epochs = epochs;
  options.batch_size = 8;
  options.verbose = 0;
  options.shuffle = false;
  return options;
}

using OptimizerMaker = std::function<std::shared_ptr<Optimizer>()>;

// 4 epochs straight against 2 epochs, save_model, load_model, 2 more epochs.
void check_model_resume(const OptimizerMaker& make, const std::string& tag) {
  clear_session();
  TempDir dir("resume_" + tag);
  const ResumeData d = resume_data();
  auto straight = seeded_mlp();
  straight->compile_by_name(make(), {"sparse_categorical_crossentropy"});
  straight->fit({d.x}, {d.y}, fit_options(4));

  auto first = seeded_mlp();
  first->compile_by_name(make(), {"sparse_categorical_crossentropy"});
  first->fit({d.x}, {d.y}, fit_options(2));
  const std::string path = dir.file("half.pitfall");
  save_model(*first, path);
  std::shared_ptr<Model> resumed;
  {
    WarningCapture warnings;
    resumed = load_model(path);
    CHECK(warnings.messages.empty());
  }
  REQUIRE(resumed->compiled());
  CHECK(resumed->optimizer()->class_name() == first->optimizer()->class_name());
  CHECK(resumed->optimizer()->iterations() == 6);
  CHECK(resumed->optimizer()->state_scalars().dump() == first->optimizer()->state_scalars().dump());
  resumed->fit({d.x}, {d.y}, fit_options(2));
  const auto a = straight->get_weights(), b = resumed->get_weights();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    CHECK(bitwise_equal(a[i], b[i]));
  }
  CHECK(resumed->optimizer()->state_scalars().dump() == straight->optimizer()->state_scalars().dump());
  // The weights did move in the last two epochs (the comparison is not vacuous).
  const auto saved = load_model(path)->get_weights();
  CHECK_FALSE(bitwise_equal(saved[0], b[0]));
}

}  // namespace

TEST_CASE("optimizer base: save_model mid-training then load_model resumes bitwise (Adam)") {
  check_model_resume([] { return adam_optimizer(0.01); }, "adam");
}

TEST_CASE("optimizer base: save_model mid-training then load_model resumes bitwise (SGD momentum, torch)") {
  check_model_resume(
      [] { return make_optimizer("SGD", object({{"learning_rate", 0.05}, {"momentum", 0.9}}), Convention::torch); },
      "sgd_torch");
}

TEST_CASE("optimizer base: save_model mid-training then load_model resumes bitwise (LossScaleOptimizer(Adam))") {
  // dynamic_growth_steps 4: by the save (6 steps) the scale has grown once and the counter is at 2.
  check_model_resume(
      [] { return loss_scale_optimizer(adam_optimizer(0.01), object({{"dynamic_growth_steps", 4}})); }, "lso");
}

TEST_CASE("optimizer base: save_model then load_model resumes a scheduled, rescaled Nadam bitwise") {
  check_model_resume(
      [] {
        auto nadam = make_optimizer("Nadam", object({{"clipnorm", 1.0}}), Convention::torch);
        nadam->set_learning_rate(inverse_time_decay(0.02, 3, 0.5));
        return nadam;
      },
      "nadam");
}

TEST_CASE("optimizer base: a tampered optimizer section loads with a warning and a fresh optimizer") {
  clear_session();
  TempDir dir("tampered");
  const ResumeData d = resume_data();
  auto model = seeded_mlp();
  model->compile_by_name(adam_optimizer(0.01), {"sparse_categorical_crossentropy"});
  model->fit({d.x}, {d.y}, fit_options(1));
  const std::string good = dir.file("good.pitfall"), bad = dir.file("bad.pitfall");
  save_model(*model, good);
  const Decoded original = decode(read_bytes(good));
  REQUIRE(original.header.at("sections").contains("optimizer"));

  auto check_fresh = [&](const std::string& expected_part) {
    WarningCapture warnings;
    auto loaded = load_model(bad);
    CHECK(warnings.any("the optimizer state cannot be restored"));
    CHECK(warnings.any(expected_part));
    CHECK(warnings.any("fresh Adam"));
    REQUIRE(loaded->compiled());
    CHECK(loaded->optimizer()->iterations() == 0);
    CHECK(loaded->optimizer()->state_tensors().empty());
    CHECK(loaded->optimizer()->get_config() == model->optimizer()->get_config());
    const auto a = model->get_weights(), b = loaded->get_weights();
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) CHECK(bitwise_equal(a[i], b[i]));
    // It trains from there like a new Adam would.
    loaded->fit({d.x}, {d.y}, fit_options(1));
    CHECK(loaded->optimizer()->iterations() == 3);
  };
  {
    // A kernel's moment with its shape transposed (same byte length).
    Decoded t = original;
    bool changed = false;
    for (Json& entry : t.header["sections"]["optimizer"]["entries"].as_array()) {
      std::vector<int64_t> shape = entry.at("shape").as_int_vector();
      if (shape.size() == 2 && shape[0] != shape[1] && !changed) {
        entry["shape"] = Json::from_vector(std::vector<int64_t>{shape[1], shape[0]});
        changed = true;
      }
    }
    REQUIRE(changed);
    write_bytes(bad, encode(t));
    check_fresh("but weight");
  }
  {
    // An entry naming a weight the model does not have.
    Decoded t = original;
    Json& entry = t.header["sections"]["optimizer"]["entries"].as_array()[0];
    entry["path"] = "optimizer/momentum/layers/dense_9/kernel";
    write_bytes(bad, encode(t));
    check_fresh("not a trainable weight");
  }
  {
    // Counters that contradict each other.
    Decoded t = original;
    t.header["optimizer_state"]["iterations"] = -4;
    write_bytes(bad, encode(t));
    check_fresh("inconsistent");
  }
}

TEST_CASE("every hyperparameter range in the defaults table is enforced at its edges, in both conventions") {
  // The ranges live in the table rows (optim/defaults.cpp); each optimizer made by name must refuse a
  // value just outside and accept the edges, naming the optimizer, the argument and the range.
  int checked = 0;
  for (const OptimizerDefaults& row : optimizer_defaults_table()) {
    for (const HyperparameterDefault& h : row.hyperparameters) {
      if (!h.range) continue;
      const ValueRange& r = *h.range;
      for (const Convention convention : {Convention::keras, Convention::torch}) {
        CAPTURE(row.class_name);
        CAPTURE(h.name);
        Json below = Json::object();
        below[h.name] = r.low - 0.25;
        const std::string message = message_of([&] { make_optimizer(row.class_name, below, convention); });
        CHECK(message.find(row.class_name + ": " + h.name + " must be " + r.text()) != std::string::npos);
        Json low = Json::object();
        low[h.name] = r.low;
        CHECK_NOTHROW(make_optimizer(row.class_name, low, convention));
        if (std::isinf(r.high)) continue;
        Json high = Json::object();
        high[h.name] = r.high;
        if (r.high_open) {
          CHECK(message_of([&] { make_optimizer(row.class_name, high, convention); }).find(r.text()) !=
                std::string::npos);
        } else {
          CHECK_NOTHROW(make_optimizer(row.class_name, high, convention));
        }
        ++checked;
      }
    }
  }
  CHECK(checked >= 20);  // SGD, Adam, AdamW, RMSprop, Adadelta, Adamax, Nadam carry bounded ranges
  CHECK(ValueRange{0.0, 1.0, true}.text() == "a float in [0, 1)");
  CHECK(ValueRange{0.0, std::numeric_limits<double>::infinity(), false}.text() == "a float >= 0");
}
