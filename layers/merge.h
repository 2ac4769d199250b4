// Merge layers (keras/src/layers/merging/): the elementwise ones (Add, Subtract, Multiply, Average,
// Maximum, Minimum), Concatenate and Dot, each called on a list of tensors (>= 2; exactly 2 for
// Subtract and Dot).
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

// The elementwise merges share shapes, dtype checks and the left-to-right order (a fixed order keeps
// the float result reproducible); each defines how two inputs combine.
class ElementwiseMerge : public Layer {
 public:
  ElementwiseMerge(const std::string& class_name, const Arguments& arguments, const LayerOptions& options);
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  int num_inputs() const override { return -1; }
  bool takes_float_inputs() const override { return false; }  // moves data of any dtype
  // Keras's merge mask: the positions every masked input keeps (logical and).
  bool supports_masking() const override { return true; }
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) override;

 protected:
  virtual Tensor combine(const Tensor& accumulated, const Tensor& next) const = 0;
  // After the fold (Average divides by the count).
  virtual Tensor finish(const Tensor& merged, size_t /*count*/) const { return merged; }
  virtual size_t exact_inputs() const { return 0; }  // 0: any number >= 2
};

#define PITFALL_ELEMENTWISE_MERGE(Class)                                       \
  class Class : public ElementwiseMerge {                                      \
   public:                                                                     \
    Class(const Arguments& arguments, const LayerOptions& options = {});       \
    explicit Class(const LayerOptions& options = {});                          \
                                                                               \
   protected:                                                                  \
    Tensor combine(const Tensor& accumulated, const Tensor& next) const override; \
    Tensor finish(const Tensor& merged, size_t count) const override;          \
    size_t exact_inputs() const override;                                      \
  }

PITFALL_ELEMENTWISE_MERGE(Add);       // a + b + ... (size-1 axes broadcast)
PITFALL_ELEMENTWISE_MERGE(Subtract);  // exactly two inputs: a - b
PITFALL_ELEMENTWISE_MERGE(Multiply);  // a * b * ...
PITFALL_ELEMENTWISE_MERGE(Average);   // (a + b + ...) / n
PITFALL_ELEMENTWISE_MERGE(Maximum);   // elementwise max (ties: the earlier input gets the gradient)
PITFALL_ELEMENTWISE_MERGE(Minimum);
#undef PITFALL_ELEMENTWISE_MERGE

class Concatenate : public Layer {
 public:
  Concatenate(const Arguments& arguments, const LayerOptions& options = {});
  explicit Concatenate(std::optional<int64_t> axis = std::nullopt, const LayerOptions& options = {});
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  int num_inputs() const override { return -1; }
  bool takes_float_inputs() const override { return false; }  // moves data of any dtype
  // Keras: the inputs' masks (all-true for an unmasked input) concatenated along `axis`; a position
  // is kept where any of the concatenated entries is.
  bool supports_masking() const override { return true; }
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) override;
  int64_t axis() const { return axis_; }

 private:
  int64_t axis_;
};

// Keras's Dot: batch dot product of two inputs along `axes` (an int for both, or one per input; the
// batch axis 0 cannot be one), optionally of L2-normalized inputs (cosine proximity). Output: x's
// shape without its axis, then y's without its batch axis and its axis; (batch, 1) when nothing
// else remains.
class Dot : public Layer {
 public:
  Dot(const Arguments& arguments, const LayerOptions& options = {});
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  int num_inputs() const override { return -1; }  // exactly 2, checked with Keras's message
  // Keras: takes masked inputs, and its output has no mask.
  bool supports_masking() const override { return true; }
  std::vector<Tensor> compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>&) override { return {}; }

 private:
  std::pair<int64_t, int64_t> resolved_axes(const std::vector<Shape>& shapes) const;
  Json axes_;
  bool normalize_;
};

}  // namespace pitfall
