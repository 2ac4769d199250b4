// Stateful metrics with Keras 3 semantics (keras/src/metrics/). State is kept in double on the host:
// metrics are read, not differentiated, and summing in a fixed order keeps them deterministic.
#include "pitfall/layers/metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>

#include "pitfall/core/autograd.h"
#include "pitfall/core/ops.h"
#include "pitfall/layers/layer.h"
#include "pitfall/layers/losses.h"

namespace pitfall {

namespace {

constexpr double kEpsilon = 1e-7;  // keras.backend.epsilon(), used by the AUC end thresholds

// divide_no_nan: an empty metric reports 0.
double ratio(double numerator, double denominator) { return denominator == 0.0 ? 0.0 : numerator / denominator; }

std::vector<double> host_values(const Tensor& t) {
  NoGradGuard no_grad;
  return (t.dtype() == DType::float64 ? t : cast(t.detach(), DType::float64)).to_vector<double>();
}

void check_defined(const std::string& metric, const Tensor& y_true, const Tensor& y_pred) {
  if (!y_true.defined() || !y_pred.defined()) {
    throw ValueError("metric '" + metric + "': update_state needs both y_true and y_pred");
  }
}

// Keras squeeze_or_expand_to_same_rank: (N,) against (N, 1) is aligned, not broadcast. Any other
// difference is an error. Returns the common shape.
Shape aligned_shape(const std::string& metric, const Shape& t, const Shape& p) {
  if (t == p) return p;
  const auto column_of = [](const Shape& a, const Shape& b) {
    return a.size() + 1 == b.size() && b.back() == 1 && std::equal(a.begin(), a.end(), b.begin());
  };
  if (column_of(t, p)) return t;
  if (column_of(p, t)) return p;
  throw ShapeError("metric '" + metric + "': y_true shape " + shape_str(t) + " does not match y_pred shape " +
                   shape_str(p));
}

// One weight per sample value: `sample_weight` of shape equal to, a leading prefix of, or (N, 1)
// against `values_shape`, expanded to values_shape's element count (row-major). Empty: weights 1.
std::vector<double> expanded_weights(const std::string& metric, const Tensor& sample_weight,
                                     const Shape& values_shape) {
  const int64_t n = shape_numel(values_shape);
  if (!sample_weight.defined()) return std::vector<double>(static_cast<size_t>(n), 1.0);
  const std::vector<double> w = host_values(sample_weight);
  Shape ws = sample_weight.shape();
  while (ws.size() > values_shape.size() && ws.back() == 1) ws.pop_back();
  if (ws.size() > values_shape.size() || !std::equal(ws.begin(), ws.end(), values_shape.begin())) {
    if (w.size() != 1) {
      throw ShapeError("metric '" + metric + "': sample_weight shape " + shape_str(sample_weight.shape()) +
                       " does not fit values of shape " + shape_str(values_shape) + "; pass one weight per sample");
    }
  }
  if (w.size() == 1) return std::vector<double>(static_cast<size_t>(n), w[0]);
  const int64_t repeat = n / static_cast<int64_t>(w.size());  // trailing axes the weight is broadcast over
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = w[static_cast<size_t>(i / repeat)];
  return out;
}

// A Keras MeanMetricWrapper: a per-sample value function, then a weighted running mean. Per-sample
// values of rank > 1 are reduced to one value per sample by their mean (keras
// reduce_to_samplewise_values), and the count is the sum of the per-sample weights.
class MeanMetricWrapper : public Metric {
 public:
  // fn returns one value per element of `shape` (the values' row-major layout), given host data.
  using ValueFn = std::function<std::vector<double>(const Tensor& y_true, const Tensor& y_pred, Shape& shape)>;
  MeanMetricWrapper(std::string class_name, std::string name, ValueFn fn, Json extra_config = Json::object())
      : Metric(std::move(class_name), std::move(name)), fn_(std::move(fn)), extra_config_(std::move(extra_config)) {}

  void update_state(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) override {
    check_defined(name(), y_true, y_pred);
    Shape shape;
    const std::vector<double> values = fn_(y_true, y_pred, shape);
    const int64_t num_samples = shape.empty() ? 1 : shape[0];
    if (num_samples == 0) return;
    const int64_t per_sample = static_cast<int64_t>(values.size()) / num_samples;
    std::vector<double> weights;
    if (sample_weight.defined()) {
      // Weights are aligned to the batch axis (and any leading axes they name).
      weights = expanded_weights(name(), sample_weight, shape);
    }
    for (int64_t s = 0; s < num_samples; ++s) {
      double value_sum = 0.0, weight_sum = 0.0;
      for (int64_t j = 0; j < per_sample; ++j) {
        const size_t i = static_cast<size_t>(s * per_sample + j);
        const double w = weights.empty() ? 1.0 : weights[i];
        value_sum += values[i] * w;
        weight_sum += w;
      }
      total_ += value_sum / static_cast<double>(per_sample);
      count_ += weight_sum / static_cast<double>(per_sample);
    }
  }
  double result() const override { return ratio(total_, count_); }
  void reset_state() override { total_ = count_ = 0.0; }
  Json get_config() const override {
    Json config = Metric::get_config();
    for (const auto& [key, value] : extra_config_.as_object()) config[key] = value;
    return config;
  }

 private:
  ValueFn fn_;
  Json extra_config_;
  double total_ = 0.0, count_ = 0.0;
};

std::vector<double> argmax_last(const Tensor& x) {
  NoGradGuard no_grad;
  return host_values(argmax(x.detach(), -1));
}

void check_probabilities(const std::string& metric, const std::vector<double>& predictions) {
  for (size_t i = 0; i < predictions.size(); ++i) {
    const double p = predictions[i];
    if (!(p >= 0.0 && p <= 1.0)) {
      throw ValueError("metric '" + metric + "': predictions must be probabilities in [0, 1], got " +
                       std::to_string(p) + " at position " + std::to_string(i) +
                       ". If the model outputs logits, add a sigmoid for this metric (Keras raises here too)");
    }
  }
}

// Confusion counts at each threshold: prediction > threshold counts as positive (Keras
// update_confusion_matrix_variables), labels are positive when nonzero.
class ConfusionMetric : public Metric {
 public:
  enum class Kind { precision, recall, auc };
  ConfusionMetric(std::string class_name, std::string name, Kind kind, std::vector<double> thresholds,
                  Json extra_config)
      : Metric(std::move(class_name), std::move(name)),
        kind_(kind),
        thresholds_(std::move(thresholds)),
        extra_config_(std::move(extra_config)) {
    reset_state();
  }

  void update_state(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) override {
    check_defined(name(), y_true, y_pred);
    const Shape shape = aligned_shape(name(), y_true.shape(), y_pred.shape());
    const std::vector<double> labels = host_values(y_true);
    const std::vector<double> predictions = host_values(y_pred);
    check_probabilities(name(), predictions);
    const std::vector<double> weights = expanded_weights(name(), sample_weight, shape);
    const size_t num_thresholds = thresholds_.size();
    // Histogram by "how many thresholds lie strictly below the prediction", then suffix sums: the
    // count above threshold t is the weight of every prediction with more than t thresholds below.
    std::vector<double> positive_hist(num_thresholds + 1, 0.0), negative_hist(num_thresholds + 1, 0.0);
    for (size_t i = 0; i < predictions.size(); ++i) {
      const size_t below = static_cast<size_t>(
          std::lower_bound(thresholds_.begin(), thresholds_.end(), predictions[i]) - thresholds_.begin());
      (labels[i] != 0.0 ? positive_hist : negative_hist)[below] += weights[i];
    }
    double positives_above = 0.0, negatives_above = 0.0, positives_total = 0.0, negatives_total = 0.0;
    for (size_t b = 0; b <= num_thresholds; ++b) {
      positives_total += positive_hist[b];
      negatives_total += negative_hist[b];
    }
    for (size_t t = num_thresholds; t-- > 0;) {
      positives_above += positive_hist[t + 1];
      negatives_above += negative_hist[t + 1];
      true_positives_[t] += positives_above;
      false_positives_[t] += negatives_above;
      false_negatives_[t] += positives_total - positives_above;
      true_negatives_[t] += negatives_total - negatives_above;
    }
  }

  double result() const override {
    switch (kind_) {
      case Kind::precision: return ratio(true_positives_[0], true_positives_[0] + false_positives_[0]);
      case Kind::recall: return ratio(true_positives_[0], true_positives_[0] + false_negatives_[0]);
      case Kind::auc: {
        // ROC curve, trapezoidal ("interpolation") Riemann sum over the thresholds (Keras AUC).
        double area = 0.0;
        for (size_t t = 0; t + 1 < thresholds_.size(); ++t) {
          const double tpr0 = ratio(true_positives_[t], true_positives_[t] + false_negatives_[t]);
          const double tpr1 = ratio(true_positives_[t + 1], true_positives_[t + 1] + false_negatives_[t + 1]);
          const double fpr0 = ratio(false_positives_[t], false_positives_[t] + true_negatives_[t]);
          const double fpr1 = ratio(false_positives_[t + 1], false_positives_[t + 1] + true_negatives_[t + 1]);
          area += (fpr0 - fpr1) * (tpr0 + tpr1) / 2.0;
        }
        return area;
      }
    }
    return 0.0;
  }

  void reset_state() override {
    const size_t n = thresholds_.size();
    true_positives_.assign(n, 0.0);
    false_positives_.assign(n, 0.0);
    true_negatives_.assign(n, 0.0);
    false_negatives_.assign(n, 0.0);
  }

  Json get_config() const override {
    Json config = Metric::get_config();
    for (const auto& [key, value] : extra_config_.as_object()) config[key] = value;
    return config;
  }

 private:
  Kind kind_;
  std::vector<double> thresholds_;  // ascending
  Json extra_config_;
  std::vector<double> true_positives_, false_positives_, true_negatives_, false_negatives_;
};

// ---- per-sample value functions

MeanMetricWrapper::ValueFn binary_accuracy_fn(double threshold, std::string name) {
  return [threshold, name](const Tensor& y_true, const Tensor& y_pred, Shape& shape) {
    shape = aligned_shape(name, y_true.shape(), y_pred.shape());
    const std::vector<double> labels = host_values(y_true);
    const std::vector<double> predictions = host_values(y_pred);
    std::vector<double> out(predictions.size());
    for (size_t i = 0; i < out.size(); ++i) {
      const double predicted = predictions[i] > threshold ? 1.0 : 0.0;
      out[i] = labels[i] == predicted ? 1.0 : 0.0;
    }
    return out;
  };
}

MeanMetricWrapper::ValueFn categorical_accuracy_fn(std::string name) {
  return [name](const Tensor& y_true, const Tensor& y_pred, Shape& shape) {
    if (y_true.shape() != y_pred.shape() || y_pred.ndim() < 1) {
      throw ShapeError("metric '" + name + "': y_true shape " + shape_str(y_true.shape()) +
                       " does not match y_pred shape " + shape_str(y_pred.shape()) +
                       "; categorical accuracy compares one-hot labels. For integer labels use "
                       "'sparse_categorical_accuracy'");
    }
    const std::vector<double> true_class = argmax_last(y_true);
    const std::vector<double> predicted_class = argmax_last(y_pred);
    shape = Shape(y_pred.shape().begin(), y_pred.shape().end() - 1);
    std::vector<double> out(true_class.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = true_class[i] == predicted_class[i] ? 1.0 : 0.0;
    return out;
  };
}

// Labels (..., ) or (..., 1) against scores (..., C).
void check_sparse_shapes(const std::string& name, const Tensor& y_true, const Tensor& y_pred) {
  const Shape& p = y_pred.shape();
  if (p.empty()) throw ShapeError("metric '" + name + "': y_pred needs a class axis, got shape ()");
  const Shape batch(p.begin(), p.end() - 1);
  Shape column = batch;
  column.push_back(1);
  if (y_true.shape() != batch && y_true.shape() != column) {
    throw ShapeError("metric '" + name + "': y_true shape " + shape_str(y_true.shape()) + " does not fit y_pred " +
                     shape_str(p) + "; expected integer labels of shape " + shape_str(batch) + " or " +
                     shape_str(column) + (y_true.shape() == p ? " (one-hot labels need 'categorical_accuracy')" : ""));
  }
}

MeanMetricWrapper::ValueFn sparse_categorical_accuracy_fn(std::string name) {
  return [name](const Tensor& y_true, const Tensor& y_pred, Shape& shape) {
    check_sparse_shapes(name, y_true, y_pred);
    const std::vector<double> labels = host_values(y_true);
    const std::vector<double> predicted_class = argmax_last(y_pred);
    shape = Shape(y_pred.shape().begin(), y_pred.shape().end() - 1);
    std::vector<double> out(labels.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = labels[i] == predicted_class[i] ? 1.0 : 0.0;
    return out;
  };
}

MeanMetricWrapper::ValueFn top_k_fn(int64_t k, std::string name) {
  return [k, name](const Tensor& y_true, const Tensor& y_pred, Shape& shape) {
    if (y_true.shape() != y_pred.shape() || y_pred.ndim() < 1) {
      throw ShapeError("metric '" + name + "': y_true shape " + shape_str(y_true.shape()) +
                       " does not match y_pred shape " + shape_str(y_pred.shape()) + " (one-hot labels expected)");
    }
    const std::vector<double> true_class = argmax_last(y_true);
    const std::vector<double> scores = host_values(y_pred);
    const int64_t num_classes = y_pred.shape().back();
    shape = Shape(y_pred.shape().begin(), y_pred.shape().end() - 1);
    std::vector<double> out(true_class.size());
    for (size_t s = 0; s < out.size(); ++s) {
      const double* row = scores.data() + s * static_cast<size_t>(num_classes);
      const double target = row[static_cast<int64_t>(true_class[s])];
      // tf.math.in_top_k: ties at the boundary count as in the top k; non-finite scores never do.
      int64_t strictly_greater = 0;
      for (int64_t c = 0; c < num_classes; ++c) strictly_greater += row[c] > target ? 1 : 0;
      out[s] = std::isfinite(target) && strictly_greater < k ? 1.0 : 0.0;
    }
    return out;
  };
}

MeanMetricWrapper::ValueFn error_fn(bool squared, std::string name) {
  return [squared, name](const Tensor& y_true, const Tensor& y_pred, Shape& shape) {
    shape = aligned_shape(name, y_true.shape(), y_pred.shape());
    const std::vector<double> labels = host_values(y_true);
    const std::vector<double> predictions = host_values(y_pred);
    std::vector<double> out(predictions.size());
    for (size_t i = 0; i < out.size(); ++i) {
      const double e = predictions[i] - labels[i];
      out[i] = squared ? e * e : std::abs(e);
    }
    // The wrapper averages trailing axes per sample: the Keras mean over the last axis.
    return out;
  };
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::shared_ptr<Metric> binary_accuracy_named(double threshold, std::string name) {
  return std::make_shared<MeanMetricWrapper>("BinaryAccuracy", name, binary_accuracy_fn(threshold, name),
                                             Json(Json::Object{{"threshold", threshold}}));
}
std::shared_ptr<Metric> categorical_accuracy_named(std::string name) {
  return std::make_shared<MeanMetricWrapper>("CategoricalAccuracy", name, categorical_accuracy_fn(name));
}
std::shared_ptr<Metric> sparse_categorical_accuracy_named(std::string name) {
  return std::make_shared<MeanMetricWrapper>("SparseCategoricalAccuracy", name, sparse_categorical_accuracy_fn(name));
}

}  // namespace

// ---------------------------------------------------------------- Metric, Mean

Metric::Metric(std::string class_name, std::string name)
    : class_name_(std::move(class_name)), name_(std::move(name)) {}

Json Metric::get_config() const {
  Json config = Json::object();
  config["name"] = name_;
  config["dtype"] = "float32";
  return config;
}

Mean::Mean(std::string name) : Metric("Mean", std::move(name)) {}

void Mean::update_state(const Tensor& values, const Tensor&, const Tensor& sample_weight) {
  if (!values.defined()) throw ValueError("metric '" + name() + "': update_state needs values");
  const std::vector<double> v = host_values(values);
  const std::vector<double> w = expanded_weights(name(), sample_weight, values.shape());
  for (size_t i = 0; i < v.size(); ++i) add(v[i], w[i]);
}

void Mean::add(double value, double weight) {
  total_ += value * weight;
  count_ += weight;
}

double Mean::result() const { return ratio(total_, count_); }

void Mean::reset_state() { total_ = count_ = 0.0; }

// ---------------------------------------------------------------- factories

std::shared_ptr<Metric> binary_accuracy_metric(double threshold) {
  return binary_accuracy_named(threshold, "binary_accuracy");
}
std::shared_ptr<Metric> categorical_accuracy_metric() { return categorical_accuracy_named("categorical_accuracy"); }
std::shared_ptr<Metric> sparse_categorical_accuracy_metric() {
  return sparse_categorical_accuracy_named("sparse_categorical_accuracy");
}
std::shared_ptr<Metric> top_k_categorical_accuracy_metric(int64_t k) {
  if (k < 1) throw ValueError("top_k_categorical_accuracy: k must be >= 1, got " + std::to_string(k));
  return std::make_shared<MeanMetricWrapper>("TopKCategoricalAccuracy", "top_k_categorical_accuracy",
                                             top_k_fn(k, "top_k_categorical_accuracy"), Json(Json::Object{{"k", k}}));
}
std::shared_ptr<Metric> mean_squared_error_metric() {
  return std::make_shared<MeanMetricWrapper>("MeanSquaredError", "mean_squared_error",
                                             error_fn(true, "mean_squared_error"));
}
std::shared_ptr<Metric> mean_absolute_error_metric() {
  return std::make_shared<MeanMetricWrapper>("MeanAbsoluteError", "mean_absolute_error",
                                             error_fn(false, "mean_absolute_error"));
}

namespace {
void check_threshold(const char* metric, double threshold) {
  if (!(threshold >= 0.0 && threshold <= 1.0)) {
    throw ValueError(std::string(metric) + ": threshold must be in [0, 1], got " + std::to_string(threshold));
  }
}
}  // namespace

std::shared_ptr<Metric> precision_metric(double threshold) {
  check_threshold("precision", threshold);
  return std::make_shared<ConfusionMetric>("Precision", "precision", ConfusionMetric::Kind::precision,
                                           std::vector<double>{threshold},
                                           Json(Json::Object{{"thresholds", threshold}}));
}
std::shared_ptr<Metric> recall_metric(double threshold) {
  check_threshold("recall", threshold);
  return std::make_shared<ConfusionMetric>("Recall", "recall", ConfusionMetric::Kind::recall,
                                           std::vector<double>{threshold},
                                           Json(Json::Object{{"thresholds", threshold}}));
}
std::shared_ptr<Metric> auc_metric(int64_t num_thresholds) {
  if (num_thresholds <= 1) {
    throw ValueError("auc: num_thresholds must be > 1, got " + std::to_string(num_thresholds));
  }
  // Keras AUC: [0 - eps, 1/(n-1), ..., (n-2)/(n-1), 1 + eps], so predictions of exactly 0 and 1 are
  // counted at the ends.
  std::vector<double> thresholds;
  thresholds.push_back(0.0 - kEpsilon);
  for (int64_t i = 0; i < num_thresholds - 2; ++i) {
    thresholds.push_back(static_cast<double>(i + 1) / static_cast<double>(num_thresholds - 1));
  }
  thresholds.push_back(1.0 + kEpsilon);
  return std::make_shared<ConfusionMetric>(
      "AUC", "auc", ConfusionMetric::Kind::auc, std::move(thresholds),
      Json(Json::Object{{"num_thresholds", num_thresholds},
                        {"curve", "ROC"},
                        {"summation_method", "interpolation"}}));
}

std::shared_ptr<Metric> get_metric(const std::string& name, const Loss* loss, const Shape& output_shape) {
  const std::string key = lower(name);
  if (key == "accuracy" || key == "acc") {
    // keras compile_utils: binary when the loss is binary crossentropy or the output has one unit,
    // sparse for the sparse loss, categorical otherwise. The metric keeps the user's name.
    const std::string loss_class = loss ? loss->class_name() : "";
    const bool one_unit = output_shape.size() == 1 || (!output_shape.empty() && output_shape.back() == 1);
    if (loss_class == "BinaryCrossentropy" || one_unit) return binary_accuracy_named(0.5, name);
    if (loss_class == "SparseCategoricalCrossentropy") return sparse_categorical_accuracy_named(name);
    return categorical_accuracy_named(name);
  }
  struct Entry {
    std::vector<std::string> names;
    std::function<std::shared_ptr<Metric>()> make;
  };
  static const std::vector<Entry> table = {
      {{"binary_accuracy", "BinaryAccuracy"}, [] { return binary_accuracy_metric(); }},
      {{"categorical_accuracy", "CategoricalAccuracy"}, [] { return categorical_accuracy_metric(); }},
      {{"sparse_categorical_accuracy", "SparseCategoricalAccuracy"}, [] { return sparse_categorical_accuracy_metric(); }},
      {{"top_k_categorical_accuracy", "TopKCategoricalAccuracy"}, [] { return top_k_categorical_accuracy_metric(); }},
      {{"mean_squared_error", "mse", "MeanSquaredError"}, [] { return mean_squared_error_metric(); }},
      {{"mean_absolute_error", "mae", "MeanAbsoluteError"}, [] { return mean_absolute_error_metric(); }},
      {{"precision", "Precision"}, [] { return precision_metric(); }},
      {{"recall", "Recall"}, [] { return recall_metric(); }},
      {{"auc", "AUC"}, [] { return auc_metric(); }},
  };
  std::vector<std::string> candidates = {"accuracy", "acc"};
  for (const auto& entry : table) {
    for (const auto& alias : entry.names) {
      if (lower(alias) == key) return entry.make();
    }
    candidates.insert(candidates.end(), entry.names.begin(), entry.names.end());
  }
  throw ValueError("unknown metric '" + name + "'; " + did_you_mean(name, candidates));
}

}  // namespace pitfall
