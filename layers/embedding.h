// Embedding: integer indices -> rows of an (input_dim, output_dim) table (Keras 3 Embedding).
//
// Inputs: int32 / int64 indices of any shape; the output appends output_dim and has the layer's
// float dtype. Float inputs are cast to integers as Keras does, but only when every value is
// integral: Keras truncates 2.7 to 2 silently, which hides a wrong input pipeline, so a fractional
// index raises ValueError instead. Indices outside [0, input_dim) raise IndexError naming the layer,
// the index and input_dim (negative indices do not wrap, as in TensorFlow's gather on CPU).
// The gradient is a deterministic scatter-add into the table (take's backward).
// mask_zero=true makes index 0 padding: the output's mask (Keras's _keras_mask) is indices != 0, so
// the recurrent layers skip those steps and the losses and metrics leave them out; input_dim must
// then count index 0 too (Keras's rule).
#pragma once
#include <optional>
#include <string>
#include "pitfall/layers/conventions.h"
#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"

namespace pitfall {

// The C++ spelling of the arguments: anything left unset takes the table's default.
struct EmbeddingOptions {
  // Unset: the convention's default (keras: uniform(-0.05, 0.05); torch: normal(0, 1)).
  std::shared_ptr<Initializer> embeddings_initializer;
  std::shared_ptr<Regularizer> embeddings_regularizer;
  std::optional<bool> mask_zero;
  std::optional<Convention> convention;
};

class Embedding : public Layer {
 public:
  Embedding(const Arguments& arguments, const LayerOptions& options = {});
  Embedding(int64_t input_dim, int64_t output_dim, const EmbeddingOptions& embedding_options = {},
            const LayerOptions& options = {});
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;
  bool takes_float_inputs() const override { return false; }  // indices stay integers
  // The table's size does not depend on the input: any shape of indices (Keras).
  bool input_shape_compatible(size_t, const Shape&, const Shape&) override { return true; }
  // Keras: supports_masking = mask_zero; the mask is indices != 0.
  bool supports_masking() const override { return mask_zero_; }
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) override;

  int64_t input_dim() const { return input_dim_; }
  int64_t output_dim() const { return output_dim_; }
  const Tensor& embeddings() const { return embeddings_; }

 private:
  int64_t input_dim_, output_dim_;
  bool mask_zero_;
  Tensor embeddings_;
};

// Integer indices from `x` for a layer that looks them up (Embedding, CategoryEncoding): int32 / int64
// as they are, other integer dtypes widened to int64, floating values cast to int64 when every one
// is whole (ValueError naming the first that is not), bool refused (DTypeError). Every index must lie
// in [0, limit): IndexError naming `where` (the class, inside call()), the index, its position and
// `limit_name`.
Tensor checked_indices(const Tensor& x, int64_t limit, const std::string& where, const std::string& limit_name);

}  // namespace pitfall
