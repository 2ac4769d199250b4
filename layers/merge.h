// Merge layers: Add (elementwise sum) and Concatenate, each called on a list of >= 2 tensors.
//
// Shapes follow Keras 3's Merge rules: every input has the same rank and the same batch size; Add
// allows a non-batch dimension of 1 to broadcast against any size (Keras's
// _compute_elemwise_op_output_shape) and nothing more; Concatenate needs equal dimensions except
// along `axis`. Unlike Keras, inputs of different ranks are an error (Keras silently expands dims).
// All inputs must share one dtype. Mismatches raise ShapeError / DTypeError naming the layer, the
// input index and both shapes.
#pragma once
#include <optional>
#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

class Add : public Layer {
 public:
  Add(const Arguments& arguments, const LayerOptions& options = {});
  explicit Add(const LayerOptions& options = {});
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  int num_inputs() const override { return -1; }
  bool takes_float_inputs() const override { return false; }  // moves data of any dtype
};

class Concatenate : public Layer {
 public:
  Concatenate(const Arguments& arguments, const LayerOptions& options = {});
  explicit Concatenate(std::optional<int64_t> axis = std::nullopt, const LayerOptions& options = {});
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  int num_inputs() const override { return -1; }
  bool takes_float_inputs() const override { return false; }  // moves data of any dtype
  int64_t axis() const { return axis_; }

 private:
  int64_t axis_;
};

}  // namespace pitfall
