// SGD against a reference loop written out in float32 arithmetic, and Optimizer validation.
#include <doctest/doctest.h>

#include <cmath>

#include <pitfall/optim/optimizer.h>
#include <pitfall/pitfall.h>

#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

// Gradient of a fixed quadratic f(w) = sum(c * w^2 + d * w) (in float32 steps): g = 2 c w + d.
std::vector<float> quadratic_grad(const std::vector<float>& w) {
  std::vector<float> g(w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    const float c = 0.5f + 0.25f * static_cast<float>(i);
    const float d = static_cast<float>(i) - 1.5f;
    const float two_c_w = (2.0f * c) * w[i];
    g[i] = two_c_w + d;
  }
  return g;
}

void run_case(double lr, double momentum, bool nesterov) {
  std::vector<float> reference = {1.0f, -2.0f, 0.5f, 3.0f};
  std::vector<float> velocity(reference.size(), 0.0f);
  Tensor w = Tensor::from_vector(reference, {4});
  w.set_name("dense/kernel");
  auto sgd = sgd_optimizer(lr, momentum, nesterov);
  const float lr32 = static_cast<float>(lr), m32 = static_cast<float>(momentum);
  for (int step = 0; step < 50; ++step) {
    const std::vector<float> g_ref = quadratic_grad(reference);
    const std::vector<float> g_engine = quadratic_grad(w.to_vector<float>());
    sgd->apply_gradients({Tensor::from_vector(g_engine, {4})}, {w});
    for (size_t i = 0; i < reference.size(); ++i) {
      const float lr_g = g_ref[i] * lr32;
      if (momentum == 0.0) {
        reference[i] = reference[i] - lr_g;
        continue;
      }
      const float m_v = velocity[i] * m32;
      velocity[i] = m_v - lr_g;
      if (nesterov) {
        const float m_v_new = velocity[i] * m32;
        const float step_value = m_v_new - lr_g;
        reference[i] = reference[i] + step_value;
      } else {
        reference[i] = reference[i] + velocity[i];
      }
    }
  }
  CHECK(sgd->iterations() == 50);
  const std::vector<float> got = w.to_vector<float>();
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == reference[i]);  // bitwise: same roundings
  // And it actually optimized: w approaches the minimum -d / (2c).
  CHECK(std::abs(got[0] - 1.5f) < 0.5f);
}

}  // namespace

TEST_CASE("sgd: 50 steps match the Keras update rule bit for bit (plain, momentum, nesterov)") {
  run_case(0.1, 0.0, false);
  run_case(0.05, 0.9, false);
  run_case(0.05, 0.9, true);
}

TEST_CASE("sgd: float64 variables use the learning rate rounded through floatx like Keras") {
  Tensor w = Tensor::from_vector(std::vector<double>{1.0}, {1});
  auto sgd = sgd_optimizer(0.01);
  sgd->apply_gradients({Tensor::from_vector(std::vector<double>{1.0}, {1})}, {w});
  CHECK(w.value_at(0) == 1.0 - static_cast<double>(0.01f));
}

TEST_CASE("sgd: undefined gradients are skipped, iterations count calls, no autograd recorded") {
  Tensor a = Tensor::from_vector(std::vector<float>{1.0f, 2.0f}, {2});
  Tensor b = Tensor::from_vector(std::vector<float>{5.0f}, {1});
  a.set_requires_grad(true);
  auto sgd = sgd_optimizer(0.5, 0.5);
  sgd->apply_gradients({Tensor(), Tensor::from_vector(std::vector<float>{2.0f}, {1})}, {a, b});
  CHECK(a.value_at(0) == 1.0f);
  CHECK(b.value_at(0) == 4.0f);
  sgd->apply_gradients({Tensor::from_vector(std::vector<float>{1.0f, 1.0f}, {2}), Tensor()}, {a, b});
  CHECK(a.value_at(0) == 0.5f);
  CHECK(b.value_at(0) == 4.0f);
  CHECK(sgd->iterations() == 2);
  CHECK(a.is_leaf());
}

TEST_CASE("optimizer: mismatched gradients raise naming the variable, before any update") {
  Tensor kernel = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  kernel.set_name("dense_1/kernel");
  Tensor bias = Tensor::from_vector(std::vector<float>{0, 0}, {2});
  bias.set_name("dense_1/bias");
  auto sgd = sgd_optimizer();
  const Tensor good = Tensor::from_vector(std::vector<float>{1, 1, 1, 1}, {2, 2});
  const std::string shape = message_of(
      [&] { sgd->apply_gradients({good, Tensor::from_vector(std::vector<float>{1, 1, 1}, {3})}, {kernel, bias}); });
  CHECK(shape.find("'dense_1/bias'") != std::string::npos);
  CHECK(shape.find("(3,)") != std::string::npos);
  CHECK(shape.find("(2,)") != std::string::npos);
  CHECK(kernel.value_at(0) == 1.0f);  // nothing applied
  CHECK(sgd->iterations() == 0);
  CHECK_THROWS_AS(
      sgd->apply_gradients({good, Tensor::from_vector(std::vector<double>{1, 1}, {2})}, {kernel, bias}), DTypeError);
  CHECK(message_of([&] { sgd->apply_gradients({good}, {kernel, bias}); }).find("1 gradients for 2 variables") !=
        std::string::npos);
  CHECK_THROWS_AS(sgd_optimizer(0.01, 1.5), ValueError);
  CHECK_THROWS_AS(sgd_optimizer(-1.0), ValueError);
}

TEST_CASE("optimizer: get_optimizer by Keras name, NotImplemented for Keras-only ones, did-you-mean") {
  CHECK(get_optimizer("sgd")->class_name() == "SGD");
  CHECK(get_optimizer("SGD")->learning_rate() == 0.01);
  const Json config = sgd_optimizer(0.1, 0.9, true)->get_config();
  CHECK(config.at("momentum").as_double() == 0.9);
  CHECK(config.at("nesterov").as_bool());
  CHECK(config.at("learning_rate").as_double() == 0.1);
  CHECK(get_optimizer("rmsprop")->class_name() == "RMSprop");
  CHECK_THROWS_AS(get_optimizer("ftrl"), NotImplementedError);
  CHECK(message_of([] { get_optimizer("sgdd"); }).find("did you mean 'sgd'") != std::string::npos);
  CHECK(message_of([] { get_optimizer("adamm"); }).find("did you mean 'adam'") != std::string::npos);
}
