#include "pitfall/layers/embedding.h"

#include <cmath>

#include "pitfall/core/error.h"
#include "pitfall/core/ops.h"
#include "pitfall/layers/builtin_layers.h"
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

Embedding::Embedding(int64_t input_dim, int64_t output_dim, const EmbeddingOptions& embedding_options,
                     const LayerOptions& options)
    : Layer("Embedding", options), input_dim_(input_dim), output_dim_(output_dim),
      embedding_options_(embedding_options) {
  if (input_dim <= 0 || output_dim <= 0) {
    throw ValueError(describe() + ": input_dim and output_dim must be positive integers. Received: input_dim=" +
                     std::to_string(input_dim) + ", output_dim=" + std::to_string(output_dim));
  }
  if (embedding_options.mask_zero) {
    throw NotImplementedError(describe() +
                              ": mask_zero=true is not supported (pitfall has no masks); pass mask_zero=false and "
                              "handle padding index 0 in the loss or with sample weights");
  }
  // Resolve the default now so that get_config() shows the initializer actually used.
  if (!embedding_options_.embeddings_initializer) {
    embedding_options_.embeddings_initializer =
        default_initializer(InitializedWeight::embeddings, embedding_options_.convention).make(0.0);
  }
}

void Embedding::build(const std::vector<Shape>& /*input_shapes*/) {
  embeddings_ = add_weight("embeddings", {input_dim_, output_dim_}, embedding_options_.embeddings_initializer,
                           /*trainable=*/true, embedding_options_.embeddings_regularizer);
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
  const Tensor& x = inputs.at(0);
  const DType in = x.dtype();
  if (in == DType::bool_) {
    throw DTypeError(describe() + ": indices must be integers, got dtype bool with shape " + shape_str(x.shape()) +
                     "; cast them to int32 or int64");
  }
  Tensor indices = x.detach();
  if (is_floating(in)) {
    // Keras casts float indices to int32; we cast too, but refuse a fractional value instead of
    // truncating it silently.
    const auto values = cast(indices, DType::float64).to_vector<double>();
    for (size_t i = 0; i < values.size(); ++i) {
      if (!std::isfinite(values[i]) || values[i] != std::floor(values[i])) {
        throw ValueError(describe() + ": got " + std::string(dtype_name(in)) + " indices with the non-integral " +
                         "value " + std::to_string(values[i]) + " at position " +
                         position_str(x.shape(), static_cast<int64_t>(i)) + " of shape " + shape_str(x.shape()) +
                         "; embedding indices must be whole numbers: round them or cast to int32/int64");
      }
    }
    indices = cast(indices, DType::int64);
  } else if (in != DType::int32 && in != DType::int64) {
    indices = cast(indices, DType::int64);  // uint8: widen, as Keras casts non-int32/int64 to int32
  }
  // Range check before take: the error names this layer and input_dim, and negative indices are
  // rejected rather than wrapped (TensorFlow's gather on CPU raises for them too).
  const auto check = [&](auto values) {
    for (size_t i = 0; i < values.size(); ++i) {
      const int64_t v = static_cast<int64_t>(values[i]);
      if (v < 0 || v >= input_dim_) {
        throw IndexError(describe() + ": index " + std::to_string(v) + " at position " +
                         position_str(x.shape(), static_cast<int64_t>(i)) + " of the input (shape " +
                         shape_str(x.shape()) + ") is out of range for input_dim=" + std::to_string(input_dim_) +
                         " (valid indices: 0 to " + std::to_string(input_dim_ - 1) +
                         "); raise input_dim to the vocabulary size or fix the indices");
      }
    }
  };
  if (indices.dtype() == DType::int32) {
    check(indices.to_vector<int32_t>());
  } else {
    check(indices.to_vector<int64_t>());
  }
  return {in_compute_dtype(take(embeddings_, indices, 0))};
}

Json Embedding::get_config() const {
  Json config = base_config();
  config["input_dim"] = input_dim_;
  config["output_dim"] = output_dim_;
  config["embeddings_initializer"] = initializer_to_config(*embedding_options_.embeddings_initializer);
  config["embeddings_regularizer"] = regularizer_to_config(embedding_options_.embeddings_regularizer);
  config["mask_zero"] = embedding_options_.mask_zero;
  config["convention"] = convention_name(embedding_options_.convention);
  return config;
}

void register_embedding_layer() {
  register_layer_class("Embedding", [](const Json& config) {
    EmbeddingOptions options;
    options.convention = parse_convention(config.get("convention", Json("keras")).as_string());
    const Json init = config.get("embeddings_initializer", Json());
    if (!init.is_null()) options.embeddings_initializer = initializer_from_config(init);
    options.embeddings_regularizer = regularizer_from_config(config.get("embeddings_regularizer", Json()));
    options.mask_zero = config.get("mask_zero", Json(false)).as_bool();
    return std::make_shared<Embedding>(config.at("input_dim").as_int(), config.at("output_dim").as_int(), options,
                                       layer_options_from_config(config));
  });
}

}  // namespace pitfall
