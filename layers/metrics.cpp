// Stateful metrics with Keras 3 semantics (keras/src/metrics/). State is kept in double on the host:
// metrics are read, not differentiated, and summing in a fixed order keeps them deterministic.
#include "pitfall/layers/metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <map>
#include <optional>

#include "pitfall/core/arguments.h"
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
  MeanMetricWrapper(std::string class_name, Arguments arguments, ValueFn fn)
      : Metric(std::move(class_name), std::move(arguments)), fn_(std::move(fn)) {}

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
    if (const Tensor mask = y_pred.keras_mask(); mask.defined()) {
      // keras/src/metrics/reduction_metrics.py MeanMetricWrapper: the predictions' mask weighs each
      // value (apply_mask with reduction "sum"): masked positions count for nothing.
      const std::vector<double> kept = expanded_weights(name(), cast(mask, DType::float64), shape);
      if (weights.empty()) weights.assign(kept.size(), 1.0);
      for (size_t i = 0; i < kept.size(); ++i) weights[i] *= kept[i];
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

 private:
  ValueFn fn_;
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
  enum class Kind { precision, recall, auc, true_positives, false_positives, true_negatives, false_negatives };
  ConfusionMetric(std::string class_name, Arguments arguments, Kind kind, std::vector<double> thresholds)
      : Metric(std::move(class_name), std::move(arguments)), kind_(kind), thresholds_(std::move(thresholds)) {
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
      // The counts themselves (keras/src/metrics/confusion_metrics.py TruePositives ...), with
      // one threshold.
      case Kind::true_positives: return true_positives_[0];
      case Kind::false_positives: return false_positives_[0];
      case Kind::true_negatives: return true_negatives_[0];
      case Kind::false_negatives: return false_negatives_[0];
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


 private:
  Kind kind_;
  std::vector<double> thresholds_;  // ascending
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

// Keras's Accuracy: how often the prediction equals the label exactly.
MeanMetricWrapper::ValueFn accuracy_fn(std::string name) {
  return [name](const Tensor& y_true, const Tensor& y_pred, Shape& shape) {
    shape = aligned_shape(name, y_true.shape(), y_pred.shape());
    const std::vector<double> labels = host_values(y_true);
    const std::vector<double> predictions = host_values(y_pred);
    std::vector<double> out(predictions.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = labels[i] == predictions[i] ? 1.0 : 0.0;
    return out;
  };
}

}  // namespace

// ---------------------------------------------------------------- Metric, Mean

Metric::Metric(std::string class_name, std::string name) : ConfiguredObject(std::move(class_name), std::move(name)) {}

Metric::Metric(std::string class_name, Arguments arguments)
    : ConfiguredObject(std::move(class_name), std::move(arguments)) {}

Json Metric::get_config() const {
  Json fixed = Json::object();
  fixed["dtype"] = "float32";
  return config_with(fixed);
}

Mean::Mean(std::string name) : Metric("Mean", std::move(name)) {}

Mean::Mean(Arguments arguments) : Metric("Mean", std::move(arguments)) {}

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

// ---------------------------------------------------------------- the argument tables

namespace {

// name: the metric's name (None: the class's snake_case name, as Keras names it); dtype: the dtype
// results are reported in (None: float32; state is kept in double either way).
Argument name_argument(Json default_name, std::string fallback) {
  return Argument("name", ArgKind::string, std::move(default_name))
      .allow_none()
      .normalized([fallback](const Json& value) { return value.is_null() ? Json(fallback) : value; })
      .described("the metric's name, the key of its value in the logs");
}

Argument dtype_argument() {
  return Argument("dtype", ArgKind::dtype)
      .allow_none()
      .checked([](const Json& value) -> std::string {
        if (value.as_string() != "float32") {
          throw NotImplementedError("only float32 is supported (metrics accumulate in float64 and report float32)");
        }
        return "";
      })
      .normalized([](const Json& value) { return value.is_null() ? Json("float32") : value; })
      .described("the dtype results are reported in; None means float32");
}

Argument unit_threshold(const char* name, const char* doc) {
  return Argument(name, ArgKind::number, 0.5).checked(unit_interval).described(doc);
}

// Precision / Recall: one threshold (None: 0.5); top_k and class_id are Keras arguments pitfall lacks.
std::vector<Argument> confusion_arguments(const std::string& fallback_name) {
  return {Argument("thresholds", ArgKind::number).allow_none().checked(unit_interval)
              .described("a prediction above it counts as positive (None: 0.5); one threshold only"),
          Argument("top_k", ArgKind::integer).allow_none().unsupported(),
          Argument("class_id", ArgKind::integer).allow_none().unsupported(),
          name_argument(Json(), fallback_name), dtype_argument()};
}

ArgumentTable metric_table(std::string class_name, const std::string& source, std::string doc,
                           std::vector<Argument> arguments) {
  return argument_table("metrics", std::move(class_name), "keras/src/metrics/" + source, std::move(doc),
                        std::move(arguments));
}

using MetricClass = ArgumentClass<Metric>;

MetricClass wrapper(ArgumentTable table,
                    std::function<MeanMetricWrapper::ValueFn(const Arguments&, const std::string& name)> fn) {
  const std::string class_name = table.class_name;
  return {std::move(table), [class_name, fn](const Arguments& a) -> std::shared_ptr<Metric> {
            return std::make_shared<MeanMetricWrapper>(class_name, a, fn(a, a.text("name")));
          }};
}

double threshold_of(const Arguments& a) { return a.is_none("thresholds") ? 0.5 : a.number("thresholds"); }

const ArgumentClasses<Metric>& metric_classes() {
  static const ArgumentClasses<Metric> classes = [] {
    ArgumentClasses<Metric> c;
    c["Accuracy"] = wrapper(metric_table("Accuracy", "accuracy_metrics.py", "how often predictions equal labels exactly",
                                         {name_argument("accuracy", "accuracy"), dtype_argument()}),
                            [](const Arguments&, const std::string& name) { return accuracy_fn(name); });
    c["BinaryAccuracy"] = wrapper(
        metric_table("BinaryAccuracy", "accuracy_metrics.py", "how often a thresholded prediction matches a 0/1 label",
                     {name_argument("binary_accuracy", "binary_accuracy"), dtype_argument(),
                      unit_threshold("threshold", "a prediction above it counts as 1")}),
        [](const Arguments& a, const std::string& name) { return binary_accuracy_fn(a.number("threshold"), name); });
    c["CategoricalAccuracy"] = wrapper(
        metric_table("CategoricalAccuracy", "accuracy_metrics.py", "how often the argmax matches a one-hot label",
                     {name_argument("categorical_accuracy", "categorical_accuracy"), dtype_argument()}),
        [](const Arguments&, const std::string& name) { return categorical_accuracy_fn(name); });
    c["SparseCategoricalAccuracy"] = wrapper(
        metric_table("SparseCategoricalAccuracy", "accuracy_metrics.py", "how often the argmax matches an integer label",
                     {name_argument("sparse_categorical_accuracy", "sparse_categorical_accuracy"), dtype_argument()}),
        [](const Arguments&, const std::string& name) { return sparse_categorical_accuracy_fn(name); });
    c["TopKCategoricalAccuracy"] = wrapper(
        metric_table("TopKCategoricalAccuracy", "accuracy_metrics.py", "how often the label is among the k top scores",
                     {Argument("k", ArgKind::integer, 5).checked(positive_integer).described("how many top scores count"),
                      name_argument("top_k_categorical_accuracy", "top_k_categorical_accuracy"), dtype_argument()}),
        [](const Arguments& a, const std::string& name) { return top_k_fn(a.integer("k"), name); });
    c["MeanSquaredError"] = wrapper(
        metric_table("MeanSquaredError", "regression_metrics.py", "the mean of the squared errors",
                     {name_argument("mean_squared_error", "mean_squared_error"), dtype_argument()}),
        [](const Arguments&, const std::string& name) { return error_fn(true, name); });
    c["MeanAbsoluteError"] = wrapper(
        metric_table("MeanAbsoluteError", "regression_metrics.py", "the mean of the absolute errors",
                     {name_argument("mean_absolute_error", "mean_absolute_error"), dtype_argument()}),
        [](const Arguments&, const std::string& name) { return error_fn(false, name); });
    c["Precision"] = {metric_table("Precision", "confusion_metrics.py", "true positives / predicted positives",
                                   confusion_arguments("precision")),
                      [](const Arguments& a) -> std::shared_ptr<Metric> {
                        return std::make_shared<ConfusionMetric>("Precision", a, ConfusionMetric::Kind::precision,
                                                                 std::vector<double>{threshold_of(a)});
                      }};
    c["Recall"] = {metric_table("Recall", "confusion_metrics.py", "true positives / actual positives",
                                confusion_arguments("recall")),
                   [](const Arguments& a) -> std::shared_ptr<Metric> {
                     return std::make_shared<ConfusionMetric>("Recall", a, ConfusionMetric::Kind::recall,
                                                              std::vector<double>{threshold_of(a)});
                   }};
    // The four confusion counts: thresholds (None: 0.5), name, dtype.
    const auto count = [](const char* class_name, const char* snake, const char* doc, ConfusionMetric::Kind kind) {
      return MetricClass{
          metric_table(class_name, "confusion_metrics.py", doc,
                       {Argument("thresholds", ArgKind::number).allow_none().checked(unit_interval)
                            .described("a prediction above it counts as positive (None: 0.5); one threshold only"),
                        name_argument(Json(), snake), dtype_argument()}),
          [class_name, kind](const Arguments& a) -> std::shared_ptr<Metric> {
            return std::make_shared<ConfusionMetric>(class_name, a, kind, std::vector<double>{threshold_of(a)});
          }};
    };
    c["TruePositives"] = count("TruePositives", "true_positives", "the (weighted) count of true positives",
                               ConfusionMetric::Kind::true_positives);
    c["FalsePositives"] = count("FalsePositives", "false_positives", "the (weighted) count of false positives",
                                ConfusionMetric::Kind::false_positives);
    c["TrueNegatives"] = count("TrueNegatives", "true_negatives", "the (weighted) count of true negatives",
                               ConfusionMetric::Kind::true_negatives);
    c["FalseNegatives"] = count("FalseNegatives", "false_negatives", "the (weighted) count of false negatives",
                                ConfusionMetric::Kind::false_negatives);
    const auto only = [](const char* value, const char* why) {
      return [value, why](const Json& v) -> std::string {
        if (v.as_string() != value) throw NotImplementedError(why);
        return "";
      };
    };
    c["AUC"] = {
        metric_table("AUC", "confusion_metrics.py", "area under the ROC curve, over evenly spaced thresholds",
                     {Argument("num_thresholds", ArgKind::integer, 200)
                          .checked([](const Json& v) { return v.as_int() > 1 ? std::string() : "an integer > 1"; })
                          .described("how many thresholds the curve is evaluated at"),
                      Argument("curve", ArgKind::string, "ROC").checked(only("ROC", "only curve='ROC' is supported"))
                          .described("'ROC' (supported) or 'PR'"),
                      Argument("summation_method", ArgKind::string, "interpolation")
                          .checked(only("interpolation", "only summation_method='interpolation' is supported"))
                          .described("how the area is summed: 'interpolation' (trapezoids)"),
                      name_argument(Json(), "auc"), dtype_argument(),
                      Argument("thresholds", ArgKind::json).allow_none().unsupported(),
                      Argument("multi_label", ArgKind::boolean, false).unsupported(),
                      Argument("num_labels", ArgKind::integer).allow_none().unsupported(),
                      Argument("label_weights", ArgKind::json).allow_none().unsupported(),
                      Argument("from_logits", ArgKind::boolean, false).unsupported()}),
        [](const Arguments& a) -> std::shared_ptr<Metric> {
          // Keras AUC: [0 - eps, 1/(n-1), ..., (n-2)/(n-1), 1 + eps], so predictions of exactly 0 and 1
          // are counted at the ends.
          const int64_t n = a.integer("num_thresholds");
          std::vector<double> thresholds;
          thresholds.push_back(0.0 - kEpsilon);
          for (int64_t i = 0; i < n - 2; ++i) thresholds.push_back(static_cast<double>(i + 1) / static_cast<double>(n - 1));
          thresholds.push_back(1.0 + kEpsilon);
          return std::make_shared<ConfusionMetric>("AUC", a, ConfusionMetric::Kind::auc, std::move(thresholds));
        }};
    c["Mean"] = {metric_table("Mean", "reduction_metrics.py", "the weighted mean of the values given",
                              {name_argument("mean", "mean"), dtype_argument()}),
                 [](const Arguments& a) -> std::shared_ptr<Metric> { return std::make_shared<Mean>(a); }};
    return c;
  }();
  return classes;
}

const bool metric_tables_registered = register_argument_classes(metric_classes());

Json given_name(const std::string& name) { return Json(Json::Object{{"name", name}}); }

}  // namespace

std::shared_ptr<Metric> make_metric(const std::string& class_name, const Json& arguments) {
  return make_argument_class(metric_classes(), class_name, "metric class", arguments);
}

std::shared_ptr<Metric> metric_from_config(const Json& value) {
  if (value.is_string()) return get_metric(value.as_string());
  const ClassAndConfig entry = class_and_config(value, "metric_from_config");
  return make_metric(entry.class_name, entry.config);
}

std::shared_ptr<Metric> binary_accuracy_metric(std::optional<double> threshold) {
  return make_metric("BinaryAccuracy", threshold ? Json(Json::Object{{"threshold", *threshold}}) : Json::object());
}
std::shared_ptr<Metric> categorical_accuracy_metric() { return make_metric("CategoricalAccuracy"); }
std::shared_ptr<Metric> sparse_categorical_accuracy_metric() { return make_metric("SparseCategoricalAccuracy"); }
std::shared_ptr<Metric> top_k_categorical_accuracy_metric(std::optional<int64_t> k) {
  return make_metric("TopKCategoricalAccuracy", k ? Json(Json::Object{{"k", *k}}) : Json::object());
}
std::shared_ptr<Metric> mean_squared_error_metric() { return make_metric("MeanSquaredError"); }
std::shared_ptr<Metric> mean_absolute_error_metric() { return make_metric("MeanAbsoluteError"); }
std::shared_ptr<Metric> precision_metric(std::optional<double> threshold) {
  return make_metric("Precision", threshold ? Json(Json::Object{{"thresholds", *threshold}}) : Json::object());
}
std::shared_ptr<Metric> recall_metric(std::optional<double> threshold) {
  return make_metric("Recall", threshold ? Json(Json::Object{{"thresholds", *threshold}}) : Json::object());
}
std::shared_ptr<Metric> auc_metric(std::optional<int64_t> num_thresholds) {
  return make_metric("AUC", num_thresholds ? Json(Json::Object{{"num_thresholds", *num_thresholds}}) : Json::object());
}

std::shared_ptr<Metric> get_metric(const std::string& name, const Loss* loss, const Shape& output_shape) {
  const std::string key = lower(name);
  if (key == "accuracy" || key == "acc") {
    // keras compile_utils: binary when the loss is binary crossentropy or the output has one unit,
    // sparse for the sparse loss, categorical otherwise. The metric keeps the user's name.
    const std::string loss_class = loss ? loss->class_name() : "";
    const bool one_unit = output_shape.size() == 1 || (!output_shape.empty() && output_shape.back() == 1);
    if (loss_class == "BinaryCrossentropy" || one_unit) return make_metric("BinaryAccuracy", given_name(name));
    if (loss_class == "SparseCategoricalCrossentropy") return make_metric("SparseCategoricalAccuracy", given_name(name));
    return make_metric("CategoricalAccuracy", given_name(name));
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
      {{"Accuracy"}, [] { return make_metric("Accuracy"); }},
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
