// The Keras training callbacks: each one driven by a real fit() on a tiny model and, for the exact
// counting rules, by calling its hooks directly with scripted logs. Expected values come from the
// Keras rules worked by hand (written out next to each list) or from independent formulas here.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <unistd.h>

#include <pitfall/layers/dense.h>
#include <pitfall/layers/losses.h>
#include <pitfall/layers/metrics.h>
#include <pitfall/training/model.h>
#include <pitfall/training/training_callbacks.h>
#include <pitfall/optim/optimizer.h>

#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Dense(1) on 2 features, SGD, mean squared error: small enough to compute its gradient by hand.
std::shared_ptr<Model> tiny_model(double learning_rate = 0.1, const std::vector<std::string>& metrics = {}) {
  set_random_seed(7);
  LayerOptions with_shape;
  with_shape.input_shape = Shape{2};
  auto model = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{std::make_shared<Dense>(1, "linear", with_shape)});
  model->compile_by_name(sgd_optimizer(learning_rate), {"mean_squared_error"}, metrics);
  return model;
}

struct Data {
  Tensor x, y;
};

// y = 2 x0 - x1 + 0.5 (+ a little noise so the loss does not reach 0).
Data linear_data(int64_t rows) {
  const Tensor x = random_normal({rows, 2}, 0.0, 1.0, DType::float32, RandomKey{99, 1});
  const Tensor noise = random_normal({rows}, 0.0, 0.3, DType::float32, RandomKey{99, 2});
  std::vector<float> y(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    y[static_cast<size_t>(r)] =
        static_cast<float>(2.0 * x.value_at(2 * r) - x.value_at(2 * r + 1) + 0.5 + noise.value_at(r));
  }
  return {x, Tensor::from_vector(y, {rows, 1})};
}

// Feeds a scripted monitor sequence to an EarlyStopping as fit() would (stopping when asked);
// returns the number of epochs run.
int drive(EarlyStopping& stop, Model& model, const std::string& monitor, const std::vector<double>& values) {
  model.stop_training = false;
  stop.set_model(&model);
  stop.on_train_begin({});
  int epochs = 0;
  for (size_t e = 0; e < values.size(); ++e) {
    Logs logs{{monitor, values[e]}};
    logs.emplace("loss", 0.0);  // a second quantity, unless "loss" is the one monitored
    stop.on_epoch_end(static_cast<int>(e), logs);
    ++epochs;
    if (model.stop_training) break;
  }
  return epochs;
}

// Every weight tensor filled with `value` (recognisable snapshots).
std::vector<Tensor> filled_weights(Model& model, double value) {
  std::vector<Tensor> out;
  for (const Tensor& w : model.get_weights()) out.push_back(Tensor::full(w.shape(), value, w.dtype()));
  return out;
}

bool same_weights(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!bitwise_equal(a[i], b[i])) return false;
  }
  return true;
}

std::filesystem::path temp_file(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("pitfall_callbacks_" + std::to_string(::getpid()) + "_" + name);
}

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split(const std::string& text, const std::string& sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(sep, start);
    if (at == std::string::npos) {
      out.push_back(text.substr(start));
      return out;
    }
    out.push_back(text.substr(start, at - start));
    start = at + sep.size();
  }
}

}  // namespace

TEST_CASE("callbacks: python_float_repr writes doubles as Python's repr does") {
  // Right-hand sides: Python 3's repr() of the same doubles.
  CHECK(python_float_repr(0.1) == "0.1");
  CHECK(python_float_repr(0.1 * 0.1) == "0.010000000000000002");
  CHECK(python_float_repr(1e-05) == "1e-05");
  CHECK(python_float_repr(0.0001) == "0.0001");
  CHECK(python_float_repr(0.00012345) == "0.00012345");
  CHECK(python_float_repr(1.5e-07) == "1.5e-07");
  CHECK(python_float_repr(100.0) == "100.0");
  CHECK(python_float_repr(-2.5) == "-2.5");
  CHECK(python_float_repr(1234567890123456.0) == "1234567890123456.0");
  CHECK(python_float_repr(1e16) == "1e+16");
  CHECK(python_float_repr(1.5e300) == "1.5e+300");
  CHECK(python_float_repr(5e-324) == "5e-324");
  CHECK(python_float_repr(0.0) == "0.0");
  CHECK(python_float_repr(-0.0) == "-0.0");
  CHECK(python_float_repr(kNaN) == "nan");
  CHECK(python_float_repr(-std::numeric_limits<double>::infinity()) == "-inf");
  CHECK(python_float_repr(static_cast<double>(0.1f)) == "0.10000000149011612");
}

TEST_CASE("callbacks: EarlyStopping counts patience, min_delta, baseline and start_from_epoch as Keras") {
  auto model = tiny_model();
  SUBCASE("patience 2 on [1.0, 0.9, 0.95, 0.97, 0.8]") {
    // Best 0.9 at epoch 1; epochs 2 and 3 do not improve -> wait reaches 2 at epoch 3: stop there.
    std::ostringstream out;
    EarlyStopping stop({.patience = 2, .verbose = 1}, &out);
    CHECK(drive(stop, *model, "val_loss", {1.0, 0.9, 0.95, 0.97, 0.8}) == 4);
    CHECK(stop.stopped_epoch() == 3);
    CHECK(stop.best() == 0.9);
    CHECK(stop.best_epoch() == 1);
    stop.on_train_end({});
    CHECK(out.str() == "Epoch 4: early stopping\n");
  }
  SUBCASE("patience 0 stops at the first epoch that does not improve, never at epoch 0") {
    EarlyStopping stop({.monitor = "loss"});
    CHECK(drive(stop, *model, "loss", {1.0, 0.9, 0.95, 0.8}) == 3);
    // A NaN at epoch 0 does not improve on +inf, but epoch 0 never stops.
    EarlyStopping nan_first({.monitor = "loss"});
    CHECK(drive(nan_first, *model, "loss", {kNaN, 1.0, 0.9}) == 3);
    CHECK_FALSE(model->stop_training);
  }
  SUBCASE("min_delta: an improvement must beat the best by more than |min_delta|") {
    // 0.9 and 0.95 are within 0.15 of 1.0: wait 1, 2 -> stop at epoch 2.
    EarlyStopping stop({.min_delta = -0.15, .patience = 2});
    CHECK(drive(stop, *model, "val_loss", {1.0, 0.9, 0.95, 0.5}) == 3);
    CHECK(stop.best() == 1.0);
  }
  SUBCASE("mode max, and auto mode from a compiled accuracy metric") {
    EarlyStopping by_mode({.monitor = "val_score", .patience = 1, .mode = "max"});
    CHECK(drive(by_mode, *model, "val_score", {0.5, 0.6, 0.55, 0.7}) == 3);
    auto with_accuracy = tiny_model(0.1, {"mean_squared_error"});
    // mean_squared_error goes down: auto minimises it.
    EarlyStopping auto_mse({.monitor = "val_mean_squared_error", .patience = 1});
    CHECK(drive(auto_mse, *with_accuracy, "val_mean_squared_error", {0.5, 0.4, 0.45, 0.3}) == 3);
    CHECK(auto_mse.best() == 0.4);
    auto classifier = tiny_model(0.1, {"binary_accuracy"});
    EarlyStopping auto_accuracy({.monitor = "val_binary_accuracy", .patience = 1});
    CHECK(drive(auto_accuracy, *classifier, "val_binary_accuracy", {0.5, 0.6, 0.55, 0.7}) == 3);
    CHECK(auto_accuracy.best() == 0.6);
  }
  SUBCASE("auto mode cannot guess an unknown quantity; an unknown mode warns and falls back to auto") {
    EarlyStopping stop({.monitor = "val_mystery"});
    CHECK(contains(message_of([&] { drive(stop, *model, "val_mystery", {1.0}); }), "Pass `mode='max'`"));
    WarningCapture warnings;
    EarlyStopping odd({.mode = "sideways"});
    REQUIRE(warnings.messages.size() == 1);
    CHECK(warnings.messages[0] == "EarlyStopping mode sideways is unknown, fallback to auto mode.");
    CHECK(odd.options().mode == "auto");
  }
  SUBCASE("baseline: patience restarts only when the baseline is beaten too") {
    // epoch 0: wait 1, best 1.0 (not under 0.85: wait stays 1); epoch 1: wait 2, best 0.9 (still
    // not under 0.85, and an improvement returns before the stop check); epoch 2: wait 3 -> stop.
    EarlyStopping stop({.patience = 2, .baseline = 0.85});
    CHECK(drive(stop, *model, "val_loss", {1.0, 0.9, 0.95, 0.5}) == 3);
    EarlyStopping beaten({.patience = 2, .baseline = 0.95});
    CHECK(drive(beaten, *model, "val_loss", {1.0, 0.9, 0.95, 0.97, 0.8}) == 4);
  }
  SUBCASE("start_from_epoch ignores the warm-up epochs") {
    EarlyStopping eager({.monitor = "loss"});
    CHECK(drive(eager, *model, "loss", {1.0, 2.0, 3.0, 2.5, 2.6}) == 2);
    // Epochs 0 and 1 ignored; best 3.0 at 2, 2.5 at 3, 2.6 does not improve -> stop at epoch 4.
    EarlyStopping warm({.monitor = "loss", .start_from_epoch = 2});
    CHECK(drive(warm, *model, "loss", {1.0, 2.0, 3.0, 2.5, 2.6}) == 5);
    CHECK(warm.best_epoch() == 3);
  }
  SUBCASE("a missing monitor warns with the available logs and never stops") {
    WarningCapture warnings;
    EarlyStopping stop({.monitor = "val_los", .mode = "min"});
    CHECK(drive(stop, *model, "val_loss", {1.0, 2.0, 3.0}) == 3);
    REQUIRE(warnings.messages.size() == 3);
    CHECK(contains(warnings.messages[0],
                   "Early stopping conditioned on metric `val_los` which is not available. Available metrics are: "
                   "loss,val_loss"));
    CHECK(contains(warnings.messages[0], "did you mean 'val_loss'?"));
  }
}

TEST_CASE("callbacks: EarlyStopping restore_best_weights restores the best epoch bitwise") {
  auto model = tiny_model();
  const std::vector<double> val_loss{1.0, 0.7, 0.8, 0.75, 0.9};
  SUBCASE("stopped early") {
    std::ostringstream out;
    EarlyStopping stop({.patience = 2, .verbose = 1, .restore_best_weights = true}, &out);
    stop.set_model(model.get());
    model->stop_training = false;
    stop.on_train_begin({});
    std::vector<std::vector<Tensor>> per_epoch;
    for (size_t e = 0; e < val_loss.size() && !model->stop_training; ++e) {
      per_epoch.push_back(filled_weights(*model, 0.25 * static_cast<double>(e + 1)));
      model->set_weights(per_epoch.back());
      stop.on_epoch_end(static_cast<int>(e), {{"val_loss", val_loss[e]}});
    }
    CHECK(per_epoch.size() == 4);  // stopped at epoch 3
    stop.on_train_end({});
    CHECK(same_weights(model->get_weights(), per_epoch[1]));
    CHECK(out.str() == "Epoch 4: early stopping\nRestoring model weights from the end of the best epoch: 2.\n");
  }
  SUBCASE("training ends without an early stop: the best epoch is still restored") {
    EarlyStopping stop({.patience = 10, .restore_best_weights = true});
    stop.set_model(model.get());
    stop.on_train_begin({});
    std::vector<std::vector<Tensor>> per_epoch;
    for (size_t e = 0; e < val_loss.size(); ++e) {
      per_epoch.push_back(filled_weights(*model, -1.0 - static_cast<double>(e)));
      model->set_weights(per_epoch.back());
      stop.on_epoch_end(static_cast<int>(e), {{"val_loss", val_loss[e]}});
    }
    CHECK_FALSE(model->stop_training);
    stop.on_train_end({});
    CHECK(stop.stopped_epoch() == 0);
    CHECK(same_weights(model->get_weights(), per_epoch[1]));
  }
  SUBCASE("no epoch beats the baseline: the best of the patience window is restored") {
    EarlyStopping stop({.patience = 3, .baseline = 0.1, .restore_best_weights = true});
    stop.set_model(model.get());
    stop.on_train_begin({});
    std::vector<std::vector<Tensor>> per_epoch;
    for (size_t e = 0; e < val_loss.size() && !model->stop_training; ++e) {
      per_epoch.push_back(filled_weights(*model, 3.0 + static_cast<double>(e)));
      model->set_weights(per_epoch.back());
      stop.on_epoch_end(static_cast<int>(e), {{"val_loss", val_loss[e]}});
    }
    CHECK(per_epoch.size() == 3);  // wait 1, 2, 3 at epochs 0, 1, 2
    stop.on_train_end({});
    CHECK(same_weights(model->get_weights(), per_epoch[1]));
  }
  SUBCASE("without restore_best_weights the last weights stay") {
    EarlyStopping stop({.patience = 1});
    stop.set_model(model.get());
    stop.on_train_begin({});
    const auto last = filled_weights(*model, 9.0);
    model->set_weights(last);
    stop.on_epoch_end(0, {{"val_loss", 1.0}});
    stop.on_epoch_end(1, {{"val_loss", 2.0}});
    stop.on_train_end({});
    CHECK(same_weights(model->get_weights(), last));
    CHECK_FALSE(stop.best_weights().has_value());
  }
}

TEST_CASE("callbacks: EarlyStopping in fit stops after patience and restores the best epoch's weights") {
  // A learning rate large enough to make SGD on this regression diverge after a few epochs.
  for (double lr : {0.05, 0.9}) {
    auto model = tiny_model(lr);
    const Data d = linear_data(32);
    const Data v = linear_data(16);
    std::vector<std::vector<Tensor>> weights_at_end;
    auto recorder = std::make_shared<LambdaCallback>(
        LambdaCallbackHooks{.on_epoch_end = [&](int, const Logs&) { weights_at_end.push_back(model->get_weights()); }});
    const int patience = 2;
    auto stop = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.patience = patience, .restore_best_weights = true});
    FitOptions options = quiet_fit(12, 8);
    options.validation_data = std::make_pair(std::vector<Tensor>{v.x}, std::vector<Tensor>{v.y});
    options.callbacks = {recorder, stop};
    const History h = model->fit({d.x}, {d.y}, options);
    // Reference: best = first strict minimum so far; training stops at the first epoch after 0 that
    // is `patience` epochs past it (NaN never improves).
    const auto& losses = h.history.at("val_loss");
    size_t best = 0, expected_epochs = 12;
    for (size_t e = 0; e < losses.size(); ++e) {
      if (losses[e] < losses[best]) best = e;
      if (e > 0 && e - best >= static_cast<size_t>(patience)) {
        expected_epochs = e + 1;
        break;
      }
    }
    CAPTURE(lr);
    CHECK(h.epoch.size() == expected_epochs);
    CHECK(stop->best_epoch() == static_cast<int>(best));
    CHECK(same_weights(model->get_weights(), weights_at_end.at(best)));
    if (lr > 0.5) CHECK(h.epoch.size() < 12);  // the diverging run does stop early
  }
}

TEST_CASE("callbacks: ReduceLROnPlateau follows a hand-computed lr sequence with cooldown and min_lr") {
  auto model = tiny_model(1.0);
  SUBCASE("plateau, cooldown 2, min_lr 0.1") {
    std::ostringstream out;
    ReduceLROnPlateau reduce({.factor = 0.5, .patience = 1, .verbose = 1, .min_delta = 0.0, .cooldown = 2, .min_lr = 0.1},
                             &out);
    reduce.set_model(model.get());
    reduce.on_train_begin({});
    // Worked by the Keras rules (wait counted only outside cooldown; cooldown decremented first):
    // e0 best=1, e1 wait 1 -> 0.5 (cooldown 2), e2 cooldown 1, e3 cooldown 0 then wait 1 -> 0.25,
    // e4 cooldown 1, e5 -> 0.125, e6, e7 -> max(0.0625, 0.1) = 0.1, then 0.1 is not above
    // float32(0.1) = 0.10000000149..., so it stays.
    const std::vector<double> expected_after{1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.1, 0.1, 0.1, 0.1};
    std::vector<double> logged, after;
    for (int e = 0; e < 11; ++e) {
      Logs logs{{"val_loss", 1.0}};
      reduce.on_epoch_end_with_logs(e, logs);
      logged.push_back(logs.at("learning_rate"));
      after.push_back(model->optimizer()->learning_rate());
    }
    CHECK(after == expected_after);
    // The logged value is the rate the epoch trained with (before that epoch's reduction).
    std::vector<double> expected_logged{1.0};
    expected_logged.insert(expected_logged.end(), expected_after.begin(), expected_after.end() - 1);
    CHECK(logged == expected_logged);
    CHECK(contains(out.str(), "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.5.\n"));
    CHECK(contains(out.str(), "\nEpoch 8: ReduceLROnPlateau reducing learning rate to 0.1.\n"));
  }
  SUBCASE("improvements reset wait; min_delta decides what counts as one") {
    ReduceLROnPlateau reduce({.factor = 0.1, .patience = 2, .min_delta = 0.05});
    reduce.set_model(model.get());
    reduce.on_train_begin({});
    // 1.0 best; 0.97 not < 0.95 -> wait 1; 0.9 < 0.95 -> best, wait 0; 0.88 wait 1; 0.87 wait 2 ->
    // lr 1.0 -> 0.1 (then 0.1 * 0.1 after two more flat epochs).
    const std::vector<double> values{1.0, 0.97, 0.9, 0.88, 0.87, 0.86, 0.86};
    const std::vector<double> expected{1.0, 1.0, 1.0, 1.0, 0.1, 0.1, 0.1 * 0.1};
    for (size_t e = 0; e < values.size(); ++e) {
      Logs logs{{"val_loss", values[e]}};
      reduce.on_epoch_end_with_logs(static_cast<int>(e), logs);
      CAPTURE(e);
      CHECK(model->optimizer()->learning_rate() == expected[e]);
    }
  }
  SUBCASE("auto mode maximises a monitor with 'acc' in its name") {
    ReduceLROnPlateau reduce({.monitor = "val_accuracy", .factor = 0.5, .patience = 1, .min_delta = 0.0});
    reduce.set_model(model.get());
    reduce.on_train_begin({});
    const std::vector<double> values{0.5, 0.6, 0.7, 0.65};
    const std::vector<double> expected{1.0, 1.0, 1.0, 0.5};
    for (size_t e = 0; e < values.size(); ++e) {
      Logs logs{{"val_accuracy", values[e]}};
      reduce.on_epoch_end_with_logs(static_cast<int>(e), logs);
      CHECK(model->optimizer()->learning_rate() == expected[e]);
    }
  }
  SUBCASE("factor >= 1 is refused; a missing monitor warns") {
    CHECK(contains(message_of([] { ReduceLROnPlateau({.factor = 1.0}); }), "does not support a factor >= 1.0"));
    WarningCapture warnings;
    ReduceLROnPlateau reduce;
    reduce.set_model(model.get());
    Logs logs{{"loss", 0.5}};
    reduce.on_epoch_end_with_logs(0, logs);
    REQUIRE(warnings.messages.size() == 1);
    CHECK(contains(warnings.messages[0], "Learning rate reduction is conditioned on metric `val_loss` which is not "
                                         "available. Available metrics are: learning_rate,loss."));
  }
}

TEST_CASE("callbacks: ReduceLROnPlateau in fit halves the lr and History records learning_rate") {
  auto model = tiny_model(0.1);
  const Data d = linear_data(16);
  // min_delta so large that nothing after epoch 0 improves: with patience 0 every later epoch reduces.
  auto reduce = std::make_shared<ReduceLROnPlateau>(
      ReduceLROnPlateauOptions{.monitor = "loss", .factor = 0.5, .patience = 0, .min_delta = 1e9});
  FitOptions options = quiet_fit(4, 8);
  options.callbacks = {reduce};
  const History h = model->fit({d.x}, {d.y}, options);
  REQUIRE(h.history.count("learning_rate") == 1);
  CHECK(h.history.at("learning_rate") == std::vector<double>{0.1, 0.1, 0.1 * 0.5, 0.1 * 0.5 * 0.5});
  CHECK(model->optimizer()->learning_rate() == 0.1 * 0.5 * 0.5 * 0.5);
}

TEST_CASE("callbacks: LearningRateScheduler sets the lr each epoch's updates use") {
  auto model = tiny_model(0.1);
  const Data d = linear_data(16);
  std::vector<std::pair<int, double>> calls;
  auto schedule = [&](int epoch, double lr) {
    calls.emplace_back(epoch, lr);
    return epoch == 0 ? lr : lr * 0.5;
  };
  std::ostringstream out;
  auto scheduler = std::make_shared<LearningRateScheduler>(schedule, 1, &out);
  std::vector<std::vector<Tensor>> at_begin, at_end;
  auto recorder = std::make_shared<LambdaCallback>(LambdaCallbackHooks{
      .on_epoch_begin = [&](int, const Logs&) { at_begin.push_back(model->get_weights()); },
      .on_epoch_end = [&](int, const Logs&) { at_end.push_back(model->get_weights()); }});
  FitOptions options = quiet_fit(3, /*batch_size=*/16);  // one full batch per epoch: one update each
  options.callbacks = {scheduler, recorder};
  const History h = model->fit({d.x}, {d.y}, options);
  const std::vector<double> lrs{0.1, 0.05, 0.025};
  CHECK(calls == std::vector<std::pair<int, double>>{{0, 0.1}, {1, 0.1}, {2, 0.05}});
  CHECK(h.history.at("learning_rate") == lrs);
  CHECK(out.str() ==
        "\nEpoch 1: LearningRateScheduler setting learning rate to 0.1.\n"
        "\nEpoch 2: LearningRateScheduler setting learning rate to 0.05.\n"
        "\nEpoch 3: LearningRateScheduler setting learning rate to 0.025.\n");
  // The update each epoch made equals -lr * gradient of the mean squared error, computed here in
  // double from the weights the epoch started with.
  REQUIRE(at_begin.size() == 3);
  for (size_t e = 0; e < 3; ++e) {
    const Tensor& kernel = at_begin[e][0];
    const Tensor& bias = at_begin[e][1];
    double grad_w0 = 0, grad_w1 = 0, grad_b = 0;
    const int64_t n = 16;
    for (int64_t r = 0; r < n; ++r) {
      const double x0 = d.x.value_at(2 * r), x1 = d.x.value_at(2 * r + 1);
      const double err = x0 * kernel.value_at(0) + x1 * kernel.value_at(1) + bias.value_at(0) - d.y.value_at(r);
      grad_w0 += 2.0 * err * x0 / n;
      grad_w1 += 2.0 * err * x1 / n;
      grad_b += 2.0 * err / n;
    }
    CAPTURE(e);
    CHECK(at_end[e][0].value_at(0) - kernel.value_at(0) == doctest::Approx(-lrs[e] * grad_w0).epsilon(1e-4));
    CHECK(at_end[e][0].value_at(1) - kernel.value_at(1) == doctest::Approx(-lrs[e] * grad_w1).epsilon(1e-4));
    CHECK(at_end[e][1].value_at(0) - bias.value_at(0) == doctest::Approx(-lrs[e] * grad_b).epsilon(1e-4));
  }
  // A schedule the optimizer cannot take names the epoch and the value.
  auto bad = std::make_shared<LearningRateScheduler>([](int, double) { return -1.0; });
  FitOptions bad_options = quiet_fit(1, 8);
  bad_options.callbacks = {bad};
  const std::string message = message_of([&] { model->fit({d.x}, {d.y}, bad_options); });
  CHECK(contains(message, "schedule(epoch=0, lr=0.025) returned -1.0"));
}

TEST_CASE("callbacks: TerminateOnNaN stops at the first batch whose loss is NaN") {
  auto model = tiny_model(0.01);
  Data d = linear_data(20);
  // Row 10 poisoned: with batch_size 4 and no shuffling it is in batch 2 (rows 8..11).
  std::vector<float> x(40);
  for (int64_t i = 0; i < 40; ++i) x[static_cast<size_t>(i)] = static_cast<float>(d.x.value_at(i));
  x[20] = std::numeric_limits<float>::quiet_NaN();
  const Tensor poisoned = Tensor::from_vector(x, {20, 2});
  std::vector<int64_t> batches_ended;
  int train_end = 0;
  auto recorder = std::make_shared<LambdaCallback>(
      LambdaCallbackHooks{.on_train_end = [&](const Logs&) { ++train_end; },
                          .on_train_batch_end = [&](int64_t b, const Logs&) { batches_ended.push_back(b); }});
  std::ostringstream out;
  auto terminate = std::make_shared<TerminateOnNaN>(false, &out);
  FitOptions options = quiet_fit(3, 4);
  options.callbacks = {terminate, recorder};
  const History h = model->fit({poisoned}, {d.y}, options);
  CHECK(batches_ended == std::vector<int64_t>{0, 1, 2});
  CHECK(out.str() == "Batch 2: Invalid loss, terminating training\n");
  CHECK(h.epoch == std::vector<int>{0});  // the epoch still ends, then training stops
  CHECK(std::isnan(h.history.at("loss")[0]));
  CHECK(train_end == 1);

  SUBCASE("raise_error throws and skips on_train_end") {
    auto strict = std::make_shared<TerminateOnNaN>(true);
    FitOptions strict_options = quiet_fit(3, 4);
    strict_options.callbacks = {strict, recorder};
    auto fresh = tiny_model(0.01);
    const std::string message = message_of([&] { fresh->fit({poisoned}, {d.y}, strict_options); });
    CHECK(contains(message, "NaN or Inf loss encountered at batch 2. Loss value: nan. Terminating training immediately."));
    CHECK(train_end == 1);
  }
  SUBCASE("scripted: infinite losses stop, finite ones and missing ones do not") {
    std::ostringstream quiet_out;
    TerminateOnNaN scripted(false, &quiet_out);
    scripted.set_model(model.get());
    model->stop_training = false;
    scripted.on_train_batch_end(0, {{"loss", 1e30}});
    scripted.on_train_batch_end(1, {{"accuracy", kNaN}});
    CHECK_FALSE(model->stop_training);
    scripted.on_train_batch_end(5, {{"loss", std::numeric_limits<double>::infinity()}});
    CHECK(model->stop_training);
    CHECK(quiet_out.str() == "Batch 5: Invalid loss, terminating training\n");
  }
}

TEST_CASE("callbacks: CSVLogger writes epoch then sorted keys, and parses back to the History") {
  const auto path = temp_file("log.csv");
  std::filesystem::remove(path);
  auto model = tiny_model(0.05, {"mean_absolute_error"});
  const Data d = linear_data(24);
  FitOptions options = quiet_fit(3, 8);
  options.validation_split = 0.25;
  options.callbacks = {std::make_shared<CSVLogger>(path.string())};
  const History h = model->fit({d.x}, {d.y}, options);
  const std::string text = read_all(path);
  auto lines = split(text, "\r\n");
  REQUIRE(lines.size() == 5);  // header, 3 rows, "" after the last terminator
  CHECK(lines.back().empty());
  std::vector<std::string> expected_header{"epoch"};
  for (const auto& [name, values] : h.history) expected_header.push_back(name);  // std::map: sorted
  CHECK(split(lines[0], ",") == expected_header);
  CHECK(lines[0] == "epoch,loss,mean_absolute_error,val_loss,val_mean_absolute_error");
  for (size_t row = 0; row < 3; ++row) {
    const auto cells = split(lines[row + 1], ",");
    REQUIRE(cells.size() == expected_header.size());
    CHECK(cells[0] == std::to_string(h.epoch[row]));
    for (size_t c = 1; c < cells.size(); ++c) {
      const double parsed = std::strtod(cells[c].c_str(), nullptr);
      CAPTURE(cells[c]);
      CHECK(parsed == h.history.at(expected_header[c])[row]);  // shortest repr round-trips exactly
    }
  }

  SUBCASE("append adds rows without a second header; a separator is honoured") {
    auto again = std::make_shared<CSVLogger>(path.string(), ",", true);
    FitOptions more = quiet_fit(2, 8);
    more.validation_split = 0.25;
    more.callbacks = {again};
    model->fit({d.x}, {d.y}, more);
    const auto appended = split(read_all(path), "\r\n");
    CHECK(appended.size() == 7);
    CHECK(appended[4].rfind("0,", 0) == 0);
    CHECK(appended[5].rfind("1,", 0) == 0);

    const auto semi = temp_file("semi.csv");
    std::filesystem::remove(semi);
    auto fresh_append = std::make_shared<CSVLogger>(semi.string(), ";", true);  // new file: header written
    FitOptions one = quiet_fit(1, 8);
    one.callbacks = {fresh_append};
    const History h1 = model->fit({d.x}, {d.y}, one);
    const auto semi_lines = split(read_all(semi), "\r\n");
    CHECK(semi_lines[0] == "epoch;loss;mean_absolute_error");
    CHECK(semi_lines[1] == "0;" + python_float_repr(h1.history.at("loss")[0]) + ";" +
                               python_float_repr(h1.history.at("mean_absolute_error")[0]));
    std::filesystem::remove(semi);
  }
  SUBCASE("a crash mid-training leaves the completed epochs in a valid file") {
    auto logger = std::make_shared<CSVLogger>(path.string());
    auto crash = std::make_shared<LambdaCallback>(LambdaCallbackHooks{.on_epoch_begin = [](int epoch, const Logs&) {
      if (epoch == 2) throw RuntimeError("simulated crash");
    }});
    FitOptions crashing = quiet_fit(5, 8);
    crashing.callbacks = {logger, crash};
    CHECK(contains(message_of([&] { model->fit({d.x}, {d.y}, crashing); }), "simulated crash"));
    // The logger is still alive (its file open, never closed by on_train_end): the rows are there.
    const auto partial = split(read_all(path), "\r\n");
    REQUIRE(partial.size() == 4);
    CHECK(partial[0] == "epoch,loss,mean_absolute_error");
    CHECK(partial[1].rfind("0,", 0) == 0);
    CHECK(partial[2].rfind("1,", 0) == 0);
    CHECK(partial[3].empty());
  }
  SUBCASE("scripted: keys fixed by the first epoch, missing later values written NA, odd keys quoted") {
    CSVLogger logger(path.string());
    logger.on_train_begin({});
    logger.on_epoch_end(0, {{"b", 0.5}, {"a,x", 1.0}});
    logger.on_epoch_end(1, {{"b", 0.25}, {"c", 3.0}});
    logger.on_train_end({});
    CHECK(read_all(path) == "epoch,\"a,x\",b\r\n0,1.0,0.5\r\n1,NA,0.25\r\n");
  }
  SUBCASE("an unwritable path names the file") {
    CSVLogger logger((temp_file("no_such_dir") / "log.csv").string());
    CHECK(contains(message_of([&] { logger.on_train_begin({}); }), "no_such_dir"));
  }
  std::filesystem::remove(path);
}

TEST_CASE("callbacks: LambdaCallback calls every hook the expected number of times") {
  auto model = tiny_model();
  const Data d = linear_data(10);
  int train_begin = 0, train_end = 0, epoch_begin = 0, epoch_end = 0, batch_begin = 0, batch_end = 0;
  std::vector<int> epochs_seen;
  double last_loss = kNaN, train_end_loss = 0.0;
  auto hooks = std::make_shared<LambdaCallback>(LambdaCallbackHooks{
      .on_epoch_begin = [&](int, const Logs&) { ++epoch_begin; },
      .on_epoch_end =
          [&](int epoch, const Logs& logs) {
            ++epoch_end;
            epochs_seen.push_back(epoch);
            last_loss = logs.at("loss");
          },
      .on_train_begin = [&](const Logs&) { ++train_begin; },
      .on_train_end = [&](const Logs& logs) { ++train_end, train_end_loss = logs.at("loss"); },
      .on_train_batch_begin = [&](int64_t, const Logs&) { ++batch_begin; },
      .on_train_batch_end = [&](int64_t, const Logs&) { ++batch_end; }});
  const int epochs = 3;
  const int64_t batch_size = 4;
  FitOptions options = quiet_fit(epochs, batch_size);
  options.callbacks = {hooks};
  const History h = model->fit({d.x}, {d.y}, options);
  const int steps = static_cast<int>((10 + batch_size - 1) / batch_size);
  CHECK(train_begin == 1);
  CHECK(train_end == 1);
  CHECK(epoch_begin == epochs);
  CHECK(epoch_end == epochs);
  CHECK(batch_begin == epochs * steps);
  CHECK(batch_end == epochs * steps);
  CHECK(epochs_seen == std::vector<int>{0, 1, 2});
  CHECK(last_loss == h.history.at("loss").back());
  CHECK(train_end_loss == last_loss);

  // Hooks left unset do nothing.
  auto empty = std::make_shared<LambdaCallback>(LambdaCallbackHooks{});
  options.callbacks = {empty};
  CHECK(model->fit({d.x}, {d.y}, options).epoch.size() == 3);
}
