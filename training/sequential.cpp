// Sequential: a stack of single-input, single-output layers. Once its input shape is known it keeps
// a functional graph (InputLayer -> layer 1 -> ... -> layer n), as Keras 3 does, for summary(),
// configs and input checks; calling it applies the layers in order.
#include <set>

#include "pitfall/layers/input_layer.h"
#include "pitfall/training/model.h"
#include "pitfall/training/model_internal.h"

namespace pitfall {

using namespace model_internal;

Sequential::Sequential(const std::vector<std::shared_ptr<Layer>>& layers, const LayerOptions& options)
    : Model(options, "Sequential") {
  for (const auto& layer : layers) add(layer);
}

void Sequential::add(const std::shared_ptr<Layer>& layer) {
  if (!layer) throw ValueError(where(*this) + ": add() expects a Layer, got null");
  if (is_input_layer(*layer)) {
    if (input_layer_ || !sequence_.empty()) {
      throw ValueError(where(*this) + ": an InputLayer ('" + layer->name() +
                       "') can only be the first layer of a Sequential model");
    }
    input_layer_ = layer;
    input_from_build_ = false;
    rebuild_graph();
    ensure_built({std::dynamic_pointer_cast<InputLayer>(layer)->batch_shape()});
    return;
  }
  std::set<std::string> names;
  if (input_layer_) names.insert(input_layer_->name());
  for (const auto& existing : sequence_) names.insert(existing->name());
  if (names.count(layer->name())) {
    throw ValueError(where(*this) + ": all layers added to a Sequential model should have unique names; '" +
                     layer->name() + "' is already the name of a layer in this model (pass a unique `name`)");
  }
  sequence_.push_back(layer);
  track(layer);
  if (input_layer_) {
    // Extend the graph by one call (building the layer now, as Keras does).
    KerasTensor x = outputs_.at(0);
    std::vector<KerasTensor> outs;
    try {
      outs = (*layer)(std::vector<KerasTensor>{x});
    } catch (...) {
      sequence_.pop_back();
      throw;
    }
    if (outs.size() != 1) {
      sequence_.pop_back();
      throw ValueError(where(*this) + ": all layers in a Sequential model should have a single output; '" +
                       layer->name() + "' has " + std::to_string(outs.size()));
    }
    set_graph(inputs_, outs);
  } else if (sequence_.size() == 1 && layer->declared_input_shape()) {
    // Dense(..., input_shape=(784,)): an InputLayer is created and the model is built now.
    input_layer_ = std::make_shared<InputLayer>(*layer->declared_input_shape(), floatx());
    rebuild_graph();
    ensure_built({inputs_.at(0).shape});
  }
}

void Sequential::pop() {
  if (sequence_.empty()) throw ValueError(where(*this) + ": pop() on a model with no layers");
  sequence_.pop_back();
  rebuild_graph();
}

void Sequential::rebuild_graph() {
  if (!input_layer_) return;
  const KerasTensor input = input_tensor_of(input_layer_);
  KerasTensor x = input;
  for (const auto& layer : sequence_) {
    auto outs = (*layer)(std::vector<KerasTensor>{x});
    if (outs.size() != 1) {
      throw ValueError(where(*this) + ": all layers in a Sequential model should have a single output; '" +
                       layer->name() + "' has " + std::to_string(outs.size()));
    }
    x = outs[0];
  }
  set_graph({input}, {x});
}

void Sequential::build(const std::vector<Shape>& input_shapes) {
  if (input_layer_) return;
  if (input_shapes.size() != 1) {
    throw ValueError(where(*this) + ": a Sequential model takes one input, got " + std::to_string(input_shapes.size()));
  }
  if (input_shapes[0].empty()) {
    throw ShapeError(where(*this) + ": the input needs a batch dimension, got a scalar of shape ()");
  }
  const Shape& shape = input_shapes[0];
  input_layer_ = std::make_shared<InputLayer>(Shape(shape.begin() + 1, shape.end()), floatx());
  input_from_build_ = true;
  rebuild_graph();
}

std::vector<Tensor> Sequential::call(const std::vector<Tensor>& inputs, bool training) {
  if (sequence_.empty()) {
    throw ValueError(where(*this) + " has no layers; add() layers before calling it");
  }
  if (input_from_build_ && inputs.size() == 1 && inputs[0].defined() && !is_floating(inputs[0].dtype()) &&
      inputs_.at(0).dtype != inputs[0].dtype()) {
    // Built from a shape alone, the Input assumed floats; integer data (token ids) keeps its dtype,
    // and each layer applies its own dtype rules to it.
    const Shape& batch_shape = std::dynamic_pointer_cast<InputLayer>(input_layer_)->batch_shape();
    input_layer_ = std::make_shared<InputLayer>(Shape(batch_shape.begin() + 1, batch_shape.end()), inputs[0].dtype());
    rebuild_graph();
  }
  std::vector<Tensor> xs = is_functional() ? standardize_inputs(inputs) : inputs;
  if (xs.size() != 1) {
    throw ValueError(where(*this) + ": a Sequential model takes one input, got " + std::to_string(xs.size()));
  }
  Tensor x = xs[0];
  for (const auto& layer : sequence_) {
    x = (*layer)(x, training);
    if (monitoring()) monitor_layer_call(*layer, {x});
  }
  return {x};
}

std::vector<Shape> Sequential::compute_output_shape(const std::vector<Shape>& input_shapes) {
  std::vector<Shape> shapes = input_shapes;
  for (const auto& layer : sequence_) shapes = layer->compute_output_shape(shapes);
  return shapes;
}

std::vector<std::shared_ptr<Layer>> Sequential::layers() const { return sequence_; }

std::vector<std::shared_ptr<Layer>> Sequential::sublayers() const { return sequence_; }

Json Sequential::get_config() const {
  Json config = base_config();
  Json layers_json = Json::array();
  auto entry = [](const Layer& layer) {
    Json e = Json::object();
    e["class_name"] = layer.class_name();
    e["config"] = layer.get_config();
    return e;
  };
  if (input_layer_) layers_json.as_array().push_back(entry(*input_layer_));
  for (const auto& layer : sequence_) layers_json.as_array().push_back(entry(*layer));
  config["layers"] = layers_json;
  if (input_layer_) {
    Json shape = Json::array();
    for (int64_t d : std::dynamic_pointer_cast<InputLayer>(input_layer_)->batch_shape()) {
      shape.as_array().push_back(d < 0 ? Json() : Json(d));
    }
    config["build_input_shape"] = shape;
  }
  return config;
}

std::shared_ptr<Sequential> Sequential::from_config(const Json& config) {
  LayerOptions options;
  options.name = config.get("name", Json("")).as_string();
  options.trainable = config.get("trainable", Json(true)).as_bool();
  if (config.contains("dtype") && config.at("dtype").is_string()) options.dtype = ::pitfall::dtype_policy(config.at("dtype").as_string());
  auto model = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{}, options);
  const Json layers = config.get("layers", Json::array());
  for (const auto& entry : layers.as_array()) model->add(layer_from_config(entry));
  if (!model->built() && config.contains("build_input_shape") && config.at("build_input_shape").is_array()) {
    Shape shape;
    for (const auto& d : config.at("build_input_shape").as_array()) shape.push_back(d.is_null() ? -1 : d.as_int());
    model->ensure_built({shape});
  }
  return model;
}

}  // namespace pitfall
