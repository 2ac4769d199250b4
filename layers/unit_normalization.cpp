#include "pitfall/layers/unit_normalization.h"

#include <algorithm>

#include "pitfall/core/ops.h"

namespace pitfall {

Tensor l2_normalize(const Tensor& x, const std::vector<int64_t>& axes, double epsilon) {
  const Tensor square_sum = sum(square(x), axes, /*keepdims=*/true);
  return divide(x, sqrt(maximum(square_sum, scalar_like(epsilon * epsilon, square_sum, "l2_normalize"))));
}

static const ArgumentTable& unit_normalization_arguments() {
  static const ArgumentTable table = layer_table(
      "UnitNormalization", "keras/src/layers/normalization/unit_normalization.py",
      "Scales each sample to unit L2 norm across `axis`.",
      {Argument("axis", ArgKind::int_list, -1).described("the axis or axes to normalize across (-1: the last)")});
  return table;
}

PITFALL_REGISTER_LAYER(UnitNormalization, unit_normalization_arguments());

UnitNormalization::UnitNormalization(const Arguments& arguments, const LayerOptions& options)
    : Layer("UnitNormalization", options, arguments) {
  const Json& axis = arguments.at("axis");
  axes_ = axis.is_array() ? axis.as_int_vector() : std::vector<int64_t>{axis.as_int()};
}

std::vector<int64_t> UnitNormalization::resolved_axes(int64_t rank) const {
  std::vector<int64_t> out;
  for (int64_t a : axes_) {
    if (a < -rank || a >= rank) {
      throw AxisError(class_name() + ": axis " + std::to_string(a) + " is out of range for an input of rank " +
                      std::to_string(rank) + "; use axes in [" + std::to_string(-rank) + ", " +
                      std::to_string(rank - 1) + "]");
    }
    const int64_t resolved = a < 0 ? a + rank : a;
    if (std::find(out.begin(), out.end(), resolved) == out.end()) out.push_back(resolved);
  }
  return out;
}

std::vector<Tensor> UnitNormalization::call(const std::vector<Tensor>& inputs, bool) {
  const Tensor& x = inputs[0];
  // keras/src/layers/normalization/unit_normalization.py: ops.normalize(order=2, epsilon=1e-12).
  return {l2_normalize(x, resolved_axes(x.ndim()), 1e-12)};
}

std::vector<Shape> UnitNormalization::compute_output_shape(const std::vector<Shape>& input_shapes) {
  resolved_axes(static_cast<int64_t>(input_shapes.at(0).size()));
  return input_shapes;
}

}  // namespace pitfall
