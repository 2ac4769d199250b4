// Losses with Keras semantics: per-sample values from call(), reduced by operator() with
// "sum_over_batch_size" (mean over every per-sample value, weighted by sample_weight if given).
//
// Shape rules as Keras 3's: y_true and y_pred are first brought to the same rank by
// squeeze_or_expand_to_same_rank (an (N,) target against an (N, 1) prediction becomes (N, 1)), then
// broadcast; shapes that cannot broadcast raise ShapeError naming both. Sparse categorical
// crossentropy takes labels (N,) or (N, 1) against (N, C). Integer labels given to a categorical
// loss, or one-hot labels to the sparse loss, raise naming the loss to use instead. The (N, N)
// broadcast of pitfall P29 happens only in a hand-written loss called directly (a custom loop), as
// in Keras: compile() wraps a loss function so that it gets the same rank alignment.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "pitfall/core/arguments.h"
#include "pitfall/core/json.h"
#include "pitfall/core/tensor.h"

namespace pitfall {

// keras/src/losses/loss.py squeeze_or_expand_to_same_rank: when the ranks differ by exactly one and
// the longer shape ends in 1, that axis is squeezed, or, when the other tensor has rank 1 and
// expand_rank_1 is set, the rank-1 tensor gets a trailing axis of 1. Any other pair is returned as is.
std::pair<Tensor, Tensor> squeeze_or_expand_to_same_rank(const Tensor& x1, const Tensor& x2,
                                                         bool expand_rank_1 = true);

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
