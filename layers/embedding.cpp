#include "pitfall/layers/embedding.h"

#include <cmath>

#include "pitfall/core/error.h"
#include "pitfall/core/ops.h"
#include "pitfall/layers/initializers.h"
#include "pitfall/layers/regularizers.h"

namespace pitfall {

namespace {



std::string position_str(const Shape& shape, int64_t flat) {
  std::vector<int64_t> index(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  std::string s = "[";
  for (size_t d = 0; d < index.size(); ++d) s += (d ? ", " : "") + std::to_string(index[d]);
  return s + "]";
}

}  // namespace

static const ArgumentTable& embedding_arguments() {
  static const ArgumentTable table = layer_table(
      "Embedding", "keras/src/layers/core/embedding.py",
      "Turns non-negative integer indices into rows of an (input_dim, output_dim) table.",
      {Argument("input_dim", ArgKind::integer).make_required().checked(positive_integer)
           .described("the vocabulary size: the largest index + 1"),
       Argument("output_dim", ArgKind::integer).make_required().checked(positive_integer)
           .described("the size of each embedding vector"),
       initializer_argument("embeddings_initializer", Json(), "initializer of the table")
           .from_convention("Embedding.embeddings_initializer"),
       regularizer_argument("embeddings_regularizer", "penalty on the table"),
       unsupported_argument("embeddings_constraint"),
       Argument("mask_zero", ArgKind::boolean, false)
           .described("whether index 0 is padding: the output then carries a mask (indices != 0) that recurrent "
                      "layers, losses and metrics honour"),
       unsupported_argument("weights"), unsupported_argument("lora_rank"), unsupported_argument("lora_alpha"),
       unsupported_argument("quantization_config"),
       Argument("convention", ArgKind::string, "keras").one_of({"keras", "torch"}).pitfall_only()
           .described("whose default table initializer: keras (uniform(-0.05, 0.05)) or torch (normal(0, 1))")});
  return table;
}

PITFALL_REGISTER_LAYER(Embedding, embedding_arguments());

Embedding::Embedding(const Arguments& arguments, const LayerOptions& options)
    : Layer("Embedding", options, arguments),
      input_dim_(arguments.integer("input_dim")),
      output_dim_(arguments.integer("output_dim")),
      mask_zero_(arguments.flag("mask_zero")) {}

namespace {
Arguments embedding_given(int64_t input_dim, int64_t output_dim, const EmbeddingOptions& o) {
  Json given = Json::object();
  given["input_dim"] = input_dim;
  given["output_dim"] = output_dim;
  set_given(given, "embeddings_initializer", o.embeddings_initializer);
  set_given(given, "embeddings_regularizer", o.embeddings_regularizer);
  set_given(given, "mask_zero", o.mask_zero);
  set_given(given, "convention", o.convention);
  return parse_arguments(embedding_arguments(), given);
}
}  // namespace

Embedding::Embedding(int64_t input_dim, int64_t output_dim, const EmbeddingOptions& embedding_options,
                     const LayerOptions& options)
    : Embedding(embedding_given(input_dim, output_dim, embedding_options), options) {}

void Embedding::build(const std::vector<Shape>& /*input_shapes*/) {
  embeddings_ = add_weight("embeddings", {input_dim_, output_dim_}, make_initializer(arguments_.at("embeddings_initializer")),
                           /*trainable=*/true, regularizer_from_config(arguments_.at("embeddings_regularizer")));
}

std::vector<Tensor> Embedding::compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>&) {
  if (!mask_zero_) return {Tensor()};
  const Tensor& x = inputs.at(0);
  return {not_equal(x.detach(), scalar_like(0.0, x, "Embedding"))};
}

std::vector<Shape> Embedding::compute_output_shape(const std::vector<Shape>& input_shapes) {
  Shape out = input_shapes.at(0);
  out.push_back(output_dim_);
  return {out};
}

std::vector<DType> Embedding::compute_output_dtype(const std::vector<DType>& /*input_dtypes*/) const {
  return {compute_dtype()};
}

std::vector<Tensor> Embedding::call(const std::vector<Tensor>& inputs, bool /*training*/) {
  return {in_compute_dtype(take(embeddings_, checked_indices(inputs.at(0), input_dim_, class_name(), "input_dim"), 0))};
}

Tensor checked_indices(const Tensor& x, int64_t limit, const std::string& where, const std::string& limit_name) {
  const DType in = x.dtype();
  if (in == DType::bool_) {
    throw DTypeError(where + ": indices must be integers, got dtype bool with shape " + shape_str(x.shape()) +
                     "; cast them to int32 or int64");
  }
  Tensor indices = x.detach();
  if (is_floating(in)) {
    // Keras casts float indices to int32; we cast too, but refuse a fractional value instead of
    // truncating it silently.
    const auto values = cast(indices, DType::float64).to_vector<double>();
    for (size_t i = 0; i < values.size(); ++i) {
      if (!std::isfinite(values[i]) || values[i] != std::floor(values[i])) {
        throw ValueError(where + ": got " + std::string(dtype_name(in)) + " indices with the non-integral value " +
                         std::to_string(values[i]) + " at position " + position_str(x.shape(), static_cast<int64_t>(i)) +
                         " of shape " + shape_str(x.shape()) + "; indices must be whole numbers: round them or cast to "
                         "int32/int64");
      }
    }
    indices = cast(indices, DType::int64);
  } else if (in != DType::int32 && in != DType::int64) {
    indices = cast(indices, DType::int64);  // uint8: widen, as Keras casts non-int32/int64 to int32
  }
  // Range check before the lookup: the error names the layer and the limit, and negative indices are
  // rejected rather than wrapped (TensorFlow's gather on CPU raises for them too).
  const auto check = [&](auto values) {
    for (size_t i = 0; i < values.size(); ++i) {
      const int64_t v = static_cast<int64_t>(values[i]);
      if (v < 0 || v >= limit) {
        throw IndexError(where + ": index " + std::to_string(v) + " at position " +
                         position_str(x.shape(), static_cast<int64_t>(i)) + " of the input (shape " +
                         shape_str(x.shape()) + ") is out of range for " + limit_name + "=" + std::to_string(limit) +
                         " (valid indices: 0 to " + std::to_string(limit - 1) + "); raise " + limit_name +
                         " to the vocabulary size or fix the indices");
      }
    }
  };
  if (indices.dtype() == DType::int32) {
    check(indices.to_vector<int32_t>());
  } else {
    check(indices.to_vector<int64_t>());
  }
  return indices;
}

}  // namespace pitfall
