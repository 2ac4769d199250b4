// Check numerics names the FIRST layer and op that turn finite values into inf/NaN, in the forward
// pass, the backward pass or the optimizer update, and fit names the training step. Each failure is
// planted where a hand computation (written next to it) says the first overflow must happen.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <thread>

#include <pitfall/layers/dense.h>
#include <pitfall/training/model.h>
#include <pitfall/training/training_callbacks.h>
#include <pitfall/optim/optimizer.h>

#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

constexpr float kFloatMax = std::numeric_limits<float>::max();

// The L2 norm of each row of x * scale: sqrt(sum((x * scale)^2)). On a row of exact zeros the
// forward is sqrt(0) = 0, finite, but sqrt's gradient 0.5 / sqrt(0) is inf, and square's 2 * 0
// turns it into NaN: the scale's gradient, then the scale, become NaN (tf.norm's classic pitfall).
// (sqrt(relu(x)) would not do: relu's gradient masks the inf at 0 out again.)
class RowNorm : public Layer {
 public:
  explicit RowNorm(const LayerOptions& options) : Layer("RowNorm", options) {}
  void build(const std::vector<Shape>& shapes) override {
    scale_ = add_weight("scale", {shapes.at(0).back()}, get_initializer("ones"));
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool) override {
    return {sqrt(sum(square(multiply(inputs[0], scale_)), {-1}, true))};
  }

 private:
  Tensor scale_;
};

// An op whose backward throws an ordinary error: where does the error say it came from?
class BrokenBackward : public Layer {
 public:
  explicit BrokenBackward(const LayerOptions& options) : Layer("BrokenBackward", options) {}
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool) override {
    Tensor out = multiply(inputs[0], 1.0);
    if (needs_record({inputs[0]})) {
      record(out, "scale_by_one", {inputs[0]}, [](const Tensor&) -> std::vector<Tensor> {
        throw ValueError("scale_by_one: the gradient is not implemented");
      });
    }
    return {out};
  }
};

// Dense(4) x5 ("d1".."d5", linear) in model "net". Kernels: d1, d2 all 0.5; d3 all `d3_value`;
// d4 +0.5 on even rows, -0.5 on odd rows (so an inf coming in becomes inf - inf = NaN); d5 0.5.
// Biases 0.
std::shared_ptr<Sequential> five_dense(double d3_value, double learning_rate = 1e-6) {
  set_random_seed(3);
  std::vector<std::shared_ptr<Layer>> layers;
  for (int i = 1; i <= 5; ++i) {
    layers.push_back(std::make_shared<Dense>(4, "linear", named("d" + std::to_string(i), i == 1 ? std::optional<Shape>(Shape{4}) : std::nullopt)));
  }
  auto model = std::make_shared<Sequential>(layers, named("net"));
  std::vector<Tensor> weights;
  for (int i = 1; i <= 5; ++i) {
    std::vector<float> kernel(16);
    for (int r = 0; r < 4; ++r) {
      for (int c = 0; c < 4; ++c) {
        kernel[static_cast<size_t>(r * 4 + c)] =
            i == 3 ? static_cast<float>(d3_value) : (i == 4 && r % 2 ? -0.5f : 0.5f);
      }
    }
    weights.push_back(Tensor::from_vector(kernel, {4, 4}));
    weights.push_back(Tensor::zeros({4}));
  }
  model->set_weights(weights);
  model->compile_by_name(sgd_optimizer(learning_rate), {"mean_squared_error"});
  return model;
}

bool names_other_dense_layers(const std::string& text) {
  for (const char* other : {"net/d1", "net/d2", "net/d4", "net/d5", "'d1'", "'d2'", "'d4'", "'d5'"}) {
    if (contains(text, other)) return true;
  }
  return false;
}

bool all_finite(const std::vector<Tensor>& tensors) {
  for (const auto& t : tensors) {
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (!std::isfinite(t.value_at(i))) return false;
    }
  }
  return true;
}

}  // namespace

TEST_SUITE("check numerics") {

TEST_CASE("check numerics: an overflow planted in layer 3 of 5 names layer 3 and matmul, not its neighbours") {
  // Rows of ones: d1 gives 4 * 0.5 = 2 per unit, d2 4 * 0.5 * 2 = 4, d3 4 * 1e38 * 4 = 1.6e39, which
  // is past float32's maximum: d3's matmul is the first op to overflow; d4, d5 and the loss only
  // carry the inf/NaN on.
  const double h2 = 4 * 0.5 * (4 * 0.5 * 1.0);
  REQUIRE(4 * 1e38 * h2 > kFloatMax);
  const Tensor x = Tensor::ones({8, 4}), y = Tensor::zeros({8, 4});

  auto model = five_dense(1e38);
  model->set_check_numerics(true);
  const std::string message = message_of([&] { model->fit({x}, {y}, quiet_fit(2, 8)); });
  CHECK(message.rfind("training step 1 (epoch 1, batch 1): layer 'net/d3': matmul produced a non-finite value (inf", 0) ==
        0);
  CHECK(contains(message, "from finite inputs [(8, 4) float32, (4, 4) float32]"));
  CHECK(contains(message, "Likely cause and fix:"));
  CHECK_FALSE(names_other_dense_layers(message));
  CHECK_THROWS_AS(model->fit({x}, {y}, quiet_fit(1, 8)), NumericError);

  SUBCASE("the CheckNumerics callback reports it and stops training") {
    auto plain = five_dense(1e38);
    std::ostringstream out;
    auto check = std::make_shared<CheckNumerics>(false, &out);
    const History h = plain->fit({x}, {y}, quiet_fit(3, 4, {check}));
    REQUIRE(check->report().has_value());
    const NumericReport& r = *check->report();
    CHECK(r.step == 1);
    CHECK(r.epoch == 1);
    CHECK(r.batch == 1);
    CHECK(r.phase == "forward");
    CHECK(r.layer == "net/d3");
    CHECK(r.op == "matmul");
    CHECK(r.message.rfind("training step 1 (epoch 1, batch 1): layer 'net/d3': matmul produced", 0) == 0);
    CHECK(out.str() == r.str() + "\n");
    CHECK(out.str().rfind("CheckNumerics: training step 1 (epoch 1, batch 1), forward pass: layer 'net/d3', op "
                          "'matmul' produced the first non-finite value: matmul produced a non-finite value",
                          0) == 0);
    CHECK(h.epoch == std::vector<int>{0});  // the epoch ends, then training stops
    CHECK_FALSE(plain->check_numerics());   // restored at the end of training
    CHECK(plain->stop_training);
  }
  SUBCASE("with checking off nothing is raised and the loss is NaN: the check is what found it") {
    auto plain = five_dense(1e38);
    const History h = plain->fit({x}, {y}, quiet_fit(1, 8));
    CHECK(std::isnan(h.history.at("loss")[0]));
  }
  SUBCASE("the engine-wide switch and a thread scope find the same op in a plain forward call") {
    auto plain = five_dense(1e38);
    std::string scoped;
    {
      CheckNumericsScope scope;
      scoped = message_of([&] { (*plain)(std::vector<Tensor>{x}, false); });
    }
    CHECK(contains(scoped, "matmul produced a non-finite value"));
    CHECK(contains(scoped, "d3"));
    CHECK_FALSE(names_other_dense_layers(scoped));
    set_check_numerics(true);
    const std::string global = message_of([&] { (*plain)(std::vector<Tensor>{x}, false); });
    set_check_numerics(false);
    CHECK(global == scoped);
  }
}

TEST_CASE("check numerics: a backward-only failure names the layer, the backward pass and the op") {
  // RowNorm first, then Dense(1). Batches of 2 rows; row 4 (batch 3) is all zeros.
  auto make_model = [] {
    set_random_seed(5);
    auto model = std::make_shared<Sequential>(
        std::vector<std::shared_ptr<Layer>>{std::make_shared<RowNorm>(named("row_norm", Shape{4})),
                                            std::make_shared<Dense>(1, "linear", named("d2"))},
        named("net"));
    model->set_weights({Tensor::ones({4}), Tensor::full({1, 1}, 0.5), Tensor::zeros({1})});
    model->compile_by_name(sgd_optimizer(0.01), {"mean_squared_error"});
    return model;
  };
  std::vector<float> xs{1, 2, 3, 4, 2, 1, 1, 3, 1, 1, 2, 2, 3, 1, 2, 1, 0, 0, 0, 0, 1, 0, 1, 1};
  const Tensor x = Tensor::from_vector(xs, {6, 4});
  const Tensor y = Tensor::ones({6, 1});
  auto model = make_model();
  {
    // The forward alone stays finite under the check (sqrt(0) = 0).
    CheckNumericsScope scope;
    NoGradGuard no_grad;
    CHECK(all_finite((*model)(std::vector<Tensor>{x}, false)));
  }

  auto check = std::make_shared<CheckNumerics>(true);
  const std::string message = message_of([&] { model->fit({x}, {y}, quiet_fit(2, 2, {check})); });
  INFO(message);
  CHECK(message.rfind("training step 3 (epoch 1, batch 3): layer 'net/row_norm', op 'backward of sqrt > divide': "
                      "divide produced a non-finite value (-inf at flat index 0",
                      0) == 0);
  CHECK(contains(message, "division by zero"));
  REQUIRE(check->report().has_value());
  CHECK(check->report()->phase == "backward");
  CHECK(check->report()->layer == "net/row_norm");
  CHECK(check->report()->op == "backward of sqrt > divide");
  CHECK(check->report()->step == 3);
  CHECK(check->report()->epoch == 1);
  CHECK(check->report()->batch == 3);
  CHECK_FALSE(model->check_numerics());  // restored although fit raised

  SUBCASE("with checking off the scale silently becomes NaN") {
    auto plain = make_model();
    // Step 3's own loss is still finite; from step 4 on the loss is NaN.
    const History h = plain->fit({x}, {y}, quiet_fit(2, 2));
    CHECK(std::isfinite(h.history.at("loss")[0]));
    CHECK(std::isnan(h.history.at("loss")[1]));
    CHECK(std::isnan(plain->get_weights()[0].value_at(0)));
  }
  SUBCASE("a GradientTape-style loop under CheckNumericsScope finds the same op") {
    const Tensor zero_row = Tensor::zeros({1, 4});
    auto fresh = make_model();
    std::string loop_message;
    {
      CheckNumericsScope scope;
      loop_message = message_of([&] {
        const Tensor out = (*fresh)(std::vector<Tensor>{zero_row}, true)[0];
        gradients(mean(square(subtract(out, 1.0))), fresh->trainable_weights());
      });
    }
    CHECK(loop_message.rfind("layer 'net/row_norm', op 'backward of sqrt > divide': divide produced", 0) == 0);
    CHECK_FALSE(check_numerics_active());
    // Off, the same gradients come back non-finite without an error.
    const Tensor out = (*fresh)(std::vector<Tensor>{zero_row}, true)[0];
    const auto grads = gradients(mean(square(subtract(out, 1.0))), fresh->trainable_weights());
    CHECK_FALSE(all_finite(grads));
  }
}

TEST_CASE("check numerics: the step number counts batches across epochs, and earlier batches train") {
  // Batch size 2, 8 rows: 4 batches an epoch. Row 4 (batch 3) holds 1e36: d1 gives 0.5e36 per unit,
  // d2 4 * 0.5 * 0.5e36 = 1e36, d3 (kernel 100) 4 * 100 * 1e36 = 4e38 > float32 max. Ordinary rows
  // stay near 1.
  REQUIRE(4 * 100 * (4 * 0.5 * (0.5 * 1e36)) > kFloatMax);
  REQUIRE(4 * 0.5 * (0.5 * 1e36) < kFloatMax);
  std::vector<float> xs(32);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = 0.01f * static_cast<float>(i % 7);
  xs[4 * 4] = 1e36f;
  const Tensor x = Tensor::from_vector(xs, {8, 4});
  const Tensor y = Tensor::ones({8, 4});  // not the model's initial output 0, so the weights move
  auto model = five_dense(100.0);
  const std::vector<Tensor> initial = model->get_weights();
  std::vector<double> losses;
  auto recorder = std::make_shared<LambdaCallback>(
      LambdaCallbackHooks{.on_train_batch_end = [&](int64_t, const Logs& logs) { losses.push_back(logs.at("loss")); }});
  model->set_check_numerics(true);
  const std::string message = message_of([&] { model->fit({x}, {y}, quiet_fit(2, 2, {recorder})); });
  CHECK(message.rfind("training step 3 (epoch 1, batch 3): layer 'net/d3': matmul produced", 0) == 0);
  // Batches 1 and 2 trained: finite losses, finite weights that moved.
  REQUIRE(losses.size() == 2);
  CHECK(std::isfinite(losses[0]));
  CHECK(std::isfinite(losses[1]));
  const std::vector<Tensor> after = model->get_weights();
  CHECK(all_finite(after));
  CHECK_FALSE(pitfall::testing::bitwise_equal(after[6], initial[6]));  // d4's kernel moved

  SUBCASE("a failure in epoch 2 is numbered after all of epoch 1's steps") {
    // Rows of ones (d2 gives 4 per unit, as above); from epoch 2 on d3's kernel is 1e38, so
    // 4 * 1e38 * 4 overflows in the first step of epoch 2: global step 4 + 1 = 5.
    const Tensor clean = Tensor::ones({8, 4});
    auto fresh = five_dense(1.0);
    auto plant = std::make_shared<LambdaCallback>(LambdaCallbackHooks{.on_epoch_begin = [&](int epoch, const Logs&) {
      if (epoch != 1) return;
      std::vector<Tensor> weights = fresh->get_weights();
      weights[4] = Tensor::full({4, 4}, 1e38);
      fresh->set_weights(weights);
    }});
    std::ostringstream sink;
    auto check = std::make_shared<CheckNumerics>(false, &sink);
    const History h = fresh->fit({clean}, {y}, quiet_fit(3, 2, {plant, check}));
    REQUIRE(check->report().has_value());
    CHECK(check->report()->step == 5);
    CHECK(check->report()->epoch == 2);
    CHECK(check->report()->batch == 1);
    CHECK(check->report()->layer == "net/d3");
    CHECK(h.epoch == std::vector<int>{0, 1});
  }
}

TEST_CASE("check numerics: an optimizer update that overflows is reported as the optimizer pass") {
  // SGD with learning rate 1e38: the update lr * grad overflows for any gradient above ~3.4.
  set_random_seed(9);
  auto model = std::make_shared<Sequential>(
      std::vector<std::shared_ptr<Layer>>{std::make_shared<Dense>(1, "linear", named("d1", Shape{2}))}, named("net"));
  model->set_weights({Tensor::full({2, 1}, 1.0), Tensor::zeros({1})});
  model->compile_by_name(sgd_optimizer(1e38), {"mean_squared_error"});
  // x = (10, 10), y = 0: prediction 20, d loss / d kernel = 2 * 20 * 10 = 400, 400 * 1e38 overflows.
  const Tensor x = Tensor::full({1, 2}, 10.0), y = Tensor::zeros({1, 1});
  REQUIRE(2.0 * 20 * 10 * 1e38 > kFloatMax);
  std::ostringstream sink;
  auto check = std::make_shared<CheckNumerics>(false, &sink);
  model->fit({x}, {y}, quiet_fit(1, 1, {check}));
  REQUIRE(check->report().has_value());
  CHECK(check->report()->phase == "optimizer");
  CHECK(check->report()->layer == "");
  CHECK(contains(sink.str(), "optimizer pass"));
}

TEST_CASE("check numerics: ordinary errors raised in a backward name the layer and the backward op") {
  set_random_seed(4);
  auto model = std::make_shared<Sequential>(
      std::vector<std::shared_ptr<Layer>>{std::make_shared<Dense>(2, "linear", named("d1", Shape{2})),
                                          std::make_shared<BrokenBackward>(named("broken"))},
      named("net"));
  const Tensor out = (*model)(std::vector<Tensor>{Tensor::ones({3, 2})}, true)[0];
  try {
    gradients(sum(out), model->trainable_weights());
    FAIL("expected a ValueError");
  } catch (const ValueError& e) {
    CHECK(e.layer() == "net/broken");
    CHECK(e.op() == "backward of scale_by_one");
    CHECK(std::string(e.what()) ==
          "layer 'net/broken', op 'backward of scale_by_one': scale_by_one: the gradient is not implemented");
  }
  // The layer path of the backward is gone afterwards.
  try {
    add(Tensor::zeros({2}), Tensor::zeros({3}));
  } catch (const ShapeError& e) {
    CHECK(e.layer().empty());
  }
}

TEST_CASE("check numerics: CheckNumericsScope is per thread, nests and restores on exceptions") {
  CHECK_FALSE(check_numerics_active());
  const Tensor zero = Tensor::zeros({1});
  {
    CheckNumericsScope on;
    CHECK(check_numerics_active());
    CHECK_FALSE(check_numerics_enabled());  // the engine-wide switch is separate
    bool other_thread_active = true;
    std::thread([&] { other_thread_active = check_numerics_active(); }).join();
    CHECK_FALSE(other_thread_active);
    {
      CheckNumericsScope off(false);
      CHECK_FALSE(check_numerics_active());
      CHECK(std::isinf(divide(Tensor::ones({1}), zero).value_at(0)));
    }
    CHECK(check_numerics_active());
    CHECK_THROWS_AS(divide(Tensor::ones({1}), zero), NumericError);
  }
  CHECK_FALSE(check_numerics_active());
  try {
    CheckNumericsScope on;
    divide(Tensor::ones({1}), zero);
  } catch (const NumericError&) {
  }
  CHECK_FALSE(check_numerics_active());
  // Non-finite in, non-finite out is not reported: only where it starts.
  CheckNumericsScope on;
  const Tensor inf = Tensor::full({1}, std::numeric_limits<double>::infinity());
  CHECK(std::isinf(multiply(inf, 2.0).value_at(0)));
}

}  // TEST_SUITE
