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

// Engine-wide numeric checking (like tf.debugging.enable_check_numerics): every op output that is
// non-finite while its inputs were finite raises NumericError naming the op, shapes and dtypes.
void set_check_numerics(bool enabled);
bool check_numerics_enabled();

}  // namespace pitfall
