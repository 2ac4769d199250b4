// compile / fit / evaluate / predict: determinism across model kinds and against a hand-written
// loop, Keras semantics of validation_split, logs, History, callbacks and input errors.
#include <doctest/doctest.h>

#include <cmath>
#include <iostream>
#include <sstream>

#include <pitfall/training/callbacks.h>
#include <pitfall/layers/dense.h>
#include <pitfall/layers/losses.h>
#include <pitfall/layers/metrics.h>
#include <pitfall/training/model.h>
#include <pitfall/layers/regularizers.h>
#include <pitfall/optim/optimizer.h>

#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

// A seeded 3-class problem: 8 features, label = argmax(x @ W) for a fixed W (learnable by an MLP).
struct Problem {
  Tensor x, y;  // y: int64 labels (N,)
};

Problem three_classes(int64_t rows = 256) {
  const Tensor x = random_normal({rows, 8}, 0.0, 1.0, DType::float32, RandomKey{1234, 1});
  const Tensor w = random_normal({8, 3}, 0.0, 1.0, DType::float64, RandomKey{1234, 2});
  std::vector<int64_t> labels(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    double best = -1e300;
    for (int64_t c = 0; c < 3; ++c) {
      double s = 0;
      for (int64_t k = 0; k < 8; ++k) s += x.value_at(r * 8 + k) * w.value_at(k * 3 + c);
      if (s > best) {
        best = s;
        labels[static_cast<size_t>(r)] = c;
      }
    }
  }
  return {x, Tensor::from_vector(labels, {rows})};
}

std::shared_ptr<Model> make_sequential() {
  LayerOptions with_shape;
  with_shape.input_shape = Shape{8};
  return std::make_shared<Sequential>(
      std::vector<std::shared_ptr<Layer>>{std::make_shared<Dense>(16, "relu", with_shape), std::make_shared<Dense>(3, "softmax")});
}

std::shared_ptr<Model> make_functional() {
  KerasTensor in = Input({8});
  KerasTensor h = (*std::make_shared<Dense>(16, "relu"))(in);
  KerasTensor out = (*std::make_shared<Dense>(3, "softmax"))(h);
  return std::make_shared<Model>(std::vector<KerasTensor>{in}, std::vector<KerasTensor>{out});
}


// Fresh session and seed, then the model: what a user does at the top of a script.
std::shared_ptr<Model> seeded(const std::function<std::shared_ptr<Model>()>& make, uint64_t seed = 42) {
  clear_session();
  set_random_seed(seed);
  return make();
}

FitOptions quiet(int epochs = 2, bool shuffle = true) {
  FitOptions o;
  o.batch_size = 32;
  o.epochs = epochs;
  o.verbose = 0;
  o.shuffle = shuffle;
  return o;
}

void check_same_weights(Model& a, Model& b) {
  const auto wa = a.get_weights(), wb = b.get_weights();
  REQUIRE(wa.size() == wb.size());
  for (size_t i = 0; i < wa.size(); ++i) CHECK(bitwise_equal(wa[i], wb[i]));
}

// Captures std::cout while alive.
struct CaptureCout {
  std::ostringstream text;
  std::streambuf* saved;
  CaptureCout() : saved(std::cout.rdbuf(text.rdbuf())) {}
  ~CaptureCout() { std::cout.rdbuf(saved); }
};

}  // namespace

TEST_CASE("fit: Sequential, functional and subclassed models train to bitwise-identical weights") {
  const Problem p = three_classes();
  std::vector<std::shared_ptr<Model>> models;
  for (auto make : {make_sequential, make_functional, +[] { return std::static_pointer_cast<Model>(std::make_shared<TwoDense>()); }}) {
    auto model = seeded(make);
    model->compile(sgd_optimizer(0.1), {sparse_categorical_crossentropy_loss()});
    const History h = model->fit({p.x}, {p.y}, quiet());
    CHECK(h.history.at("loss").size() == 2);
    models.push_back(model);
  }
  check_same_weights(*models[0], *models[1]);
  check_same_weights(*models[0], *models[2]);
  // Training moved the weights away from the initial ones.
  auto fresh = seeded(make_sequential);
  CHECK_FALSE(bitwise_equal(fresh->get_weights()[0], models[0]->get_weights()[0]));
}

TEST_CASE("fit: a hand-written loop with the same batches gives bitwise-identical weights") {
  const Problem p = three_classes();
  for (bool shuffle : {false, true}) {
    CAPTURE(shuffle);
    auto by_fit = seeded(make_functional);
    by_fit->compile(sgd_optimizer(0.1), {sparse_categorical_crossentropy_loss()});
    by_fit->fit({p.x}, {p.y}, quiet(2, shuffle));

    auto by_hand = seeded(make_functional);
    auto loss_fn = sparse_categorical_crossentropy_loss();
    auto optimizer = sgd_optimizer(0.1);
    const int64_t rows = p.x.dim(0), batch = 32;
    for (int epoch = 0; epoch < 2; ++epoch) {
      // fit draws one permutation per epoch from the global generator.
      Tensor order = shuffle ? random_permutation(rows, next_random_key()) : Tensor();
      for (int64_t begin = 0; begin < rows; begin += batch) {
        const int64_t count = std::min(batch, rows - begin);
        Tensor xb, yb;
        if (shuffle) {
          const Tensor idx = slice(order, {begin}, {count});
          xb = take(p.x, idx, 0);
          yb = take(p.y, idx, 0);
        } else {
          xb = slice(p.x, {begin, 0}, {count, -1});
          yb = slice(p.y, {begin}, {count});
        }
        const Tensor pred = (*by_hand)(xb, /*training=*/true);
        const Tensor loss = (*loss_fn)(yb, pred);
        const auto variables = by_hand->trainable_weights();
        optimizer->apply_gradients(gradients(loss, variables), variables);
      }
    }
    check_same_weights(*by_fit, *by_hand);
  }
}

TEST_CASE("fit: learns a learnable problem, loss decreases, accuracy above 0.9") {
  const Problem p = three_classes(512);
  auto model = seeded(make_sequential, 7);
  model->compile_by_name(sgd_optimizer(0.2, 0.9), {"sparse_categorical_crossentropy"}, {"accuracy"});
  const History h = model->fit({p.x}, {p.y}, quiet(30));
  const auto& loss = h.history.at("loss");
  REQUIRE(loss.size() == 30);
  CHECK(loss.back() < 0.5 * loss.front());
  CHECK(h.history.at("accuracy").back() > 0.9);
  CHECK(h.epoch == std::vector<int>([] {
          std::vector<int> e(30);
          for (int i = 0; i < 30; ++i) e[i] = i;
          return e;
        }()));
  const Logs logs = model->evaluate({p.x}, {p.y}, 64, 0);
  CHECK(logs.size() == 2);
  CHECK(logs.at("accuracy") > 0.9);

  // evaluate's accuracy agrees with predict + argmax computed here.
  const auto pred = model->predict({p.x}, 100);
  REQUIRE(pred.size() == 1);
  CHECK(pred[0].shape() == Shape{512, 3});
  const Tensor labels = argmax(pred[0], -1);
  int64_t correct = 0;
  for (int64_t r = 0; r < 512; ++r) correct += labels.value_at(r) == p.y.value_at(r);
  CHECK(logs.at("accuracy") == doctest::Approx(static_cast<double>(correct) / 512.0).epsilon(1e-6));
  // predict matches one forward pass in inference mode.
  CHECK(bitwise_equal(slice(pred[0], {100, 0}, {100, -1}), model->predict_on_batch({slice(p.x, {100, 0}, {100, -1})})[0]));
}

TEST_CASE("fit: validation_split takes the LAST rows before shuffling (P21)") {
  // 5 classes stored sorted, 60 rows each: the last 20% is exactly class 4, never seen in training.
  const int64_t per_class = 60, rows = 5 * per_class;
  std::vector<float> xs;
  std::vector<int64_t> ys;
  const Tensor noise = random_normal({rows, 5}, 0.0, 0.1, DType::float32, RandomKey{77, 1});
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t c = r / per_class;
    for (int64_t k = 0; k < 5; ++k) xs.push_back((k == c ? 1.0f : 0.0f) + static_cast<float>(noise.value_at(r * 5 + k)));
    ys.push_back(c);
  }
  const Tensor x = Tensor::from_vector(xs, {rows, 5}), y = Tensor::from_vector(ys, {rows});
  clear_session();
  set_random_seed(3);
  LayerOptions with_shape;
  with_shape.input_shape = Shape{5};
  Sequential model({std::make_shared<Dense>(5, "softmax", with_shape)});
  model.compile_by_name(sgd_optimizer(0.5), {"sparse_categorical_crossentropy"}, {"accuracy"});
  FitOptions options = quiet(5);
  options.validation_split = 0.2;
  const History h = model.fit({x}, {y}, options);
  for (const char* key : {"loss", "accuracy", "val_loss", "val_accuracy"}) {
    REQUIRE(h.history.count(key));
    CHECK(h.history.at(key).size() == 5);
  }
  CHECK(h.history.size() == 4);
  for (double acc : h.history.at("val_accuracy")) CHECK(acc == 0.0);
  CHECK(h.history.at("accuracy").back() > 0.9);
  // The validation numbers are those of the last 60 rows with the final weights.
  const Logs last = model.evaluate({slice(x, {240, 0}, {60, -1})}, {slice(y, {240}, {60})}, 32, 0);
  CHECK(last.at("loss") == h.history.at("val_loss").back());
}

TEST_CASE("fit: rejects arrays of different lengths and wrong target counts") {
  auto model = seeded(make_sequential);
  model->compile(sgd_optimizer(), {sparse_categorical_crossentropy_loss()});
  const Problem p = three_classes(64);
  const std::string msg = message_of([&] { model->fit({p.x}, {slice(p.y, {0}, {50})}, quiet()); });
  CHECK(contains(msg, "x[0] has 64 rows"));
  CHECK(contains(msg, "y[0] has 50 rows"));
  CHECK(contains(message_of([&] { model->fit({p.x}, {p.y, p.y}, quiet()); }), "got 2 target array(s) but the model has 1"));
  FitOptions bad = quiet();
  bad.batch_size = 0;
  CHECK(contains(message_of([&] { model->fit({p.x}, {p.y}, bad); }), "batch_size must be a positive"));
  bad = quiet();
  bad.validation_split = 1.0;
  CHECK(contains(message_of([&] { model->fit({p.x}, {p.y}, bad); }), "validation_split"));
  auto uncompiled = seeded(make_sequential);
  CHECK(contains(message_of([&] { uncompiled->fit({p.x}, {p.y}, quiet()); }), "compile"));
  // Wrong feature count: the model, the input index and both shapes.
  const std::string shape_msg = message_of([&] { model->fit({Tensor::zeros({64, 5})}, {p.y}, quiet()); });
  CHECK(contains(shape_msg, "input 0"));
  CHECK(contains(shape_msg, "(None, 8)"));
  CHECK(contains(shape_msg, "(64, 5)"));
}

TEST_CASE("fit: loss log is the batch-size-weighted mean of the batch losses") {
  const Problem p = three_classes(80);  // batches of 32, 32, 16
  auto model = seeded(make_sequential);
  auto reference = seeded(make_sequential);
  model->compile(sgd_optimizer(0.1), {sparse_categorical_crossentropy_loss()});
  const History h = model->fit({p.x}, {p.y}, quiet(1, false));
  auto loss_fn = sparse_categorical_crossentropy_loss();
  auto optimizer = sgd_optimizer(0.1);
  double total = 0;
  for (int64_t begin = 0; begin < 80; begin += 32) {
    const int64_t count = std::min<int64_t>(32, 80 - begin);
    const Tensor loss = (*loss_fn)(slice(p.y, {begin}, {count}), (*reference)(slice(p.x, {begin, 0}, {count, -1}), true));
    total += loss.item() * static_cast<double>(count);
    const auto vars = reference->trainable_weights();
    optimizer->apply_gradients(gradients(loss, vars), vars);
  }
  CHECK(h.history.at("loss")[0] == doctest::Approx(total / 80.0).epsilon(1e-12));
}

TEST_CASE("fit: regularization losses are added to the compiled loss") {
  clear_session();
  set_random_seed(1);
  DenseOptions dense;
  dense.activation = "softmax";
  dense.kernel_regularizer = l2_regularizer(0.1);
  LayerOptions with_shape;
  with_shape.input_shape = Shape{8};
  auto layer = std::make_shared<Dense>(3, dense, with_shape);
  Sequential model({layer});
  model.compile(sgd_optimizer(0.0), {sparse_categorical_crossentropy_loss()});
  const Problem p = three_classes(32);
  const Tensor kernel = layer->kernel().clone();
  double l2 = 0;
  for (int64_t i = 0; i < kernel.numel(); ++i) l2 += kernel.value_at(i) * kernel.value_at(i);
  const double data_loss = (*sparse_categorical_crossentropy_loss())(p.y, model(p.x)).item();
  const Logs logs = model.test_on_batch({p.x}, {p.y});
  CHECK(logs.at("loss") == doctest::Approx(data_loss + 0.1 * l2).epsilon(1e-5));
}

TEST_CASE("fit: class_weight equals the matching sample_weight") {
  const Problem p = three_classes(96);
  std::vector<float> w;
  for (int64_t r = 0; r < 96; ++r) w.push_back(p.y.value_at(r) == 1 ? 3.0f : (p.y.value_at(r) == 2 ? 0.5f : 1.0f));
  auto a = seeded(make_sequential);
  a->compile(sgd_optimizer(0.1), {sparse_categorical_crossentropy_loss()});
  FitOptions with_class = quiet();
  with_class.class_weight = {{0, 1.0}, {1, 3.0}, {2, 0.5}};
  a->fit({p.x}, {p.y}, with_class);
  auto b = seeded(make_sequential);
  b->compile(sgd_optimizer(0.1), {sparse_categorical_crossentropy_loss()});
  FitOptions with_samples = quiet();
  with_samples.sample_weight = Tensor::from_vector(w, {96});
  b->fit({p.x}, {p.y}, with_samples);
  check_same_weights(*a, *b);
  FitOptions missing = quiet();
  missing.class_weight = {{0, 1.0}, {1, 3.0}};
  CHECK(contains(message_of([&] { a->fit({p.x}, {p.y}, missing); }), "no entry for class 2"));
}

TEST_CASE("fit: callbacks run in Keras order and stop_training ends training") {
  struct Recorder : Callback {
    std::vector<std::string> events;
    int stop_after = -1;
    void on_train_begin(const Logs&) override { events.push_back("train_begin"); }
    void on_train_end(const Logs& logs) override { events.push_back("train_end:" + std::to_string(logs.count("loss"))); }
    void on_epoch_begin(int e, const Logs&) override { events.push_back("epoch_begin:" + std::to_string(e)); }
    void on_epoch_end(int e, const Logs& logs) override {
      events.push_back("epoch_end:" + std::to_string(e) + ":" + std::to_string(logs.count("val_loss")));
      if (e == stop_after) model_->stop_training = true;
    }
    void on_train_batch_begin(int64_t s, const Logs&) override { events.push_back("batch_begin:" + std::to_string(s)); }
    void on_train_batch_end(int64_t s, const Logs& logs) override {
      events.push_back("batch_end:" + std::to_string(s) + ":" + std::to_string(logs.count("loss")));
    }
  };
  const Problem p = three_classes(40);
  auto model = seeded(make_sequential);
  model->compile(sgd_optimizer(0.1), {sparse_categorical_crossentropy_loss()});
  auto recorder = std::make_shared<Recorder>();
  recorder->stop_after = 1;
  FitOptions options = quiet(5);
  options.validation_data = std::make_pair(std::vector<Tensor>{p.x}, std::vector<Tensor>{p.y});
  options.callbacks = {recorder};
  const History h = model->fit({p.x}, {p.y}, options);
  const std::vector<std::string> expected{
      "train_begin",   "epoch_begin:0", "batch_begin:0", "batch_end:0:1", "batch_begin:1", "batch_end:1:1",
      "epoch_end:0:1", "epoch_begin:1", "batch_begin:0", "batch_end:0:1", "batch_begin:1", "batch_end:1:1",
      "epoch_end:1:1", "train_end:1"};
  CHECK(recorder->events == expected);
  CHECK(h.epoch == std::vector<int>{0, 1});
  CHECK(h.history.at("val_loss").size() == 2);

  // initial_epoch: epochs counts from there.
  FitOptions resumed = quiet(3);
  resumed.initial_epoch = 1;
  CHECK(model->fit({p.x}, {p.y}, resumed).epoch == std::vector<int>{1, 2});
}

TEST_CASE("fit: verbose 1 prints a Keras progress bar, verbose 2 one line per epoch") {
  const Problem p = three_classes(64);
  auto model = seeded(make_sequential);
  model->compile_by_name(sgd_optimizer(0.1), {"sparse_categorical_crossentropy"}, {"accuracy"});
  std::string one, two, zero;
  {
    CaptureCout capture;
    FitOptions o = quiet(2);
    o.verbose = 1;
    model->fit({p.x}, {p.y}, o);
    one = capture.text.str();
  }
  CHECK(contains(one, "Epoch 1/2\n"));
  CHECK(contains(one, "Epoch 2/2\n"));
  CHECK(contains(one, "\r1/2 [==============>...............] - ETA: "));
  CHECK(contains(one, "2/2 [==============================] - "));
  CHECK(contains(one, "/step - loss: "));
  CHECK(contains(one, " - accuracy: "));
  // loss is printed before accuracy, as Keras 2 does.
  CHECK(one.find("loss: ") < one.find("accuracy: "));
  {
    CaptureCout capture;
    FitOptions o = quiet(2);
    o.verbose = 2;
    o.validation_split = 0.25;
    model->fit({p.x}, {p.y}, o);
    two = capture.text.str();
  }
  std::istringstream lines(two);
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    CHECK(line.rfind("Epoch " + std::to_string(count) + "/2 - ", 0) == 0);
    CHECK(contains(line, " - loss: "));
    CHECK(contains(line, " - val_loss: "));
    CHECK(contains(line, " - val_accuracy: "));
  }
  CHECK(count == 2);
  {
    CaptureCout capture;
    model->fit({p.x}, {p.y}, quiet(1));
    zero = capture.text.str();
  }
  CHECK(zero.empty());
}

TEST_CASE("fit: progress bar pieces follow Keras formatting") {
  CHECK(ProgressBar::bar(3, 12, 30) == " 3/12 [======>.......................]");
  CHECK(ProgressBar::bar(12, 12, 30) == "12/12 [==============================]");
  CHECK(ProgressBar::bar(0, 12, 30) == " 0/12 [..............................]");
  CHECK(ProgressBar::format_value(0.34561) == "0.3456");
  CHECK(ProgressBar::format_value(0.0001234) == "1.2340e-04");
  CHECK(ProgressBar::format_eta(5.5) == "5s");
  CHECK(ProgressBar::format_eta(65) == "1:05");
  CHECK(ProgressBar::format_eta(3665) == "1:01:05");
  CHECK(ProgressBar::format_per_step(0.005) == "5ms/step");
  CHECK(ProgressBar::format_per_step(2.0) == "2s/step");
  CHECK(ProgressBar::format_per_step(0.00012) == "120us/step");
  std::ostringstream out;
  ProgressBar bar(2, out);
  bar.update(1, {{"loss", 0.5}});
  bar.finish({{"loss", 0.25}}, 0.0);
  CHECK(contains(out.str(), " - loss: 0.2500 - input wait: 0.00s"));
}

TEST_CASE("fit: two outputs log per-output losses and metrics under the output names") {
  clear_session();
  set_random_seed(8);
  KerasTensor in = Input({8});
  KerasTensor h = (*std::make_shared<Dense>(8, "relu"))(in);
  KerasTensor a = (*std::make_shared<Dense>(3, "softmax", named("cls")))(h);
  KerasTensor b = (*std::make_shared<Dense>(1, "linear", named("reg")))(h);
  Model model({in}, {a, b});
  model.compile_by_name(sgd_optimizer(0.05), {"sparse_categorical_crossentropy", "mse"}, {"accuracy"}, {1.0, 0.5});
  const Problem p = three_classes(64);
  const Tensor target = reshape(cast(p.y, DType::float32), {64, 1});
  const History hist = model.fit({p.x}, {p.y, target}, quiet(1));
  for (const char* key : {"loss", "cls_loss", "reg_loss", "cls_accuracy"}) CHECK(hist.history.count(key) == 1);
  // evaluate: loss = cls_loss + 0.5 * reg_loss (both weighted by batch size over the same batches).
  const Logs logs = model.evaluate({p.x}, {p.y, target}, 64, 0);
  CHECK(logs.at("loss") == doctest::Approx(logs.at("cls_loss") + 0.5 * logs.at("reg_loss")).epsilon(1e-5));
  const auto pred = model.predict({p.x});
  REQUIRE(pred.size() == 2);
  CHECK(pred[0].shape() == Shape{64, 3});
  CHECK(pred[1].shape() == Shape{64, 1});
  CHECK(contains(message_of([&] { model.fit({p.x}, {p.y}, quiet(1)); }), "has 2 output(s) (cls, reg)"));
}

TEST_CASE("fit: train_on_batch equals one step of fit") {
  const Problem p = three_classes(32);
  auto a = seeded(make_sequential);
  a->compile(sgd_optimizer(0.1), {sparse_categorical_crossentropy_loss()});
  a->fit({p.x}, {p.y}, quiet(1, false));
  auto b = seeded(make_sequential);
  b->compile(sgd_optimizer(0.1), {sparse_categorical_crossentropy_loss()});
  const Logs logs = b->train_on_batch({p.x}, {p.y});
  check_same_weights(*a, *b);
  CHECK(logs.count("loss") == 1);
}

TEST_CASE("fit: weights after fit do not depend on the thread count") {
  const Problem p = three_classes(128);
  const auto [one, two] = pitfall::testing::run_with_1_and_2_threads([&] {
    auto model = seeded(make_sequential);
    model->compile(sgd_optimizer(0.1, 0.9), {sparse_categorical_crossentropy_loss()});
    model->fit({p.x}, {p.y}, quiet(2));
    return model->get_weights();
  });
  REQUIRE(one.size() == two.size());
  for (size_t i = 0; i < one.size(); ++i) CHECK(bitwise_equal(one[i], two[i]));
}

TEST_CASE("fit: integer inputs are cast to the Input dtype with one warning") {
  std::vector<std::string> warnings;
  auto previous = set_warning_handler([&](const std::string& w) { warnings.push_back(w); });
  reset_warnings_once();
  const Problem p = three_classes(64);
  std::vector<uint8_t> pixels;
  for (int64_t i = 0; i < 64 * 8; ++i) pixels.push_back(static_cast<uint8_t>((i * 37) % 256));
  const Tensor x = Tensor::from_vector(pixels, {64, 8});
  auto model = seeded(make_sequential);
  model->compile(sgd_optimizer(0.001), {sparse_categorical_crossentropy_loss()});
  model->fit({x}, {p.y}, quiet(2));
  const auto pred = model->predict({x});
  set_warning_handler(previous);
  CHECK(pred[0].dtype() == DType::float32);
  REQUIRE(warnings.size() == 1);
  CHECK(contains(warnings[0], "uint8"));
  CHECK(contains(warnings[0], "float32"));
  // The cast input gives what float32 data gives.
  CHECK(bitwise_equal(pred[0], model->predict({cast(x, DType::float32)})[0]));
}
