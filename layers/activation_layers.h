// The activation layers of keras/src/layers/activations/ (Activation, by name, is activation.h):
// LeakyReLU, PReLU (a learned slope), ReLU (max_value, negative_slope, threshold), Softmax (one
// axis or several) and ELU. Each keeps its input's shape.
#pragma once
#include <optional>
#include <vector>

#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

// x for x >= 0, negative_slope * x below. The default slope is a conventions row
// (layers/conventions.h): Keras's layer 0.3, PyTorch's nn.LeakyReLU 0.01.
class LeakyReLU : public Layer {
 public:
  LeakyReLU(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  double negative_slope() const { return negative_slope_; }

 private:
  double negative_slope_;
};

// relu(x) - alpha * relu(-x), with a trainable alpha of the input's shape without the batch axis,
// of size 1 along shared_axes.
class PReLU : public Layer {
 public:
  PReLU(const Arguments& arguments, const LayerOptions& options = {});
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  // The rank and the non-shared axes are fixed by alpha; shared axes may change size.
  bool input_shape_compatible(size_t input_index, const Shape& built, const Shape& got) override;
  const Tensor& alpha() const { return alpha_; }

 private:
  std::vector<int64_t> shared_axes_;
  Tensor alpha_;
};

// Keras's relu with its three knobs: max_value (None = no cap), negative_slope below the threshold,
// threshold (values at or below it are damped).
class ReLU : public Layer {
 public:
  ReLU(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;

 private:
  std::optional<double> max_value_;
  double negative_slope_, threshold_;
};

// Softmax along `axis` (an int, or a list of axes normalized together).
class Softmax : public Layer {
 public:
  Softmax(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;

 private:
  std::vector<int64_t> axes_;
};

// x for x > 0, alpha * (exp(x) - 1) otherwise.
class ELU : public Layer {
 public:
  ELU(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;

 private:
  double alpha_;
};

}  // namespace pitfall
