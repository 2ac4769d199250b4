#include "pitfall/layers/category_encoding.h"

#include "pitfall/core/ops.h"
#include "pitfall/layers/embedding.h"

namespace pitfall {

static const ArgumentTable& category_encoding_arguments() {
  static const ArgumentTable table = layer_table(
      "CategoryEncoding", "keras/src/layers/preprocessing/category_encoding.py",
      "Encodes integer token ids as one-hot, multi-hot or count vectors of width num_tokens.",
      {Argument("num_tokens", ArgKind::integer).allow_none().checked(positive_integer)
           .described("the number of token ids the layer takes: ids lie in [0, num_tokens) (required)"),
       Argument("output_mode", ArgKind::string, "multi_hot")
           // Keras's deprecated spelling "binary" is multi_hot.
           .normalized([](const Json& value) { return value.as_string() == "binary" ? Json("multi_hot") : value; })
           .one_of({"multi_hot", "one_hot", "count", "binary"})
           .described("\"one_hot\" (one vector per id), \"multi_hot\" (1 where an id occurs in a sample) or "
                      "\"count\" (how often it occurs)"),
       unsupported_argument("sparse", false)});
  return table;
}

PITFALL_REGISTER_LAYER(CategoryEncoding, category_encoding_arguments());

CategoryEncoding::CategoryEncoding(const Arguments& arguments, const LayerOptions& options)
    : Layer("CategoryEncoding", options, arguments), output_mode_(arguments.text("output_mode")) {
  if (arguments.is_none("num_tokens")) {
    throw ValueError("CategoryEncoding: argument 'num_tokens' must be set to the number of token ids (ids lie in "
                     "[0, num_tokens)), got num_tokens=None");
  }
  num_tokens_ = arguments.integer("num_tokens");
}

std::vector<Tensor> CategoryEncoding::call(const std::vector<Tensor>& inputs, bool) {
  Tensor ids = checked_indices(inputs.at(0), num_tokens_, class_name(), "num_tokens");
  if (ids.ndim() == 0) ids = reshape(ids, {1});  // one id is one sample (Keras upranks scalars)
  const DType dtype = this->dtype();
  if (output_mode_ == "one_hot") {
    // A trailing axis of size 1 holds one id per position (keras/src/utils/numerical_utils.py).
    if (ids.ndim() > 1 && ids.shape().back() == 1) ids = squeeze(ids, {ids.ndim() - 1});
    return {one_hot(ids, num_tokens_, dtype)};
  }
  // multi_hot / count: over the ids of each sample (the last axis).
  const Tensor encoded = one_hot(ids, num_tokens_, dtype);
  if (output_mode_ == "count") return {sum(encoded, {ids.ndim() - 1})};
  return {max(encoded, {ids.ndim() - 1})};
}

std::vector<Shape> CategoryEncoding::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& in = input_shapes.at(0);
  if (in.empty()) return {{num_tokens_}};
  Shape out = in;
  if (output_mode_ != "one_hot" || (in.size() > 1 && in.back() == 1)) out.pop_back();
  out.push_back(num_tokens_);
  return {out};
}

std::vector<DType> CategoryEncoding::compute_output_dtype(const std::vector<DType>&) const { return {dtype()}; }

}  // namespace pitfall
