// keras.layers.Cropping1D / Cropping2D: rows removed from the start and end of the spatial axes.
//   Cropping1D: (batch, steps, features) -> (batch, steps - start - end, features)
//   Cropping2D: (batch, rows, cols, channels) -> (batch, rows - top - bottom, cols - left - right,
//               channels); channels_first crops axes 2 and 3.
// Cropping a whole axis away (or more) raises ValueError naming the layer, the input shape and the
// cropping, as Keras does.
#pragma once
#include <vector>

#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"
#include "pitfall/layers/spatial_arguments.h"

namespace pitfall {

class Cropping1D : public Layer {
 public:
  Cropping1D(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  bool takes_float_inputs() const override { return false; }  // moves data of any dtype

 private:
  std::vector<int64_t> cropping_;  // {start, end}
};

class Cropping2D : public Layer {
 public:
  Cropping2D(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  bool takes_float_inputs() const override { return false; }

 private:
  std::vector<std::vector<int64_t>> cropping_;  // {{top, bottom}, {left, right}}
  DataFormat data_format_;
};

}  // namespace pitfall
