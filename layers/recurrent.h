// keras.layers.SimpleRNN, keras.layers.LSTM and keras.layers.GRU: one time loop (RecurrentLayer)
// parameterized by a cell, i.e. how many gate blocks the kernels hold, how many states it carries and
// how one step turns the input's gate pre-activations and the previous states into new states.
//
// Input (batch, timesteps, features), channels last. Weights, in Keras layouts, names and creation
// order: kernel (features, gates * units), recurrent_kernel (units, gates * units), bias
// (gates * units); LSTM's gate blocks are in the order i, f, c, o, GRU's z, r, h (GRU with
// reset_after, Keras 3's default, has bias (2, 3 * units): the input bias, then the recurrent one).
//
// Outputs: the last output h (batch, units), or every step's (batch, timesteps, units) with
// return_sequences; return_state appends the final states: [output, h] (SimpleRNN, GRU),
// [output, h, c] (LSTM). go_backwards processes the sequence from the last step to the first and, as Keras does,
// returns the sequence in that (reversed) order.
//
// Initial states are zeros, or given as extra inputs after the sequence (Keras `initial_state`):
// layer({x, h0}) / layer({x, h0, c0}), each (batch, units). A layer is built for one of the two call
// forms and keeps it.
//
// Masks (Keras's _keras_mask, layers/layer.h): with a (batch, timesteps) mask on the sequence (from
// Embedding(mask_zero=True) or Masking), a masked step leaves the states as they were and outputs
// the previous step's output (zeros before the first kept step), or zeros when zero_output_for_mask
// is set (Bidirectional sets it with return_sequences); with go_backwards the mask is read backwards
// too. With return_sequences the output keeps the mask; otherwise the outputs have none
// (keras/src/layers/rnn/rnn.py compute_mask, keras/src/backend/*/rnn.py). That is Keras 3.15's rule;
// Keras's development branch (a8b52ca, "Disable automatic mask propagation in RNN layers") passes no
// mask on from a recurrent layer, so a padded sequence output no longer masks the loss there.
//
// Dropout (training only) follows Keras: one mask per sequence, drawn from the layer's own seeded
// generator, the same for every step: `dropout` on the inputs, `recurrent_dropout` on the previous
// h. LSTM and GRU draw one mask per gate block for each when recurrent_dropout > 0 (Keras's
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
  std::optional<bool> reset_after;       // GRU only: the reset gate applies after the recurrent product
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
  std::vector<Tensor> call_masked(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                  bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<DType> compute_output_dtype(const std::vector<DType>& input_dtypes) const override;
  bool supports_masking() const override { return true; }
  // The sequence's mask for the output with return_sequences; none for the states.
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks) override;
  // Masked steps output zeros instead of the previous output (Keras's RNN zero_output_for_mask).
  void set_zero_output_for_mask(bool zero) { zero_output_for_mask_ = zero; }
  bool zero_output_for_mask() const { return zero_output_for_mask_; }
  // The number of (batch, units) states a step carries: 1 (SimpleRNN, GRU) or 2 (LSTM).
  virtual int num_states() const = 0;
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
  // One step: x_part (batch, gates * units) = x_t kernel + the input bias, states the previous states
  // (states[0] is the output h) -> the new states.
  virtual std::vector<Tensor> step(const Tensor& x_part, const std::vector<Tensor>& states) const = 0;
  // The bias's shape and the part of it added to the input projection (GRU with reset_after keeps a
  // second, recurrent bias).
  virtual Shape bias_shape() const { return {gates() * units_}; }
  virtual Tensor input_bias() const { return compute_bias_; }
  // h recurrent_kernel for the `count` gate blocks from `first`: (batch, count * units), with the
  // recurrent dropout masks of those blocks applied to h.
  Tensor recurrent_projection(const Tensor& h, int first = 0, int count = -1) const;
  // Whether each gate block gets its own dropout masks (LSTM with recurrent_dropout).
  virtual bool per_gate_dropout_masks() const { return false; }
  // The bias initializer build() uses (LSTM's unit_forget_bias wraps the configured one).
  virtual std::shared_ptr<Initializer> effective_bias_initializer() const;

  ActivationFn activation_;
  std::string activation_name_;

 private:
  // x (batch, timesteps, features) -> every step's z input part, (batch, timesteps, gates * units).
  Tensor input_projection(const Tensor& x, const std::vector<Tensor>& input_masks) const;
  // `count` inverted-dropout masks of `shape` (kept entries 1 / (1 - rate)), from this layer's generator.
  // `count` masks of `shape` (drawn on the CPU, placed on `device`), scaled by 1 / (1 - rate).
  std::vector<Tensor> dropout_masks(const Shape& shape, double rate, int count, const Device& device);
  void check_sequence_shape(const Shape& shape) const;
  // The time loop; mask (batch, timesteps) bool, or undefined.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs, const Tensor& mask, bool training);

  int64_t units_;
  RecurrentSettings settings_;
  Tensor kernel_, recurrent_kernel_, bias_;
  bool zero_output_for_mask_ = false;
  // This call's recurrent dropout masks (one, or one per gate block), set at the start of each call.
  std::vector<Tensor> recurrent_masks_;

 protected:
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
 public:
  int num_states() const override { return 1; }

 protected:
  std::vector<Tensor> step(const Tensor& x_part, const std::vector<Tensor>& states) const override;
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
 public:
  int num_states() const override { return 2; }

 protected:
  std::vector<Tensor> step(const Tensor& x_part, const std::vector<Tensor>& states) const override;
  bool per_gate_dropout_masks() const override;
  std::shared_ptr<Initializer> effective_bias_initializer() const override;

 private:
  ActivationFn recurrent_activation_;
  std::string recurrent_activation_name_;
};

// keras.layers.GRU (Cho et al. 2014), Keras 3's defaults (reset_after=True, as cuDNN and
// torch.nn.GRU compute it): with x_part split into blocks (x_z, x_r, x_h) and hU the previous h times
// the recurrent kernel's blocks (plus the recurrent bias),
//   z = ra(x_z + hU_z), r = ra(x_r + hU_r), hh = a(x_h + r * hU_h), h_t = z h_{t-1} + (1 - z) hh
// and with reset_after=False hh = a(x_h + (r h_{t-1}) U_h) and a single bias.
class GRU : public RecurrentLayer {
 public:
  GRU(const Arguments& arguments, const LayerOptions& options = {});
  explicit GRU(int64_t units, const RecurrentOptions& recurrent = {}, const LayerOptions& options = {});
  int num_states() const override { return 1; }
  bool reset_after() const { return reset_after_; }

 protected:
  int gates() const override { return 3; }
  std::vector<Tensor> step(const Tensor& x_part, const std::vector<Tensor>& states) const override;
  bool per_gate_dropout_masks() const override;
  Shape bias_shape() const override;
  Tensor input_bias() const override;

 private:
  // Row `row` of the (2, 3 * units) bias of reset_after.
  Tensor bias_row(int row) const;
  ActivationFn recurrent_activation_;
  bool reset_after_;
};

}  // namespace pitfall
