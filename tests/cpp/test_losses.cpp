// Losses against reference formulas written out in float64, the pitfall signatures (P07, P09, P08),
// Keras's rank alignment of y_true and y_pred and gradients by central differences.
#include <doctest/doctest.h>

#include <cmath>

#include <pitfall/layers/losses.h>
#include <pitfall/pitfall.h>

#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {

Tensor f64(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s); }
Tensor f32(const std::vector<float>& v, const Shape& s) { return Tensor::from_vector(v, s); }

const std::vector<double> kTrue = {0, 1, 1, 0, 1, 0};
const std::vector<double> kPred = {0.1, 0.8, 0.6, 0.3, 0.99, 0.02};

}  // namespace

TEST_CASE("losses: MSE, MAE and Huber average over the last axis, then over the batch") {
  const Tensor y = f64(kTrue, {2, 3});
  const Tensor p = f64({0.5, 2.0, -1.0, 0.0, 3.5, 0.25}, {2, 3});
  double mse_row[2] = {0, 0}, mae_row[2] = {0, 0}, huber_row[2] = {0, 0};
  const double delta = 1.0;
  for (int i = 0; i < 6; ++i) {
    const double e = p.value_at(i) - kTrue[i];
    mse_row[i / 3] += e * e / 3;
    mae_row[i / 3] += std::abs(e) / 3;
    huber_row[i / 3] += (std::abs(e) <= delta ? 0.5 * e * e : delta * std::abs(e) - 0.5 * delta * delta) / 3;
  }
  const Tensor per = mean_squared_error_loss()->call(y, p);
  CHECK(per.shape() == Shape{2});
  CHECK(per.value_at(0) == doctest::Approx(mse_row[0]).epsilon(1e-14));
  CHECK(per.value_at(1) == doctest::Approx(mse_row[1]).epsilon(1e-14));
  CHECK((*mean_squared_error_loss())(y, p).item() == doctest::Approx((mse_row[0] + mse_row[1]) / 2).epsilon(1e-14));
  CHECK((*mean_absolute_error_loss())(y, p).item() == doctest::Approx((mae_row[0] + mae_row[1]) / 2).epsilon(1e-14));
  CHECK((*huber_loss(delta))(y, p).item() == doctest::Approx((huber_row[0] + huber_row[1]) / 2).epsilon(1e-14));
  // 1-D inputs keep one value per element.
  CHECK(mean_squared_error_loss()->call(f64({1, 2}, {2}), f64({0, 0}, {2})).shape() == Shape{2});
}

TEST_CASE("losses: sample_weight gives sum(per_sample * w) / count (Keras sum_over_batch_size)") {
  const Tensor y = f64(kTrue, {3, 2});
  const Tensor p = f64(kPred, {3, 2});
  const Tensor w = f64({2.0, 0.0, 0.5}, {3});
  const Tensor per = mean_squared_error_loss()->call(y, p);
  double expected = 0;
  for (int i = 0; i < 3; ++i) expected += per.value_at(i) * w.value_at(i);
  expected /= 3;  // divided by the number of per-sample values, not by sum(w)
  CHECK((*mean_squared_error_loss())(y, p, w).item() == doctest::Approx(expected).epsilon(1e-14));
  CHECK((*mean_squared_error_loss())(y, p, f64({2.0, 0.0, 0.5}, {3, 1})).item() ==
        doctest::Approx(expected).epsilon(1e-14));
  CHECK_THROWS_AS((*mean_squared_error_loss())(y, p, f64({1, 2}, {2})), ShapeError);
}

TEST_CASE("losses: binary crossentropy from probabilities clips to 1e-7 and 1 - 1e-7") {
  const Tensor y = f64(kTrue, {3, 2});
  const Tensor p = f64(kPred, {3, 2});
  double expected = 0;
  for (int i = 0; i < 6; ++i) {
    const double q = std::min(std::max(kPred[i], 1e-7), 1 - 1e-7);
    expected += -(kTrue[i] * std::log(q) + (1 - kTrue[i]) * std::log(1 - q)) / 6;
  }
  CHECK((*binary_crossentropy_loss())(y, p).item() == doctest::Approx(expected).epsilon(1e-13));
  // Label smoothing: y * (1 - s) + 0.5 * s.
  const double s = 0.2;
  double smoothed = 0;
  for (int i = 0; i < 6; ++i) {
    const double t = kTrue[i] * (1 - s) + 0.5 * s;
    smoothed += -(t * std::log(kPred[i]) + (1 - t) * std::log(1 - kPred[i])) / 6;
  }
  CHECK((*binary_crossentropy_loss(false, s))(y, p).item() == doctest::Approx(smoothed).epsilon(1e-13));
  // Integer labels are cast to the predictions' dtype (the documented cast).
  const Tensor labels = Tensor::from_vector(std::vector<int32_t>{0, 1, 1, 0, 1, 0}, {3, 2});
  CHECK((*binary_crossentropy_loss())(labels, p).item() == doctest::Approx(expected).epsilon(1e-13));
}

TEST_CASE("losses: P09 signature, saturated sigmoid probabilities clip at 16.118 with zero gradient") {
  // float32: sigmoid(-20) = 2e-9 clips to 1e-7 -> -log(1e-7) = 16.118
  Tensor logits = f32({-20.0f, 20.0f}, {2, 1});
  logits.set_requires_grad(true);
  const Tensor probs = sigmoid(logits);
  const Tensor y = f32({1.0f, 0.0f}, {2, 1});
  const Tensor per = binary_crossentropy_loss()->call(y, probs);
  CHECK(per.value_at(0) == doctest::Approx(-std::log(1e-7)).epsilon(1e-6));
  CHECK(per.value_at(0) == doctest::Approx(16.118).epsilon(1e-4));
  // y=0, p=1: in float32 1 - 1e-7 rounds to 1 - 2^-23, so the loss is -log(2^-23) = 15.942 (as in TF).
  CHECK(per.value_at(1) == doctest::Approx(23 * std::log(2.0)).epsilon(1e-6));
  // In float64 the same case gives -log(1e-7).
  CHECK(binary_crossentropy_loss()->call(f64({0.0}, {1, 1}), f64({1.0}, {1, 1})).item() ==
        doctest::Approx(-std::log(1e-7)).epsilon(1e-8));
  // The clip stops the gradient: the model cannot learn its way out.
  (*binary_crossentropy_loss())(y, probs).backward();
  CHECK(logits.grad().value_at(0) == 0.0);
  CHECK(logits.grad().value_at(1) == 0.0);
  // The logits path: loss = |logit|, gradient sigmoid(x) - y = -1 and +1 (over the batch of 2: /2).
  Tensor logits2 = f32({-20.0f, 20.0f}, {2, 1});
  logits2.set_requires_grad(true);
  const Tensor loss = (*binary_crossentropy_loss(true))(y, logits2);
  CHECK(loss.item() == doctest::Approx(20.0).epsilon(1e-6));
  loss.backward();
  CHECK(logits2.grad().value_at(0) == doctest::Approx(-0.5).epsilon(1e-6));
  CHECK(logits2.grad().value_at(1) == doctest::Approx(0.5).epsilon(1e-6));
}

TEST_CASE("losses: binary crossentropy from logits is max(x,0) - x*y + log(1 + exp(-|x|))") {
  const std::vector<double> x = {-3.0, 0.0, 2.5, 40.0, -40.0, 0.7};
  const std::vector<double> t = {1, 0, 1, 0, 0, 0.3};
  double expected = 0;
  for (int i = 0; i < 6; ++i) expected += (std::max(x[i], 0.0) - x[i] * t[i] + std::log1p(std::exp(-std::abs(x[i])))) / 6;
  CHECK((*binary_crossentropy_loss(true))(f64(t, {2, 3}), f64(x, {2, 3})).item() ==
        doctest::Approx(expected).epsilon(1e-13));
  // Gradient sigmoid(x) - y, including at x == 0.
  auto result = gradcheck(
      [&](const std::vector<Tensor>& in) { return (*binary_crossentropy_loss(true, 0.1))(f64(t, {2, 3}), in[0]); },
      {f64(x, {2, 3})});
  CHECK_MESSAGE(result.ok, result.report);
}

TEST_CASE("losses: categorical crossentropy renormalizes, clips and sums over the class axis") {
  const std::vector<double> p = {0.2, 0.3, 0.1, 0.5, 0.5, 0.0};  // first row sums to 0.6
  const std::vector<double> y = {0, 1, 0, 1, 0, 0};
  double expected = 0;
  for (int r = 0; r < 2; ++r) {
    double total = 0;
    for (int c = 0; c < 3; ++c) total += p[r * 3 + c];
    for (int c = 0; c < 3; ++c) {
      const double q = std::min(std::max(p[r * 3 + c] / total, 1e-7), 1 - 1e-7);
      expected += -y[r * 3 + c] * std::log(q) / 2;
    }
  }
  CHECK((*categorical_crossentropy_loss())(f64(y, {2, 3}), f64(p, {2, 3})).item() ==
        doctest::Approx(expected).epsilon(1e-13));
  // from_logits with label smoothing: y * (1 - s) + s / C against log_softmax.
  const std::vector<double> z = {1.0, -2.0, 0.5, 3.0, 3.0, -1.0};
  const double s = 0.1;
  double smoothed = 0;
  for (int r = 0; r < 2; ++r) {
    double m = -1e300, lse = 0;
    for (int c = 0; c < 3; ++c) m = std::max(m, z[r * 3 + c]);
    for (int c = 0; c < 3; ++c) lse += std::exp(z[r * 3 + c] - m);
    lse = m + std::log(lse);
    for (int c = 0; c < 3; ++c) smoothed += -(y[r * 3 + c] * (1 - s) + s / 3) * (z[r * 3 + c] - lse) / 2;
  }
  CHECK((*categorical_crossentropy_loss(true, s))(f64(y, {2, 3}), f64(z, {2, 3})).item() ==
        doctest::Approx(smoothed).epsilon(1e-13));
  auto result = gradcheck(
      [&](const std::vector<Tensor>& in) { return (*categorical_crossentropy_loss(true, s))(f64(y, {2, 3}), in[0]); },
      {f64(z, {2, 3})});
  CHECK_MESSAGE(result.ok, result.report);
  auto probs_result = gradcheck(
      [&](const std::vector<Tensor>& in) { return (*categorical_crossentropy_loss())(f64(y, {2, 3}), in[0]); },
      {f64({0.2, 0.3, 0.1, 0.5, 0.3, 0.2}, {2, 3})});
  CHECK_MESSAGE(probs_result.ok, probs_result.report);
}

TEST_CASE("losses: sparse categorical crossentropy equals categorical on one-hot labels") {
  const std::vector<double> z = {1.0, -2.0, 0.5, 3.0, 3.0, -1.0, 0.0, 0.1, 0.2};
  const Tensor logits = f64(z, {3, 3});
  const Tensor one_hot_labels = f64({0, 0, 1, 1, 0, 0, 0, 1, 0}, {3, 3});
  const double categorical = (*categorical_crossentropy_loss(true))(one_hot_labels, logits).item();
  const Tensor int_labels = Tensor::from_vector(std::vector<int64_t>{2, 0, 1}, {3});
  CHECK((*sparse_categorical_crossentropy_loss(true))(int_labels, logits).item() ==
        doctest::Approx(categorical).epsilon(1e-14));
  // (N, 1) int32 labels and float labels with integral values work the same.
  const Tensor column = Tensor::from_vector(std::vector<int32_t>{2, 0, 1}, {3, 1});
  CHECK((*sparse_categorical_crossentropy_loss(true))(column, logits).item() ==
        doctest::Approx(categorical).epsilon(1e-14));
  CHECK((*sparse_categorical_crossentropy_loss(true))(f64({2, 0, 1}, {3}), logits).item() ==
        doctest::Approx(categorical).epsilon(1e-14));
  // From probabilities.
  const Tensor probs = softmax(logits);
  CHECK((*sparse_categorical_crossentropy_loss())(int_labels, probs).item() ==
        doctest::Approx((*categorical_crossentropy_loss())(one_hot_labels, probs).item()).epsilon(1e-12));
  auto result = gradcheck(
      [&](const std::vector<Tensor>& in) { return (*sparse_categorical_crossentropy_loss(true))(int_labels, in[0]); },
      {logits});
  CHECK_MESSAGE(result.ok, result.report);
}

TEST_CASE("losses: sparse labels out of range or fractional raise, naming the label and classes") {
  const Tensor logits = f64({0, 0, 0, 0, 0, 0}, {2, 3});
  const auto loss = sparse_categorical_crossentropy_loss(true);
  const Tensor bad = Tensor::from_vector(std::vector<int64_t>{1, 3}, {2});
  CHECK_THROWS_AS(loss->call(bad, logits), IndexError);
  const std::string message = message_of([&] { loss->call(bad, logits); });
  CHECK(message.find("label 3") != std::string::npos);
  CHECK(message.find("3 classes") != std::string::npos);
  CHECK_THROWS_AS(loss->call(Tensor::from_vector(std::vector<int64_t>{-1, 0}, {2}), logits), IndexError);
  CHECK(message_of([&] { loss->call(f64({0.5, 1}, {2}), logits); }).find("not an integer") != std::string::npos);
}

TEST_CASE("losses: P08 sparse vs categorical label mix-ups name the loss to use") {
  const Tensor logits = f32({0, 0, 0, 0, 0, 0}, {2, 3});
  const Tensor int_labels = Tensor::from_vector(std::vector<int64_t>{1, 2}, {2});
  const std::string categorical = message_of([&] { (*categorical_crossentropy_loss(true))(int_labels, logits); });
  CHECK(categorical.find("sparse_categorical_crossentropy") != std::string::npos);
  CHECK(categorical.find("(2,)") != std::string::npos);
  CHECK(categorical.find("(2, 3)") != std::string::npos);
  CHECK_THROWS_AS((*categorical_crossentropy_loss(true))(
                      Tensor::from_vector(std::vector<int64_t>{1, 2}, {2, 1}), logits),
                  ShapeError);
  const Tensor one_hot_labels = f32({0, 1, 0, 0, 0, 1}, {2, 3});
  const std::string sparse = message_of([&] { (*sparse_categorical_crossentropy_loss(true))(one_hot_labels, logits); });
  CHECK(sparse.find("'categorical_crossentropy'") != std::string::npos);
  CHECK(sparse.find("one-hot") != std::string::npos);
}

TEST_CASE("losses: (N,) targets against (N, 1) predictions are aligned as Keras's squeeze_or_expand_to_same_rank") {
  // The (N, N) broadcast of pitfall P29 never happens inside a built-in loss: y_true (N,) becomes
  // (N, 1) (keras/src/losses/loss.py), so the loss equals the matching-shape one bit for bit.
  const Tensor y = f32({0, 1, 1, 0}, {4});
  const Tensor y_column = reshape(y, {4, 1});
  const Tensor p = f32({0.2f, 0.7f, 0.9f, 0.4f}, {4, 1});
  for (const auto& loss : {mean_squared_error_loss(), mean_absolute_error_loss(), huber_loss(),
                           binary_crossentropy_loss(), binary_crossentropy_loss(true)}) {
    const double matching = (*loss)(y_column, p).item();
    CHECK((*loss)(y, p).item() == matching);
    CHECK(loss->call(y, p).shape() == Shape{4});
    // y_pred (N,) against y_true (N, 1): the prediction is expanded; same number.
    CHECK((*loss)(y_column, reshape(p, {4})).item() == matching);
    // Sample weights (N,) and (N, 1) give the same weighted loss.
    const Tensor w = f32({1, 2, 0, 1}, {4});
    const double weighted = (*loss)(y, p, w).item();
    CHECK((*loss)(y, p, reshape(w, {4, 1})).item() == weighted);
    CHECK((*loss)(y_column, p, w).item() == weighted);
  }
  // The MSE of (N,) vs (N, 1) by hand, elementwise: the reference value.
  double reference = 0;
  for (int i = 0; i < 4; ++i) reference += std::pow(p.value_at(i) - y.value_at(i), 2) / 4;
  CHECK((*mean_squared_error_loss())(y, p).item() == doctest::Approx(reference).epsilon(1e-6));
  // Rank alignment helper, each branch (expand_rank_1 on and off).
  CHECK(squeeze_or_expand_to_same_rank(y, p).first.shape() == Shape{4, 1});
  CHECK(squeeze_or_expand_to_same_rank(p, y).second.shape() == Shape{4, 1});
  CHECK(squeeze_or_expand_to_same_rank(y, p, false).second.shape() == Shape{4});
  const Tensor seq = f32({1, 2, 3, 4, 5, 6}, {2, 3, 1});
  CHECK(squeeze_or_expand_to_same_rank(seq, f32({1, 2, 3, 4, 5, 6}, {2, 3})).first.shape() == Shape{2, 3});
  CHECK(squeeze_or_expand_to_same_rank(f32({1, 2, 3}, {1, 3}), y).first.shape() == Shape{1, 3});  // last axis 3: untouched
  // Regression losses broadcast what remains (Keras does); shapes that cannot broadcast raise, naming both.
  CHECK((*mean_squared_error_loss())(f32({1, 2, 3}, {1, 3}), f32({1, 2, 3, 1, 2, 3}, {2, 3})).item() == 0.0);
  const std::string message =
      message_of([&] { (*mean_squared_error_loss())(f32({1, 2}, {2}), f32({1, 2, 3}, {3})); });
  CHECK(message.find("(2,)") != std::string::npos);
  CHECK(message.find("(3,)") != std::string::npos);
  CHECK_THROWS_AS((*mean_squared_error_loss())(f32({1, 2}, {2}), f32({1, 2, 3}, {3})), ShapeError);
  // The crossentropies need equal shapes after the alignment, as Keras's backends check.
  CHECK_THROWS_AS((*binary_crossentropy_loss())(f32({1, 0, 1}, {1, 3}), f32({0.5, 0.5, 0.5, 0.5, 0.5, 0.5}, {2, 3})),
                  ShapeError);
  CHECK_THROWS_AS((*mean_squared_error_loss())(y, Tensor::from_vector(std::vector<int32_t>{1, 2, 3, 4})),
                  DTypeError);
}

TEST_CASE("losses: P07 double softmax floors at -ln(e/(e+9)) and warns once") {
  // Perfect one-hot predictions already softmaxed, fed to a from_logits loss: softmax of a one-hot
  // vector puts e/(e+9) on the true class.
  std::vector<float> one_hot(10 * 10, 0.0f);
  std::vector<int64_t> labels(10);
  for (int i = 0; i < 10; ++i) {
    one_hot[i * 10 + i] = 1.0f;
    labels[i] = i;
  }
  const double floor = -std::log(std::exp(1.0) / (std::exp(1.0) + 9.0));
  CHECK(floor == doctest::Approx(1.4612).epsilon(1e-4));
  const Tensor probs = f32(one_hot, {10, 10});
  CHECK((*categorical_crossentropy_loss(true))(probs, probs).item() == doctest::Approx(floor).epsilon(1e-6));
  const Tensor sparse = Tensor::from_vector(labels, {10});
  CHECK((*sparse_categorical_crossentropy_loss(true))(sparse, probs).item() == doctest::Approx(floor).epsilon(1e-6));

  WarningCapture capture;
  Tensor logits = f32(std::vector<float>(20, 0.5f), {2, 10});
  logits.set_requires_grad(true);
  const Tensor softmaxed = softmax(logits);
  const Tensor two = Tensor::from_vector(std::vector<int64_t>{1, 2}, {2});
  (*sparse_categorical_crossentropy_loss(true))(two, softmaxed);
  (*sparse_categorical_crossentropy_loss(true))(two, softmaxed);
  (*categorical_crossentropy_loss(true))(f32(std::vector<float>(20, 0.1f), {2, 10}), softmaxed);
  REQUIRE(capture.messages.size() == 1);
  CHECK(capture.messages[0].find("double softmax") != std::string::npos);
  CHECK(capture.messages[0].find("from_logits=False") != std::string::npos);
  // No warning for real logits or from_logits=False.
  (*sparse_categorical_crossentropy_loss(false))(two, softmaxed);
  (*sparse_categorical_crossentropy_loss(true))(two, logits);
  CHECK(capture.messages.size() == 1);
}

TEST_CASE("losses: get_loss resolves Keras names and aliases, and suggests close names") {
  CHECK(get_loss("mse")->class_name() == "MeanSquaredError");
  CHECK(get_loss("MeanSquaredError")->name() == "mean_squared_error");
  CHECK(get_loss("mae")->class_name() == "MeanAbsoluteError");
  CHECK(get_loss("huber")->class_name() == "Huber");
  CHECK(get_loss("binary_crossentropy")->class_name() == "BinaryCrossentropy");
  CHECK(get_loss("CategoricalCrossentropy")->class_name() == "CategoricalCrossentropy");
  CHECK(get_loss("sparse_categorical_crossentropy")->class_name() == "SparseCategoricalCrossentropy");
  CHECK_THROWS_AS(get_loss("sparse_categorical_crossentropyy"), ValueError);
  const std::string message = message_of([] { get_loss("binary_crossentropi"); });
  CHECK(message.find("did you mean 'binary_crossentropy'") != std::string::npos);
}

TEST_CASE("losses: get_config and loss_from_config round-trip") {
  const auto loss = categorical_crossentropy_loss(true, 0.1, -1);
  const Json config = loss->get_config();
  CHECK(config.at("from_logits").as_bool());
  CHECK(config.at("label_smoothing").as_double() == 0.1);
  CHECK(config.at("reduction").as_string() == "sum_over_batch_size");
  Json wrapped;
  wrapped["class_name"] = loss->class_name();
  wrapped["config"] = config;
  const auto back = loss_from_config(Json::parse(wrapped.dump()));
  CHECK(back->get_config() == config);
  const Tensor y = f64({0, 1, 0}, {1, 3});
  const Tensor z = f64({0.3, 0.1, 2.0}, {1, 3});
  CHECK((*back)(y, z).item() == (*loss)(y, z).item());
  for (const auto& l : {mean_squared_error_loss(), huber_loss(2.0), binary_crossentropy_loss(true, 0.2),
                        sparse_categorical_crossentropy_loss(true)}) {
    Json w;
    w["class_name"] = l->class_name();
    w["config"] = l->get_config();
    CHECK(loss_from_config(w)->get_config() == l->get_config());
  }
  Json unknown_key;
  unknown_key["class_name"] = "Huber";
  unknown_key["config"]["deltaa"] = 1.0;
  CHECK(message_of([&] { loss_from_config(unknown_key); }).find("did you mean 'delta'") != std::string::npos);
}
