// Stateful metrics (Keras): update_state over batches, result(), reset_state().
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "pitfall/core/arguments.h"
#include "pitfall/core/json.h"
#include "pitfall/core/tensor.h"

namespace pitfall {

class Loss;

class Metric : public ConfiguredObject {
 public:
  // A metric without an argument table (a Python function's wrapper, the loss line of fit's logs).
  Metric(std::string class_name, std::string name);
  // A built-in metric: its resolved arguments (its name among them), which get_config shows.
  Metric(std::string class_name, Arguments arguments);
  virtual ~Metric() = default;
  virtual void update_state(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = Tensor()) = 0;
  virtual double result() const = 0;
  virtual void reset_state() = 0;
  virtual Json get_config() const;
};

// Weighted running mean of values (used for the loss line of fit's logs).
class Mean : public Metric {
 public:
  explicit Mean(std::string name = "mean");
  explicit Mean(Arguments arguments);
  void update_state(const Tensor& values, const Tensor& unused = Tensor(), const Tensor& sample_weight = Tensor()) override;
  void add(double value, double weight = 1.0);
  double result() const override;
  void reset_state() override;

 private:
  double total_ = 0.0, count_ = 0.0;
};

// The built-in metrics by class name, from Keras-named arguments (a JSON object) checked against the
// class's argument table (family "metrics"); unset ones take the table's defaults.
std::shared_ptr<Metric> make_metric(const std::string& class_name, const Json& arguments = Json::object());
// From {"class_name", "config"} (get_config's form) or a name.
std::shared_ptr<Metric> metric_from_config(const Json& class_and_config);
// Typed shortcuts: an argument left unset takes the table's default.
std::shared_ptr<Metric> binary_accuracy_metric(std::optional<double> threshold = {});
std::shared_ptr<Metric> categorical_accuracy_metric();
std::shared_ptr<Metric> sparse_categorical_accuracy_metric();
std::shared_ptr<Metric> top_k_categorical_accuracy_metric(std::optional<int64_t> k = {});
std::shared_ptr<Metric> mean_squared_error_metric();
std::shared_ptr<Metric> mean_absolute_error_metric();
std::shared_ptr<Metric> precision_metric(std::optional<double> threshold = {});
std::shared_ptr<Metric> recall_metric(std::optional<double> threshold = {});
// ROC AUC by the Keras method: `num_thresholds` evenly spaced thresholds, interpolated trapezoids.
std::shared_ptr<Metric> auc_metric(std::optional<int64_t> num_thresholds = {});
// By name. "accuracy"/"acc" is resolved like Keras: from the loss (binary / sparse / categorical)
// and, without a loss hint, from the output shape (last dim 1 -> binary). Unknown names raise
// ValueError with "did you mean".
std::shared_ptr<Metric> get_metric(const std::string& name, const Loss* loss = nullptr, const Shape& output_shape = {});

}  // namespace pitfall
