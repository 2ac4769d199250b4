// keras.layers.Permute: the non-batch axes reordered; dims is a permutation of 1..n (the batch axis
// 0 stays first). (batch, d1, d2, d3) with dims (3, 1, 2) -> (batch, d3, d1, d2).
#pragma once
#include <vector>

#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

class Permute : public Layer {
 public:
  Permute(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  bool takes_float_inputs() const override { return false; }  // moves data of any dtype

 private:
  std::vector<int64_t> dims_;
};

}  // namespace pitfall
