// Dense, Activation, Dropout, Flatten, Reshape, InputLayer: the generic layer checks plus the
// numbers each layer must produce.
#include <doctest/doctest.h>

#include <cmath>

#include <pitfall/layers/activation.h>
#include <pitfall/layers/activations.h>
#include <pitfall/layers/dense.h>
#include <pitfall/layers/dropout.h>
#include <pitfall/layers/flatten.h>
#include <pitfall/layers/input_layer.h>
#include <pitfall/layers/reshape.h>

#include "layer_test_helper.h"
#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

TEST_CASE("layers core: Dense passes the generic layer checks") {
  check_layer([] { return std::make_shared<Dense>(4); }, {{3, 5}}, {.trainable_weights = 2});
  check_layer([] { return std::make_shared<Dense>(3, "tanh"); }, {{2, 4, 5}}, {.trainable_weights = 2});
  check_layer(
      [] {
        DenseOptions options;
        options.use_bias = false;
        options.activation = "softmax";
        options.kernel_regularizer = l2_regularizer(0.01);
        return std::make_shared<Dense>(3, options);
      },
      {{2, 4}}, {.trainable_weights = 1});
}

TEST_CASE("layers core: Dense computes x @ kernel + bias then the activation") {
  auto dense = std::make_shared<Dense>(2, "relu");
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, -1, 0, 1}, {2, 3});
  dense->ensure_built({{-1, 3}});
  dense->kernel().assign(Tensor::from_vector<float>({1, 0, 0, 1, 1, -1}, {3, 2}));
  dense->bias().assign(Tensor::from_vector<float>({0.5f, -0.5f}));
  // x @ k = [[1+3, 2-3], [-1+1, 0-1]] = [[4, -1], [0, -1]]; + b = [[4.5, -1.5], [0.5, -1.5]]; relu
  CHECK((*dense)(x).to_vector<float>() == std::vector<float>{4.5f, 0.0f, 0.5f, 0.0f});
  CHECK(dense->kernel().shape() == Shape{3, 2});
  CHECK(dense->bias().shape() == Shape{2});
  CHECK(dense->count_params() == 8);
}

TEST_CASE("layers core: Dense defaults are Keras's glorot_uniform kernel and zero bias") {
  set_random_seed(3);
  auto dense = std::make_shared<Dense>(300);
  dense->ensure_built({{-1, 200}});
  const double limit = std::sqrt(6.0 / (200 + 300));
  const auto k = dense->kernel().to_vector<float>();
  double max_abs = 0, sum_sq = 0;
  for (float v : k) {
    max_abs = std::max(max_abs, std::abs(static_cast<double>(v)));
    sum_sq += static_cast<double>(v) * v;
  }
  CHECK(max_abs <= limit);
  CHECK(max_abs > 0.99 * limit);
  CHECK(std::sqrt(sum_sq / k.size()) == doctest::Approx(limit / std::sqrt(3.0)).epsilon(0.01));
  for (float b : dense->bias().to_vector<float>()) CHECK(b == 0.0f);
  const Json config = dense->get_config();
  CHECK(config.at("kernel_initializer").at("class_name").as_string() == "GlorotUniform");
  CHECK(config.at("bias_initializer").at("class_name").as_string() == "Zeros");
  CHECK(config.at("activation").as_string() == "linear");
  CHECK(config.at("units").as_int() == 300);
}

TEST_CASE("layers core: Dense rejects bad arguments with the received value") {
  using pitfall::testing::message_of;
  CHECK(message_of([] { Dense d(0); }).find("units=0") != std::string::npos);
  CHECK(message_of([] { Dense d(3, "rleu"); }).find("did you mean 'relu'") != std::string::npos);
  auto dense = std::make_shared<Dense>(3);
  CHECK(message_of([&] { (*dense)(Tensor::zeros({4})); }).find("rank >= 2") != std::string::npos);
}

TEST_CASE("layers core: activations match their formulas") {
  const std::vector<double> xs = {-3.0, -0.5, 0.0, 0.7, 2.5};
  const Tensor x = Tensor::from_vector(xs);
  auto check = [&](const std::string& name, const std::function<double(double)>& f) {
    INFO(name);
    const auto got = get_activation(name)(x).to_vector<double>();
    for (size_t i = 0; i < xs.size(); ++i) CHECK(got[i] == doctest::Approx(f(xs[i])).epsilon(1e-12));
  };
  check("linear", [](double v) { return v; });
  check("relu", [](double v) { return v > 0 ? v : 0; });
  check("sigmoid", [](double v) { return 1 / (1 + std::exp(-v)); });
  check("tanh", [](double v) { return std::tanh(v); });
  check("elu", [](double v) { return v > 0 ? v : std::exp(v) - 1; });
  check("selu", [](double v) {
    return 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * (std::exp(v) - 1));
  });
  check("gelu", [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); });
  check("leaky_relu", [](double v) { return v > 0 ? v : 0.2 * v; });
  check("softplus", [](double v) { return std::log1p(std::exp(v)); });
  check("softsign", [](double v) { return v / (1 + std::abs(v)); });
  check("swish", [](double v) { return v / (1 + std::exp(-v)); });
  check("silu", [](double v) { return v / (1 + std::exp(-v)); });
  check("exponential", [](double v) { return std::exp(v); });
  check("hard_sigmoid", [](double v) { return std::min(1.0, std::max(0.0, v / 6 + 0.5)); });
  double total = 0;
  for (double v : xs) total += std::exp(v);
  check("softmax", [&](double v) { return std::exp(v) / total; });
  check("log_softmax", [&](double v) { return v - std::log(total); });
  CHECK(get_activation("")(x).same_as(x));
  CHECK(canonical_activation_name("None") == "linear");
  CHECK(pitfall::testing::message_of([] { get_activation("sigmod"); }).find("did you mean 'sigmoid'") !=
        std::string::npos);
}

TEST_CASE("layers core: activations are differentiable, softplus with the true slope at 0") {
  for (const auto& name : activation_names()) {
    INFO(name);
    const auto fn = get_activation(name);
    const Tensor x = Tensor::from_vector<double>({-2.1, -0.3, 0.4, 1.7, 3.2}, {5});
    const auto result = gradcheck([&](const std::vector<Tensor>& in) { return fn(in[0]); }, {x});
    CHECK_MESSAGE(result.ok, result.report);
  }
  Tensor zero = Tensor::zeros({1}, DType::float64).set_requires_grad(true);
  const auto grads = gradients(sum(get_activation("softplus")(zero)), {zero});
  CHECK(grads[0].item() == doctest::Approx(0.5));
}

TEST_CASE("layers core: Activation passes the generic layer checks") {
  check_layer([] { return std::make_shared<Activation>("tanh"); }, {{3, 4}});
  check_layer([] { return std::make_shared<Activation>("softmax"); }, {{2, 3, 4}});
  check_layer([] { return std::make_shared<Activation>("gelu"); }, {{3, 4}});
}

TEST_CASE("layers core: Dropout passes the generic layer checks (inference path)") {
  check_layer([] { return std::make_shared<Dropout>(0.3, std::nullopt, 7); }, {{4, 5}});
}

TEST_CASE("layers core: Dropout is the identity in inference and inverted dropout in training") {
  auto dropout = std::make_shared<Dropout>(0.25, std::nullopt, 1234);
  const Tensor x = Tensor::ones({200, 100});
  CHECK((*dropout)(x, false).same_as(x));
  const Tensor y = (*dropout)(x, true);
  const auto values = y.to_vector<float>();
  int64_t kept = 0;
  for (float v : values) {
    CHECK((v == 0.0f || v == static_cast<float>(1.0 / 0.75)));
    kept += v != 0.0f;
  }
  // 20000 Bernoulli(0.75) draws: mean 15000, std ~61
  CHECK(std::abs(kept - 15000) < 300);
  // every training call draws a new mask; the same seed replays the same sequence
  const Tensor y2 = (*dropout)(x, true);
  CHECK_FALSE(pitfall::testing::bitwise_equal(y, y2));
  auto replay = std::make_shared<Dropout>(0.25, std::nullopt, 1234);
  CHECK(pitfall::testing::bitwise_equal((*replay)(x, true), y));
  // gradient: the mask scaled by 1/(1-rate)
  Tensor leaf = Tensor::ones({50}).set_requires_grad(true);
  const Tensor out = (*dropout)(leaf, true);
  const auto g = gradients(sum(out), {leaf})[0].to_vector<float>();
  const auto o = out.to_vector<float>();
  for (size_t i = 0; i < g.size(); ++i) CHECK(g[i] == o[i]);
}

TEST_CASE("layers core: Dropout noise_shape shares the mask along broadcast axes, rate bounds are checked") {
  auto dropout = std::make_shared<Dropout>(0.5, Shape{-1, 1}, 99);
  const auto v = (*dropout)(Tensor::ones({8, 6}), true).to_vector<float>();
  for (int r = 0; r < 8; ++r) {
    for (int c = 1; c < 6; ++c) CHECK(v[r * 6 + c] == v[r * 6]);
  }
  CHECK(pitfall::testing::message_of([] { Dropout d(1.5); }).find("rate=1.5") != std::string::npos);
  auto all = std::make_shared<Dropout>(1.0);
  for (float f : (*all)(Tensor::ones({4}), true).to_vector<float>()) CHECK(f == 0.0f);
}

TEST_CASE("layers core: an unseeded Dropout does not shift the weights later layers draw") {
  set_random_seed(77);
  auto a = std::make_shared<Dense>(3);
  a->ensure_built({{-1, 4}});
  set_random_seed(77);
  auto dropout = std::make_shared<Dropout>(0.5);
  auto b = std::make_shared<Dense>(3);
  b->ensure_built({{-1, 4}});
  CHECK(pitfall::testing::bitwise_equal(a->kernel(), b->kernel()));
}

TEST_CASE("layers core: Flatten and Reshape pass the generic layer checks") {
  check_layer([] { return std::make_shared<Flatten>(); }, {{2, 3, 4}});
  check_layer([] { return std::make_shared<Flatten>(); }, {{2, 3, 2, 2}});
  check_layer([] { return std::make_shared<Reshape>(Shape{4, 3}); }, {{2, 12}});
  check_layer([] { return std::make_shared<Reshape>(Shape{-1, 2}); }, {{2, 3, 4}});
}

TEST_CASE("layers core: Flatten and Reshape shapes, including unknown dimensions") {
  Flatten flatten;
  CHECK(flatten.compute_output_shape({{-1, 28, 28}}) == std::vector<Shape>{{-1, 784}});
  CHECK(flatten.compute_output_shape({{-1, -1, 3}}) == std::vector<Shape>{{-1, -1}});
  CHECK(flatten.compute_output_shape({{5}}) == std::vector<Shape>{{5, 1}});
  Reshape reshape({-1, 4});
  CHECK(reshape.compute_output_shape({{-1, 2, 6}}) == std::vector<Shape>{{-1, 3, 4}});
  CHECK(reshape.compute_output_shape({{-1, -1}}) == std::vector<Shape>{{-1, -1, 4}});
  const std::string message = pitfall::testing::message_of([] {
    Reshape r({5});
    r.compute_output_shape({{-1, 12}});
  });
  CHECK(message.find("target_shape (5") != std::string::npos);
  CHECK(message.find("12") != std::string::npos);
  CHECK(pitfall::testing::message_of([] { Reshape r({-1, -1}); }).find("at most one -1") != std::string::npos);
  // values keep row-major order
  auto r = std::make_shared<Reshape>(Shape{2, 2});
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4});
  const Tensor y = (*r)(x);
  CHECK(y.shape() == Shape{2, 2, 2});
  CHECK(y.to_vector<float>() == x.to_vector<float>());
}

TEST_CASE("layers core: InputLayer passes its input through and makes the Input KerasTensor") {
  auto input = std::make_shared<InputLayer>(Shape{784}, DType::float32, "pixels");
  const KerasTensor t = input->output();
  CHECK(t.shape == Shape{-1, 784});
  CHECK(t.dtype == DType::float32);
  REQUIRE(t.node != nullptr);
  CHECK(t.node->inputs.empty());
  CHECK(t.node->layer.get() == input.get());
  CHECK(input->output().node == t.node);
  CHECK(t.str() == "<KerasTensor shape=(None, 784), dtype=float32, source=pixels>");
  CHECK(input->weights().empty());
  const Tensor x = Tensor::ones({2, 784});
  CHECK((*input)(x).same_as(x));
  const Json config = input->get_config();
  CHECK(config.at("batch_shape").dump() == "[null,784]");
  auto clone = layer_from_config(Json::parse(R"({"class_name": "InputLayer", "config": )" + config.dump() + "}"));
  CHECK(std::static_pointer_cast<InputLayer>(clone)->batch_shape() == Shape{-1, 784});
  auto ids = std::make_shared<InputLayer>(Shape{10}, DType::int32);
  CHECK(ids->output().dtype == DType::int32);
}

TEST_CASE("layers core: a symbolic Dense call gives a KerasTensor with the batch unknown") {
  auto input = std::make_shared<InputLayer>(Shape{784});
  auto dense = std::make_shared<Dense>(10, "softmax");
  const KerasTensor out = (*dense)(input->output());
  CHECK(out.shape == Shape{-1, 10});
  CHECK(out.dtype == DType::float32);
  CHECK(out.node->layer.get() == dense.get());
  REQUIRE(out.node->inputs.size() == 1);
  CHECK(out.node->inputs[0].node->layer.get() == input.get());
  CHECK(dense->built());
  CHECK(dense->kernel().shape() == Shape{784, 10});
  CHECK(dense->built_input_shapes() == std::vector<Shape>{{-1, 784}});
}
