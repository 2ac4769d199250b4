#include "pitfall/layers/merge.h"

#include "pitfall/core/error.h"
#include "pitfall/core/ops.h"

namespace pitfall {

namespace {


// Keras: "A merge layer should be called on a list of at least 2 inputs."
void check_at_least_two(const Layer& layer, size_t count) {
  if (count < 2) {
    throw ValueError(layer.describe() + " must be called on a list of at least 2 inputs, got " + std::to_string(count) +
                     "; pass every tensor to merge in one call, e.g. add_layer({a, b})");
  }
}

void check_same_rank(const Layer& layer, const std::vector<Shape>& shapes) {
  for (size_t i = 1; i < shapes.size(); ++i) {
    if (shapes[i].size() != shapes[0].size()) {
      throw ShapeError(layer.describe() + ": input " + std::to_string(i) + " has shape " + shape_str(shapes[i]) +
                       " (rank " + std::to_string(shapes[i].size()) + ") but input 0 has shape " +
                       shape_str(shapes[0]) + " (rank " + std::to_string(shapes[0].size()) +
                       "); all inputs need the same rank: reshape or expand_dims the inputs first");
    }
  }
}

// The Keras elementwise merge shape: equal batch sizes; other dims equal or 1 (which broadcasts).
Shape elementwise_merge_shape(const Layer& layer, const std::vector<Shape>& shapes) {
  check_at_least_two(layer, shapes.size());
  check_same_rank(layer, shapes);
  Shape merged = shapes[0];
  for (size_t i = 1; i < shapes.size(); ++i) {
    const Shape& s = shapes[i];
    for (size_t d = 0; d < s.size(); ++d) {
      const int64_t a = merged[d], b = s[d];
      if (a == -1 || b == -1) {
        // Keras: a known batch size wins; any other unknown dim makes the result unknown.
        merged[d] = (d == 0) ? (a == -1 ? b : a) : -1;
        continue;
      }
      if (a == b) continue;
      if (d > 0 && (a == 1 || b == 1)) {
        merged[d] = (a == 1) ? b : a;
        continue;
      }
      throw ShapeError(layer.describe() + ": input " + std::to_string(i) + " has shape " + shape_str(s) +
                       ", incompatible with input 0's shape " + shape_str(shapes[0]) + " at axis " +
                       std::to_string(d) + " (" + std::to_string(b) + " vs " + std::to_string(a) +
                       (d == 0 ? "; the batch sizes must be equal" : "; sizes must be equal or 1") +
                       "); give every input the same shape");
    }
  }
  return merged;
}

void check_same_dtype(const Layer& layer, const std::vector<Tensor>& inputs) {
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (inputs[i].dtype() != inputs[0].dtype()) {
      throw DTypeError(layer.describe() + ": input " + std::to_string(i) + " has dtype " +
                       std::string(dtype_name(inputs[i].dtype())) + " but input 0 has dtype " +
                       std::string(dtype_name(inputs[0].dtype())) + "; cast the inputs to one dtype first");
    }
  }
}

std::vector<Shape> shapes_of(const std::vector<Tensor>& inputs) {
  std::vector<Shape> shapes;
  for (const auto& x : inputs) shapes.push_back(x.shape());
  return shapes;
}

}  // namespace

// ---------------------------------------------------------------- Add

static const ArgumentTable& add_arguments() {
  static const ArgumentTable table = layer_table("Add", "keras/src/layers/merging/add.py",
                                                 "Adds a list of inputs of one shape (size-1 axes broadcast).", {});
  return table;
}

static const ArgumentTable& concatenate_arguments() {
  static const ArgumentTable table = layer_table(
      "Concatenate", "keras/src/layers/merging/concatenate.py", "Concatenates a list of inputs along an axis.",
      {Argument("axis", ArgKind::integer, -1).described("the axis to join along")});
  return table;
}

PITFALL_REGISTER_LAYER(Add, add_arguments());
PITFALL_REGISTER_LAYER(Concatenate, concatenate_arguments());

Add::Add(const Arguments& arguments, const LayerOptions& options) : Layer("Add", options, arguments) {}

Add::Add(const LayerOptions& options) : Add(parse_arguments(add_arguments(), Json::object()), options) {}

void Add::build(const std::vector<Shape>& input_shapes) { elementwise_merge_shape(*this, input_shapes); }

std::vector<Shape> Add::compute_output_shape(const std::vector<Shape>& input_shapes) {
  return {elementwise_merge_shape(*this, input_shapes)};
}

std::vector<Tensor> Add::call(const std::vector<Tensor>& inputs, bool /*training*/) {
  elementwise_merge_shape(*this, shapes_of(inputs));
  check_same_dtype(*this, inputs);
  // Left to right, like Keras's loop: a fixed order keeps the float result reproducible.
  Tensor out = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) out = add(out, inputs[i]);
  return {out};
}


// ---------------------------------------------------------------- Concatenate

namespace {

Shape concatenate_shape(const Layer& layer, int64_t axis, const std::vector<Shape>& shapes) {
  check_at_least_two(layer, shapes.size());
  check_same_rank(layer, shapes);
  const int64_t rank = static_cast<int64_t>(shapes[0].size());
  if (rank == 0 || axis < -rank || axis >= rank) {
    throw AxisError(layer.describe() + ": axis " + std::to_string(axis) + " is out of range for inputs of rank " +
                    std::to_string(rank) + " (shape " + shape_str(shapes[0]) + "); use an axis in [" +
                    std::to_string(-rank) + ", " + std::to_string(rank - 1) + "]");
  }
  const int64_t a = axis < 0 ? axis + rank : axis;
  Shape merged = shapes[0];
  for (size_t i = 1; i < shapes.size(); ++i) {
    const Shape& s = shapes[i];
    for (int64_t d = 0; d < rank; ++d) {
      if (d == a) {
        merged[d] = (merged[d] == -1 || s[d] == -1) ? -1 : merged[d] + s[d];
        continue;
      }
      if (merged[d] == -1) merged[d] = s[d];
      if (s[d] == -1 || s[d] == merged[d]) continue;
      throw ShapeError(layer.describe() + ": input " + std::to_string(i) + " has shape " + shape_str(s) +
                       " but input 0 has shape " + shape_str(shapes[0]) + "; they differ at axis " +
                       std::to_string(d) + ", and only the concatenation axis " + std::to_string(a) +
                       " may differ. Reshape the inputs or concatenate along axis " + std::to_string(d));
    }
  }
  return merged;
}

}  // namespace

Concatenate::Concatenate(const Arguments& arguments, const LayerOptions& options)
    : Layer("Concatenate", options, arguments), axis_(arguments.integer("axis")) {}

Concatenate::Concatenate(std::optional<int64_t> axis, const LayerOptions& options)
    : Concatenate(parse_arguments(concatenate_arguments(), axis ? Json(Json::Object{{"axis", *axis}}) : Json::object()),
                  options) {}

void Concatenate::build(const std::vector<Shape>& input_shapes) { concatenate_shape(*this, axis_, input_shapes); }

std::vector<Shape> Concatenate::compute_output_shape(const std::vector<Shape>& input_shapes) {
  return {concatenate_shape(*this, axis_, input_shapes)};
}

std::vector<Tensor> Concatenate::call(const std::vector<Tensor>& inputs, bool /*training*/) {
  concatenate_shape(*this, axis_, shapes_of(inputs));
  check_same_dtype(*this, inputs);
  return {concatenate(inputs, axis_)};
}

}  // namespace pitfall
