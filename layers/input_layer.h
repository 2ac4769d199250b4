// keras.layers.InputLayer: the entry of a functional model. It has no weights and passes its input
// through; output() is the KerasTensor that pf.Input returns.
#pragma once
#include <memory>
#include <optional>

#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

class InputLayer : public Layer {
 public:
  // shape / batch_size / batch_shape / dtype / name as Keras's InputLayer takes them; get_config
  // shows the resolved batch_shape, dtype, sparse and name.
  InputLayer(const Arguments& arguments, const LayerOptions& options = {});
  // shape without the batch dimension (-1 for unknown dims); batch_size fixes the batch when given.
  explicit InputLayer(const Shape& shape, DType dtype = DType::float32, const std::string& name = "",
                      std::optional<int64_t> batch_size = std::nullopt);

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;
  bool autocasts() const override { return false; }  // the Input's dtype is the data's contract
  Json get_config() const override;

  // (batch, *shape), batch -1 unless batch_size was given.
  const Shape& batch_shape() const { return batch_shape_; }
  // The symbolic tensor this layer produces: a node with no inputs. The same node while any
  // KerasTensor of it is alive.
  KerasTensor output();

 private:
  Shape batch_shape_;
  std::weak_ptr<SymbolicNode> node_;
};

}  // namespace pitfall
