// Metrics against hand-computed values (with sample weights), AUC against an exact trapezoid, and
// Keras's resolution of "accuracy".
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include <pitfall/layers/losses.h>
#include <pitfall/layers/metrics.h>
#include <pitfall/pitfall.h>

#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

namespace {
Tensor f32(const std::vector<float>& v, const Shape& s) { return Tensor::from_vector(v, s); }
Tensor f64(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s); }
}  // namespace

TEST_CASE("metrics: an empty metric reports 0 and reset_state clears") {
  for (const auto& m : {binary_accuracy_metric(), categorical_accuracy_metric(), precision_metric(), recall_metric(),
                        auc_metric(), mean_squared_error_metric()}) {
    CHECK(m->result() == 0.0);
  }
  Mean mean("loss");
  mean.add(2.0);
  mean.add(4.0, 3.0);
  CHECK(mean.result() == doctest::Approx((2.0 + 12.0) / 4.0));
  mean.reset_state();
  CHECK(mean.result() == 0.0);
  mean.update_state(f64({1, 2, 3}, {3}), Tensor(), f64({1, 0, 1}, {3}));
  CHECK(mean.result() == doctest::Approx(2.0));
}

TEST_CASE("metrics: binary accuracy thresholds probabilities at 0.5 and weights samples") {
  auto m = binary_accuracy_metric();
  // predictions > 0.5 -> 1: [1, 0, 1, 0]; labels [1, 1, 0, 0]: matches [1, 0, 0, 1]
  m->update_state(f32({1, 1, 0, 0}, {4, 1}), f32({0.9f, 0.5f, 0.7f, 0.2f}, {4, 1}));
  CHECK(m->result() == doctest::Approx(0.5));
  m->update_state(f32({1, 0}, {2, 1}), f32({0.6f, 0.1f}, {2, 1}), f32({3, 1}, {2}));
  CHECK(m->result() == doctest::Approx((2.0 + 4.0) / (4.0 + 4.0)));
  // (N,) labels against (N, 1) predictions are aligned like Keras, not broadcast.
  auto aligned = binary_accuracy_metric();
  aligned->update_state(f32({1, 0, 1}, {3}), f32({0.8f, 0.3f, 0.2f}, {3, 1}));
  CHECK(aligned->result() == doctest::Approx(2.0 / 3.0));
}

TEST_CASE("metrics: categorical, sparse categorical and top-k accuracy") {
  const Tensor scores = f32({0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f, 0.3f, 0.3f, 0.4f}, {3, 3});
  const Tensor one_hot = f32({0, 1, 0, 0, 0, 1, 0, 0, 1}, {3, 3});
  auto categorical = categorical_accuracy_metric();
  categorical->update_state(one_hot, scores);
  CHECK(categorical->result() == doctest::Approx(2.0 / 3.0));
  auto weighted = categorical_accuracy_metric();
  weighted->update_state(one_hot, scores, f32({1, 3, 0}, {3}));
  CHECK(weighted->result() == doctest::Approx(1.0 / 4.0));

  auto sparse = sparse_categorical_accuracy_metric();
  sparse->update_state(Tensor::from_vector(std::vector<int64_t>{1, 2, 2}, {3, 1}), scores);
  CHECK(sparse->result() == doctest::Approx(2.0 / 3.0));
  sparse->update_state(f32({0, 0, 0}, {3}), scores);  // float labels; only row 2 matches argmax 0
  CHECK(sparse->result() == doctest::Approx(3.0 / 6.0));

  // top-2: row 0 true 1 (rank 1) in; row 1 true 2 (0.2 is third) out; row 2 true 2 (rank 1) in.
  auto top2 = top_k_categorical_accuracy_metric(2);
  top2->update_state(one_hot, scores);
  CHECK(top2->result() == doctest::Approx(2.0 / 3.0));
  // Ties at the boundary count as in the top k (tf.math.in_top_k).
  auto tie = top_k_categorical_accuracy_metric(1);
  tie->update_state(f32({0, 1, 0}, {1, 3}), f32({0.4f, 0.4f, 0.2f}, {1, 3}));
  CHECK(tie->result() == 1.0);
  CHECK(message_of([&] { categorical->update_state(Tensor::from_vector(std::vector<int64_t>{1, 2, 2}), scores); })
            .find("sparse_categorical_accuracy") != std::string::npos);
}

TEST_CASE("metrics: MSE and MAE are per-sample means over the last axis, weighted") {
  auto mse = mean_squared_error_metric();
  auto mae = mean_absolute_error_metric();
  const Tensor y = f64({0, 1, 2, 3}, {2, 2});
  const Tensor p = f64({1, 1, 0, 3}, {2, 2});
  mse->update_state(y, p, f64({1, 3}, {2}));
  mae->update_state(y, p, f64({1, 3}, {2}));
  // per-sample mse: [0.5, 2.0]; mae: [0.5, 1.0]
  CHECK(mse->result() == doctest::Approx((0.5 + 6.0) / 4.0));
  CHECK(mae->result() == doctest::Approx((0.5 + 3.0) / 4.0));
}

TEST_CASE("metrics: precision and recall at threshold 0.5 with weights") {
  const Tensor y = f32({1, 1, 0, 0, 1}, {5});
  const Tensor p = f32({0.9f, 0.4f, 0.6f, 0.1f, 0.51f}, {5});
  const Tensor w = f32({1, 2, 3, 4, 5}, {5});
  // positives predicted: idx 0 (tp, w1), 2 (fp, w3), 4 (tp, w5); fn: idx 1 (w2)
  auto precision = precision_metric();
  auto recall = recall_metric();
  precision->update_state(y, p, w);
  recall->update_state(y, p, w);
  CHECK(precision->result() == doctest::Approx(6.0 / 9.0));
  CHECK(recall->result() == doctest::Approx(6.0 / 8.0));
  CHECK(message_of([&] { precision->update_state(y, f32({2, 0, 0, 0, 0}, {5})); }).find("[0, 1]") !=
        std::string::npos);
}

TEST_CASE("metrics: AUC equals the exact ROC trapezoid when predictions sit on the thresholds' grid") {
  // Predictions strictly between grid points of 1/(n-1) = 1/199, so every distinct score gets its own
  // bucket and the interpolated AUC is the exact trapezoidal ROC area (ties count half).
  const std::vector<double> labels = {1, 0, 1, 1, 0, 0, 1, 0};
  const std::vector<double> scores = {0.9, 0.8, 0.7, 0.31, 0.31, 0.2, 0.15, 0.05};
  const std::vector<double> weights = {1, 2, 1, 1, 1, 3, 2, 1};
  double pairs = 0, total = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    for (size_t j = 0; j < labels.size(); ++j) {
      if (labels[i] != 1 || labels[j] != 0) continue;
      const double w = weights[i] * weights[j];
      total += w;
      pairs += w * (scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0);
    }
  }
  const double exact = pairs / total;  // Mann-Whitney = trapezoidal ROC area
  auto auc = auc_metric();
  auc->update_state(f64(labels, {8}), f64(scores, {8}), f64(weights, {8}));
  CHECK(auc->result() == doctest::Approx(exact).epsilon(1e-12));
  // Split across two batches: same state.
  auto split = auc_metric();
  split->update_state(f64({1, 0, 1, 1}, {4}), f64({0.9, 0.8, 0.7, 0.31}, {4}), f64({1, 2, 1, 1}, {4}));
  split->update_state(f64({0, 0, 1, 0}, {4}), f64({0.31, 0.2, 0.15, 0.05}, {4}), f64({1, 3, 2, 1}, {4}));
  CHECK(split->result() == auc->result());
  // Coarse thresholds interpolate: 3 thresholds [-eps, 0.5, 1+eps]; scores 0.9/0.4 for pos, 0.6/0.1 for neg.
  auto coarse = auc_metric(3);
  coarse->update_state(f64({1, 1, 0, 0}, {4}), f64({0.9, 0.4, 0.6, 0.1}, {4}));
  // ROC points (fpr, tpr): t=-eps (1,1), t=0.5 (0.5,0.5), t=1+eps (0,0): area 0.5
  CHECK(coarse->result() == doctest::Approx(0.5));
  auto perfect = auc_metric();
  perfect->update_state(f64({0, 0, 1, 1}, {4}), f64({0.0, 0.2, 0.8, 1.0}, {4}));
  CHECK(perfect->result() == doctest::Approx(1.0));
}

TEST_CASE("metrics: get_metric resolves accuracy like Keras compile_utils") {
  const auto bce = binary_crossentropy_loss();
  const auto sparse = sparse_categorical_crossentropy_loss();
  const auto cce = categorical_crossentropy_loss();
  const auto mse = mean_squared_error_loss();
  CHECK(get_metric("accuracy", bce.get(), {-1, 4})->class_name() == "BinaryAccuracy");
  CHECK(get_metric("accuracy", mse.get(), {-1, 1})->class_name() == "BinaryAccuracy");
  CHECK(get_metric("accuracy", nullptr, {-1, 1})->class_name() == "BinaryAccuracy");
  CHECK(get_metric("acc", sparse.get(), {-1, 10})->class_name() == "SparseCategoricalAccuracy");
  CHECK(get_metric("accuracy", cce.get(), {-1, 10})->class_name() == "CategoricalAccuracy");
  CHECK(get_metric("accuracy", nullptr, {-1, 10})->class_name() == "CategoricalAccuracy");
  CHECK(get_metric("accuracy", sparse.get(), {-1, 10})->name() == "accuracy");
  CHECK(get_metric("acc", sparse.get(), {-1, 10})->name() == "acc");
  CHECK(get_metric("mse")->class_name() == "MeanSquaredError");
  CHECK(get_metric("AUC")->name() == "auc");
  CHECK(get_metric("Precision")->name() == "precision");
  CHECK(message_of([] { get_metric("accuarcy"); }).find("did you mean 'accuracy'") != std::string::npos);
}
