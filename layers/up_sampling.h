// keras.layers.UpSampling1D / UpSampling2D: each step (row, column) repeated `size` times.
//   UpSampling1D: (batch, steps, features) -> (batch, steps * size, features)
//   UpSampling2D: (batch, rows, cols, channels) -> (batch, rows * size[0], cols * size[1], channels)
//                 (channels_first: (batch, channels, rows, cols)); interpolation "nearest" repeats,
//                 "bilinear" interpolates with half-pixel centers (jax.image.resize, tf.image.resize,
//                 torch's interpolate(align_corners=False)); the other methods Keras names raise
//                 NotImplementedError.
#pragma once
#include <vector>

#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"
#include "pitfall/layers/spatial_arguments.h"

namespace pitfall {

class UpSampling1D : public Layer {
 public:
  UpSampling1D(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  bool takes_float_inputs() const override { return false; }  // moves data of any dtype

 private:
  int64_t size_;
};

class UpSampling2D : public Layer {
 public:
  UpSampling2D(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  bool takes_float_inputs() const override { return !nearest_; }  // nearest moves data; bilinear computes

 private:
  std::vector<int64_t> size_;
  DataFormat data_format_;
  bool nearest_;
};

}  // namespace pitfall
