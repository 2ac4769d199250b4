// keras.layers.SpatialDropout1D / SpatialDropout2D: Dropout that drops whole feature maps. In
// training each (sample, channel) pair is kept or dropped as a whole, the kept ones scaled by
// 1 / (1 - rate); inference is the identity. Inputs: (batch, steps, channels) for 1D; 4D for 2D,
// channels last or first per data_format.
#pragma once
#include "pitfall/layers/dropout.h"
#include "pitfall/layers/spatial_arguments.h"

namespace pitfall {

class SpatialDropout1D : public Dropout {
 public:
  SpatialDropout1D(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;

 protected:
  Shape mask_shape(const Shape& input_shape) const override;  // (batch, 1, channels)
};

class SpatialDropout2D : public Dropout {
 public:
  SpatialDropout2D(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;

 protected:
  Shape mask_shape(const Shape& input_shape) const override;  // (batch, 1, 1, channels) or (batch, channels, 1, 1)

 private:
  DataFormat data_format_;
};

}  // namespace pitfall
