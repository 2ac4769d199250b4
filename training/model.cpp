// Functional and subclassed models: the graph (Input -> layer calls -> outputs), calling it, the
// layer list, weights in Keras order, summary(), get/set_weights and configs. Training lives in
// model_training.cpp, Sequential in sequential.cpp.
#include "pitfall/training/model.h"


#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "pitfall/core/autograd.h"
#include "pitfall/core/dtype_rules.h"
#include "pitfall/core/ops.h"
#include "pitfall/core/warnings.h"
#include "pitfall/layers/input_layer.h"
#include "pitfall/training/model_internal.h"

namespace pitfall {

// ---------------------------------------------------------------- helpers shared by model files

namespace model_internal {

std::string where(const Layer& model) { return "model '" + model.name() + "' (" + model.class_name() + ")"; }

bool is_input_layer(const Layer& layer) { return layer.class_name() == "InputLayer"; }

KerasTensor make_input(const Shape& shape, DType dtype, const std::string& name) {
  return std::make_shared<InputLayer>(shape, dtype, name)->output();
}

KerasTensor input_tensor_of(const std::shared_ptr<Layer>& input_layer) {
  auto input = std::dynamic_pointer_cast<InputLayer>(input_layer);
  if (!input) throw ValueError("layer '" + input_layer->name() + "' (" + input_layer->class_name() + ") is not an InputLayer");
  return input->output();
}

void rethrow_with_context(const Error& e, const std::string& prefix) { throw_error(e.kind(), prefix + e.what()); }

}  // namespace model_internal

using namespace model_internal;

KerasTensor Input(const Shape& shape, DType dtype, const std::string& name) {
  for (int64_t d : shape) {
    if (d < -1 || d == 0) {
      throw ShapeError("Input: shape " + keras_shape_str(shape) +
                       " has an invalid dimension; use positive sizes, or -1 for an unknown one");
    }
  }
  return make_input(shape, dtype, name);
}

// ---------------------------------------------------------------- construction

Model::Model(const std::vector<KerasTensor>& inputs, const std::vector<KerasTensor>& outputs,
             const LayerOptions& options, std::string class_name)
    : Layer(std::move(class_name), options) {
  set_graph(inputs, outputs);
  std::vector<Shape> shapes;
  for (const auto& in : inputs_) shapes.push_back(in.shape);
  ensure_built(shapes);  // a functional model is built at construction (Keras)
}

Model::Model(const LayerOptions& options, std::string class_name) : Layer(std::move(class_name), options) {}

void Model::set_graph(const std::vector<KerasTensor>& inputs, const std::vector<KerasTensor>& outputs) {
  const std::string here = where(*this);
  if (inputs.empty()) throw ValueError(here + ": a functional model needs at least one input (from pf.Input)");
  if (outputs.empty()) throw ValueError(here + ": a functional model needs at least one output");
  std::set<const SymbolicNode*> input_nodes;
  std::string input_names;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& in = inputs[i];
    if (!in.node || !in.node->layer || !is_input_layer(*in.node->layer)) {
      throw ValueError(here + ": input " + std::to_string(i) + " " + in.str() +
                       " does not come from pf.Input; a model's inputs must be the tensors Input() returned");
    }
    if (!input_nodes.insert(in.node.get()).second) {
      throw ValueError(here + ": input " + std::to_string(i) + " (" + in.node->layer->name() +
                       ") is given twice; pass each Input once");
    }
    input_names += (i ? ", " : "") + in.node->layer->name();
  }

  // Depth-first from the outputs, each node's inputs in order: a deterministic topological order in
  // which a node comes after everything it consumes.
  std::vector<std::shared_ptr<SymbolicNode>> order;
  std::set<const SymbolicNode*> done, active;
  std::function<void(const std::shared_ptr<SymbolicNode>&)> visit = [&](const std::shared_ptr<SymbolicNode>& node) {
    if (done.count(node.get())) return;
    if (!active.insert(node.get()).second) throw ValueError(here + ": the layer graph has a cycle");
    for (const auto& t : node->inputs) {
      if (!t.node) throw ValueError(here + ": " + t.str() + " is not the output of a layer call");
      const bool is_source = t.node->inputs.empty();
      if (is_source && !input_nodes.count(t.node.get())) {
        throw ValueError("Graph disconnected: cannot obtain value for tensor " + t.str() + " at layer '" +
                         node->layer->name() + "' (" + node->layer->class_name() + "). The inputs given are [" +
                         input_names + "]; pass that Input to Model(inputs=...) as well");
      }
      visit(t.node);
    }
    active.erase(node.get());
    done.insert(node.get());
    order.push_back(node);
  };
  for (const auto& out : outputs) {
    if (!out.node) throw ValueError(here + ": output " + out.str() + " is not the output of a layer call");
    if (out.node->inputs.empty() && !input_nodes.count(out.node.get())) {
      throw ValueError("Graph disconnected: cannot obtain value for tensor " + out.str() +
                       " (a model output). The inputs given are [" + input_names + "]");
    }
    visit(out.node);
  }
  // Inputs that no output depends on are still part of the model (Keras keeps them, and warns).
  for (const auto& in : inputs) {
    if (!done.count(in.node.get())) {
      warn("model '" + name() + "': input '" + in.node->layer->name() + "' is not connected to any output");
      done.insert(in.node.get());
      order.insert(order.begin(), in.node);
    }
  }
  inputs_ = inputs;
  outputs_ = outputs;
  nodes_ = std::move(order);
  for (const auto& node : nodes_) track(node->layer);
}

// ---------------------------------------------------------------- calling

void Model::check_inputs(const std::vector<Tensor>& xs) const {
  if (inputs_.empty()) return;
  if (xs.size() != inputs_.size()) {
    throw ValueError(where(*this) + " expects " + std::to_string(inputs_.size()) + " input(s) but got " +
                     std::to_string(xs.size()));
  }
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    const Shape& want = inputs_[i].shape;
    if (!x.defined()) throw ValueError(where(*this) + ": input " + std::to_string(i) + " is an undefined tensor");
    bool ok = x.ndim() == static_cast<int64_t>(want.size());
    for (size_t d = 1; ok && d < want.size(); ++d) ok = want[d] < 0 || want[d] == x.shape()[d];
    if (!ok) {
      throw ShapeError(where(*this) + ": input " + std::to_string(i) + " ('" + inputs_[i].node->layer->name() +
                       "') expects shape " + keras_shape_str(want) + " but got data of shape " +
                       keras_shape_str(x.shape()) + "; reshape the data, or build the model with Input(shape=" +
                       keras_shape_str(Shape(x.shape().begin() + std::min<int64_t>(1, x.ndim()), x.shape().end())) +
                       ")");
    }
  }
}

std::vector<Tensor> Model::standardize_inputs(const std::vector<Tensor>& xs) const {
  if (inputs_.empty()) return xs;
  check_inputs(xs);
  std::vector<Tensor> out;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    const DType want_dtype = inputs_[i].dtype;
    if (x.dtype() != want_dtype && is_floating(want_dtype)) {
      // Keras converts inputs to the Input's dtype silently; the dtype mode decides (core/dtype_rules.h).
      const std::string input_name = inputs_.size() > 1 ? " input '" + inputs_[i].node->layer->name() + "'" : "";
      out.push_back(boundary_cast(x, want_dtype, where(*this) + input_name,
                                  "model-input-cast:" + name() + ":" + std::to_string(i) + ":" +
                                      std::string(dtype_name(x.dtype())),
                                  CastReason::input));
    } else if (x.dtype() != want_dtype) {
      // An integer Input (token ids) fed other numbers: the values must be whole numbers already.
      warn_once("model-input-cast:" + name() + ":" + std::to_string(i),
                where(*this) + ": input " + std::to_string(i) + " has dtype " + std::string(dtype_name(x.dtype())) +
                    " but the Input expects " + std::string(dtype_name(want_dtype)) + "; casting it (cast the data " +
                    "yourself, or declare Input(dtype=" + std::string(dtype_name(x.dtype())) + "), to silence this)");
      out.push_back(cast(x, want_dtype));
    } else {
      out.push_back(x);
    }
  }
  return out;
}

std::vector<Tensor> Model::run_graph(const std::vector<Tensor>& xs, bool training) {
  const std::vector<Tensor> inputs = standardize_inputs(xs);
  std::map<std::pair<const SymbolicNode*, int>, Tensor> values;
  for (size_t i = 0; i < inputs_.size(); ++i) values[{inputs_[i].node.get(), inputs_[i].index}] = inputs[i];
  for (const auto& node : nodes_) {
    if (node->inputs.empty()) continue;  // an Input: fed above
    std::vector<Tensor> args;
    for (const auto& t : node->inputs) args.push_back(values.at({t.node.get(), t.index}));
    std::vector<Tensor> outs = (*node->layer)(args, node->training.value_or(training));
    monitor_layer_call(*node->layer, outs);
    for (size_t k = 0; k < outs.size(); ++k) values[{node.get(), static_cast<int>(k)}] = outs[k];
  }
  std::vector<Tensor> outputs;
  for (const auto& out : outputs_) outputs.push_back(values.at({out.node.get(), out.index}));
  return outputs;
}

std::vector<Tensor> Model::call(const std::vector<Tensor>& inputs, bool training) {
  if (!is_functional()) {
    throw NotImplementedError(where(*this) +
                              ": a subclassed Model must override call(inputs, training); or build a functional "
                              "model with Model(inputs, outputs)");
  }
  return run_graph(inputs, training);
}

std::vector<Shape> Model::compute_output_shape(const std::vector<Shape>& input_shapes) {
  if (!is_functional()) return Layer::compute_output_shape(input_shapes);
  std::map<std::pair<const SymbolicNode*, int>, Shape> shapes;
  for (size_t i = 0; i < inputs_.size() && i < input_shapes.size(); ++i) {
    shapes[{inputs_[i].node.get(), inputs_[i].index}] = input_shapes[i];
  }
  for (const auto& node : nodes_) {
    if (node->inputs.empty()) continue;
    std::vector<Shape> args;
    for (const auto& t : node->inputs) args.push_back(shapes.at({t.node.get(), t.index}));
    auto outs = node->layer->compute_output_shape(args);
    for (size_t k = 0; k < outs.size(); ++k) shapes[{node.get(), static_cast<int>(k)}] = outs[k];
  }
  std::vector<Shape> out;
  for (const auto& o : outputs_) out.push_back(shapes.at({o.node.get(), o.index}));
  return out;
}

int Model::num_inputs() const { return is_functional() ? static_cast<int>(inputs_.size()) : 1; }

// ---------------------------------------------------------------- layers and weights

std::vector<std::shared_ptr<Layer>> Model::layers() const {
  if (!is_functional()) return tracked_layers();
  std::vector<std::shared_ptr<Layer>> out;
  std::set<const Layer*> seen;
  // Keras functional: the InputLayers first (in the order given), then the rest in topological order.
  for (const auto& in : inputs_) {
    if (seen.insert(in.node->layer.get()).second) out.push_back(in.node->layer);
  }
  for (const auto& node : nodes_) {
    if (seen.insert(node->layer.get()).second) out.push_back(node->layer);
  }
  return out;
}

std::shared_ptr<Layer> Model::get_layer(const std::string& layer_name) const {
  std::vector<std::string> names;
  for (const auto& layer : layers()) {
    if (layer->name() == layer_name) return layer;
    names.push_back(layer->name());
  }
  std::string listing;
  for (size_t i = 0; i < names.size(); ++i) listing += (i ? ", " : "") + names[i];
  throw ValueError(where(*this) + " has no layer named '" + layer_name + "'; " + did_you_mean(layer_name, names) +
                   " (its layers: " + listing + ")");
}

std::vector<std::shared_ptr<Layer>> Model::sublayers() const {
  return is_functional() ? layers() : Layer::sublayers();
}

void Model::set_trainable(bool trainable) {
  Layer::set_trainable(trainable);
  for (const auto& layer : layers()) layer->set_trainable(trainable);
}

std::vector<Tensor> Model::get_weights() {
  std::vector<Tensor> out;
  for (Weight* w : weights()) out.push_back(w->value.detach().clone());
  return out;
}

void Model::set_weights(const std::vector<Tensor>& values) {
  const std::vector<Weight*> ws = weights();
  if (values.size() != ws.size()) {
    throw ValueError(where(*this) + ": set_weights got " + std::to_string(values.size()) +
                     " arrays but the model has " + std::to_string(ws.size()) +
                     " weights; pass exactly what get_weights() returns (same count, order and shapes)");
  }
  for (size_t i = 0; i < ws.size(); ++i) {
    const Tensor& v = values[i];
    const Tensor& w = ws[i]->value;
    if (!v.defined() || v.shape() != w.shape()) {
      throw ValueError(where(*this) + ": set_weights: weight " + std::to_string(i) + " '" + ws[i]->path +
                       "' has shape " + keras_shape_str(w.shape()) + " but the array given has shape " +
                       (v.defined() ? keras_shape_str(v.shape()) : std::string("(undefined)")) +
                       "; arrays must follow get_weights() order and shapes");
    }
    if (v.dtype() != w.dtype() && !(is_floating(v.dtype()) || is_integral(v.dtype()))) {
      throw DTypeError(where(*this) + ": set_weights: weight '" + ws[i]->path + "' is " +
                       std::string(dtype_name(w.dtype())) + " but the array given is " +
                       std::string(dtype_name(v.dtype())));
    }
  }
  NoGradGuard no_grad;
  for (size_t i = 0; i < ws.size(); ++i) {
    const Tensor& v = values[i];
    const Tensor& w = ws[i]->value;
    // Like Keras, values are converted to the variable's dtype.
    w.assign(v.dtype() == w.dtype() ? v.detach() : cast(v.detach(), w.dtype()));
  }
}

// ---------------------------------------------------------------- summary

namespace {

std::string fit_cell(std::string text, size_t width) {
  if (text.size() + 1 > width && width > 1) text = text.substr(0, width - 2) + "~";
  text.resize(width, ' ');
  return text;
}

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

// keras.src.utils.summary_utils.readable_memory_size
std::string readable_size(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
  for (const char* unit : units) {
    if (bytes / 1024.0 < 1.0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.2f %s", bytes, unit);
      return buf;
    }
    bytes /= 1024.0;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f PB", bytes * 1024.0);
  return buf;
}

}  // namespace

std::string Model::summary(int line_length) const {
  auto* self = const_cast<Model*>(this);
  struct Row {
    std::string name, shape;
    int64_t params;
    std::vector<std::string> connected;
  };
  std::vector<Row> rows;
  std::map<const Layer*, int> calls_seen;  // node index of each layer call within this model
  bool chain = true;
  if (is_functional()) {
    std::map<const SymbolicNode*, int> node_index;
    std::map<std::pair<const SymbolicNode*, int>, int> consumers;
    for (const auto& node : nodes_) {
      for (const auto& t : node->inputs) ++consumers[{t.node.get(), t.index}];
      if (node->inputs.size() > 1 || node->output_shapes.size() > 1) chain = false;
    }
    for (const auto& [key, n] : consumers) chain = chain && n <= 1;
    chain = chain && inputs_.size() == 1 && outputs_.size() == 1;
    // One row per layer (InputLayers first, as layers() lists them); a shared layer's row lists
    // every tensor it was called on, and "multiple" when its calls differ in output shape.
    for (const auto& node : nodes_) node_index[node.get()] = calls_seen[node->layer.get()]++;
    for (const auto& layer : layers()) {
      Row row;
      row.name = layer->name() + " (" + layer->class_name() + ")";
      row.params = layer->count_params();
      for (const auto& node : nodes_) {
        if (node->layer != layer) continue;
        const std::string shape = keras_shapes_str(node->output_shapes);
        row.shape = row.shape.empty() || row.shape == shape ? shape : "multiple";
        for (const auto& t : node->inputs) {
          row.connected.push_back(t.node->layer->name() + "[" + std::to_string(node_index[t.node.get()]) + "][" +
                                  std::to_string(t.index) + "]");
        }
      }
      rows.push_back(row);
    }
  }
  if (!is_functional() || class_name() == "Sequential") {
    rows.clear();
    chain = true;
    std::map<const Layer*, std::string> shapes;
    for (const auto& node : nodes_) shapes[node->layer.get()] = keras_shapes_str(node->output_shapes);
    for (const auto& layer : layers()) {
      Row row;
      row.name = layer->name() + " (" + layer->class_name() + ")";
      const auto it = shapes.find(layer.get());
      row.shape = it != shapes.end() ? it->second : "?";
      row.params = layer->count_params();
      rows.push_back(row);
    }
  }
  const size_t width = static_cast<size_t>(std::max(line_length, 40));
  std::vector<size_t> cols;  // column end positions
  std::vector<std::string> headers{"Layer (type)", "Output Shape", "Param #"};
  if (chain) {
    cols = {width * 45 / 100, width * 80 / 100, width};
  } else {
    cols = {width * 33 / 100, width * 55 / 100, width * 67 / 100, width};
    headers.push_back("Connected to");
  }
  auto format_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    size_t start = 0;
    for (size_t c = 0; c < cols.size(); ++c) {
      line += fit_cell((c == 0 ? " " : "") + cells[c], cols[c] - start);
      start = cols[c];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line + "\n";
  };
  std::ostringstream out;
  out << "Model: \"" << name() << "\"\n";
  out << std::string(width, '_') << "\n";
  out << format_row(headers);
  out << std::string(width, '=') << "\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    const Row& row = rows[r];
    std::vector<std::string> cells{row.name, row.shape, with_commas(row.params)};
    if (!chain) cells.push_back(row.connected.empty() ? "" : row.connected[0]);
    out << format_row(cells);
    for (size_t k = 1; !chain && k < row.connected.size(); ++k) out << format_row({"", "", "", row.connected[k]});
    if (r + 1 < rows.size()) out << std::string(width, '_') << "\n";
  }
  out << std::string(width, '=') << "\n";
  int64_t trainable = 0, non_trainable = 0;
  double trainable_bytes = 0, non_trainable_bytes = 0;
  for (Weight* w : self->weights()) {
    const int64_t n = w->value.numel();
    const double bytes = static_cast<double>(n) * static_cast<double>(dtype_size(w->value.dtype()));
    if (w->value.requires_grad()) {
      trainable += n;
      trainable_bytes += bytes;
    } else {
      non_trainable += n;
      non_trainable_bytes += bytes;
    }
  }
  out << "Total params: " << with_commas(trainable + non_trainable) << " ("
      << readable_size(trainable_bytes + non_trainable_bytes) << ")\n";
  out << "Trainable params: " << with_commas(trainable) << " (" << readable_size(trainable_bytes) << ")\n";
  out << "Non-trainable params: " << with_commas(non_trainable) << " (" << readable_size(non_trainable_bytes) << ")\n";
  out << std::string(width, '_') << "\n";
  return out.str();
}

// ---------------------------------------------------------------- configs

Json Model::get_config() const {
  Json config = base_config();
  if (!is_functional()) return config;
  // Keras functional config: each layer with its calls ("inbound_nodes"), each call a list of the
  // tensors it consumed as [layer name, node index, tensor index].
  std::map<const SymbolicNode*, int> node_index;
  std::map<const Layer*, int> calls;
  std::vector<const Layer*> layer_order;
  std::map<const Layer*, Json> inbound;
  auto tensor_ref = [&](const KerasTensor& t) {
    return Json(Json::Array{Json(t.node->layer->name()), Json(node_index.at(t.node.get())), Json(t.index)});
  };
  for (const auto& node : nodes_) {
    const Layer* layer = node->layer.get();
    if (!calls.count(layer)) {
      layer_order.push_back(layer);
      inbound[layer] = Json::array();
    }
    node_index[node.get()] = calls[layer]++;
    if (node->inputs.empty()) continue;
    Json call = Json::array();
    for (const auto& t : node->inputs) call.as_array().push_back(tensor_ref(t));
    if (node->training) {
      // A call made with training=True/False keeps it, in Keras 3's {"args", "kwargs"} form.
      call = Json(Json::Object{{"args", call}, {"kwargs", Json(Json::Object{{"training", Json(*node->training)}})}});
    }
    inbound[layer].as_array().push_back(call);
  }
  Json layers_json = Json::array();
  for (const Layer* layer : layer_order) {
    Json entry = Json::object();
    entry["class_name"] = layer->class_name();
    entry["name"] = layer->name();
    entry["config"] = layer->get_config();
    entry["inbound_nodes"] = inbound[layer];
    layers_json.as_array().push_back(entry);
  }
  config["layers"] = layers_json;
  Json ins = Json::array(), outs = Json::array();
  for (const auto& t : inputs_) ins.as_array().push_back(tensor_ref(t));
  for (const auto& t : outputs_) outs.as_array().push_back(tensor_ref(t));
  config["input_layers"] = ins;
  config["output_layers"] = outs;
  return config;
}

std::shared_ptr<Model> Model::functional_from_config(const Json& config) {
  std::map<std::string, std::shared_ptr<Layer>> by_name;
  std::map<std::pair<std::string, int64_t>, std::vector<KerasTensor>> produced;  // (layer, node) -> outputs
  struct Pending {
    std::shared_ptr<Layer> layer;
    std::string config_name;  // the name the config's references use (a rebuilt layer may get another)
    int64_t node_index;
    Json call;
  };
  std::vector<Pending> pending;
  for (const auto& entry : config.at("layers").as_array()) {
    Json class_and_config = Json::object();
    class_and_config["class_name"] = entry.at("class_name");
    class_and_config["config"] = entry.get("config", Json::object());
    auto layer = layer_from_config(class_and_config);
    const std::string layer_name = entry.get("name", Json(layer->name())).as_string();
    by_name[layer_name] = layer;
    if (is_input_layer(*layer)) {
      produced[{layer_name, 0}] = {input_tensor_of(layer)};
      continue;
    }
    int64_t k = 0;
    const Json inbound = entry.get("inbound_nodes", Json::array());
    for (const auto& call : inbound.as_array()) pending.push_back({layer, layer_name, k++, call});
  }
  auto ref_key = [](const Json& ref) {
    const auto& a = ref.as_array();
    return std::make_pair(a.at(0).as_string(), a.at(1).as_int());
  };
  // A call is its list of tensor references, or {"args": [...], "kwargs": {"training": ...}}.
  auto call_args = [](const Json& call) -> const Json& { return call.is_object() ? call.at("args") : call; };
  auto call_training = [](const Json& call) -> std::optional<bool> {
    if (!call.is_object() || !call.contains("kwargs") || !call.at("kwargs").contains("training")) return std::nullopt;
    const Json& value = call.at("kwargs").at("training");
    return value.is_null() ? std::nullopt : std::optional<bool>(value.as_bool());
  };
  // Calls run once everything they consume exists (a shared layer's later call may depend on
  // layers listed after it).
  while (!pending.empty()) {
    bool progress = false;
    for (auto it = pending.begin(); it != pending.end();) {
      bool ready = true;
      for (const auto& ref : call_args(it->call).as_array()) ready = ready && produced.count(ref_key(ref));
      if (!ready) {
        ++it;
        continue;
      }
      std::vector<KerasTensor> args;
      for (const auto& ref : call_args(it->call).as_array()) {
        args.push_back(produced.at(ref_key(ref)).at(ref.as_array().at(2).as_int()));
      }
      produced[{it->config_name, it->node_index}] = (*it->layer)(args, call_training(it->call));
      it = pending.erase(it);
      progress = true;
    }
    if (!progress) {
      throw ValueError("functional model config '" + config.get("name", Json("?")).dump() +
                       "': some layer calls consume tensors no layer produces (layer '" +
                       pending.front().layer->name() + "'); the config's inbound_nodes are inconsistent");
    }
  }
  auto tensors = [&](const char* key) {
    std::vector<KerasTensor> out;
    for (const auto& ref : config.at(key).as_array()) {
      const auto found = produced.find(ref_key(ref));
      if (found == produced.end()) {
        throw ValueError(std::string("functional model config: ") + key + " names an unknown tensor " + ref.dump());
      }
      out.push_back(found->second.at(ref.as_array().at(2).as_int()));
    }
    return out;
  };
  LayerOptions options;
  options.name = config.get("name", Json("")).as_string();
  options.trainable = config.get("trainable", Json(true)).as_bool();
  if (config.contains("dtype") && config.at("dtype").is_string()) options.dtype = ::pitfall::dtype_policy(config.at("dtype").as_string());
  return std::make_shared<Model>(tensors("input_layers"), tensors("output_layers"), options);
}

namespace {
// The model classes join the layer registry (layer_from_config, load_model) when the library loads:
// layers/ sits below training/ and cannot name them.
const bool model_classes_registered = [] {
  register_layer_class("Functional", [](const Json& config) -> std::shared_ptr<Layer> {
    return Model::functional_from_config(config);
  });
  register_layer_class("Sequential", [](const Json& config) -> std::shared_ptr<Layer> {
    return Sequential::from_config(config);
  });
  return true;
}();
}  // namespace

}  // namespace pitfall
