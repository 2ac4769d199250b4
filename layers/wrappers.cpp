#include "pitfall/layers/wrappers.h"

#include "pitfall/core/ops.h"

namespace pitfall {

namespace {

std::string layer_check(const Json& value) {
  if (value.is_null() || (value.is_object() && value.contains("class_name"))) return "";
  return "a layer, or a layer's {\"class_name\": ..., \"config\": ...}";
}

Argument layer_argument(const std::string& name, const std::string& doc) {
  return Argument(name, ArgKind::object).holding("layer").checked(layer_check).described(doc);
}

Json layer_entry(const Layer& layer) {
  return Json(Json::Object{{"class_name", layer.class_name()}, {"config", layer.get_config()}});
}

// The layer an argument holds: the object given, else built from its config. Null when neither.
std::shared_ptr<Layer> held_layer(const Arguments& arguments, const std::string& name) {
  if (auto object = arguments.object(name)) return std::static_pointer_cast<Layer>(object);
  if (arguments.is_none(name)) return nullptr;
  return layer_from_config(arguments.at(name));
}

std::string without_prefix(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

// A copy of `layer` from its config, renamed, optionally going backwards: a recurrent layer.
std::shared_ptr<RecurrentLayer> recurrent_copy(const std::string& where, const Layer& layer, const std::string& name,
                                               bool go_backwards) {
  Json config = layer.get_config();
  config["name"] = name;
  if (go_backwards) config["go_backwards"] = true;
  auto copy = std::dynamic_pointer_cast<RecurrentLayer>(
      layer_from_config(Json(Json::Object{{"class_name", layer.class_name()}, {"config", config}})));
  if (!copy) {
    throw ValueError(where + ": layer must be a recurrent layer (SimpleRNN, LSTM, GRU), got " + layer.describe());
  }
  return copy;
}

// x (batch, timesteps, ...) reversed along the time axis.
Tensor flip_time(const Tensor& x) {
  std::vector<int64_t> begin(x.ndim(), 0), end(x.shape().begin(), x.shape().end()), step(x.ndim(), 1);
  begin[1] = x.dim(1) - 1;
  end[1] = -1;
  step[1] = -1;
  return strided_slice(x, begin, end, step);
}

}  // namespace

// ---------------------------------------------------------------- Bidirectional

static const ArgumentTable& bidirectional_arguments() {
  static const ArgumentTable table = layer_table(
      "Bidirectional", "keras/src/layers/rnn/bidirectional.py",
      "Runs a recurrent layer forwards and backwards over a sequence and merges the two outputs.",
      {layer_argument("layer", "the recurrent layer (SimpleRNN, LSTM, GRU); copied from its config").make_required(),
       Argument("merge_mode", ArgKind::string, "concat").allow_none().one_of({"sum", "mul", "ave", "concat"})
           .described("how the forward and backward outputs combine: \"sum\", \"mul\", \"ave\", \"concat\", or "
                      "None (a list of both)"),
       unsupported_argument("weights"),
       layer_argument("backward_layer", "the backward layer (go_backwards=True); None: a copy of `layer`")
           .allow_none()});
  return table;
}

PITFALL_REGISTER_LAYER(Bidirectional, bidirectional_arguments());

Bidirectional::Bidirectional(const Arguments& arguments, const LayerOptions& options)
    : Layer("Bidirectional", options, arguments),
      merge_mode_(arguments.is_none("merge_mode") ? "" : arguments.text("merge_mode")) {
  const std::shared_ptr<Layer> layer = held_layer(arguments, "layer");
  forward_ = recurrent_copy("Bidirectional", *layer, "forward_" + without_prefix(layer->name(), "forward_"), false);
  if (const std::shared_ptr<Layer> backward = held_layer(arguments, "backward_layer")) {
    backward_ = std::dynamic_pointer_cast<RecurrentLayer>(backward);
    if (!backward_) {
      throw ValueError("Bidirectional: backward_layer must be a recurrent layer (SimpleRNN, LSTM, GRU), got " +
                       backward->describe());
    }
  } else {
    backward_ = recurrent_copy("Bidirectional", *layer, "backward_" + without_prefix(layer->name(), "backward_"), true);
  }
  const RecurrentSettings &f = forward_->options(), &b = backward_->options();
  if (f.go_backwards == b.go_backwards) {
    throw ValueError("Bidirectional: the forward and backward layers need different go_backwards values, got "
                     "go_backwards=" + std::string(f.go_backwards ? "True" : "False") + " for both (" +
                     forward_->describe() + ", " + backward_->describe() + ")");
  }
  if (f.return_sequences != b.return_sequences || f.return_state != b.return_state) {
    throw ValueError("Bidirectional: the forward and backward layers need the same return_sequences and "
                     "return_state, got " + forward_->describe() + " and " + backward_->describe());
  }
  return_sequences_ = f.return_sequences;
  return_state_ = f.return_state;
  // keras: the sublayers output zeros at masked steps when they return sequences.
  forward_->set_zero_output_for_mask(return_sequences_);
  backward_->set_zero_output_for_mask(return_sequences_);
  track(forward_);
  track(backward_);
}

Bidirectional::Bidirectional(const std::shared_ptr<Layer>& layer, const std::string& merge_mode,
                             const LayerOptions& options)
    : Bidirectional(parse_arguments(bidirectional_arguments(),
                                    Json(Json::Object{{"merge_mode", merge_mode.empty() ? Json() : Json(merge_mode)}}),
                                    {{"layer", layer}}),
                    options) {}

Json Bidirectional::get_config() const {
  Json config = Layer::get_config();
  config["layer"] = layer_entry(*forward_);
  config["backward_layer"] = layer_entry(*backward_);
  return config;
}

namespace {
// Splits [sequence, states...] into the forward and the backward layer's inputs.
std::pair<std::vector<Tensor>, std::vector<Tensor>> split_inputs(const std::vector<Tensor>& inputs) {
  const size_t half = (inputs.size() - 1) / 2;
  std::vector<Tensor> forward = {inputs[0]}, backward = {inputs[0]};
  forward.insert(forward.end(), inputs.begin() + 1, inputs.begin() + 1 + static_cast<std::ptrdiff_t>(half));
  backward.insert(backward.end(), inputs.begin() + 1 + static_cast<std::ptrdiff_t>(half), inputs.end());
  return {forward, backward};
}
}  // namespace

void Bidirectional::build(const std::vector<Shape>& input_shapes) {
  if (input_shapes.size() != 1 && input_shapes.size() != 1 + 2 * static_cast<size_t>(forward_->num_states())) {
    throw ValueError(describe() + " takes the sequence alone or the sequence and " +
                     std::to_string(2 * forward_->num_states()) + " initial states (the forward layer's, then the "
                     "backward layer's), got " + std::to_string(input_shapes.size()) + " inputs");
  }
  const size_t half = (input_shapes.size() - 1) / 2;
  std::vector<Shape> forward = {input_shapes[0]}, backward = {input_shapes[0]};
  forward.insert(forward.end(), input_shapes.begin() + 1, input_shapes.begin() + 1 + static_cast<std::ptrdiff_t>(half));
  backward.insert(backward.end(), input_shapes.begin() + 1 + static_cast<std::ptrdiff_t>(half), input_shapes.end());
  forward_->ensure_built(forward);
  backward_->ensure_built(backward);
}

bool Bidirectional::input_shape_compatible(size_t input_index, const Shape& built, const Shape& got) {
  return forward_->input_shape_compatible(input_index == 0 ? 0 : 1, built, got);
}

std::vector<Tensor> Bidirectional::call(const std::vector<Tensor>& inputs, bool training) {
  return run(inputs, {}, training);
}

std::vector<Tensor> Bidirectional::call_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                               bool training) {
  return run(inputs, masks, training);
}

std::vector<Tensor> Bidirectional::merge(const Tensor& forward, const Tensor& backward) const {
  if (merge_mode_ == "concat") return {concatenate({forward, backward}, -1)};
  if (merge_mode_ == "sum") return {add(forward, backward)};
  if (merge_mode_ == "ave") return {divide(add(forward, backward), 2.0)};
  if (merge_mode_ == "mul") return {multiply(forward, backward)};
  return {forward, backward};
}

std::vector<Tensor> Bidirectional::run(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                       bool training) {
  const auto [forward_inputs, backward_inputs] = split_inputs(inputs);
  const auto sublayer_masks = [&](size_t count) {
    std::vector<Tensor> out(count);
    if (!masks.empty()) out[0] = masks[0];
    return out;
  };
  const auto run_one = [&](RecurrentLayer& layer, const std::vector<Tensor>& layer_inputs) {
    return masks.empty() || !masks[0].defined() ? layer.call(layer_inputs, training)
                                                : layer.call_masked(layer_inputs, sublayer_masks(layer_inputs.size()), training);
  };
  const std::vector<Tensor> y = run_one(*forward_, forward_inputs);
  const std::vector<Tensor> y_rev = run_one(*backward_, backward_inputs);
  Tensor backward = y_rev[0];
  if (return_sequences_) backward = flip_time(backward);
  std::vector<Tensor> out = merge(in_compute_dtype(y[0]), in_compute_dtype(backward));
  if (return_state_) {
    out.insert(out.end(), y.begin() + 1, y.end());
    out.insert(out.end(), y_rev.begin() + 1, y_rev.end());
  }
  return out;
}

std::vector<Shape> Bidirectional::compute_output_shape(const std::vector<Shape>& input_shapes) {
  std::vector<Shape> shapes = forward_->compute_output_shape({input_shapes.at(0)});
  Shape output = shapes[0];
  std::vector<Shape> out;
  if (merge_mode_.empty()) {
    out = {output, output};
  } else {
    if (merge_mode_ == "concat" && output.back() >= 0) output.back() *= 2;
    out = {output};
  }
  if (return_state_) {
    for (int copy = 0; copy < 2; ++copy) out.insert(out.end(), shapes.begin() + 1, shapes.end());
  }
  return out;
}

std::vector<DType> Bidirectional::compute_output_dtype(const std::vector<DType>&) const {
  const size_t outputs = (merge_mode_.empty() ? 2 : 1) + (return_state_ ? 2 * forward_->num_states() : 0);
  return std::vector<DType>(outputs, compute_dtype());
}

std::vector<Tensor> Bidirectional::compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>& masks) {
  // keras/src/layers/rnn/bidirectional.py compute_mask: the sequence's mask on each sequence output.
  const Tensor mask = return_sequences_ && !masks.empty() ? masks[0] : Tensor();
  std::vector<Tensor> out(merge_mode_.empty() ? 2 : 1, mask);
  if (return_state_) out.resize(out.size() + 2 * forward_->num_states());
  return out;
}

// ---------------------------------------------------------------- TimeDistributed

static const ArgumentTable& time_distributed_arguments() {
  static const ArgumentTable table =
      layer_table("TimeDistributed", "keras/src/layers/rnn/time_distributed.py",
                  "Applies a layer to every timestep of (batch, timesteps, ...) inputs.",
                  {layer_argument("layer", "the layer applied to each timestep (the very layer: weights shared)")
                       .make_required()});
  return table;
}

PITFALL_REGISTER_LAYER(TimeDistributed, time_distributed_arguments());

TimeDistributed::TimeDistributed(const Arguments& arguments, const LayerOptions& options)
    : Layer("TimeDistributed", options, arguments), layer_(held_layer(arguments, "layer")) {
  track(layer_);
}

TimeDistributed::TimeDistributed(const std::shared_ptr<Layer>& layer, const LayerOptions& options)
    : TimeDistributed(parse_arguments(time_distributed_arguments(), Json::object(), {{"layer", layer}}), options) {}

Json TimeDistributed::get_config() const {
  Json config = Layer::get_config();
  config["layer"] = layer_entry(*layer_);
  return config;
}

Shape TimeDistributed::child_shape(const Shape& shape) const {
  if (shape.size() < 3) {
    throw ShapeError(describe() + " needs an input of at least 3 dimensions (batch, timesteps, ...), got " +
                     keras_shape_str(shape) + "; for a single step per sample call " + layer_->describe() +
                     " directly");
  }
  Shape child = {shape[0]};
  child.insert(child.end(), shape.begin() + 2, shape.end());
  return child;
}

void TimeDistributed::build(const std::vector<Shape>& input_shapes) {
  layer_->ensure_built({child_shape(input_shapes.at(0))});
}

bool TimeDistributed::input_shape_compatible(size_t, const Shape& built, const Shape& got) {
  if (got.size() < 3 || got.size() != built.size()) return false;
  return layer_->input_shape_compatible(0, child_shape(built), child_shape(got));
}

std::vector<Tensor> TimeDistributed::call(const std::vector<Tensor>& inputs, bool training) {
  return run(inputs.at(0), Tensor(), training);
}

std::vector<Tensor> TimeDistributed::call_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                                 bool training) {
  return run(inputs.at(0), masks.empty() ? Tensor() : masks[0], training);
}

std::vector<Tensor> TimeDistributed::run(const Tensor& x, const Tensor& mask, bool training) {
  child_shape(x.shape());
  if (mask.defined() && (mask.ndim() < 2 || mask.dim(0) != x.dim(0) || mask.dim(1) != x.dim(1))) {
    throw ShapeError("the mask's leading axes " + keras_shape_str(mask.shape()) +
                     " must be the input's (batch, timesteps) " + keras_shape_str({x.dim(0), x.dim(1)}));
  }
  // keras/src/layers/rnn/time_distributed.py: one call of the layer per timestep.
  std::vector<Tensor> steps;
  for (int64_t t = 0; t < x.dim(1); ++t) {
    std::vector<int64_t> start(x.ndim(), 0), size(x.ndim(), -1);
    start[1] = t;
    size[1] = 1;
    const Tensor x_t = squeeze(slice(x, start, size), {1});
    std::vector<Tensor> out;
    if (mask.defined()) {
      std::vector<int64_t> mask_start(mask.ndim(), 0), mask_size(mask.ndim(), -1);
      mask_start[1] = t;
      mask_size[1] = 1;
      out = layer_->call_masked({x_t}, {squeeze(slice(mask, mask_start, mask_size), {1})}, training);
    } else {
      out = layer_->call({x_t}, training);
    }
    if (out.size() != 1) {
      throw ValueError(layer_->describe() + " returns " + std::to_string(out.size()) +
                       " outputs; TimeDistributed wraps layers with one output");
    }
    steps.push_back(out[0]);
  }
  return {stack(steps, 1)};
}

std::vector<Shape> TimeDistributed::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& in = input_shapes.at(0);
  const Shape child = layer_->compute_output_shape({child_shape(in)}).at(0);
  Shape out = {child[0], in[1]};
  out.insert(out.end(), child.begin() + 1, child.end());
  return {out};
}

std::vector<DType> TimeDistributed::compute_output_dtype(const std::vector<DType>& input_dtypes) const {
  return layer_->compute_output_dtype(input_dtypes);
}

}  // namespace pitfall
