#include "pitfall/layers/rescaling.h"

#include <cmath>

#include "pitfall/core/ops.h"

namespace pitfall {

namespace {

// scale and offset: a number, or a list of numbers (one per channel).
Argument factor_argument(const std::string& name, Json default_value, const std::string& doc) {
  Argument a(name, ArgKind::json, std::move(default_value));
  return a
      .checked([](const Json& value) -> std::string {
        const std::string allowed = "a finite number or a list of them (one per channel, along the last axis)";
        const auto finite = [](const Json& v) { return v.is_number() && !v.is_bool() && std::isfinite(v.as_double()); };
        if (finite(value)) return "";
        if (!value.is_array() || value.as_array().empty()) return allowed;
        for (const Json& v : value.as_array()) {
          if (!finite(v)) return allowed;
        }
        return "";
      })
      .described(doc);
}

std::vector<double> factor_values(const Json& value) {
  std::vector<double> out;
  if (!value.is_array()) return {value.as_double()};
  for (const Json& v : value.as_array()) out.push_back(v.as_double());
  return out;
}

// A factor as a tensor of `like`'s dtype and device: a scalar, or (channels,) along the last axis.
Tensor factor_tensor(const std::vector<double>& values, const Tensor& like, const std::string& where,
                     const std::string& name) {
  if (values.size() == 1) return scalar_like(values[0], like, "Rescaling");
  const int64_t channels = like.ndim() > 0 ? like.shape().back() : -1;
  if (channels != static_cast<int64_t>(values.size())) {
    throw ShapeError(where + ": " + name + " has " + std::to_string(values.size()) + " values (one per channel) but "
                     "the input of shape " + shape_str(like.shape()) + " has " +
                     (channels < 0 ? std::string("no channel axis") : std::to_string(channels) + " channels") +
                     " on its last axis");
  }
  return cast(Tensor::from_vector(values, {channels}, like.device()), like.dtype());
}

}  // namespace

static const ArgumentTable& rescaling_arguments() {
  static const ArgumentTable table = layer_table(
      "Rescaling", "keras/src/layers/preprocessing/rescaling.py",
      "Rescales the input: inputs * scale + offset (e.g. scale=1/255 maps [0, 255] to [0, 1]).",
      {factor_argument("scale", Json(), "the factor to multiply by").make_required(),
       factor_argument("offset", 0.0, "the value to add after scaling")});
  return table;
}

PITFALL_REGISTER_LAYER(Rescaling, rescaling_arguments());

Rescaling::Rescaling(const Arguments& arguments, const LayerOptions& options)
    : Layer("Rescaling", options, arguments),
      scale_(factor_values(arguments.at("scale"))),
      offset_(factor_values(arguments.at("offset"))) {}

std::vector<Tensor> Rescaling::call(const std::vector<Tensor>& inputs, bool) {
  const DType compute = compute_dtype();
  if (!is_floating(compute)) {
    throw DTypeError(class_name() + ": computes in " + std::string(dtype_name(compute)) + "; give it a floating dtype");
  }
  // Casting integer images is this layer's purpose (keras: inputs cast to the compute dtype).
  const Tensor x = inputs[0].dtype() == compute ? inputs[0] : cast(inputs[0], compute);
  const Tensor scale = factor_tensor(scale_, x, class_name(), "scale");
  const Tensor offset = factor_tensor(offset_, x, class_name(), "offset");
  return {add(multiply(x, scale), offset)};
}

std::vector<Shape> Rescaling::compute_output_shape(const std::vector<Shape>& input_shapes) { return input_shapes; }

std::vector<DType> Rescaling::compute_output_dtype(const std::vector<DType>&) const { return {compute_dtype()}; }

}  // namespace pitfall
