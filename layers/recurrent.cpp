#include "pitfall/layers/recurrent.h"

#include <cmath>

#include "pitfall/core/ops.h"
#include "pitfall/core/random.h"
#include "pitfall/layers/masking.h"

namespace pitfall {

namespace {

// Columns [block * units, (block + 1) * units) of a (..., gates * units) tensor: one gate block.
Tensor gate_block(const Tensor& x, int block, int64_t units) {
  std::vector<int64_t> start(x.ndim(), 0), size(x.ndim(), -1);
  start.back() = block * units;
  size.back() = units;
  return slice(x, start, size);
}

enum class Cell { simple_rnn, lstm, gru };

// The arguments the recurrent layers share, in Keras's order around each cell's own ones.
std::vector<Argument> recurrent_arguments(Cell cell) {
  const bool lstm = cell == Cell::lstm, gated = cell != Cell::simple_rnn;
  const auto rate = [](const char* name, const char* doc) {
    return Argument(name, ArgKind::number, 0.0).checked(in_range(0.0, false, 1.0, true)).described(doc);
  };
  std::vector<Argument> out = {
      Argument("units", ArgKind::integer).make_required().checked(positive_integer)
          .described("the dimensionality of the output space (and of each state)"),
      activation_argument("activation", "tanh", "the activation of the output (LSTM: and of the cell candidate)")};
  if (gated) {
    out.push_back(activation_argument("recurrent_activation", "sigmoid",
                                      lstm ? "the activation of the i, f, o gates" : "the activation of the z, r gates"));
  }
  out.push_back(Argument("use_bias", ArgKind::boolean, true).described("whether the layer adds a bias vector"));
  out.push_back(initializer_argument("kernel_initializer", "glorot_uniform", "initializer of the input kernel"));
  out.push_back(initializer_argument("recurrent_initializer", "orthogonal", "initializer of the recurrent kernel"));
  out.push_back(initializer_argument("bias_initializer", "zeros", "initializer of the bias"));
  if (lstm) {
    out.push_back(Argument("unit_forget_bias", ArgKind::boolean, true)
                      .described("add 1 to the forget gate's bias at initialization (Jozefowicz et al. 2015)"));
  }
  for (Argument a : {regularizer_argument("kernel_regularizer", "penalty on the input kernel"),
                     regularizer_argument("recurrent_regularizer", "penalty on the recurrent kernel"),
                     regularizer_argument("bias_regularizer", "penalty on the bias"),
                     unsupported_argument("activity_regularizer"), unsupported_argument("kernel_constraint"),
                     unsupported_argument("recurrent_constraint"), unsupported_argument("bias_constraint"),
                     rate("dropout", "fraction of the input features dropped in training, in [0, 1)"),
                     rate("recurrent_dropout", "fraction of the recurrent state dropped in training, in [0, 1)")}) {
    out.push_back(a);
  }
  Argument seed = Argument("seed", ArgKind::integer).allow_none().checked(non_negative_integer)
                      .described("the dropout masks' seed (None: drawn from the global generator)");
  if (gated) out.push_back(seed);
  for (Argument a :
       {Argument("return_sequences", ArgKind::boolean, false).described("return every step's output, not the last"),
        Argument("return_state", ArgKind::boolean, false).described("also return the final states"),
        Argument("go_backwards", ArgKind::boolean, false).described("process the sequence from the end"),
        Argument("stateful", ArgKind::boolean, false).checked([](const Json& value) -> std::string {
          if (value.as_bool()) {
            throw NotImplementedError("stateful=True is not implemented (states are not carried between batches); "
                                      "return_state=True gives the final states, which the next call can take as "
                                      "initial states (extra inputs after the sequence)");
          }
          return "";
        }).described("carry the states across batches (not implemented: False only)"),
        Argument("unroll", ArgKind::boolean, false)
            .described("accepted for Keras compatibility: the define-by-run loop is always unrolled")}) {
    out.push_back(a);
  }
  if (!gated) out.push_back(seed);
  if (cell == Cell::gru) {
    out.push_back(Argument("reset_after", ArgKind::boolean, true)
                      .described("apply the reset gate after the recurrent product (True: Keras 3, cuDNN and "
                                 "torch.nn.GRU; the bias is then (2, 3 * units))"));
  }
  if (gated) out.push_back(unsupported_argument("use_cudnn", "auto"));
  return out;
}

}  // namespace

// ---------------------------------------------------------------- the shared loop

static const ArgumentTable& simple_rnn_arguments() {
  static const ArgumentTable table =
      layer_table("SimpleRNN", "keras/src/layers/rnn/simple_rnn.py",
                  "Fully-connected RNN where the output is fed back: h_t = activation(x_t W + h_{t-1} U + b).",
                  recurrent_arguments(Cell::simple_rnn));
  return table;
}

static const ArgumentTable& lstm_arguments() {
  static const ArgumentTable table = layer_table("LSTM", "keras/src/layers/rnn/lstm.py",
                                                 "Long Short-Term Memory layer (Hochreiter 1997).", recurrent_arguments(Cell::lstm));
  return table;
}

static const ArgumentTable& gru_arguments() {
  static const ArgumentTable table = layer_table("GRU", "keras/src/layers/rnn/gru.py",
                                                 "Gated Recurrent Unit (Cho et al. 2014).", recurrent_arguments(Cell::gru));
  return table;
}

PITFALL_REGISTER_LAYER(SimpleRNN, simple_rnn_arguments());
PITFALL_REGISTER_LAYER(LSTM, lstm_arguments());
PITFALL_REGISTER_LAYER(GRU, gru_arguments());

RecurrentLayer::RecurrentLayer(const std::string& class_name, Arguments arguments, const LayerOptions& options)
    : Layer(class_name, options, std::move(arguments)), units_(arguments_.integer("units")) {
  settings_.activation = arguments_.text("activation");
  settings_.use_bias = arguments_.flag("use_bias");
  settings_.dropout = arguments_.number("dropout");
  settings_.recurrent_dropout = arguments_.number("recurrent_dropout");
  settings_.return_sequences = arguments_.flag("return_sequences");
  settings_.return_state = arguments_.flag("return_state");
  settings_.go_backwards = arguments_.flag("go_backwards");
  activation_name_ = settings_.activation;
  activation_ = get_activation(activation_name_);
  if (!arguments_.is_none("seed")) set_seed(static_cast<uint64_t>(arguments_.integer("seed")));
}

Arguments RecurrentLayer::given(const ArgumentTable& table, int64_t units, const RecurrentOptions& o) {
  Json given = Json::object();
  given["units"] = units;
  set_given(given, "activation", o.activation);
  set_given(given, "recurrent_activation", o.recurrent_activation);
  set_given(given, "use_bias", o.use_bias);
  set_given(given, "kernel_initializer", o.kernel_initializer);
  set_given(given, "recurrent_initializer", o.recurrent_initializer);
  set_given(given, "bias_initializer", o.bias_initializer);
  set_given(given, "unit_forget_bias", o.unit_forget_bias);
  set_given(given, "reset_after", o.reset_after);
  set_given(given, "kernel_regularizer", o.kernel_regularizer);
  set_given(given, "recurrent_regularizer", o.recurrent_regularizer);
  set_given(given, "bias_regularizer", o.bias_regularizer);
  set_given(given, "dropout", o.dropout);
  set_given(given, "recurrent_dropout", o.recurrent_dropout);
  if (o.seed) given["seed"] = static_cast<int64_t>(*o.seed);
  set_given(given, "return_sequences", o.return_sequences);
  set_given(given, "return_state", o.return_state);
  set_given(given, "go_backwards", o.go_backwards);
  set_given(given, "stateful", o.stateful);
  set_given(given, "unroll", o.unroll);
  return parse_arguments(table, given);
}

std::shared_ptr<Initializer> RecurrentLayer::effective_bias_initializer() const {
  return make_initializer(arguments_.at("bias_initializer"));
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
  kernel_ = add_weight("kernel", {features, columns}, make_initializer(arguments_.at("kernel_initializer")), true,
                       regularizer_from_config(arguments_.at("kernel_regularizer")));
  recurrent_kernel_ = add_weight("recurrent_kernel", {units_, columns},
                                 make_initializer(arguments_.at("recurrent_initializer")), true,
                                 regularizer_from_config(arguments_.at("recurrent_regularizer")));
  if (settings_.use_bias) {
    bias_ = add_weight("bias", bias_shape(), effective_bias_initializer(), true,
                       regularizer_from_config(arguments_.at("bias_regularizer")));
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
  if (settings_.use_bias) projection = add(projection, input_bias());
  return projection;
}

Tensor RecurrentLayer::recurrent_projection(const Tensor& h, int first, int count) const {
  // h (B, U) @ recurrent_kernel[:, first * U : (first + count) * U] -> (B, count * U)
  if (count < 0) count = gates() - first;
  const auto columns = [&](int block, int blocks) {
    if (block == 0 && blocks == gates()) return compute_recurrent_kernel_;
    return slice(compute_recurrent_kernel_, {0, block * units_}, {-1, blocks * units_});
  };
  if (recurrent_masks_.empty()) return matmul(h, columns(first, count));
  if (recurrent_masks_.size() == 1) return matmul(multiply(h, recurrent_masks_[0]), columns(first, count));
  std::vector<Tensor> blocks;
  for (int g = first; g < first + count; ++g) blocks.push_back(matmul(multiply(h, recurrent_masks_[g]), columns(g, 1)));
  return blocks.size() == 1 ? blocks[0] : concatenate(blocks, -1);
}

std::vector<Tensor> RecurrentLayer::call(const std::vector<Tensor>& inputs, bool training) {
  return run(inputs, Tensor(), training);
}

std::vector<Tensor> RecurrentLayer::call_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                                bool training) {
  Tensor mask = masks.empty() ? Tensor() : masks[0];
  if (mask.defined()) {
    const Tensor& x = inputs.at(0);
    check_mask(describe(), mask, x.shape(), 2);
    if (mask.ndim() != 2) mask = reshape(mask, {x.dim(0), x.dim(1)});
  }
  return run(inputs, mask, training);
}

std::vector<Tensor> RecurrentLayer::compute_mask(const std::vector<Tensor>&, const std::vector<Tensor>& masks) {
  std::vector<Tensor> out(1 + (settings_.return_state ? num_states() : 0));
  if (settings_.return_sequences && !masks.empty()) out[0] = masks[0];
  return out;
}

std::vector<Tensor> RecurrentLayer::run(const std::vector<Tensor>& inputs, const Tensor& mask, bool training) {
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
  std::vector<Tensor> input_masks;
  recurrent_masks_.clear();
  if (training && settings_.dropout > 0.0) {
    input_masks = dropout_masks({batch, x.shape()[2]}, settings_.dropout, mask_count, x.device());
  }
  if (training && settings_.recurrent_dropout > 0.0) {
    recurrent_masks_ = dropout_masks({batch, units_}, settings_.recurrent_dropout, mask_count, x.device());
  }

  const Tensor projection = input_projection(x, input_masks);  // (B, T, G*U)
  const int64_t columns = gates() * units_;
  std::vector<Tensor> outputs;
  outputs.reserve(settings_.return_sequences ? timesteps : 1);
  // With a mask: the output a masked step repeats (zeros before the first kept step).
  Tensor output = mask.defined() ? Tensor::zeros({batch, units_}, compute_dtype(), x.device()) : Tensor();
  for (int64_t i = 0; i < timesteps; ++i) {
    const int64_t t = settings_.go_backwards ? timesteps - 1 - i : i;
    const Tensor x_part = reshape(slice(projection, {0, t, 0}, {-1, 1, -1}), {batch, columns});
    std::vector<Tensor> next = step(x_part, states);
    if (mask.defined()) {
      // keras/src/backend/tensorflow/rnn.py: a masked sample keeps its states, and outputs the previous
      // output (or zeros with zero_output_for_mask).
      const Tensor keep = reshape(slice(mask, {0, t}, {-1, 1}), {batch, 1});
      for (size_t s = 0; s < next.size(); ++s) next[s] = where(keep, next[s], states[s]);
      output = where(keep, next[0], zero_output_for_mask_ ? multiply(output, 0.0) : output);
    }
    states = std::move(next);
    if (settings_.return_sequences) outputs.push_back(mask.defined() ? output : states[0]);
  }
  recurrent_masks_.clear();

  std::vector<Tensor> results;
  results.push_back(settings_.return_sequences ? stack(outputs, 1) : (mask.defined() ? output : states[0]));
  if (settings_.return_state) results.insert(results.end(), states.begin(), states.end());
  return results;
}

std::vector<Shape> RecurrentLayer::compute_output_shape(const std::vector<Shape>& input_shapes) {
  const Shape& shape = input_shapes.at(0);
  check_sequence_shape(shape);
  std::vector<Shape> shapes;
  shapes.push_back(settings_.return_sequences ? Shape{shape[0], shape[1], units_} : Shape{shape[0], units_});
  if (settings_.return_state) {
    for (int s = 0; s < num_states(); ++s) shapes.push_back({shape[0], units_});
  }
  return shapes;
}

std::vector<DType> RecurrentLayer::compute_output_dtype(const std::vector<DType>&) const {
  return std::vector<DType>(1 + (settings_.return_state ? num_states() : 0), compute_dtype());
}

// ---------------------------------------------------------------- SimpleRNN

SimpleRNN::SimpleRNN(const Arguments& arguments, const LayerOptions& options)
    : RecurrentLayer("SimpleRNN", arguments, options) {}

SimpleRNN::SimpleRNN(int64_t units, const RecurrentOptions& recurrent, const LayerOptions& options)
    : SimpleRNN(given(simple_rnn_arguments(), units, recurrent), options) {}

std::vector<Tensor> SimpleRNN::step(const Tensor& x_part, const std::vector<Tensor>& states) const {
  return {activation_(add(x_part, recurrent_projection(states[0])))};
}

// ---------------------------------------------------------------- LSTM

LSTM::LSTM(const Arguments& arguments, const LayerOptions& options)
    : RecurrentLayer("LSTM", arguments, options),
      recurrent_activation_(get_activation(arguments.text("recurrent_activation"))),
      recurrent_activation_name_(arguments.text("recurrent_activation")) {}

LSTM::LSTM(int64_t units, const RecurrentOptions& recurrent, const LayerOptions& options)
    : LSTM(given(lstm_arguments(), units, recurrent), options) {}

std::vector<Tensor> LSTM::step(const Tensor& x_part, const std::vector<Tensor>& states) const {
  const int64_t n = units();
  const Tensor z = add(x_part, recurrent_projection(states[0]));
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
  const std::shared_ptr<Initializer> base = RecurrentLayer::effective_bias_initializer();
  if (!arguments_.flag("unit_forget_bias")) return base;
  // Blocks i, f, c, o: the configured initializer everywhere but the forget block, which starts at
  // ones so that early training does not forget everything (Jozefowicz et al. 2015).
  const int64_t n = units();
  return function_initializer("unit_forget_bias", [base, n](const Shape&, DType dtype, RandomKey key) {
    const Tensor input_block = (*base)({n}, dtype, key);
    const Tensor rest = (*base)({2 * n}, dtype, RandomKey{key.seed, key.stream ^ 0x5bd1e995ull});
    return concatenate({input_block, Tensor::ones({n}, dtype), rest}, 0);
  });
}



// ---------------------------------------------------------------- GRU

GRU::GRU(const Arguments& arguments, const LayerOptions& options)
    : RecurrentLayer("GRU", arguments, options),
      recurrent_activation_(get_activation(arguments.text("recurrent_activation"))),
      reset_after_(arguments.flag("reset_after")) {}

GRU::GRU(int64_t units, const RecurrentOptions& recurrent, const LayerOptions& options)
    : GRU(given(gru_arguments(), units, recurrent), options) {}

// Keras switches the GRU cell to per-gate masks (implementation 1) whenever recurrent_dropout is set.
bool GRU::per_gate_dropout_masks() const { return options().recurrent_dropout > 0.0; }

Shape GRU::bias_shape() const {
  if (reset_after_) return {2, 3 * units()};
  return {3 * units()};
}

Tensor GRU::bias_row(int row) const { return reshape(slice(compute_bias_, {row, 0}, {1, -1}), {3 * units()}); }

Tensor GRU::input_bias() const { return reset_after_ ? bias_row(0) : compute_bias_; }

std::vector<Tensor> GRU::step(const Tensor& x_part, const std::vector<Tensor>& states) const {
  // keras/src/layers/rnn/gru.py GRUCell.call; blocks z, r, h.
  const int64_t n = units();
  const Tensor& h = states[0];
  const bool bias = options().use_bias;
  Tensor z, r, candidate;
  if (reset_after_) {
    Tensor inner = recurrent_projection(h);  // (B, 3U)
    if (bias) inner = add(inner, bias_row(1));
    z = recurrent_activation_(add(gate_block(x_part, 0, n), gate_block(inner, 0, n)));
    r = recurrent_activation_(add(gate_block(x_part, 1, n), gate_block(inner, 1, n)));
    candidate = activation_(add(gate_block(x_part, 2, n), multiply(r, gate_block(inner, 2, n))));
  } else {
    const Tensor inner = recurrent_projection(h, 0, 2);  // (B, 2U)
    z = recurrent_activation_(add(gate_block(x_part, 0, n), gate_block(inner, 0, n)));
    r = recurrent_activation_(add(gate_block(x_part, 1, n), gate_block(inner, 1, n)));
    candidate = activation_(add(gate_block(x_part, 2, n), recurrent_projection(multiply(r, h), 2, 1)));
  }
  // h_t = z h + (1 - z) candidate
  return {add(multiply(z, h), multiply(subtract(1.0, z), candidate))};
}

}  // namespace pitfall
