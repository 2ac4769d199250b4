// keras.layers.UnitNormalization: each sample scaled to unit L2 norm across `axis` (an int or a list).
#pragma once
#include <vector>

#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

class UnitNormalization : public Layer {
 public:
  UnitNormalization(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;

 private:
  // Non-negative axes for a rank-`rank` input (AxisError naming the class, the axis and the rank when
  // one is out of range).
  std::vector<int64_t> resolved_axes(int64_t rank) const;
  std::vector<int64_t> axes_;
};

// keras.ops.normalize's L2 case: x / sqrt(max(sum(x^2 over axes), epsilon^2)), so an all-zero
// vector stays zero with a finite gradient. Dot(normalize=True) uses epsilon 1e-7, UnitNormalization 1e-12.
Tensor l2_normalize(const Tensor& x, const std::vector<int64_t>& axes, double epsilon);

}  // namespace pitfall
