// The op table and the kernel registry keyed by (op, device).
//
// Every op has an OpInfo row (name, whether it is differentiable, whether it is a composite of
// other ops and so has no kernel of its own). A device folder registers kernels for the ops it
// implements; op code calls dispatch() and never tests which device it is on. A kernel may return
// one output, several (dispatch_outputs), or update tensors in place (dispatch_update): the fused
// optimizer updates (optim/fused_update.h) are such kernels, and have no OpInfo row because they
// are not ops of the autograd graph.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pitfall/core/tensor.h"

namespace pitfall {

// Op arguments that are not tensors, in typed fields per op family. Each op documents the fields
// it reads; the rest keep their defaults.
struct Attrs {
  // Shape, reduction and indexing ops: reduction axes, permutation, slice begins / ends / steps;
  // the concatenate / take / one_hot / argmax axis.
  std::vector<int64_t> axes;
  std::vector<int64_t> ends;
  std::vector<int64_t> steps;
  int64_t axis = 0;
  bool keepdims = false;
  // conv2d, pooling and their gradients: the sliding window (the rest comes from the shapes).
  Window window;
  // matmul: the operand arrives packed as (..., K, M) / (..., N, K) and is used transposed, so a
  // transposed view never needs a packed copy.
  bool transpose_a = false, transpose_b = false;
  // cast's target dtype; one_hot's dtype and depth.
  DType dtype = DType::float32;
  int64_t depth = 0;
  // argsort: largest first (ties still in index order); round: decimal places.
  bool descending = false;
  int64_t decimals = 0;
  // Activations and their gradients.
  struct Activation {
    double negative_slope = 0.0;  // leaky_relu
    double alpha = 1.0;           // elu
    bool approximate = false;     // gelu, gelu_grad: the tanh approximation
    bool relu = false;            // bias_activation: relu after the bias (else linear)
  } activation;
  // clip's bounds.
  struct Clip {
    double min = 0.0, max = 0.0;
  } clip;
  // fill's value.
  double fill_value = 0.0;
  // The fused optimizer updates (adam_update, sgd_update, sgd_velocity_update, sgd_buffer_update;
  // optim/fused_update.h has the formulas). Scalars arrive in double and round to the variable's
  // dtype once, as the op-by-op update rounds its scalar tensors.
  struct Update {
    double learning_rate = 0.0;    // sgd_*: lr
    double momentum = 0.0;         // sgd_velocity / sgd_buffer
    double dampening = 0.0;        // sgd_buffer
    bool nesterov = false;         // sgd_velocity / sgd_buffer
    bool first = false;            // sgd_buffer: the buffer starts as the gradient
    double beta_1 = 0.0, beta_2 = 0.0, epsilon = 0.0;  // adam
    bool keras_arithmetic = true;  // adam: moving averages as Keras writes them (else PyTorch)
    bool torch_epsilon = false;    // adam: epsilon after bias correction (PyTorch), else Keras's
    double alpha = 0.0;            // adam, Keras: lr*sqrt(1 - b2^t)/(1 - b1^t)
    double sqrt_correction_2 = 1.0, step_size = 0.0;  // adam, PyTorch: sqrt(1 - b2^t), lr/(1 - b1^t)
  } update;
};

// A kernel with one output: inputs are packed (contiguous) and on one device; output is allocated
// with the inferred shape, or is input 0's storage when the op asked to overwrite it (see dispatch).
using KernelFn = void (*)(const std::vector<Tensor>& inputs, Tensor& output, const Attrs& attrs);
// A kernel with several outputs, or one that updates tensors in place: `inputs` are read; `outputs`
// are the tensors it writes, either results dispatch_outputs allocated or the caller's own tensors
// (dispatch_update), packed and on the inputs' device. Inputs and outputs never alias.
using MultiKernelFn = void (*)(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs, const Attrs& attrs);

struct OpInfo {
  std::string name;
  bool differentiable = true;
  bool composite = false;  // built from other ops: no kernel of its own
  std::string summary;
};

class OpRegistry {
 public:
  static OpRegistry& instance();
  void define(OpInfo info);
  void add_kernel(std::string_view op, DeviceType device, KernelFn kernel);
  void add_kernel(std::string_view op, DeviceType device, MultiKernelFn kernel);
  // Throw NotImplementedError naming the op and device when no kernel of that form is registered.
  KernelFn kernel(std::string_view op, DeviceType device) const;
  MultiKernelFn multi_kernel(std::string_view op, DeviceType device) const;
  bool has_kernel(std::string_view op, DeviceType device) const;  // of either form
  const OpInfo* find(std::string_view op) const;
  std::vector<OpInfo> ops() const;  // sorted by name

 private:
  OpRegistry() = default;
  struct Kernels {
    KernelFn one = nullptr;
    MultiKernelFn many = nullptr;
  };
  std::map<std::string, OpInfo, std::less<>> infos_;
  std::map<std::string, Kernels, std::less<>> kernels_[kNumDeviceTypes];
};

// Runs `op`'s kernel for the device of the inputs: checks they share a device, packs strided views,
// allocates the output and calls the kernel. When numeric checking is on, verifies the output.
// `overwrite_input` >= 0: the output takes that input's storage instead of new memory, for kernels
// that read and write each element in one pass (bias_activation, relu_grad). The caller vouches that
// nothing else can see that input (ops/op_helpers.h can_overwrite) and that its autograd history
// does not need its values.
Tensor dispatch(const char* op, const std::vector<Tensor>& inputs, const Shape& out_shape,
                DType out_dtype, const Attrs& attrs = Attrs(), int overwrite_input = -1);
// The same for a kernel with several outputs: one (shape, dtype) per output.
std::vector<Tensor> dispatch_outputs(const char* op, const std::vector<Tensor>& inputs,
                                     const std::vector<std::pair<Shape, DType>>& outputs, const Attrs& attrs = Attrs());
// Runs `op`'s kernel to update `updated` in place from `inputs`: every tensor on one device, packed;
// raises ValueError naming the op otherwise. Records nothing for autograd (updates are not ops of
// the graph). With numeric checking on, verifies each updated tensor.
void dispatch_update(const char* op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& updated,
                     const Attrs& attrs = Attrs());

// Op determinism (tf.config.experimental.enable_op_determinism): on the GPU, ops pick algorithms
// whose results are bitwise-reproducible run to run (no atomics-based reductions, deterministic
// cuDNN algorithms); off (the default), the fastest ones are allowed. CPU results are
// deterministic either way.
void set_op_determinism(bool enabled);
bool op_determinism_enabled();

// TensorFloat-32 for float32 matrix products and convolutions on the GPU
// (tf.config.experimental.enable_tensor_float_32_execution, torch.backends.cuda.matmul.allow_tf32):
// OFF by default here, so float32 means float32; TensorFlow turns it on by default on Ampere and
// later GPUs, which is a precision pitfall of its own (10-bit mantissa products).
void set_tensor_float_32(bool enabled);
bool tensor_float_32_enabled();

// Engine-wide numeric checking (like tf.debugging.enable_check_numerics): every op output that is
// non-finite while its inputs were finite raises NumericError naming the op, shapes and dtypes.
// Only the FIRST op to turn finite values non-finite raises: ops fed an inf/NaN stay silent, so the
// error names where the problem starts, not where it shows (the loss).
void set_check_numerics(bool enabled);
bool check_numerics_enabled();

// Checking on this thread only (what Model::set_check_numerics, the CheckNumerics callback and
// `with pf.debug.check_numerics():` use): a thread-local switch next to the global one.
void set_thread_check_numerics(bool enabled);
bool thread_check_numerics_enabled();
// True when ops on this thread are checked: the global flag or this thread's switch.
bool check_numerics_active();

// RAII: sets this thread's switch to `enabled` while alive and restores the previous value (so
// scopes nest, and an exception leaving the scope restores it too).
class CheckNumericsScope {
 public:
  explicit CheckNumericsScope(bool enabled = true);
  ~CheckNumericsScope();
  CheckNumericsScope(const CheckNumericsScope&) = delete;
  CheckNumericsScope& operator=(const CheckNumericsScope&) = delete;

 private:
  bool previous_;
};

// RAII: names the part of a training step running on this thread ("backward" while autograd runs
// a backward pass, "optimizer" while Model applies gradients); "" (the forward pass) otherwise.
// A failure found by check numerics records it, so a report can say which pass broke.
class NumericsPhaseScope {
 public:
  explicit NumericsPhaseScope(const char* phase);
  ~NumericsPhaseScope();
  NumericsPhaseScope(const NumericsPhaseScope&) = delete;
  NumericsPhaseScope& operator=(const NumericsPhaseScope&) = delete;

 private:
  const char* previous_;
};
const char* current_numerics_phase();  // "" outside any NumericsPhaseScope

// What check numerics found, kept per thread as the NumericError was raised. The error's own text
// passes through layers that restate it (Layer::operator() adds the layer's class and input), so a
// caller reporting the failure (Model::fit) reads the structured facts here.
struct NumericFailure {
  std::string op;       // op chain, innermost last: "matmul", "backward of sqrt > divide"
  std::string layer;    // layer path: "sequential/dense_3" ("" outside layers)
  std::string phase;    // current_numerics_phase() at the failure ("" = forward)
  std::string message;  // the NumericError's own text, without the layer/op prefix
  std::string text;     // its full text as raised: "layer 'sequential/dense_3': matmul produced ..."
};
// The last failure recorded on this thread since clear_numeric_failure(), or null.
const NumericFailure* last_numeric_failure();
void clear_numeric_failure();

}  // namespace pitfall
