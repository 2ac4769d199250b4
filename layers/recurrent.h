// keras.layers.SimpleRNN and keras.layers.LSTM: one time loop (RecurrentLayer) parameterized by a
// cell, i.e. how many gate blocks the kernels hold, how many states it carries and how one step
// turns the gate pre-activations into new states.
//
// Input (batch, timesteps, features), channels last. Weights, in Keras layouts, names and creation
// order: kernel (features, gates * units), recurrent_kernel (units, gates * units), bias
// (gates * units); LSTM's gate blocks are in the order i, f, c, o.
//
// Outputs: the last output h (batch, units), or every step's (batch, timesteps, units) with
// return_sequences; return_state appends the final states: [output, h] (SimpleRNN), [output, h, c]
// (LSTM). go_backwards processes the sequence from the last step to the first and, as Keras does,
// returns the sequence in that (reversed) order.
//
// Initial states are zeros, or given as extra inputs after the sequence (Keras `initial_state`):
// layer({x, h0}) / layer({x, h0, c0}), each (batch, units). A layer is built for one of the two call
// forms and keeps it.
//
// Dropout (training only) follows Keras: one mask per sequence, drawn from the layer's own seeded
// generator, the same for every step: `dropout` on the inputs, `recurrent_dropout` on the previous
// h. LSTM draws one mask per gate block for each when recurrent_dropout > 0 (Keras's
// implementation 1), one shared input mask otherwise.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pitfall/layers/activations.h"
#include "pitfall/layers/initializers.h"
#include "pitfall/layers/layer.h"
#include "pitfall/layers/layer_arguments.h"
#include "pitfall/layers/regularizers.h"

namespace pitfall {

// The C++ spelling of SimpleRNN's and LSTM's arguments (the two LSTM-only ones are marked): anything
// left unset takes the table's default (the tables in recurrent.cpp).
struct RecurrentOptions {
  std::optional<std::string> activation;
  std::optional<std::string> recurrent_activation;  // LSTM only: the i, f, o gates
  std::optional<bool> use_bias;
  std::shared_ptr<Initializer> kernel_initializer;
  std::shared_ptr<Initializer> recurrent_initializer;
  std::shared_ptr<Initializer> bias_initializer;
  std::optional<bool> unit_forget_bias;  // LSTM only: the forget block of the bias starts at ones
  std::shared_ptr<Regularizer> kernel_regularizer;
  std::shared_ptr<Regularizer> recurrent_regularizer;
  std::shared_ptr<Regularizer> bias_regularizer;
  std::optional<double> dropout;            // fraction of the input features dropped, in [0, 1)
  std::optional<double> recurrent_dropout;  // fraction of the recurrent state dropped, in [0, 1)
  std::optional<uint64_t> seed;             // the dropout masks' seed (none: drawn from the global generator)
  std::optional<bool> return_sequences;
  std::optional<bool> return_state;
  std::optional<bool> go_backwards;
  std::optional<bool> stateful;  // not implemented: raises NotImplementedError when true
  // Accepted for Keras compatibility; the define-by-run loop is always unrolled, so it changes nothing.
  std::optional<bool> unroll;
};

// The resolved settings a recurrent layer runs with.
struct RecurrentSettings {
  std::string activation;
  bool use_bias = true;
  double dropout = 0.0, recurrent_dropout = 0.0;
  bool return_sequences = false, return_state = false, go_backwards = false;
};

// The shared time loop. A subclass is a cell: gates(), num_states() and step().
class RecurrentLayer : public Layer {
 public:
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;
  // The sequence, optionally followed by one initial state per state.
  int num_inputs() const override { return -1; }
  // Keras InputSpec(ndim=3): timesteps may change between calls, the features may not.
  bool input_shape_compatible(size_t input_index, const Shape& built, const Shape& got) override;

  int64_t units() const { return units_; }
  const RecurrentSettings& options() const { return settings_; }
  const Tensor& kernel() const { return kernel_; }
  const Tensor& recurrent_kernel() const { return recurrent_kernel_; }
  const Tensor& bias() const { return bias_; }  // undefined when use_bias is false

 protected:
  RecurrentLayer(const std::string& class_name, Arguments arguments, const LayerOptions& options);
  // The arguments of a C++ construction (the LSTM-only options must be unset for SimpleRNN).
  static Arguments given(const ArgumentTable& table, int64_t units, const RecurrentOptions& recurrent);

  // How many blocks of `units` columns the kernels hold (1 SimpleRNN, 4 LSTM).
  virtual int gates() const = 0;
  // How many (batch, units) states a step carries; states[0] is the output h.
  virtual int num_states() const = 0;
  // One step: z (batch, gates * units) = x_t kernel + h recurrent_kernel + bias, states the previous
  // states -> the new states.
  virtual std::vector<Tensor> step(const Tensor& z, const std::vector<Tensor>& states) const = 0;
  // Whether each gate block gets its own dropout masks (LSTM with recurrent_dropout).
  virtual bool per_gate_dropout_masks() const { return false; }
  // The bias initializer build() uses (LSTM's unit_forget_bias wraps the configured one).
  virtual std::shared_ptr<Initializer> effective_bias_initializer() const;

  ActivationFn activation_;
  std::string activation_name_;

 private:
  // x (batch, timesteps, features) -> every step's z input part, (batch, timesteps, gates * units).
  Tensor input_projection(const Tensor& x, const std::vector<Tensor>& input_masks) const;
  // h (batch, units) -> h recurrent_kernel, (batch, gates * units).
  Tensor recurrent_projection(const Tensor& h, const std::vector<Tensor>& recurrent_masks) const;
  // `count` inverted-dropout masks of `shape` (kept entries 1 / (1 - rate)), from this layer's generator.
  // `count` masks of `shape` (drawn on the CPU, placed on `device`), scaled by 1 / (1 - rate).
  std::vector<Tensor> dropout_masks(const Shape& shape, double rate, int count, const Device& device);
  void check_sequence_shape(const Shape& shape) const;

  int64_t units_;
  RecurrentSettings settings_;
  Tensor kernel_, recurrent_kernel_, bias_;
  // The weights in the compute dtype, set at the start of each call (cast once, not once per step).
  Tensor compute_kernel_, compute_recurrent_kernel_, compute_bias_;
};

// keras.layers.SimpleRNN: h_t = activation(x_t kernel + bias + h_{t-1} recurrent_kernel).
class SimpleRNN : public RecurrentLayer {
 public:
  SimpleRNN(const Arguments& arguments, const LayerOptions& options = {});
  explicit SimpleRNN(int64_t units, const RecurrentOptions& recurrent = {}, const LayerOptions& options = {});

 protected:
  int gates() const override { return 1; }
  int num_states() const override { return 1; }
  std::vector<Tensor> step(const Tensor& z, const std::vector<Tensor>& states) const override;
};

// keras.layers.LSTM: with z split into blocks (z_i, z_f, z_c, z_o),
//   i = ra(z_i), f = ra(z_f), o = ra(z_o), c_t = f c_{t-1} + i a(z_c), h_t = o a(c_t)
// where a is `activation` and ra `recurrent_activation`.
class LSTM : public RecurrentLayer {
 public:
  LSTM(const Arguments& arguments, const LayerOptions& options = {});
  explicit LSTM(int64_t units, const RecurrentOptions& recurrent = {}, const LayerOptions& options = {});

 protected:
  int gates() const override { return 4; }
  int num_states() const override { return 2; }
  std::vector<Tensor> step(const Tensor& z, const std::vector<Tensor>& states) const override;
  bool per_gate_dropout_masks() const override;
  std::shared_ptr<Initializer> effective_bias_initializer() const override;

 private:
  ActivationFn recurrent_activation_;
  std::string recurrent_activation_name_;
};

}  // namespace pitfall
