// LayerNormalization (Keras 3): normalize each sample over `axis` (one axis or several) with its own
// mean and biased variance, then scale by gamma and shift by beta, both of the normalized axes'
// shape (axes taken in increasing order; Keras reshapes gamma in the order given, which scrambles
// an unsorted list). No moving statistics: training and inference compute the same thing.
// float16/bfloat16 inputs are computed in float32 and cast back (Keras).
#pragma once
#include <optional>
#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

// The C++ spelling of the arguments: anything left unset (empty) takes the table's default.
struct LayerNormalizationOptions {
  std::vector<int64_t> axis;  // empty: -1
  std::optional<double> epsilon;
  std::optional<bool> center;
  std::optional<bool> scale;
  std::shared_ptr<Initializer> beta_initializer;
  std::shared_ptr<Initializer> gamma_initializer;
  std::shared_ptr<Regularizer> beta_regularizer;
  std::shared_ptr<Regularizer> gamma_regularizer;
};

class LayerNormalization : public Layer {
 public:
  bool supports_masking() const override { return true; }  // Keras: passes the input's mask on
  LayerNormalization(const Arguments& arguments, const LayerOptions& options = {});
  explicit LayerNormalization(const LayerNormalizationOptions& ln_options = {}, const LayerOptions& options = {});
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;

  double epsilon() const { return epsilon_; }
  const std::vector<int64_t>& normalized_axes() const { return axes_; }  // non-negative, sorted; after build
  const Tensor& gamma() const { return gamma_; }
  const Tensor& beta() const { return beta_; }

 private:
  std::vector<int64_t> axis_argument_;
  double epsilon_;
  bool center_, scale_;
  std::vector<int64_t> axes_;
  Tensor gamma_, beta_;
};

}  // namespace pitfall
