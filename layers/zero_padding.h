// keras.layers.ZeroPadding1D / ZeroPadding2D: zeros added before and after the spatial axes.
//   ZeroPadding1D: (batch, steps, features) -> (batch, left + steps + right, features)
//   ZeroPadding2D: (batch, rows, cols, channels) -> (batch, top + rows + bottom, left + cols + right,
//                  channels); channels_first pads axes 2 and 3.
#pragma once
#include <vector>

#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"
#include "pitfall/layers/spatial_arguments.h"

namespace pitfall {

class ZeroPadding1D : public Layer {
 public:
  ZeroPadding1D(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  bool takes_float_inputs() const override { return false; }  // moves data of any dtype

 private:
  std::vector<int64_t> padding_;  // {left, right}
  DataFormat data_format_;
};

class ZeroPadding2D : public Layer {
 public:
  ZeroPadding2D(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  bool takes_float_inputs() const override { return false; }

 private:
  std::vector<std::vector<int64_t>> padding_;  // {{top, bottom}, {left, right}}
  DataFormat data_format_;
};

// x with `before` zeros ahead of it and `after` behind it along `axis` (differentiable: the
// gradient is the middle slice).
Tensor pad_with_zeros(const Tensor& x, int64_t axis, int64_t before, int64_t after);

}  // namespace pitfall
