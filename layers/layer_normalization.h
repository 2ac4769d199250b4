// LayerNormalization (Keras 3): normalize each sample over `axis` (one axis or several) with its own
// mean and biased variance, then scale by gamma and shift by beta, both of the normalized axes'
// shape (axes taken in increasing order; Keras reshapes gamma in the order given, which scrambles
// an unsorted list). No moving statistics: training and inference compute the same thing.
// float16/bfloat16 inputs are computed in float32 and cast back (Keras).
#pragma once
#include "pitfall/layers/layer.h"

namespace pitfall {

struct LayerNormalizationOptions {
  std::vector<int64_t> axis = {-1};
  double epsilon = 1e-3;
  bool center = true;
  bool scale = true;
  std::shared_ptr<Initializer> beta_initializer;   // unset: zeros
  std::shared_ptr<Initializer> gamma_initializer;  // unset: ones
  std::shared_ptr<Regularizer> beta_regularizer;
  std::shared_ptr<Regularizer> gamma_regularizer;
};

class LayerNormalization : public Layer {
 public:
  explicit LayerNormalization(const LayerNormalizationOptions& ln_options = {}, const LayerOptions& options = {});
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;
  Json get_config() const override;

  double epsilon() const { return options_.epsilon; }
  const std::vector<int64_t>& normalized_axes() const { return axes_; }  // non-negative, sorted; after build
  const Tensor& gamma() const { return gamma_; }
  const Tensor& beta() const { return beta_; }

 private:
  LayerNormalizationOptions options_;
  std::vector<int64_t> axes_;
  Tensor gamma_, beta_;
};

}  // namespace pitfall
