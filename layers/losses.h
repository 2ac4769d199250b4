// Losses with Keras semantics: per-sample values from call(), reduced by operator() with
// "sum_over_batch_size" (mean over every per-sample value, weighted by sample_weight if given).
//
// Shape rules (stricter than Keras, on purpose): y_true and y_pred must have the same shape, except
// for sparse categorical crossentropy (labels (N,) or (N, 1) against (N, C)); an (N,) vs (N, 1) pair
// that would broadcast raises ShapeError naming both shapes. Integer labels given to a categorical
// loss, or one-hot labels to the sparse loss, raise naming the loss to use instead.
#pragma once
#include <memory>
#include <string>

#include "pitfall/core/json.h"
#include "pitfall/core/tensor.h"

namespace pitfall {

class Loss {
 public:
  Loss(std::string class_name, std::string name);
  virtual ~Loss() = default;
  // Per-sample losses: shape y_pred.shape minus the last axis (or (N,) for (N,) inputs).
  virtual Tensor call(const Tensor& y_true, const Tensor& y_pred) const = 0;
  // call() reduced to a scalar: sum(per_sample * w) / count(per_sample) (Keras sum_over_batch_size).
  Tensor operator()(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight = Tensor()) const;
  const std::string& class_name() const { return class_name_; }
  const std::string& name() const { return name_; }
  virtual Json get_config() const;

 private:
  std::string class_name_, name_;
};

std::shared_ptr<Loss> mean_squared_error_loss();
std::shared_ptr<Loss> mean_absolute_error_loss();
std::shared_ptr<Loss> huber_loss(double delta = 1.0);
// Keras: probabilities clipped to [1e-7, 1 - 1e-7]; from_logits uses the stable logits formula.
std::shared_ptr<Loss> binary_crossentropy_loss(bool from_logits = false, double label_smoothing = 0.0);
// Keras: probabilities renormalized by their sum along `axis`, then clipped to [1e-7, 1 - 1e-7].
std::shared_ptr<Loss> categorical_crossentropy_loss(bool from_logits = false, double label_smoothing = 0.0,
                                                    int64_t axis = -1);
std::shared_ptr<Loss> sparse_categorical_crossentropy_loss(bool from_logits = false);

// Strings as Keras accepts them: "mse", "mean_squared_error", "mae", "huber", "binary_crossentropy",
// "categorical_crossentropy", "sparse_categorical_crossentropy", CamelCase class names. Unknown
// names raise ValueError with "did you mean".
std::shared_ptr<Loss> get_loss(const std::string& name);
std::shared_ptr<Loss> loss_from_config(const Json& class_and_config);

}  // namespace pitfall
