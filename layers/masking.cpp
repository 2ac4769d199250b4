#include "pitfall/layers/masking.h"

#include "pitfall/core/ops.h"

namespace pitfall {

Tensor mask_and(const Tensor& a, const Tensor& b) {
  // where(a, b, a): b where a holds, else a's false.
  return where(a, b, a);
}

Tensor mask_any_last_axis(const Tensor& x) {
  return greater(max(cast(x, DType::float32), {-1}), Tensor::scalar(0.0, DType::float32, x.device()));
}

void check_mask(const std::string& where, const Tensor& mask, const Shape& shape, size_t min_rank) {
  const Shape& ms = mask.shape();
  const bool prefix = ms.size() >= min_rank && ms.size() <= shape.size() && std::equal(ms.begin(), ms.end(), shape.begin());
  if (mask.dtype() == DType::bool_ && prefix) return;
  throw ShapeError(where + ": the mask must be a bool tensor over the input's leading axes (shape " +
                   keras_shape_str(Shape(shape.begin(), shape.begin() + std::min(shape.size(), min_rank))) +
                   " for this input " + keras_shape_str(shape) + "), got " + std::string(dtype_name(mask.dtype())) +
                   " of shape " + keras_shape_str(ms));
}

static const ArgumentTable& masking_arguments() {
  static const ArgumentTable table = layer_table(
      "Masking", "keras/src/layers/core/masking.py",
      "Masks the timesteps whose features all equal mask_value: later layers skip them, and they read as zeros.",
      {Argument("mask_value", ArgKind::number, 0.0)
           .described("the value that marks padding: a timestep is skipped when all its features equal it")});
  return table;
}

PITFALL_REGISTER_LAYER(Masking, masking_arguments());

Masking::Masking(const Arguments& arguments, const LayerOptions& options)
    : Layer("Masking", options, arguments), mask_value_(arguments.number("mask_value")) {}

Masking::Masking(double mask_value, const LayerOptions& options)
    : Masking(parse_arguments(masking_arguments(), Json(Json::Object{{"mask_value", mask_value}})), options) {}

std::vector<Tensor> Masking::call(const std::vector<Tensor>& inputs, bool) {
  const Tensor& x = inputs[0];
  if (x.ndim() < 2) {
    throw ShapeError("needs an input of at least 2 dimensions (batch, ..., features): the mask covers all but the "
                     "last axis; got shape " + keras_shape_str(x.shape()));
  }
  const Tensor keep = mask_any_last_axis(not_equal(x, scalar_like(mask_value_, x, "Masking")));
  Tensor out = where(expand_dims(keep, -1), x, scalar_like(0.0, x, "Masking"));
  out.set_keras_mask(keep);
  return {out};
}

std::vector<Shape> Masking::compute_output_shape(const std::vector<Shape>& input_shapes) { return {input_shapes.at(0)}; }

}  // namespace pitfall
