// keras.layers.Masking and the mask arithmetic the layers share.
//
// A mask (Keras's _keras_mask, core/tensor.h) is a bool tensor over an output's leading axes, true at
// the positions to use: (batch, timesteps) for a sequence. Masking marks a timestep as skipped when
// all its features equal mask_value, and zeroes those timesteps in its output; the recurrent layers
// then carry their state over them and the losses and metrics leave them out
// (keras/src/layers/core/masking.py).
#pragma once
#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

// a and b where both are true (bool tensors that broadcast together).
Tensor mask_and(const Tensor& a, const Tensor& b);
// Whether any entry along x's last axis is true, for a bool x: the last axis removed.
Tensor mask_any_last_axis(const Tensor& x);
// A mask of `shape`'s leading axes checked against it: ShapeError naming `where` unless the mask is
// bool and its shape is a prefix of `shape` of at least `min_rank` axes.
void check_mask(const std::string& where, const Tensor& mask, const Shape& shape, size_t min_rank);

class Masking : public Layer {
 public:
  Masking(const Arguments& arguments, const LayerOptions& options = {});
  explicit Masking(double mask_value, const LayerOptions& options = {});

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  bool supports_masking() const override { return true; }
  double mask_value() const { return mask_value_; }

 private:
  double mask_value_;
};

}  // namespace pitfall
