#include "pitfall/layers/permute.h"

#include <algorithm>

#include "pitfall/core/ops.h"
#include "pitfall/layers/spatial_arguments.h"

namespace pitfall {

static const ArgumentTable& permute_arguments() {
  static const ArgumentTable table = layer_table(
      "Permute", "keras/src/layers/reshaping/permute.py",
      "Permutes the dimensions of the input according to a given pattern (the batch axis stays first).",
      {Argument("dims", ArgKind::shape).make_required()
           .checked([](const Json& value) -> std::string {
             std::vector<int64_t> dims;
             for (const Json& d : value.as_array()) dims.push_back(d.is_null() ? -1 : d.as_int());
             std::sort(dims.begin(), dims.end());
             for (size_t i = 0; i < dims.size(); ++i) {
               if (dims[i] != static_cast<int64_t>(i + 1)) {
                 return "a permutation of the axes 1 to n (each once; 0 is the batch axis, which stays first)";
               }
             }
             return dims.empty() ? "a non-empty permutation of the axes 1 to n" : "";
           })
           .described("the new order of the non-batch axes, numbered from 1: (2, 1) swaps the first two")});
  return table;
}

PITFALL_REGISTER_LAYER(Permute, permute_arguments());

Permute::Permute(const Arguments& arguments, const LayerOptions& options)
    : Layer("Permute", options, arguments), dims_(arguments.ints("dims")) {}

namespace {
std::string dims_layout(size_t n) {
  std::string text = "(batch";
  for (size_t i = 1; i <= n; ++i) text += ", d" + std::to_string(i);
  return text + ")";
}
}  // namespace

std::vector<Tensor> Permute::call(const std::vector<Tensor>& inputs, bool) {
  check_input_rank(class_name(), inputs[0].shape(), static_cast<int64_t>(dims_.size()) + 1, dims_layout(dims_.size()));
  std::vector<int64_t> order{0};
  order.insert(order.end(), dims_.begin(), dims_.end());
  return {transpose(inputs[0], order)};
}

std::vector<Shape> Permute::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& in = input_shapes.at(0);
  check_input_rank(describe(), in, static_cast<int64_t>(dims_.size()) + 1, dims_layout(dims_.size()));
  Shape out{in[0]};
  for (int64_t d : dims_) out.push_back(in[d]);
  return {out};
}

}  // namespace pitfall
