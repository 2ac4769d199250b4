#include "pitfall/layers/input_layer.h"

#include "pitfall/layers/dtype_policy.h"

namespace pitfall {
namespace {
LayerOptions input_options(DType dtype, const std::string& name) {
  LayerOptions options;
  options.name = name;
  options.dtype = dtype;  // may be an integer dtype (token ids): an InputLayer has no weights
  return options;
}

// The batch shape, dtype and name the arguments describe (Keras InputLayer: shape + batch_size, or
// batch_shape; dtype None means floatx).
struct InputSpec {
  Shape shape;
  std::optional<int64_t> batch_size;
  DType dtype;
  std::string name;
};

InputSpec input_spec(const Arguments& arguments) {
  InputSpec spec;
  const auto dims = [](const Json& value) {
    Shape out;
    for (const Json& d : value.as_array()) out.push_back(d.is_null() ? -1 : d.as_int());
    return out;
  };
  if (!arguments.is_none("batch_shape")) {
    if (!arguments.is_none("shape") || !arguments.is_none("batch_size")) {
      throw ValueError("InputLayer: pass shape= (with batch_size=) or batch_shape=, not both");
    }
    const Shape batch_shape = dims(arguments.at("batch_shape"));
    if (batch_shape.empty()) throw ValueError("InputLayer: batch_shape must include the batch dimension");
    if (batch_shape[0] >= 0) spec.batch_size = batch_shape[0];
    spec.shape.assign(batch_shape.begin() + 1, batch_shape.end());
  } else if (!arguments.is_none("shape")) {
    spec.shape = dims(arguments.at("shape"));
    if (!arguments.is_none("batch_size")) spec.batch_size = arguments.integer("batch_size");
  } else {
    throw ValueError("InputLayer: shape= is required (the input's shape without the batch axis), e.g. shape=(784,)");
  }
  spec.dtype = arguments.is_none("dtype") ? floatx() : parse_dtype(arguments.text("dtype"));
  spec.name = arguments.is_none("name") ? "" : arguments.text("name");
  return spec;
}

}  // namespace

static const ArgumentTable& input_layer_arguments() {
  static const ArgumentTable table = [] {
    ArgumentTable t = layer_table(
        "InputLayer", "keras/src/layers/core/input_layer.py", "The entry of a functional model: passes its input through.",
        {Argument("shape", ArgKind::shape).allow_none().described("the input's shape without the batch axis"),
         Argument("batch_size", ArgKind::integer).allow_none().checked(positive_integer)
             .described("a fixed batch size (None: any)"),
         Argument("dtype", ArgKind::dtype).allow_none().described("the input's dtype (None: floatx)"),
         unsupported_argument("sparse"), unsupported_argument("ragged"),
         Argument("batch_shape", ArgKind::shape).allow_none().described("the shape with the batch axis"),
         unsupported_argument("input_tensor"), unsupported_argument("optional", false),
         Argument("name", ArgKind::string).allow_none().described("the layer's name (None: a unique one)")});
    // InputLayer names its own name and dtype; Keras 2 spelled shape / batch_shape these ways.
    t.base_names = {"input_shape", "batch_input_shape"};
    return t;
  }();
  return table;
}

namespace {
const bool input_layer_registered = [] {
  register_argument_table(&input_layer_arguments());
  register_layer_class("InputLayer", [](const Json& config) -> std::shared_ptr<Layer> {
    Json given = config;
    // Keras 2's spellings of batch_shape / shape.
    if (given.contains("batch_input_shape")) {
      given["batch_shape"] = given.at("batch_input_shape");
      given.as_object().erase("batch_input_shape");
    }
    if (given.contains("input_shape")) {
      given["shape"] = given.at("input_shape");
      given.as_object().erase("input_shape");
    }
    return std::make_shared<InputLayer>(parse_arguments(input_layer_arguments(), given));
  });
  return true;
}();
}  // namespace

InputLayer::InputLayer(const Arguments& arguments, const LayerOptions&)
    : InputLayer(input_spec(arguments).shape, input_spec(arguments).dtype, input_spec(arguments).name,
                 input_spec(arguments).batch_size) {}

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
    record_inbound_node(node);
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

}  // namespace pitfall
