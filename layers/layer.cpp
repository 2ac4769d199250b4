#include "pitfall/layers/layer.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <regex>
#include <set>

#include "pitfall/core/autograd.h"
#include "pitfall/core/dtype_rules.h"
#include "pitfall/core/ops.h"
#include "pitfall/core/warnings.h"
#include "pitfall/layers/initializers.h"
#include "pitfall/layers/layer_arguments.h"
#include "pitfall/layers/regularizers.h"

namespace pitfall {

namespace {

// ---- floatx
// ---- automatic names
std::mutex& names_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, int>& name_counters() {
  static std::map<std::string, int> counters;
  return counters;
}

// ---- class registry
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, LayerFactory>& layer_registry() {
  static std::map<std::string, LayerFactory> registry;
  return registry;
}

// SplitMix64 finalizer: spreads a (seed, stream) pair over a fresh 64-bit seed.
uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}


Shape with_unknown_batch(Shape shape) {
  if (!shape.empty()) shape[0] = -1;
  return shape;
}

// The error's text without the layer path the LayerScope added (we restate it with the class).
std::string without_layer_prefix(const Error& e) {
  std::string text = e.what();
  if (e.layer().empty()) return text;
  const std::string head = "layer '" + e.layer() + "'";
  if (text.rfind(head + ": ", 0) == 0) return text.substr(head.size() + 2);
  if (text.rfind(head + ", ", 0) == 0) return text.substr(head.size() + 2);
  return text;
}

}  // namespace

// ---------------------------------------------------------------- free functions

std::string to_snake_case(const std::string& class_name) {
  // keras.src.utils.naming.to_snake_case, step by step.
  std::string name = std::regex_replace(class_name, std::regex("\\W+"), "");
  name = std::regex_replace(name, std::regex("(.)([A-Z][a-z]+)"), "$1_$2");
  name = std::regex_replace(name, std::regex("([a-z])([A-Z])"), "$1_$2");
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return name;
}

std::string unique_layer_name(const std::string& class_name) {
  const std::string base = to_snake_case(class_name);
  std::lock_guard<std::mutex> lock(names_mutex());
  const int count = name_counters()[base]++;
  return count == 0 ? base : base + "_" + std::to_string(count);
}

void clear_session() {
  {
    std::lock_guard<std::mutex> lock(names_mutex());
    name_counters().clear();
  }
  reset_warnings_once();  // names start over, so per-layer warnings must too
}

LayerOptions layer_options_from_config(const Json& config) {
  LayerOptions options;
  if (!config.is_object()) return options;
  options.name = config.get("name", "").as_string();
  options.trainable = config.get("trainable", true).as_bool();
  const Json dtype = config.get("dtype", Json());
  if (dtype.is_string()) {
    options.dtype = dtype_policy(dtype.as_string());
  } else if (dtype.is_object() && dtype.contains("config")) {  // a Keras 3 DTypePolicy
    options.dtype = dtype_policy(dtype.at("config").at("name").as_string());
  }
  auto dims = [](const Json& array, size_t skip) {
    Shape shape;
    const auto& items = array.as_array();
    for (size_t i = skip; i < items.size(); ++i) shape.push_back(items[i].is_null() ? -1 : items[i].as_int());
    return shape;
  };
  if (config.contains("batch_input_shape") && config.at("batch_input_shape").is_array()) {
    options.input_shape = dims(config.at("batch_input_shape"), 1);
  } else if (config.contains("input_shape") && config.at("input_shape").is_array()) {
    options.input_shape = dims(config.at("input_shape"), 0);
  }
  return options;
}

void register_layer_class(const std::string& class_name, LayerFactory factory) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  layer_registry()[class_name] = std::move(factory);
}

std::vector<std::string> registered_layer_classes() {
  std::lock_guard<std::mutex> lock(registry_mutex());
  std::vector<std::string> names;
  for (const auto& [name, factory] : layer_registry()) names.push_back(name);
  return names;
}

std::shared_ptr<Layer> layer_from_config(const Json& entry) {
  const auto [class_name, config] =
      class_and_config(entry, "layer_from_config", "{\"class_name\": ..., \"config\": {...}}");
  LayerFactory factory;
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    const auto it = layer_registry().find(class_name);
    if (it != layer_registry().end()) factory = it->second;
  }
  if (!factory) {
    throw ValueError("layer_from_config: unknown layer class '" + class_name + "'; " +
                     did_you_mean(class_name, registered_layer_classes()) +
                     " (custom layers must be registered with register_layer_class)");
  }
  return factory(config);
}

std::string KerasTensor::str() const {
  std::string source = node && node->layer ? node->layer->name() : "?";
  return "<KerasTensor shape=" + keras_shape_str(shape) + ", dtype=" + std::string(dtype_name(dtype)) +
         ", source=" + source + ">";
}

// ---------------------------------------------------------------- Layer

Layer::Layer(std::string class_name, const LayerOptions& options, Arguments arguments)
    : arguments_(std::move(arguments)),
      class_name_(std::move(class_name)),
      name_(options.name.empty() ? unique_layer_name(class_name_) : options.name),
      trainable_(options.trainable),
      policy_(options.dtype.value_or(global_policy())),
      declared_input_shape_(options.input_shape),
      generator_(0) {}

Layer::~Layer() = default;

void Layer::build(const std::vector<Shape>&) {}

namespace {
// How many layer calls enclose the current one on this thread: add_loss terms are cleared when the
// outermost call starts, so a sublayer called twice in one forward pass keeps both calls' terms
// (keras/src/layers/layer.py _get_call_context: only a new call context clears the losses).
thread_local int call_depth = 0;
// While a layer is called on symbolic inputs that carry masks: their mask shapes, so that the shape
// probe (compute_output_shape running call() on zeros) passes placeholder masks to a call() that reads
// them, as Keras's symbolic call does.
thread_local const std::vector<std::optional<Shape>>* symbolic_masks = nullptr;
struct SymbolicMasksScope {
  const std::vector<std::optional<Shape>>* saved = symbolic_masks;
  explicit SymbolicMasksScope(const std::vector<std::optional<Shape>>* masks) { symbolic_masks = masks; }
  ~SymbolicMasksScope() { symbolic_masks = saved; }
};
Shape concrete_shape(Shape shape, int64_t fill = 1) {
  for (auto& d : shape) d = d < 0 ? fill : d;
  return shape;
}
std::vector<Tensor> placeholder_masks(const std::vector<std::optional<Shape>>& shapes, int64_t fill = 1) {
  std::vector<Tensor> masks;
  for (const auto& shape : shapes) {
    masks.push_back(shape ? Tensor::full(concrete_shape(*shape, fill), 1.0, DType::bool_) : Tensor());
  }
  return masks;
}
struct CallDepth {
  CallDepth() { ++call_depth; }
  ~CallDepth() { --call_depth; }
};
}  // namespace

std::vector<Shape> Layer::compute_output_shape(const std::vector<Shape>& input_shapes) {
  ensure_built(input_shapes);
  // Runs call() on zeros with every unknown dimension set to `fill`.
  auto probe = [&](int64_t fill) {
    std::vector<Tensor> zeros;
    for (const auto& shape : input_shapes) {
      zeros.push_back(Tensor::zeros(concrete_shape(shape, fill), policy_.compute_dtype, weights_device()));
    }
    std::vector<Tensor> outputs;
    {
      NoGradGuard no_grad;
      LayerScope scope(name_);
      outputs = symbolic_masks && symbolic_masks->size() == zeros.size()
                    ? call_masked(zeros, placeholder_masks(*symbolic_masks, fill), /*training=*/false)
                    : call(zeros, /*training=*/false);
    }
    clear_call_losses();  // the probe's add_loss tensors are not a real call's
    std::vector<Shape> shapes;
    for (const auto& out : outputs) shapes.push_back(out.shape());
    return shapes;
  };
  std::vector<Shape> shapes = probe(1);
  const bool batch_unknown = !input_shapes.empty() && !input_shapes[0].empty() && input_shapes[0][0] < 0;
  for (auto& shape : shapes) shape = batch_unknown ? with_unknown_batch(shape) : shape;
  // An unknown dimension past the batch (a sequence length): the output dimensions that follow it
  // are those that change when it does (Keras's symbolic shapes keep them None).
  bool unknown_inner = false;
  for (const auto& shape : input_shapes) {
    for (size_t d = 1; d < shape.size(); ++d) unknown_inner = unknown_inner || shape[d] < 0;
  }
  if (unknown_inner) {
    std::vector<Shape> second;
    try {
      second = probe(2);
    } catch (const Error&) {
      second.clear();  // a layer that takes only the probed size: its shapes stay as probed
    }
    for (size_t i = 0; i < shapes.size() && i < second.size(); ++i) {
      for (size_t d = 1; d < shapes[i].size() && d < second[i].size(); ++d) {
        if (shapes[i][d] != second[i][d]) shapes[i][d] = -1;
      }
    }
  }
  return shapes;
}

std::vector<DType> Layer::compute_output_dtype(const std::vector<DType>& input_dtypes) const {
  const size_t n = input_dtypes.empty() ? 1 : input_dtypes.size();
  std::vector<DType> out;
  for (size_t i = 0; i < n; ++i) {
    const bool to_compute = input_dtypes.empty() || is_floating(input_dtypes[i]) ||
                            (takes_float_inputs() && is_floating(policy_.compute_dtype));
    out.push_back(to_compute ? policy_.compute_dtype : input_dtypes[i]);
  }
  return out;
}

Json Layer::base_config() const {
  Json config = Json::object();
  config["name"] = name_;
  config["trainable"] = trainable_;
  config["dtype"] = policy_.name;
  if (declared_input_shape_) {
    Json shape = Json::array();
    shape.as_array().push_back(Json());
    for (int64_t d : *declared_input_shape_) shape.as_array().push_back(d < 0 ? Json() : Json(d));
    config["batch_input_shape"] = shape;
  }
  return config;
}

Json Layer::get_config() const {
  Json config = base_config();
  if (!arguments_.empty()) {
    for (const auto& [name, value] : arguments_.values().as_object()) config[name] = value;
  }
  return config;
}

void Layer::ensure_built(const std::vector<Shape>& input_shapes) {
  if (!built_) {
    build(input_shapes);
    built_input_shapes_.clear();
    for (const auto& s : input_shapes) built_input_shapes_.push_back(with_unknown_batch(s));
    built_ = true;
    return;
  }
  bool compatible = input_shapes.size() == built_input_shapes_.size();
  for (size_t i = 0; compatible && i < input_shapes.size(); ++i) {
    compatible = input_shape_compatible(i, built_input_shapes_[i], input_shapes[i]);
  }
  if (!compatible) {
    std::vector<Shape> got_display;
    for (const auto& s : input_shapes) got_display.push_back(s);
    throw ShapeError("layer '" + name_ + "' (" + class_name_ + ") expected input shape " +
                     keras_shapes_str(built_input_shapes_) + " but got " + keras_shapes_str(got_display) +
                     "; a layer's weights are created for the shape of its first input, so only the batch "
                     "dimension may change between calls (reshape the input, or use a new layer)");
  }
}

bool Layer::input_shape_compatible(size_t, const Shape& built, const Shape& got) {
  if (weights().empty()) return true;  // nothing was sized from the input
  // Weights depend only on the non-batch dimensions: those must match what the layer was built for.
  if (got.size() != built.size()) return false;
  for (size_t d = 1; d < got.size(); ++d) {
    if (got[d] >= 0 && built[d] >= 0 && got[d] != built[d]) return false;
  }
  return true;
}


std::vector<Tensor> Layer::operator()(const std::vector<Tensor>& xs, bool training) {
  const int expected = num_inputs();
  if ((expected < 0 && xs.empty()) || (expected >= 0 && static_cast<int>(xs.size()) != expected)) {
    throw ValueError("layer '" + name_ + "' (" + class_name_ + ") expects " +
                     (expected < 0 ? std::string("at least 1 input") : std::to_string(expected) + " input(s)") +
                     " but was called on " + std::to_string(xs.size()));
  }
  std::vector<Shape> shapes;
  for (const auto& x : xs) shapes.push_back(x.shape());
  try {
    ensure_built(shapes);
    if (call_depth == 0) clear_call_losses();
    const CallDepth depth;
    const std::vector<Tensor> inputs = autocast_inputs(xs);
    std::vector<Tensor> masks;
    bool masked = false;
    for (const auto& x : xs) {
      masks.push_back(x.defined() ? x.keras_mask() : Tensor());
      masked = masked || masks.back().defined();
    }
    LayerScope scope(name_);
    std::vector<Tensor> outputs = masked ? call_masked(inputs, masks, training) : call(inputs, training);
    if (masked || supports_masking()) attach_masks(inputs, masks, outputs);
    return outputs;
  } catch (const Error& e) {
    if (e.message().rfind("layer '", 0) == 0) throw;  // an inner layer already said where
    std::string where = "layer '" + name_ + "' (" + class_name_ + ") called on input";
    for (size_t i = 0; i < xs.size(); ++i) {
      where += std::string(i ? "," : "") + " " + keras_shape_str(xs[i].shape()) + " " +
               std::string(dtype_name(xs[i].dtype()));
    }
    throw_error(e.kind(), where + ": " + without_layer_prefix(e));
  }
}

std::vector<Tensor> Layer::compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>& masks) {
  return {masks.empty() ? Tensor() : masks[0]};
}

void Layer::attach_masks(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                         std::vector<Tensor>& outputs) {
  // keras/src/layers/layer.py __call__ and _set_mask_metadata.
  if (!supports_masking()) {
    if (std::none_of(masks.begin(), masks.end(), [](const Tensor& m) { return m.defined(); })) return;
    warn_once("mask-dropped:" + name_,
              "Layer '" + name_ + "' (of type " + class_name_ + ") was passed an input with a mask attached to it. "
              "However, this layer does not support masking and will therefore destroy the mask information. "
              "Downstream layers will not see the mask.");
    return;
  }
  const std::vector<Tensor> output_masks = compute_mask(inputs, masks);
  for (size_t i = 0; i < outputs.size() && i < output_masks.size(); ++i) {
    if (output_masks[i].defined() && outputs[i].defined() && !outputs[i].keras_mask().defined()) {
      outputs[i].set_keras_mask(output_masks[i]);
    }
  }
}

std::vector<Tensor> Layer::autocast_inputs(const std::vector<Tensor>& xs) const {
  const DType compute = policy_.compute_dtype;
  if (!autocasts() || !is_floating(compute)) return xs;
  std::vector<Tensor> out;
  out.reserve(xs.size());
  for (const auto& x : xs) {
    const DType from = x.defined() ? x.dtype() : compute;
    const bool floating = is_floating(from);
    if (from == compute || (!floating && !takes_float_inputs())) {
      out.push_back(x);
      continue;
    }
    // The policy's own cast (float32 data into a mixed_float16 layer) vs data of another dtype.
    const CastReason reason =
        floating && policy_.is_mixed() && from == policy_.variable_dtype ? CastReason::policy : CastReason::input;
    out.push_back(boundary_cast(x, compute, describe(),
                                "autocast:" + name_ + ":" + std::string(dtype_name(from)) + ">" +
                                    std::string(dtype_name(compute)),
                                reason, policy_.describe()));
  }
  return out;
}

Tensor Layer::in_compute_dtype(const Tensor& t) const {
  if (!t.defined() || !is_floating(t.dtype()) || t.dtype() == policy_.compute_dtype) return t;
  if (!is_floating(policy_.compute_dtype)) return t;
  return cast(t, policy_.compute_dtype);
}

Tensor Layer::operator()(const Tensor& x, bool training) {
  auto outputs = (*this)(std::vector<Tensor>{x}, training);
  return outputs.at(0);
}

std::vector<KerasTensor> Layer::operator()(const std::vector<KerasTensor>& xs, std::optional<bool> training) {
  const int expected = num_inputs();
  if ((expected < 0 && xs.empty()) || (expected >= 0 && static_cast<int>(xs.size()) != expected)) {
    throw ValueError("layer '" + name_ + "' (" + class_name_ + ") expects " +
                     (expected < 0 ? std::string("at least 1 input") : std::to_string(expected) + " input(s)") +
                     " but was called on " + std::to_string(xs.size()));
  }
  std::vector<Shape> shapes;
  std::vector<DType> dtypes;
  std::vector<std::optional<Shape>> masks;
  bool masked = false;
  for (const auto& x : xs) {
    shapes.push_back(x.shape);
    dtypes.push_back(x.dtype);
    masks.push_back(x.mask_shape);
    masked = masked || x.mask_shape.has_value();
  }
  auto node = std::make_shared<SymbolicNode>();
  try {
    ensure_built(shapes);
    {
      const SymbolicMasksScope scope(masked ? &masks : nullptr);
      node->output_shapes = compute_output_shape(shapes);
    }
    node->output_dtypes = compute_output_dtype(dtypes);
  } catch (const Error& e) {
    if (e.message().rfind("layer '", 0) == 0) throw;
    std::string where = "layer '" + name_ + "' (" + class_name_ + ") called on symbolic input";
    for (size_t i = 0; i < xs.size(); ++i) {
      where += std::string(i ? "," : "") + " " + keras_shape_str(xs[i].shape) + " " +
               std::string(dtype_name(xs[i].dtype));
    }
    throw_error(e.kind(), where + ": " + without_layer_prefix(e));
  }
  node->output_dtypes.resize(node->output_shapes.size(), node->output_dtypes.empty() ? policy_.compute_dtype : node->output_dtypes[0]);
  node->layer = shared_from_this();
  node->inputs = xs;
  node->training = training;
  record_inbound_node(node);
  std::vector<KerasTensor> outputs;
  for (size_t i = 0; i < node->output_shapes.size(); ++i) {
    outputs.push_back(KerasTensor{node->output_shapes[i], node->output_dtypes[i], node, static_cast<int>(i), {}});
  }
  if (masked || supports_masking()) symbolic_output_masks(xs, masks, outputs);
  return outputs;
}

void Layer::symbolic_output_masks(const std::vector<KerasTensor>& xs, const std::vector<std::optional<Shape>>& masks,
                                  std::vector<KerasTensor>& outputs) {
  // The masks the eager call would attach (attach_masks), found by running compute_mask on zeros of
  // the inputs' shapes and on all-true placeholder masks: the mask's existence and rank, its unknown
  // dimensions taken from the output's. A layer that does not support masking drops them.
  if (!supports_masking()) return;
  std::vector<Tensor> zeros;
  for (const auto& x : xs) zeros.push_back(Tensor::zeros(concrete_shape(x.shape), x.dtype, weights_device()));
  std::vector<Tensor> output_masks;
  {
    NoGradGuard no_grad;
    output_masks = compute_mask(zeros, placeholder_masks(masks));
  }
  for (size_t i = 0; i < outputs.size() && i < output_masks.size(); ++i) {
    if (!output_masks[i].defined()) continue;
    Shape shape = output_masks[i].shape();
    const Shape& out = outputs[i].shape;
    for (size_t d = 0; d < shape.size() && d < out.size(); ++d) {
      if (out[d] < 0) shape[d] = -1;
    }
    outputs[i].mask_shape = shape;
  }
}

std::vector<std::shared_ptr<SymbolicNode>> Layer::inbound_nodes() const {
  std::vector<std::shared_ptr<SymbolicNode>> live;
  for (const auto& weak : inbound_nodes_) {
    if (auto node = weak.lock()) live.push_back(std::move(node));
  }
  return live;
}

void Layer::record_inbound_node(const std::shared_ptr<SymbolicNode>& node) {
  // Forget calls whose graph is gone, so a layer called in a loop does not grow without bound.
  std::erase_if(inbound_nodes_, [](const std::weak_ptr<SymbolicNode>& weak) { return weak.expired(); });
  inbound_nodes_.push_back(node);
}

KerasTensor Layer::operator()(const KerasTensor& x) { return (*this)(std::vector<KerasTensor>{x}).at(0); }

void Layer::set_trainable(bool trainable) {
  trainable_ = trainable;
  for (auto& w : own_weights_) w.value.set_requires_grad(trainable && w.trainable);
  for (auto& sub : tracked_) sub->set_trainable(trainable);
}

std::pair<Tensor, Tensor> Layer::add_kernel_and_bias(const Shape& kernel_shape, const Shape& bias_shape, double fan_in,
                                                    bool use_bias) {
  Tensor kernel = add_weight("kernel", kernel_shape, make_initializer(arguments_.at("kernel_initializer")), true,
                             regularizer_from_config(arguments_.at("kernel_regularizer")));
  if (!use_bias) return {kernel, Tensor()};
  Tensor bias = add_weight("bias", bias_shape, make_initializer(arguments_.at("bias_initializer"), fan_in), true,
                           regularizer_from_config(arguments_.at("bias_regularizer")));
  return {kernel, bias};
}

Tensor Layer::add_weight(const std::string& name, const Shape& shape, const std::shared_ptr<Initializer>& initializer,
                         bool trainable, const std::shared_ptr<Regularizer>& regularizer, std::optional<DType> dtype) {
  if (!initializer) throw ValueError("layer '" + name_ + "' (" + class_name_ + "): weight '" + name + "' has no initializer");
  for (int64_t d : shape) {
    if (d < 0) {
      throw ShapeError("layer '" + name_ + "' (" + class_name_ + "): weight '" + name + "' needs a known shape, got " +
                       keras_shape_str(shape) + "; build the layer with the input's non-batch dimensions known");
    }
  }
  const DType weight_dtype = dtype.value_or(policy_.variable_dtype);
  Tensor value;
  {
    NoGradGuard no_grad;
    // The global generator, drawn at build time: build order alone decides the weights (Keras 3).
    value = (*initializer)(shape, weight_dtype, ::pitfall::next_random_key());
    // Drawn on the CPU (the same numbers on every device), then placed where the device scope
    // active at build time says (tf.device semantics for variables).
    const Device device = default_device();
    value = value.device() == device ? value.clone() : value.to(device);
  }
  const std::string path = name_ + "/" + name;
  value.set_name(path);
  value.set_requires_grad(trainable && trainable_);
  own_weights_.push_back(Weight{name, path, value, trainable, regularizer});
  return value;
}

std::vector<Weight*> Layer::weights() {
  std::vector<Weight*> out;
  std::set<const TensorImpl*> seen;
  for (auto& w : own_weights_) {
    if (seen.insert(w.value.impl()).second) out.push_back(&w);
  }
  for (const auto& sub : sublayers()) {
    for (Weight* w : sub->weights()) {
      if (seen.insert(w->value.impl()).second) out.push_back(w);
    }
  }
  return out;
}

std::vector<Tensor> Layer::trainable_weights() {
  std::vector<Tensor> out;
  for (Weight* w : weights()) {
    if (w->value.requires_grad()) out.push_back(w->value);
  }
  return out;
}

std::vector<Tensor> Layer::non_trainable_weights() {
  std::vector<Tensor> out;
  for (Weight* w : weights()) {
    if (!w->value.requires_grad()) out.push_back(w->value);
  }
  return out;
}

Device Layer::weights_device() {
  for (const Weight* w : weights()) return w->value.device();
  return default_device();
}

int64_t Layer::count_params() {
  int64_t total = 0;
  for (Weight* w : weights()) total += w->value.numel();
  return total;
}

void Layer::track(const std::shared_ptr<Layer>& sublayer) {
  if (!sublayer || sublayer.get() == this) return;
  if (std::find(tracked_.begin(), tracked_.end(), sublayer) == tracked_.end()) tracked_.push_back(sublayer);
}

void Layer::add_loss(const Tensor& loss) { call_losses_.push_back(loss); }

std::vector<Tensor> Layer::losses() {
  std::vector<Tensor> out;
  for (Weight* w : weights()) {
    if (w->regularizer) {
      LayerScope scope(name_);
      out.push_back((*w->regularizer)(w->value));
    }
  }
  // Losses added during the last call: this layer's, then its sublayers' (depth first).
  std::set<Layer*> seen;
  std::function<void(Layer*)> visit = [&](Layer* layer) {
    if (!seen.insert(layer).second) return;
    for (const auto& t : layer->call_losses_) out.push_back(t);
    for (const auto& sub : layer->tracked_) visit(sub.get());
  };
  visit(this);
  return out;
}

void Layer::clear_call_losses() {
  call_losses_.clear();
  for (auto& sub : tracked_) sub->clear_call_losses();
}

RandomKey Layer::next_random_key() {
  if (!seeded_) {
    const RandomKey global = ::pitfall::next_random_key();
    generator_.reset(mix64(global.seed ^ mix64(global.stream)));
    seeded_ = true;
  }
  return generator_.next();
}

void Layer::set_seed(uint64_t seed) {
  generator_.reset(seed);
  seeded_ = true;
}

std::string keras_shape_str(const Shape& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += shape[i] < 0 ? "None" : std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

std::string keras_shapes_str(const std::vector<Shape>& shapes) {
  if (shapes.size() == 1) return keras_shape_str(shapes[0]);
  std::string out = "[";
  for (size_t i = 0; i < shapes.size(); ++i) out += (i ? ", " : "") + keras_shape_str(shapes[i]);
  return out + "]";
}

}  // namespace pitfall
