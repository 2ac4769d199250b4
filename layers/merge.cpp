#include "pitfall/layers/merge.h"

#include "pitfall/core/error.h"
#include "pitfall/core/ops.h"
#include "pitfall/layers/unit_normalization.h"
#include "pitfall/layers/masking.h"

#include <algorithm>

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

// ---------------------------------------------------------------- the elementwise merges

namespace {

ArgumentTable elementwise_table(const char* class_name, const char* file, const char* doc) {
  return layer_table(class_name, std::string("keras/src/layers/merging/") + file, doc, {});
}

}  // namespace

ElementwiseMerge::ElementwiseMerge(const std::string& class_name, const Arguments& arguments,
                                   const LayerOptions& options)
    : Layer(class_name, options, arguments) {}

std::vector<Tensor> ElementwiseMerge::compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>& masks) {
  // keras/src/layers/merging/base_merge.py: all of the given masks.
  Tensor out;
  for (const Tensor& m : masks) {
    if (m.defined()) out = out.defined() ? mask_and(out, m) : m;
  }
  return {out};
}

void ElementwiseMerge::build(const std::vector<Shape>& input_shapes) { compute_output_shape(input_shapes); }

std::vector<Shape> ElementwiseMerge::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const size_t exact = exact_inputs();
  if (exact != 0 && input_shapes.size() != exact) {
    // Keras: "A `Subtract` layer should be called on exactly 2 inputs."
    throw ValueError(describe() + " should be called on exactly " + std::to_string(exact) + " inputs, got " +
                     std::to_string(input_shapes.size()) + "; pass them as one list, e.g. [a, b]");
  }
  return {elementwise_merge_shape(*this, input_shapes)};
}

std::vector<Tensor> ElementwiseMerge::call(const std::vector<Tensor>& inputs, bool /*training*/) {
  compute_output_shape(shapes_of(inputs));
  check_same_dtype(*this, inputs);
  // Left to right, like Keras's loop.
  Tensor out = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) out = combine(out, inputs[i]);
  return {finish(out, inputs.size())};
}

#define PITFALL_DEFINE_ELEMENTWISE_MERGE(Class, file, doc, exact, combine_expr, finish_expr)                  \
  static const ArgumentTable& Class##_arguments() {                                                          \
    static const ArgumentTable table = elementwise_table(#Class, file, doc);                                 \
    return table;                                                                                            \
  }                                                                                                          \
  PITFALL_REGISTER_LAYER(Class, Class##_arguments());                                                        \
  Class::Class(const Arguments& arguments, const LayerOptions& options)                                      \
      : ElementwiseMerge(#Class, arguments, options) {}                                                      \
  Class::Class(const LayerOptions& options) : Class(parse_arguments(Class##_arguments(), Json::object()), options) {} \
  Tensor Class::combine(const Tensor& a, const Tensor& b) const { return combine_expr; }                     \
  Tensor Class::finish(const Tensor& merged, size_t count) const {                                           \
    (void)count;                                                                                             \
    return finish_expr;                                                                                      \
  }                                                                                                          \
  size_t Class::exact_inputs() const { return exact; }

PITFALL_DEFINE_ELEMENTWISE_MERGE(Add, "add.py", "Adds a list of inputs of one shape (size-1 axes broadcast).", 0,
                                 add(a, b), merged)
PITFALL_DEFINE_ELEMENTWISE_MERGE(Subtract, "subtract.py", "Subtracts the second of two inputs from the first.", 2,
                                 subtract(a, b), merged)
PITFALL_DEFINE_ELEMENTWISE_MERGE(Multiply, "multiply.py", "Multiplies a list of inputs elementwise.", 0,
                                 multiply(a, b), merged)
PITFALL_DEFINE_ELEMENTWISE_MERGE(Average, "average.py", "Averages a list of inputs elementwise.", 0, add(a, b),
                                 divide(merged, static_cast<double>(count)))
PITFALL_DEFINE_ELEMENTWISE_MERGE(Maximum, "maximum.py", "The elementwise maximum of a list of inputs.", 0,
                                 maximum(a, b), merged)
PITFALL_DEFINE_ELEMENTWISE_MERGE(Minimum, "minimum.py", "The elementwise minimum of a list of inputs.", 0,
                                 minimum(a, b), merged)
#undef PITFALL_DEFINE_ELEMENTWISE_MERGE

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

static const ArgumentTable& concatenate_arguments() {
  static const ArgumentTable table = layer_table(
      "Concatenate", "keras/src/layers/merging/concatenate.py", "Concatenates a list of inputs along an axis.",
      {Argument("axis", ArgKind::integer, -1).described("the axis to join along")});
  return table;
}

PITFALL_REGISTER_LAYER(Concatenate, concatenate_arguments());

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

std::vector<Tensor> Concatenate::compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) {
  // keras/src/layers/merging/concatenate.py: each input's mask spread over its full shape (all true
  // without one), concatenated, then reduced over the last axis with "any".
  if (std::none_of(masks.begin(), masks.end(), [](const Tensor& m) { return m.defined(); })) return {Tensor()};
  std::vector<Tensor> full;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    Tensor m = i < masks.size() ? masks[i] : Tensor();
    if (!m.defined()) {
      m = Tensor::full(x.shape(), 1.0, DType::bool_, x.device());
    } else if (m.ndim() < x.ndim()) {
      m = broadcast_to(expand_dims(m, -1), x.shape());
    }
    full.push_back(cast(m, DType::float32));
  }
  return {mask_any_last_axis(cast(concatenate(full, axis_), DType::bool_))};
}

// ---------------------------------------------------------------- Dot

namespace {

// Keras's Dot axes: an int, or a list of two ints.
std::string dot_axes_check(const Json& value) {
  if (value.is_int()) return "";
  if (value.is_array() && value.as_array().size() == 2 && value.as_array()[0].is_int() &&
      value.as_array()[1].is_int()) {
    return "";
  }
  return "an int or a list of two ints (one axis per input)";
}

const ArgumentTable& dot_arguments() {
  static const ArgumentTable table = layer_table(
      "Dot", "keras/src/layers/merging/dot.py", "Batch dot product of two inputs along the given axes.",
      {Argument("axes", ArgKind::json).make_required().checked(dot_axes_check).described(
           "the axis of each input to take the dot product along (an int for both, or a pair)"),
       Argument("normalize", ArgKind::boolean, false).described(
           "L2-normalize both inputs along their axis first (the output is then the cosine proximity)")});
  return table;
}

// `x` with axis `from` moved to position `to`.
Tensor moved_axis(const Tensor& x, int64_t from, int64_t to) {
  std::vector<int64_t> order;
  for (int64_t d = 0; d < x.ndim(); ++d) {
    if (d != from) order.push_back(d);
  }
  order.insert(order.begin() + to, from);
  return transpose(x, order);
}

}  // namespace

PITFALL_REGISTER_LAYER(Dot, dot_arguments());

Dot::Dot(const Arguments& arguments, const LayerOptions& options)
    : Layer("Dot", options, arguments), axes_(arguments.at("axes")), normalize_(arguments.flag("normalize")) {}

std::pair<int64_t, int64_t> Dot::resolved_axes(const std::vector<Shape>& shapes) const {
  if (shapes.size() != 2) {
    throw ValueError(describe() + " should be called on a list of 2 inputs, got " + std::to_string(shapes.size()));
  }
  std::pair<int64_t, int64_t> axes;
  for (size_t i = 0; i < 2; ++i) {
    const int64_t rank = static_cast<int64_t>(shapes[i].size());
    if (rank < 2) {
      throw ShapeError(describe() + ": input " + std::to_string(i) + " has shape " + shape_str(shapes[i]) +
                       "; Dot needs inputs with a batch axis and at least one more (rank >= 2)");
    }
    const int64_t given = axes_.is_int() ? axes_.as_int() : axes_.as_array()[i].as_int();
    // Keras: a negative axis counts from the end of that input (axes % rank).
    const int64_t axis = ((given % rank) + rank) % rank;
    if (axis == 0) {
      throw ValueError(describe() + ": axes=" + axes_.dump() + " names the batch axis 0 of input " +
                       std::to_string(i) + "; the dot product is taken per sample, along a non-batch axis");
    }
    (i == 0 ? axes.first : axes.second) = axis;
  }
  const int64_t a = shapes[0][axes.first], b = shapes[1][axes.second];
  if (a >= 0 && b >= 0 && a != b) {
    throw ShapeError(describe() + ": incompatible input shapes: axis values " + std::to_string(a) + " (at axis " +
                     std::to_string(axes.first) + ") != " + std::to_string(b) + " (at axis " +
                     std::to_string(axes.second) + "); full input shapes " + shape_str(shapes[0]) + ", " +
                     shape_str(shapes[1]));
  }
  return axes;
}

void Dot::build(const std::vector<Shape>& input_shapes) { resolved_axes(input_shapes); }

std::vector<Shape> Dot::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const auto [a0, a1] = resolved_axes(input_shapes);
  Shape out = input_shapes[0];
  out.erase(out.begin() + a0);
  Shape rest = input_shapes[1];
  rest.erase(rest.begin() + a1);
  out.insert(out.end(), rest.begin() + 1, rest.end());
  if (out.size() == 1) out.push_back(1);
  return {out};
}

std::vector<Tensor> Dot::call(const std::vector<Tensor>& inputs, bool /*training*/) {
  const auto [a0, a1] = resolved_axes(shapes_of(inputs));
  check_same_dtype(*this, inputs);
  // keras.ops.normalize's default epsilon, 1e-7.
  Tensor x = normalize_ ? l2_normalize(inputs[0], {a0}, 1e-7) : inputs[0];
  Tensor y = normalize_ ? l2_normalize(inputs[1], {a1}, 1e-7) : inputs[1];
  // keras batch_dot: x's axis last, y's axis second, both squashed to rank 3, one batched matmul.
  const int64_t batch = x.dim(0), depth = x.dim(a0);
  x = moved_axis(x, a0, x.ndim() - 1);
  y = moved_axis(y, a1, 1);
  const int64_t rows = x.numel() / std::max<int64_t>(1, batch * depth);
  const int64_t cols = y.numel() / std::max<int64_t>(1, batch * depth);
  const Tensor product = matmul(reshape(x, {batch, rows, depth}), reshape(y, {batch, depth, cols}));
  return {reshape(product, compute_output_shape(shapes_of(inputs))[0])};
}

}  // namespace pitfall
