// Define-by-run autograd: each op that sees an input requiring grad records a Node holding its
// inputs and a backward closure composed of other ops. backward() walks a deterministic reverse
// topological order, so fit() and hand-written GradientTape loops share one path. Each node's
// backward runs under the layer path recorded with it and the op scope "backward of <op>", so an
// error raised there reads: layer 'sequential/dense_3', op 'backward of sqrt > divide': ...
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pitfall/core/tensor.h"

namespace pitfall {

// Returns one gradient per input (an undefined Tensor where the input needs none), each with the
// input's shape and dtype.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  std::string op;
  std::vector<Tensor> inputs;
  std::vector<bool> needs_grad;  // per input
  BackwardFn backward;
  uint64_t sequence = 0;  // creation order, for error messages and stable traversal
  // The layer path the op ran in ("sequential/dense_3", "" outside layers): the backward runs under
  // it again, so its errors (and check numerics failures) name the layer, not just the op.
  std::string layer;
};

bool grad_enabled();
void set_grad_enabled(bool enabled);

// RAII: disables recording (like torch.no_grad / ops under tf.stop_gradient).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any input requires grad: the op must record a Node.
bool needs_record(const std::vector<Tensor>& inputs);

// Attaches a Node to `output` (which then requires grad). Call only when needs_record(inputs).
void record(Tensor& output, const char* op, std::vector<Tensor> inputs, BackwardFn backward);

// Gradients of `root` with respect to `sources` (leaves or intermediate tensors), without touching
// any .grad. Unconnected sources give undefined tensors. `root_grad` defaults to ones for a
// one-element root; a larger root needs it.
std::vector<Tensor> gradients(const Tensor& root, const std::vector<Tensor>& sources,
                              const Tensor& root_grad = Tensor());

// Accumulates into the .grad of every leaf that requires grad (Tensor::backward calls this).
void backward(const Tensor& root, const Tensor& root_grad = Tensor());

}  // namespace pitfall
