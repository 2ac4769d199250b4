// Losses with Keras semantics: per-sample values from call(), reduced by operator() with
// "sum_over_batch_size" (mean over every per-sample value, weighted by sample_weight if given).
//
// Shape rules (stricter than Keras, on purpose): y_true and y_pred must have the same shape, except
// for sparse categorical crossentropy (labels (N,) or (N, 1) against (N, C)); an (N,) vs (N, 1) pair
// that would broadcast raises ShapeError naming both shapes. Integer labels given to a categorical
// loss, or one-hot labels to the sparse loss, raise naming the loss to use instead.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "pitfall/core/arguments.h"
#include "pitfall/core/json.h"
#include "pitfall/core/tensor.h"

namespace pitfall {

class Loss : public ConfiguredObject {
 public:
  // A loss without an argument table (a Python function or subclass).
  Loss(std::string class_name, std::string name);
  // A built-in loss: its resolved arguments (its name among them), which get_config shows.
  Loss(std::string class_name, Arguments arguments);
  virtual ~Loss() = default;
  // Per-sample losses: shape y_pred.shape minus the last axis (or (N,) for (N,) inputs).
  virtual Tensor call(const Tensor& y_true, const Tensor& y_pred) const = 0;
  // call() reduced to a scalar: sum(per_sample * w) / count(per_sample) (Keras sum_over_batch_size).
  Tensor operator()(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = Tensor()) const;
  virtual Json get_config() const;
};

// The built-in losses by class name, from Keras-named arguments (a JSON object) checked against the
// class's argument table (family "losses": the arguments, their defaults and checks); unset ones take
// the table's defaults. Unknown classes and arguments raise ValueError with "did you mean".
std::shared_ptr<Loss> make_loss(const std::string& class_name, const Json& arguments = Json::object());
// Typed shortcuts: an argument left unset takes the table's default.
std::shared_ptr<Loss> mean_squared_error_loss();
std::shared_ptr<Loss> mean_absolute_error_loss();
std::shared_ptr<Loss> huber_loss(std::optional<double> delta = {});
// Keras: probabilities clipped to [1e-7, 1 - 1e-7]; from_logits uses the stable logits formula.
std::shared_ptr<Loss> binary_crossentropy_loss(std::optional<bool> from_logits = {},
                                               std::optional<double> label_smoothing = {});
// Keras: probabilities renormalized by their sum along `axis`, then clipped to [1e-7, 1 - 1e-7].
std::shared_ptr<Loss> categorical_crossentropy_loss(std::optional<bool> from_logits = {},
                                                    std::optional<double> label_smoothing = {},
                                                    std::optional<int64_t> axis = {});
std::shared_ptr<Loss> sparse_categorical_crossentropy_loss(std::optional<bool> from_logits = {});

// Strings as Keras accepts them: "mse", "mean_squared_error", "mae", "huber", "binary_crossentropy",
// "categorical_crossentropy", "sparse_categorical_crossentropy", CamelCase class names. Unknown
// names raise ValueError with "did you mean".
std::shared_ptr<Loss> get_loss(const std::string& name);
std::shared_ptr<Loss> loss_from_config(const Json& class_and_config);

}  // namespace pitfall
