// keras.layers.CategoryEncoding: integer token ids in [0, num_tokens) -> dense encodings of width
// num_tokens, in the layer's dtype.
//   one_hot:   (..., ) -> (..., num_tokens), a trailing axis of size 1 replaced;
//   multi_hot: (batch, ids) -> (batch, num_tokens), 1 where an id occurs (a 1-D input is one sample);
//   count:     as multi_hot, with how many times each id occurs.
// Ids are checked as Embedding checks its indices (whole numbers, inside the range; errors name the
// layer, the id and num_tokens). A scalar input is one id. sparse=True is not supported.
#pragma once
#include <string>

#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

class CategoryEncoding : public Layer {
 public:
  CategoryEncoding(const Arguments& arguments, const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;
  bool takes_float_inputs() const override { return false; }  // ids stay integers

 private:
  int64_t num_tokens_;
  std::string output_mode_;
};

}  // namespace pitfall
