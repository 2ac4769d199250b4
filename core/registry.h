// The op table and the kernel registry keyed by (op, device).
//
// Every op has an OpInfo row (name, whether it is differentiable, whether it is a composite of
// other ops and so has no kernel of its own). A device folder registers kernels for the ops it
// implements; op code calls dispatch() and never tests which device it is on.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "pitfall/core/tensor.h"

namespace pitfall {

// Op arguments that are not tensors. Each op documents which fields it reads.
struct Attrs {
  std::vector<int64_t> axes;   // reduction axes, permutation, slice begins
  std::vector<int64_t> ends;   // slice ends
  std::vector<int64_t> steps;  // slice steps
  int64_t axis = 0;            // concat / take / one_hot / argmax axis
  int64_t count = 0;           // one_hot depth
  double alpha = 0.0;          // leaky_relu slope, elu alpha, clip minimum, fill value
  double beta = 0.0;           // clip maximum
  bool keepdims = false;
  bool flag = false;           // gelu: approximate
  // matmul: the operand arrives packed as (..., K, M) / (..., N, K) and is used transposed, so a
  // transposed view never needs a packed copy.
  bool transpose_a = false, transpose_b = false;
  DType dtype = DType::float32;  // cast / one_hot target
};

// inputs are packed (contiguous) and on one device; output is allocated with the inferred shape.
using KernelFn = void (*)(const std::vector<Tensor>& inputs, Tensor& output, const Attrs& attrs);

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
  // Throws NotImplementedError naming the op and device when no kernel is registered.
  KernelFn kernel(std::string_view op, DeviceType device) const;
  bool has_kernel(std::string_view op, DeviceType device) const;
  const OpInfo* find(std::string_view op) const;
  std::vector<OpInfo> ops() const;  // sorted by name

 private:
  OpRegistry() = default;
  std::map<std::string, OpInfo, std::less<>> infos_;
  std::map<std::string, KernelFn, std::less<>> kernels_[kNumDeviceTypes];
};

// Runs `op`'s kernel for the device of the inputs: checks they share a device, packs strided views,
// allocates the output and calls the kernel. When numeric checking is on, verifies the output.
Tensor dispatch(const char* op, const std::vector<Tensor>& inputs, const Shape& out_shape,
                DType out_dtype, const Attrs& attrs = Attrs());

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
