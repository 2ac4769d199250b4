// Adam against reference loops written here from the published Keras rule (epsilon hat, alpha with
// the bias corrections folded in), amsgrad, dtypes, name lookup, thread-count determinism and fit.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include <pitfall/layers/dense.h>
#include <pitfall/layers/losses.h>
#include <pitfall/training/model.h>
#include <pitfall/optim/optimizer.h>
#include <pitfall/pitfall.h>

#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

constexpr size_t kSize = 5;

// A scripted gradient for element i at step s, independent of the weights so that engine and
// reference see identical inputs. Element 4 is always tiny (~1e-8, below epsilon = 1e-7), and
// steps 120..139 are tiny everywhere, where the epsilon-hat convention dominates the step.
double scripted_grad(int step, size_t i) {
  const double amplitude[kSize] = {1.0, 0.3, 5.0, 1e-3, 1e-8};
  const double offset[kSize] = {0.2, -0.1, 1.0, 0.0, 3e-9};
  double g = amplitude[i] * std::sin(0.37 * step + static_cast<double>(i)) + offset[i];
  if (step >= 120 && step < 140) g *= 1e-8;
  return g;
}

// Keras keeps the learning rate in a float32 variable, so a float64 variable sees it rounded.
double through_float32(double value) { return static_cast<double>(static_cast<float>(value)); }

struct ReferenceAdam {
  double beta_1, beta_2, epsilon;
  bool amsgrad;
  std::vector<double> m = std::vector<double>(kSize, 0.0), v = m, v_hat = m;

  // One step t (1-based) of the published rule on w.
  void step(std::vector<double>& w, const std::vector<double>& g, double lr, int t) {
    const double alpha = lr * std::sqrt(1.0 - std::pow(beta_2, t)) / (1.0 - std::pow(beta_1, t));
    for (size_t i = 0; i < w.size(); ++i) {
      m[i] = m[i] + (g[i] - m[i]) * (1.0 - beta_1);
      v[i] = v[i] + (g[i] * g[i] - v[i]) * (1.0 - beta_2);
      v_hat[i] = std::max(v_hat[i], v[i]);
      const double second = amsgrad ? v_hat[i] : v[i];
      w[i] = w[i] - alpha * m[i] / (std::sqrt(second) + epsilon);
    }
  }
};

void run_float64_case(bool amsgrad) {
  const double beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7;
  std::vector<double> reference = {1.0, -2.0, 0.5, 3.0, 0.25};
  Tensor w = Tensor::from_vector(reference, {static_cast<int64_t>(kSize)});
  w.set_name("dense/kernel");
  auto adam = adam_optimizer(0.01, beta_1, beta_2, epsilon, amsgrad);
  ReferenceAdam ref{beta_1, beta_2, epsilon, amsgrad};
  double lr = 0.01;
  for (int step = 0; step < 200; ++step) {
    if (step == 100) {  // a learning-rate change mid-run (as a schedule or callback would do)
      lr = 0.003;
      adam->set_learning_rate(lr);
    }
    std::vector<double> g(kSize);
    for (size_t i = 0; i < kSize; ++i) g[i] = scripted_grad(step, i);
    adam->apply_gradients({Tensor::from_vector(g, {static_cast<int64_t>(kSize)})}, {w});
    ref.step(reference, g, through_float32(lr), step + 1);
  }
  CHECK(adam->iterations() == 200);
  CHECK(w.dtype() == DType::float64);
  const std::vector<double> got = w.to_vector<double>();
  for (size_t i = 0; i < kSize; ++i) {
    CAPTURE(i);
    CHECK(std::abs(got[i] - reference[i]) <= 1e-12 * std::abs(reference[i]));
  }
  // The weights did move (each ~ lr per step), also the one whose gradients are all tiny.
  CHECK(std::abs(got[0] - 1.0) > 0.1);
  CHECK(std::abs(got[4] - 0.25) > 1e-3);
}

}  // namespace

TEST_CASE("adam: 200 float64 steps with tiny gradients and a learning-rate change match the Keras rule") {
  run_float64_case(/*amsgrad=*/false);
}

TEST_CASE("adam: amsgrad, 200 float64 steps match the rule with v_hat = max(v_hat, v)") {
  run_float64_case(/*amsgrad=*/true);
}

TEST_CASE("adam: amsgrad differs from plain Adam once v shrinks") {
  auto run = [](bool amsgrad) {
    Tensor w = Tensor::from_vector(std::vector<double>{0.0}, {1});
    auto adam = adam_optimizer(0.1, 0.9, 0.999, 1e-7, amsgrad);
    for (double g : {10.0, 0.1, 0.1, 0.1}) adam->apply_gradients({Tensor::from_vector(std::vector<double>{g}, {1})}, {w});
    return w.value_at(0);
  };
  // v_hat keeps the large early second moment, so amsgrad takes smaller steps afterwards.
  CHECK(run(true) > run(false));
}

TEST_CASE("adam: epsilon is Keras's epsilon hat, outside the root of the uncorrected v") {
  // First step from zero state with gradient g: m = (1-b1) g, v = (1-b2) g^2, so
  // step = lr * sqrt(1-b2) / (1-b1) * (1-b1) g / (sqrt(1-b2) |g| + eps).
  const double lr = 0.5, beta_2 = 0.999, epsilon = 1e-7, g = 1e-8;
  Tensor w = Tensor::from_vector(std::vector<double>{0.0}, {1});
  adam_optimizer(lr, 0.9, beta_2, epsilon)->apply_gradients({Tensor::from_vector(std::vector<double>{g}, {1})}, {w});
  const double keras = -lr * std::sqrt(1 - beta_2) * g / (std::sqrt(1 - beta_2) * g + epsilon);
  // PyTorch's form, sqrt(v / (1-b2)) + eps, would give lr * g / (g + eps): ~30x larger here.
  const double torch_form = -lr * g / (g + epsilon);
  CHECK(w.value_at(0) == doctest::Approx(keras).epsilon(1e-12));
  CHECK(std::abs(w.value_at(0)) < 0.1 * std::abs(torch_form));
}

TEST_CASE("adam: float32 variables keep float32 state and match a float32 reference bit for bit") {
  std::vector<float> reference = {1.0f, -2.0f, 0.5f, 3.0f, 0.25f};
  std::vector<float> m(kSize, 0.0f), v(kSize, 0.0f);
  Tensor w = Tensor::from_vector(reference, {static_cast<int64_t>(kSize)});
  auto adam = adam_optimizer();  // Keras defaults
  const float lr = 0.001f, beta_1 = 0.9f, beta_2 = 0.999f, epsilon = 1e-7f;
  const float one_minus_beta_1 = static_cast<float>(1.0 - 0.9), one_minus_beta_2 = static_cast<float>(1.0 - 0.999);
  for (int step = 0; step < 60; ++step) {
    std::vector<float> g(kSize);
    for (size_t i = 0; i < kSize; ++i) g[i] = static_cast<float>(scripted_grad(step, i));
    adam->apply_gradients({Tensor::from_vector(g, {static_cast<int64_t>(kSize)})}, {w});
    // Keras computes everything in the variable's dtype, alpha included.
    const float t = static_cast<float>(step + 1);
    const float alpha = lr * std::sqrt(1.0f - std::pow(beta_2, t)) / (1.0f - std::pow(beta_1, t));
    for (size_t i = 0; i < kSize; ++i) {
      m[i] = m[i] + (g[i] - m[i]) * one_minus_beta_1;
      v[i] = v[i] + (g[i] * g[i] - v[i]) * one_minus_beta_2;
      reference[i] = reference[i] - (m[i] * alpha) / (std::sqrt(v[i]) + epsilon);
    }
  }
  CHECK(w.dtype() == DType::float32);
  const std::vector<float> got = w.to_vector<float>();
  for (size_t i = 0; i < kSize; ++i) {
    CAPTURE(i);
    CHECK(got[i] == reference[i]);
  }
}

TEST_CASE("adam: get_optimizer by Keras name, defaults and get_config") {
  for (const char* name : {"adam", "Adam", "ADAM"}) {
    auto adam = get_optimizer(name);
    CHECK(adam->class_name() == "Adam");
    CHECK(adam->learning_rate() == 0.001);
    const Json config = adam->get_config();
    CHECK(config.at("name").as_string() == "Adam");
    CHECK(config.at("learning_rate").as_double() == 0.001);
    CHECK(config.at("beta_1").as_double() == 0.9);
    CHECK(config.at("beta_2").as_double() == 0.999);
    CHECK(config.at("epsilon").as_double() == 1e-7);
    CHECK_FALSE(config.at("amsgrad").as_bool());
  }
  const Json custom = adam_optimizer(0.01, 0.8, 0.99, 1e-8, true)->get_config();
  CHECK(custom.at("learning_rate").as_double() == 0.01);
  CHECK(custom.at("beta_1").as_double() == 0.8);
  CHECK(custom.at("beta_2").as_double() == 0.99);
  CHECK(custom.at("epsilon").as_double() == 1e-8);
  CHECK(custom.at("amsgrad").as_bool());
  // Keras optimizers pitfall does not have get a clear error naming the ones it has.
  CHECK_THROWS_AS(get_optimizer("lion"), NotImplementedError);
  CHECK(message_of([] { get_optimizer("lamb"); }).find("Nadam") != std::string::npos);
}

TEST_CASE("adam: invalid hyperparameters and inconsistent variables raise with the fix") {
  CHECK(message_of([] { adam_optimizer(0.001, 1.0); }).find("beta_1 must be a float in [0, 1)") != std::string::npos);
  CHECK(message_of([] { adam_optimizer(0.001, 0.9, -0.1); }).find("beta_2") != std::string::npos);
  CHECK(message_of([] { adam_optimizer(0.001, 0.9, 0.999, -1e-7); }).find("epsilon") != std::string::npos);
  CHECK_THROWS_AS(adam_optimizer(-0.001), ValueError);

  auto adam = adam_optimizer();
  Tensor kernel = Tensor::from_vector(std::vector<float>{1, 2}, {2});
  adam->apply_gradients({Tensor::from_vector(std::vector<float>{1, 1}, {2})}, {kernel});
  Tensor other = Tensor::from_vector(std::vector<float>{1, 2, 3}, {3});
  other.set_name("dense_2/kernel");
  const std::string message =
      message_of([&] { adam->apply_gradients({Tensor::from_vector(std::vector<float>{1, 1, 1}, {3})}, {other}); });
  CHECK(message.find("'dense_2/kernel'") != std::string::npos);
  CHECK(message.find("same variables in the same order") != std::string::npos);
}

TEST_CASE("adam: bitwise-identical updates with 1 and 2 threads") {
  const int64_t n = 100000;  // many parallel blocks
  const auto [one, two] = run_with_1_and_2_threads([&] {
    Tensor w = random_normal({n}, 0.0, 1.0, DType::float32, RandomKey{7, 1});
    auto adam = adam_optimizer(0.01, 0.9, 0.999, 1e-7, /*amsgrad=*/true);
    for (uint64_t step = 0; step < 10; ++step) {
      const Tensor g = random_normal({n}, 0.0, 1.0, DType::float32, RandomKey{7, 2 + step});
      adam->apply_gradients({g}, {w});
    }
    return std::vector<Tensor>{w};
  });
  CHECK(bitwise_equal(one[0], two[0]));
}

TEST_CASE("adam: fit with Adam on a tiny model lowers the loss") {
  clear_session();
  set_random_seed(3);
  const int64_t rows = 128;
  const Tensor x = random_normal({rows, 4}, 0.0, 1.0, DType::float32, RandomKey{11, 1});
  // Label: which of two fixed directions x leans towards (linearly separable).
  std::vector<int64_t> labels(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const double s = x.value_at(r * 4) - 0.5 * x.value_at(r * 4 + 1) + 0.25 * x.value_at(r * 4 + 3);
    labels[static_cast<size_t>(r)] = s > 0 ? 1 : 0;
  }
  const Tensor y = Tensor::from_vector(labels, {rows});
  LayerOptions with_shape;
  with_shape.input_shape = Shape{4};
  Sequential model(std::vector<std::shared_ptr<Layer>>{std::make_shared<Dense>(8, "relu", with_shape),
                                                        std::make_shared<Dense>(2, "softmax")});
  model.compile_by_name(adam_optimizer(0.01), {"sparse_categorical_crossentropy"});
  CHECK(model.optimizer()->class_name() == "Adam");
  FitOptions options;
  options.batch_size = 16;
  options.epochs = 15;
  options.verbose = 0;
  const History history = model.fit({x}, {y}, options);
  const auto& loss = history.history.at("loss");
  REQUIRE(loss.size() == 15);
  CHECK(loss.back() < 0.5 * loss.front());
  for (size_t epoch = 1; epoch < loss.size(); ++epoch) CHECK(loss[epoch] < loss[epoch - 1] + 1e-3);
  CHECK(model.optimizer()->iterations() == 15 * (rows / 16));
}
