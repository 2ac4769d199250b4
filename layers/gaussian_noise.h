// keras.layers.GaussianNoise / GaussianDropout: noise in training only (inference is the identity),
// drawn from the layer's own generator (seed=None: seeded from the global one), so a seed gives the
// same noise on every run and thread count.
//   GaussianNoise:   x + N(0, stddev^2)
//   GaussianDropout: x * N(1, rate / (1 - rate))
#pragma once
#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

class GaussianNoise : public Layer {
 public:
  GaussianNoise(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;

 private:
  double stddev_;
};

class GaussianDropout : public Layer {
 public:
  GaussianDropout(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;

 private:
  double rate_;
};

// Noise of x's shape and dtype, on x's device: normal(mean, stddev) from `key`, drawn on the CPU so
// that every device sees the same values.
Tensor normal_noise_like(const Tensor& x, double mean, double stddev, RandomKey key);

}  // namespace pitfall
