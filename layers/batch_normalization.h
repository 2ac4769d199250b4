// BatchNormalization (Keras 3), with the PyTorch convention selectable as data.
//
// training=true (and the layer trainable): normalize with the batch mean and the biased batch
// variance over every axis except `axis`, then update the moving statistics in place, outside
// autograd. training=false, or a frozen layer (Keras 3: trainable=false runs in inference mode):
// normalize with the moving statistics.
//
// The convention (layers/conventions.h) picks the defaults AND what momentum means:
//   keras: momentum 0.99, epsilon 1e-3; moving = moving * momentum + batch * (1 - momentum), with the
//          biased batch variance;
//   torch: momentum 0.1, epsilon 1e-5; running = (1 - momentum) * running + momentum * batch, with the
//          unbiased batch variance for running_var; cumulative_average (torch's momentum=None) uses
//          momentum 1/n at the n-th training step; a training batch with one value per channel raises,
//          as in PyTorch.
// An explicit momentum/epsilon overrides the convention's value but keeps its meaning, so a torch
// layer given Keras's 0.99 shows pitfall P14 (data mean 5, one step: 4.95 instead of 0.05).
//
// float16/bfloat16 inputs are computed in float32 and the output cast back to the input's dtype
// (Keras); other inputs must have the weights' dtype.
// Weights, in Keras order: gamma, beta (trainable; absent when scale / center is false),
// moving_mean, moving_variance (non-trainable), and with cumulative_average a scalar float64
// num_batches_tracked (PyTorch's buffer) so that saving keeps the count.
#pragma once
#include <optional>

#include "pitfall/layers/conventions.h"
#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

// The C++ spelling of the arguments: anything left unset takes the table's default.
struct BatchNormalizationOptions {
  std::optional<int64_t> axis;
  std::optional<double> momentum;  // unset: the convention's default
  std::optional<double> epsilon;   // unset: the convention's default
  std::optional<bool> center;
  std::optional<bool> scale;
  std::shared_ptr<Initializer> beta_initializer;
  std::shared_ptr<Initializer> gamma_initializer;
  std::shared_ptr<Initializer> moving_mean_initializer;
  std::shared_ptr<Initializer> moving_variance_initializer;
  std::shared_ptr<Regularizer> beta_regularizer;
  std::shared_ptr<Regularizer> gamma_regularizer;
  std::optional<Convention> convention;
  // PyTorch's momentum=None (torch convention only; `momentum` must then be unset).
  bool cumulative_average = false;
};

class BatchNormalization : public Layer {
 public:
  bool supports_masking() const override { return true; }  // Keras: passes the input's mask on
  BatchNormalization(const Arguments& arguments, const LayerOptions& options = {});
  explicit BatchNormalization(const BatchNormalizationOptions& bn_options = {}, const LayerOptions& options = {});
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;

  // Resolved values.
  double momentum() const { return momentum_; }
  double epsilon() const { return epsilon_; }
  Convention convention() const { return convention_; }
  const Tensor& gamma() const { return gamma_; }  // undefined when scale=false
  const Tensor& beta() const { return beta_; }    // undefined when center=false
  const Tensor& moving_mean() const { return moving_mean_; }
  const Tensor& moving_variance() const { return moving_variance_; }

 private:
  void update_moving_statistics(const Tensor& batch_mean, const Tensor& batch_variance, int64_t count);

  Convention convention_;
  bool cumulative_average_ = false;  // momentum=None under the torch convention
  bool center_, scale_;
  double momentum_ = 0.0, epsilon_ = 0.0;
  int64_t axis_argument_;
  int64_t axis_ = -1;  // normalized at build
  Tensor gamma_, beta_, moving_mean_, moving_variance_, num_batches_tracked_;
};

}  // namespace pitfall
