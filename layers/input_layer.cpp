#include "pitfall/layers/input_layer.h"

#include "pitfall/layers/builtin_layers.h"

namespace pitfall {
namespace {
LayerOptions input_options(DType dtype, const std::string& name) {
  LayerOptions options;
  options.name = name;
  options.dtype = dtype;  // may be an integer dtype (token ids): an InputLayer has no weights
  return options;
}
}  // namespace

InputLayer::InputLayer(const Shape& shape, DType dtype, const std::string& name, std::optional<int64_t> batch_size)
    : Layer("InputLayer", input_options(dtype, name)) {
  batch_shape_.push_back(batch_size.value_or(-1));
  batch_shape_.insert(batch_shape_.end(), shape.begin(), shape.end());
  for (int64_t d : shape) {
    if (d < -1 || d == 0) {
      throw ValueError("InputLayer: shape dimensions must be positive or None (-1), got shape=" + shape_str(shape));
    }
  }
  ensure_built({batch_shape_});
}

std::vector<Tensor> InputLayer::call(const std::vector<Tensor>& inputs, bool) { return inputs; }

std::vector<Shape> InputLayer::compute_output_shape(const std::vector<Shape>& input_shapes) { return input_shapes; }

std::vector<DType> InputLayer::compute_output_dtype(const std::vector<DType>&) const { return {dtype()}; }

KerasTensor InputLayer::output() {
  auto node = node_.lock();
  if (!node) {
    node = std::make_shared<SymbolicNode>();
    node->layer = shared_from_this();
    node->output_shapes = {batch_shape_};
    node->output_dtypes = {dtype()};
    node_ = node;
  }
  return KerasTensor{batch_shape_, dtype(), node, 0};
}

Json InputLayer::get_config() const {
  Json config = Json::object();
  config["name"] = name();
  config["dtype"] = std::string(dtype_name(dtype()));
  Json shape = Json::array();
  for (int64_t d : batch_shape_) shape.as_array().push_back(d < 0 ? Json() : Json(d));
  config["batch_shape"] = shape;
  config["sparse"] = false;
  return config;
}

void register_input_layer() {
  register_layer_class("InputLayer", [](const Json& config) -> std::shared_ptr<Layer> {
    Shape batch_shape;
    const Json shape = config.contains("batch_shape") ? config.at("batch_shape") : config.at("batch_input_shape");
    for (const auto& d : shape.as_array()) batch_shape.push_back(d.is_null() ? -1 : d.as_int());
    if (batch_shape.empty()) throw ValueError("InputLayer config: batch_shape must include the batch dimension");
    const std::optional<int64_t> batch = batch_shape[0] < 0 ? std::nullopt : std::optional<int64_t>(batch_shape[0]);
    const DType dtype = parse_dtype(config.get("dtype", "float32").as_string());
    return std::make_shared<InputLayer>(Shape(batch_shape.begin() + 1, batch_shape.end()), dtype,
                                        config.get("name", "").as_string(), batch);
  });
}

}  // namespace pitfall
