// The Layer base: lazy build from the input shape, named weights, trainable flag, `training` passed
// through calls, regularization losses, configs, and symbolic calls for the functional API.
//
// Errors raised while a layer runs name the layer, its class and the input shape it got (and, when
// the layer is built, the shape it expects): "layer 'dense_2' (Dense) ...".
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pitfall/core/arguments.h"
#include "pitfall/core/json.h"
#include "pitfall/core/random.h"
#include "pitfall/core/tensor.h"
#include "pitfall/layers/dtype_policy.h"

namespace pitfall {

class Initializer;
class Regularizer;
class Layer;
struct SymbolicNode;

// A weight owned by a layer. `value` is a leaf tensor; it requires grad iff the weight and its layer
// are trainable.
struct Weight {
  std::string name;  // "kernel"
  std::string path;  // "dense_1/kernel"
  Tensor value;
  bool trainable = true;
  std::shared_ptr<Regularizer> regularizer;
};

// A symbolic tensor of the functional API (pf.Input, and what a layer returns when called on one).
// Unknown dimensions (the batch) are -1.
struct KerasTensor {
  Shape shape;
  DType dtype = DType::float32;
  std::shared_ptr<SymbolicNode> node;  // the layer call that produced it
  int index = 0;                       // which output of that call
  // The shape of the mask the call attaches to this output (Keras's symbolic _keras_mask, bool), or
  // none. Unknown dimensions are -1, as in `shape`.
  std::optional<Shape> mask_shape;
  std::string str() const;             // "<KerasTensor shape=(None, 784), dtype=float32, source=dense_1>"
};

// One call of a layer on symbolic inputs: the edges of a functional model's graph. An Input is a
// node whose layer is an InputLayer and whose inputs are empty.
struct SymbolicNode {
  std::shared_ptr<Layer> layer;
  std::vector<KerasTensor> inputs;
  // `training` given at the symbolic call (base_model(x, training=False) in Keras's transfer-
  // learning recipe): the model runs this call in that mode whatever mode it runs in itself.
  std::optional<bool> training;
  std::vector<Shape> output_shapes;
  std::vector<DType> output_dtypes;
};

// Keras base-layer keyword arguments.
struct LayerOptions {
  std::string name;                 // "" = unique automatic name from the class ("dense", "dense_1")
  bool trainable = true;
  // The dtype policy: a dtype (variables and computation in it) or a mixed policy
  // (dtype_policy("mixed_float16")); default global_policy(), i.e. floatx() unless set.
  std::optional<DTypePolicy> dtype;
  std::optional<Shape> input_shape; // Keras `input_shape=` (without the batch dim)
};

class Layer : public std::enable_shared_from_this<Layer> {
 public:
  // class_name: "Dense", used for automatic names (snake_case) and configs. `arguments`: the
  // resolved constructor arguments of a layer with an argument table (layers/layer_arguments.h).
  Layer(std::string class_name, const LayerOptions& options, Arguments arguments = Arguments::none());
  virtual ~Layer();
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  // ---- implemented by each layer
  // Creates the weights for these input shapes (batch dim included, -1 when unknown).
  virtual void build(const std::vector<Shape>& input_shapes);
  // The forward computation on concrete tensors.
  virtual std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) = 0;
  // Output shapes for input shapes (-1 dims propagate). The default runs call() on zeros with
  // unknown dims set to 1 and reports the result, with the batch dim as -1 again.
  virtual std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes);
  // Constructor arguments as JSON (Keras get_config): the base fields (name, trainable, dtype) and
  // every resolved argument of the layer's table.
  virtual Json get_config() const;
  // The resolved constructor arguments (empty for a layer without a table, e.g. a Python subclass).
  const Arguments& arguments() const { return arguments_; }
  // How many inputs call() takes: 1 for most layers, -1 for any number >= 1 (Add, Concatenate).
  virtual int num_inputs() const { return 1; }
  // Output dtype for input dtypes; default: the compute dtype for floating inputs (and for integer
  // inputs of a layer that takes float inputs), the input's dtype otherwise.
  virtual std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const;

  // ---- masks (Keras's _keras_mask, core/tensor.h). A call reads its inputs' masks and gives them to
  // call_masked; a layer that supports masking then attaches compute_mask's result to its outputs
  // (where an output has none yet), one that does not drops them with Keras's warning. Sequential and
  // functional models run their layers through these calls, so a mask reaches the outputs, where
  // the losses and metrics honour it.
  virtual bool supports_masking() const { return false; }
  // The outputs' masks (undefined: none) for the inputs and their masks; Keras's default: the first
  // input's mask, for the first output.
  virtual std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks);
  // call() given the inputs' masks (undefined where an input has none); layers that use masks (the
  // recurrent layers, GlobalAveragePooling1D) override it.
  virtual std::vector<Tensor> call_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                          bool training) {
    (void)masks;
    return call(inputs, training);
  }

  // ---- calling (builds on first call; wraps errors with the layer's context)
  Tensor operator()(const Tensor& x, bool training = false);
  std::vector<Tensor> operator()(const std::vector<Tensor>& xs, bool training = false);
  KerasTensor operator()(const KerasTensor& x);
  std::vector<KerasTensor> operator()(const std::vector<KerasTensor>& xs, std::optional<bool> training = std::nullopt);

  // ---- identity and state
  const std::string& name() const { return name_; }
  const std::string& class_name() const { return class_name_; }
  // "layer 'dense_2' (Dense)": how errors name a layer.
  std::string describe() const { return "layer '" + name_ + "' (" + class_name_ + ")"; }
  bool built() const { return built_; }
  // Builds if not built yet; checks shapes against the built ones when built.
  void ensure_built(const std::vector<Shape>& input_shapes);
  // Whether an input of shape `got` fits weights built for `built` (batch dims are -1 in `built`;
  // Keras's InputSpec). Default: anything for a layer without weights; otherwise the same rank and
  // the same non-batch dimensions. Layers override to fix fewer axes (Dense: the last one only;
  // Embedding: none; Conv2D: rank 4 and the channels).
  virtual bool input_shape_compatible(size_t input_index, const Shape& built, const Shape& got);
  const std::vector<Shape>& built_input_shapes() const { return built_input_shapes_; }
  const std::optional<Shape>& declared_input_shape() const { return declared_input_shape_; }
  bool trainable() const { return trainable_; }
  virtual void set_trainable(bool trainable);  // freezing updates every weight's requires_grad
  // Keras's layer.dtype: the variables' dtype. compute_dtype() is what call() computes in.
  DType dtype() const { return policy_.variable_dtype; }
  DType compute_dtype() const { return policy_.compute_dtype; }
  const DTypePolicy& dtype_policy() const { return policy_; }
  // Whether call() receives its floating inputs cast to the compute dtype (Keras's `autocast`).
  // Models cast at their Inputs instead, and InputLayer passes data through.
  virtual bool autocasts() const { return true; }
  // Whether integer inputs are cast to the compute dtype (with the warning of the integer-input
  // rule, core/dtype_rules.h) rather than passed through. False for layers that take indices or
  // only move data (Embedding, Flatten, Reshape, ...).
  virtual bool takes_float_inputs() const { return true; }

  // ---- weights
  // Creates a weight with the initializer (drawing its random key now, from the global generator).
  Tensor add_weight(const std::string& name, const Shape& shape, const std::shared_ptr<Initializer>& initializer,
                    bool trainable = true, const std::shared_ptr<Regularizer>& regularizer = nullptr,
                    std::optional<DType> dtype = std::nullopt);
  // A kernel layer's kernel and (use_bias) bias, from its arguments kernel_/bias_initializer and
  // kernel_/bias_regularizer; the bias initializer sees the kernel's fan_in (PyTorch's bias default
  // needs it). The bias is undefined without use_bias.
  std::pair<Tensor, Tensor> add_kernel_and_bias(const Shape& kernel_shape, const Shape& bias_shape, double fan_in,
                                                bool use_bias);
  // This layer's weights and those of its sublayers(), in creation order (Keras order), each once.
  std::vector<Weight*> weights();
  // The layers whose weights this one holds, in order: the tracked ones (track()); models list
  // their layers instead.
  virtual std::vector<std::shared_ptr<Layer>> sublayers() const { return tracked_; }
  std::vector<Tensor> trainable_weights();
  std::vector<Tensor> non_trainable_weights();
  // Where the weights live (the first weight's device: a model built under pf.device('gpu') has them
  // all there); the default device when there are none yet. Batches and shape probes go there.
  Device weights_device();
  int64_t count_params();
  // Sublayers whose weights this layer owns (models, wrappers, Python subclasses).
  void track(const std::shared_ptr<Layer>& sublayer);
  const std::vector<std::shared_ptr<Layer>>& tracked_layers() const { return tracked_; }

  // ---- losses: regularizer penalties of the weights + tensors given to add_loss during the last call
  void add_loss(const Tensor& loss);
  std::vector<Tensor> losses();
  void clear_call_losses();

  // Keras's inbound nodes: the symbolic calls of this layer that are still alive (a functional
  // model, or any KerasTensor of them, keeps one alive), oldest first. layer.input / layer.output
  // read node 0 (keras/src/ops/operation.py _get_node_attribute_at_index).
  std::vector<std::shared_ptr<SymbolicNode>> inbound_nodes() const;
  void record_inbound_node(const std::shared_ptr<SymbolicNode>& node);

  // Random keys for this layer's own randomness (Dropout): a generator seeded at construction, from
  // `seed` or from the global generator, advanced once per call that draws.
  RandomKey next_random_key();
  void set_seed(uint64_t seed);

 protected:
  // Builds a layer's config base ({"name", "trainable", "dtype"}) into which subclasses add fields.
  Json base_config() const;
  // A weight (or any floating tensor) in the compute dtype: a float32 kernel becomes float16 under
  // mixed_float16 (a recorded cast, so its gradient comes back float32). call() reads weights this way.
  Tensor in_compute_dtype(const Tensor& t) const;
  std::vector<Weight> own_weights_;
  Arguments arguments_;

 private:
  std::string class_name_, name_;
  bool trainable_ = true, built_ = false;
  DTypePolicy policy_;
  std::optional<Shape> declared_input_shape_;
  std::vector<Shape> built_input_shapes_;
  std::vector<std::shared_ptr<Layer>> tracked_;
  std::vector<Tensor> call_losses_;
  // Held weakly: a node holds its layer.
  std::vector<std::weak_ptr<SymbolicNode>> inbound_nodes_;
  RandomGenerator generator_;
  // The inputs as call() receives them: floating ones in the compute dtype, integers per the rules.
  std::vector<Tensor> autocast_inputs(const std::vector<Tensor>& xs) const;
  // After a call: compute_mask's masks onto the outputs, or the warning of a layer that drops its
  // inputs' masks.
  void attach_masks(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks, std::vector<Tensor>& outputs);
  // After a symbolic call: the mask shapes the eager call would attach to the outputs.
  void symbolic_output_masks(const std::vector<KerasTensor>& xs, const std::vector<std::optional<Shape>>& masks,
                             std::vector<KerasTensor>& outputs);
  // False until set_seed or the first next_random_key(): an unseeded layer takes its seed from the
  // global generator lazily, so constructing a layer never shifts the keys later weights draw.
  bool seeded_ = false;
};

// Shapes as Keras prints them: unknown dims as None, "(None, 784)"; several as "[(...), (...)]".
std::string keras_shape_str(const Shape& shape);
std::string keras_shapes_str(const std::vector<Shape>& shapes);

// A unique name for a class: "Dense" -> "dense", then "dense_1", ... (like keras.backend).
std::string unique_layer_name(const std::string& class_name);
// Resets the automatic-name counters (keras.backend.clear_session()).
void clear_session();
// "BatchNormalization" -> "batch_normalization"
std::string to_snake_case(const std::string& class_name);

// The base-layer arguments a config carries (name, trainable, dtype, batch_input_shape/input_shape),
// for each layer's from_config factory.
LayerOptions layer_options_from_config(const Json& config);

// Layer classes by name, for from_config / load_model.
using LayerFactory = std::function<std::shared_ptr<Layer>(const Json& config)>;
void register_layer_class(const std::string& class_name, LayerFactory factory);
// Builds a layer from {"class_name": ..., "config": {...}}. Unknown classes raise ValueError with
// the closest known names.
std::shared_ptr<Layer> layer_from_config(const Json& class_and_config);
std::vector<std::string> registered_layer_classes();

}  // namespace pitfall
