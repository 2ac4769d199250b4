#include "pitfall/layers/recurrent.h"

#include <cmath>

#include "pitfall/core/ops.h"
#include "pitfall/core/random.h"
#include "pitfall/layers/builtin_layers.h"

namespace pitfall {

namespace {

std::string number_str(double value) {
  std::string text = std::to_string(value);
  while (text.size() > 1 && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.push_back('0');
  return text;
}

void check_rate(const std::string& class_name, const char* argument, double rate) {
  if (!(rate >= 0.0 && rate < 1.0)) {
    throw ValueError(class_name + ": `" + argument + "` must be a float in [0, 1) (the fraction of units to drop), " +
                     "got " + argument + "=" + number_str(rate));
  }
}

// Columns [block * units, (block + 1) * units) of a (..., gates * units) tensor: one gate block.
Tensor gate_block(const Tensor& x, int block, int64_t units) {
  std::vector<int64_t> start(x.ndim(), 0), size(x.ndim(), -1);
  start.back() = block * units;
  size.back() = units;
  return slice(x, start, size);
}

RecurrentOptions recurrent_options_from_config(const Json& config) {
  RecurrentOptions recurrent;
  recurrent.activation = config.get("activation", "tanh").as_string();
  recurrent.recurrent_activation = config.get("recurrent_activation", "sigmoid").as_string();
  recurrent.use_bias = config.get("use_bias", true).as_bool();
  recurrent.kernel_initializer = initializer_from_config(config.get("kernel_initializer", "glorot_uniform"));
  recurrent.recurrent_initializer = initializer_from_config(config.get("recurrent_initializer", "orthogonal"));
  recurrent.bias_initializer = initializer_from_config(config.get("bias_initializer", "zeros"));
  recurrent.unit_forget_bias = config.get("unit_forget_bias", true).as_bool();
  recurrent.kernel_regularizer = regularizer_from_config(config.get("kernel_regularizer", Json()));
  recurrent.recurrent_regularizer = regularizer_from_config(config.get("recurrent_regularizer", Json()));
  recurrent.bias_regularizer = regularizer_from_config(config.get("bias_regularizer", Json()));
  recurrent.dropout = config.get("dropout", 0.0).as_double();
  recurrent.recurrent_dropout = config.get("recurrent_dropout", 0.0).as_double();
  const Json seed = config.get("seed", Json());
  if (!seed.is_null()) recurrent.seed = static_cast<uint64_t>(seed.as_int());
  recurrent.return_sequences = config.get("return_sequences", false).as_bool();
  recurrent.return_state = config.get("return_state", false).as_bool();
  recurrent.go_backwards = config.get("go_backwards", false).as_bool();
  recurrent.stateful = config.get("stateful", false).as_bool();
  recurrent.unroll = config.get("unroll", false).as_bool();
  return recurrent;
}

}  // namespace

// ---------------------------------------------------------------- the shared loop

RecurrentLayer::RecurrentLayer(const std::string& class_name, int64_t units, RecurrentOptions recurrent,
                               const LayerOptions& options)
    : Layer(class_name, options), units_(units), options_(std::move(recurrent)) {
  if (units_ <= 0) {
    throw ValueError(class_name + ": `units` must be a positive integer, got units=" + std::to_string(units_));
  }
  check_rate(class_name, "dropout", options_.dropout);
  check_rate(class_name, "recurrent_dropout", options_.recurrent_dropout);
  if (options_.stateful) {
    throw NotImplementedError(class_name + ": stateful=True is not implemented (states are not carried between "
                              "batches); return_state=true gives the final states, which the next call can take "
                              "as initial states (extra inputs after the sequence)");
  }
  activation_name_ = canonical_activation_name(options_.activation);
  activation_ = get_activation(activation_name_);
  if (!options_.kernel_initializer) options_.kernel_initializer = get_initializer("glorot_uniform");
  if (!options_.recurrent_initializer) options_.recurrent_initializer = get_initializer("orthogonal");
  if (!options_.bias_initializer) options_.bias_initializer = zeros_initializer();
  if (options_.seed) set_seed(*options_.seed);
}

void RecurrentLayer::check_sequence_shape(const Shape& shape) const {
  if (shape.size() != 3 || shape[2] < 0) {
    throw ShapeError(describe() + " expects a 3D input (batch, timesteps, features) with known features, got " +
                     keras_shape_str(shape) +
                     (shape.size() == 2 ? "; a single sequence of features needs a batch axis, and a batch of "
                                          "vectors needs a timesteps axis: Reshape to (batch, timesteps, features)"
                                        : "; Reshape the input to (batch, timesteps, features)"));
  }
}

void RecurrentLayer::build(const std::vector<Shape>& input_shapes) {
  check_sequence_shape(input_shapes.at(0));
  const size_t states_given = input_shapes.size() - 1;
  if (states_given != 0 && states_given != static_cast<size_t>(num_states())) {
    throw ValueError(describe() + " takes the sequence alone or the sequence and " + std::to_string(num_states()) +
                     " initial state(s), got " + std::to_string(input_shapes.size()) + " inputs " +
                     keras_shapes_str(input_shapes));
  }
  for (size_t i = 1; i < input_shapes.size(); ++i) {
    const Shape& s = input_shapes[i];
    if (s.size() != 2 || (s[1] >= 0 && s[1] != units_)) {
      throw ShapeError(describe() + ": initial state " + std::to_string(i - 1) + " must be (batch, units) = " +
                       keras_shape_str({-1, units_}) + ", got " + keras_shape_str(s));
    }
  }
  const int64_t features = input_shapes[0][2];
  const int64_t columns = gates() * units_;
  kernel_ = add_weight("kernel", {features, columns}, options_.kernel_initializer, true, options_.kernel_regularizer);
  recurrent_kernel_ = add_weight("recurrent_kernel", {units_, columns}, options_.recurrent_initializer, true,
                                 options_.recurrent_regularizer);
  if (options_.use_bias) {
    bias_ = add_weight("bias", {columns}, effective_bias_initializer(), true, options_.bias_regularizer);
  }
}

bool RecurrentLayer::input_shape_compatible(size_t input_index, const Shape& built, const Shape& got) {
  if (input_index == 0) return got.size() == 3 && (got[2] < 0 || got[2] == built[2]);
  return got.size() == 2 && (got[1] < 0 || got[1] == units_);
}

std::vector<Tensor> RecurrentLayer::dropout_masks(const Shape& shape, double rate, int count, const Device& device) {
  const double keep = 1.0 - rate;
  const Tensor kept = Tensor::scalar(1.0 / keep, compute_dtype());
  const Tensor dropped = Tensor::scalar(0.0, compute_dtype());
  std::vector<Tensor> masks;
  for (int i = 0; i < count; ++i) {
    masks.push_back(where(bernoulli(shape, keep, DType::bool_, next_random_key()).to(device), kept, dropped));
  }
  return masks;
}

Tensor RecurrentLayer::input_projection(const Tensor& x, const std::vector<Tensor>& input_masks) const {
  // x (B, T, F) @ kernel (F, G*U) -> (B, T, G*U): one matmul for every step, since x is known upfront.
  // A mask (B, F) is the same for every step, so it broadcasts over T.
  Tensor projection;
  if (input_masks.empty()) {
    projection = matmul(x, compute_kernel_);
  } else if (input_masks.size() == 1) {
    projection = matmul(multiply(x, expand_dims(input_masks[0], 1)), compute_kernel_);
  } else {
    std::vector<Tensor> blocks;
    for (int g = 0; g < gates(); ++g) {
      blocks.push_back(matmul(multiply(x, expand_dims(input_masks[g], 1)), gate_block(compute_kernel_, g, units_)));
    }
    projection = concatenate(blocks, -1);
  }
  if (options_.use_bias) projection = add(projection, compute_bias_);
  return projection;
}

Tensor RecurrentLayer::recurrent_projection(const Tensor& h, const std::vector<Tensor>& recurrent_masks) const {
  // h (B, U) @ recurrent_kernel (U, G*U) -> (B, G*U)
  if (recurrent_masks.empty()) return matmul(h, compute_recurrent_kernel_);
  if (recurrent_masks.size() == 1) return matmul(multiply(h, recurrent_masks[0]), compute_recurrent_kernel_);
  std::vector<Tensor> blocks;
  for (int g = 0; g < gates(); ++g) {
    blocks.push_back(matmul(multiply(h, recurrent_masks[g]), gate_block(compute_recurrent_kernel_, g, units_)));
  }
  return concatenate(blocks, -1);
}

std::vector<Tensor> RecurrentLayer::call(const std::vector<Tensor>& inputs, bool training) {
  // Errors raised here get the layer's name, class and input shapes from Layer::operator().
  const Tensor& x = inputs.at(0);
  if (x.dtype() != compute_dtype()) {
    throw DTypeError("the layer computes in " + std::string(dtype_name(compute_dtype())) + " but the input is " +
                     std::string(dtype_name(x.dtype())) + "; cast the input to " + std::string(dtype_name(compute_dtype())) +
                     " first");
  }
  compute_kernel_ = in_compute_dtype(kernel_);
  compute_recurrent_kernel_ = in_compute_dtype(recurrent_kernel_);
  compute_bias_ = in_compute_dtype(bias_);
  const int64_t batch = x.shape()[0], timesteps = x.shape()[1];
  if (timesteps == 0) throw ValueError("the sequence needs at least one timestep");
  std::vector<Tensor> states;
  for (int s = 0; s < num_states(); ++s) {
    if (inputs.size() == 1) {
      states.push_back(Tensor::zeros({batch, units_}, compute_dtype(), x.device()));
      continue;
    }
    const Tensor& given = inputs[1 + s];
    if (given.shape() != Shape{batch, units_} || given.dtype() != compute_dtype()) {
      throw ShapeError("initial state " + std::to_string(s) + " must be (batch, units) = " +
                       keras_shape_str({batch, units_}) + " " + std::string(dtype_name(compute_dtype())) + ", got " +
                       keras_shape_str(given.shape()) + " " + std::string(dtype_name(given.dtype())));
    }
    states.push_back(given);
  }

  // Keras draws the masks once per call: every step of a sequence drops the same units.
  const int mask_count = per_gate_dropout_masks() ? gates() : 1;
  std::vector<Tensor> input_masks, recurrent_masks;
  if (training && options_.dropout > 0.0) {
    input_masks = dropout_masks({batch, x.shape()[2]}, options_.dropout, mask_count, x.device());
  }
  if (training && options_.recurrent_dropout > 0.0) {
    recurrent_masks = dropout_masks({batch, units_}, options_.recurrent_dropout, mask_count, x.device());
  }

  const Tensor projection = input_projection(x, input_masks);  // (B, T, G*U)
  const int64_t columns = gates() * units_;
  std::vector<Tensor> outputs;
  outputs.reserve(options_.return_sequences ? timesteps : 1);
  for (int64_t i = 0; i < timesteps; ++i) {
    const int64_t t = options_.go_backwards ? timesteps - 1 - i : i;
    const Tensor x_part = reshape(slice(projection, {0, t, 0}, {-1, 1, -1}), {batch, columns});
    states = step(add(x_part, recurrent_projection(states[0], recurrent_masks)), states);
    if (options_.return_sequences) outputs.push_back(states[0]);
  }

  std::vector<Tensor> results;
  results.push_back(options_.return_sequences ? stack(outputs, 1) : states[0]);
  if (options_.return_state) results.insert(results.end(), states.begin(), states.end());
  return results;
}

std::vector<Shape> RecurrentLayer::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.at(0);
  check_sequence_shape(shape);
  std::vector<Shape> shapes;
  shapes.push_back(options_.return_sequences ? Shape{shape[0], shape[1], units_} : Shape{shape[0], units_});
  if (options_.return_state) {
    for (int s = 0; s < num_states(); ++s) shapes.push_back({shape[0], units_});
  }
  return shapes;
}

std::vector<DType> RecurrentLayer::compute_output_dtype(const std::vector<DType>&) const {
  return std::vector<DType>(1 + (options_.return_state ? num_states() : 0), compute_dtype());
}

Json RecurrentLayer::get_config() const {
  Json config = base_config();
  config["units"] = units_;
  config["activation"] = activation_name_;
  config["use_bias"] = options_.use_bias;
  config["kernel_initializer"] = initializer_to_config(*options_.kernel_initializer);
  config["recurrent_initializer"] = initializer_to_config(*options_.recurrent_initializer);
  config["bias_initializer"] = initializer_to_config(*options_.bias_initializer);
  config["kernel_regularizer"] = regularizer_to_config(options_.kernel_regularizer);
  config["recurrent_regularizer"] = regularizer_to_config(options_.recurrent_regularizer);
  config["bias_regularizer"] = regularizer_to_config(options_.bias_regularizer);
  config["dropout"] = options_.dropout;
  config["recurrent_dropout"] = options_.recurrent_dropout;
  config["seed"] = options_.seed ? Json(static_cast<int64_t>(*options_.seed)) : Json();
  config["return_sequences"] = options_.return_sequences;
  config["return_state"] = options_.return_state;
  config["go_backwards"] = options_.go_backwards;
  config["stateful"] = options_.stateful;
  config["unroll"] = options_.unroll;
  return config;
}

// ---------------------------------------------------------------- SimpleRNN

SimpleRNN::SimpleRNN(int64_t units, RecurrentOptions recurrent, const LayerOptions& options)
    : RecurrentLayer("SimpleRNN", units, std::move(recurrent), options) {
  const RecurrentOptions& set = this->options();
  if (set.recurrent_activation != "sigmoid" || !set.unit_forget_bias) {
    throw ValueError("SimpleRNN has no gates: `recurrent_activation` and `unit_forget_bias` are LSTM arguments, got "
                     "recurrent_activation='" + set.recurrent_activation + "', unit_forget_bias=" +
                     (set.unit_forget_bias ? "true" : "false") + "; leave them at their defaults or use LSTM");
  }
}

std::vector<Tensor> SimpleRNN::step(const Tensor& z, const std::vector<Tensor>&) const { return {activation_(z)}; }

// ---------------------------------------------------------------- LSTM

LSTM::LSTM(int64_t units, RecurrentOptions recurrent, const LayerOptions& options)
    : RecurrentLayer("LSTM", units, std::move(recurrent), options) {
  recurrent_activation_name_ = canonical_activation_name(this->options().recurrent_activation);
  recurrent_activation_ = get_activation(recurrent_activation_name_);
}

std::vector<Tensor> LSTM::step(const Tensor& z, const std::vector<Tensor>& states) const {
  const int64_t n = units();
  const Tensor input_gate = recurrent_activation_(gate_block(z, 0, n));
  const Tensor forget_gate = recurrent_activation_(gate_block(z, 1, n));
  const Tensor candidate = activation_(gate_block(z, 2, n));
  const Tensor output_gate = recurrent_activation_(gate_block(z, 3, n));
  const Tensor carry = add(multiply(forget_gate, states[1]), multiply(input_gate, candidate));
  return {multiply(output_gate, activation_(carry)), carry};
}

// Keras switches the LSTM cell to per-gate masks (implementation 1) whenever recurrent_dropout is set.
bool LSTM::per_gate_dropout_masks() const { return options().recurrent_dropout > 0.0; }

std::shared_ptr<Initializer> LSTM::effective_bias_initializer() const {
  if (!options().unit_forget_bias) return options().bias_initializer;
  // Blocks i, f, c, o: the configured initializer everywhere but the forget block, which starts at
  // ones so that early training does not forget everything (Jozefowicz et al. 2015).
  const std::shared_ptr<Initializer> base = options().bias_initializer;
  const int64_t n = units();
  return function_initializer("unit_forget_bias", [base, n](const Shape&, DType dtype, RandomKey key) {
    const Tensor input_block = (*base)({n}, dtype, key);
    const Tensor rest = (*base)({2 * n}, dtype, RandomKey{key.seed, key.stream ^ 0x5bd1e995ull});
    return concatenate({input_block, Tensor::ones({n}, dtype), rest}, 0);
  });
}

Json LSTM::get_config() const {
  Json config = RecurrentLayer::get_config();
  config["recurrent_activation"] = recurrent_activation_name_;
  config["unit_forget_bias"] = options().unit_forget_bias;
  return config;
}

void register_simple_rnn_layer() {
  register_layer_class("SimpleRNN", [](const Json& config) -> std::shared_ptr<Layer> {
    return std::make_shared<SimpleRNN>(config.at("units").as_int(), recurrent_options_from_config(config),
                                       layer_options_from_config(config));
  });
}

void register_lstm_layer() {
  register_layer_class("LSTM", [](const Json& config) -> std::shared_ptr<Layer> {
    return std::make_shared<LSTM>(config.at("units").as_int(), recurrent_options_from_config(config),
                                  layer_options_from_config(config));
  });
}

}  // namespace pitfall
