#include "pitfall/core/autograd.h"

#include <atomic>
#include <unordered_map>
#include <unordered_set>

#include "pitfall/core/ops.h"
#include "pitfall/core/registry.h"

namespace pitfall {
namespace {

thread_local bool grad_mode = true;
std::atomic<uint64_t> node_counter{0};

// Reverse topological order of the nodes reachable from root (root first). Iterative DFS so deep
// graphs (long RNN unrolls) cannot overflow the stack; children are visited in input order, so the
// order, and with it every accumulation order, depends only on the graph.
std::vector<Node*> reverse_topological(Node* root) {
  std::vector<Node*> post_order;
  std::unordered_set<Node*> visited;
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
  visited.insert(root);
  while (!stack.empty()) {
    auto& [node, next_input] = stack.back();
    if (next_input < node->inputs.size()) {
      const Tensor& input = node->inputs[next_input++];
      Node* child = input.grad_fn().get();
      if (child && visited.insert(child).second) stack.emplace_back(child, 0);
    } else {
      post_order.push_back(node);
      stack.pop_back();
    }
  }
  return {post_order.rbegin(), post_order.rend()};
}

Tensor default_root_grad(const Tensor& root, const Tensor& root_grad) {
  if (root_grad.defined()) {
    if (root_grad.shape() != root.shape() || root_grad.dtype() != root.dtype()) {
      throw ShapeError("backward: output gradient of shape " + shape_str(root_grad.shape()) + " and dtype " +
                       std::string(dtype_name(root_grad.dtype())) + " for an output of shape " +
                       shape_str(root.shape()) + " and dtype " + std::string(dtype_name(root.dtype())));
    }
    return root_grad;
  }
  if (root.numel() != 1) {
    throw ValueError("backward on a tensor of shape " + shape_str(root.shape()) +
                     " needs an explicit output gradient; reduce it to a scalar loss (e.g. mean) first");
  }
  return Tensor::ones(root.shape(), root.dtype(), root.device());
}

Tensor accumulate(const Tensor& existing, const Tensor& incoming) {
  return existing.defined() ? add(existing, incoming) : incoming;
}

// Runs the backward pass. Gradients for nodes are kept by Node*, gradients for leaves by impl.
// Calls `leaf_sink(leaf, grad)` once per reached leaf that requires grad, in a deterministic order.
// A node's gradient is dropped as soon as its backward has consumed it (so the pass holds only the
// gradients at its frontier, not one per activation), except for the nodes in `keep`, whose
// gradients are returned. A backward function may so receive the only handle to its gradient, and
// may then write its result over it (relu_grad does).
template <class LeafSink>
std::unordered_map<Node*, Tensor> run_backward(const Tensor& root, const Tensor& root_grad, LeafSink&& leaf_sink,
                                               const std::unordered_set<Node*>& keep = {}) {
  std::unordered_map<Node*, Tensor> node_grads;
  if (!root.requires_grad()) {
    throw ValueError("the tensor has no gradient path: it does not depend on any tensor that requires "
                     "grad (were the ops run under no_grad, or on detached tensors / NumPy values?)");
  }
  const Tensor seed = default_root_grad(root, root_grad);
  NoGradGuard no_grad;
  if (!root.grad_fn()) {
    leaf_sink(root, seed);
    return node_grads;
  }
  node_grads[root.grad_fn().get()] = seed;
  NumericsPhaseScope phase("backward");
  std::vector<std::pair<Tensor, Tensor>> leaf_grads;
  std::unordered_map<TensorImpl*, size_t> leaf_slot;
  for (Node* node : reverse_topological(root.grad_fn().get())) {
    auto it = node_grads.find(node);
    if (it == node_grads.end()) continue;
    Tensor grad_output;
    if (keep.count(node)) {
      grad_output = it->second;
    } else {
      grad_output = std::move(it->second);
      node_grads.erase(it);
    }
    std::vector<Tensor> input_grads;
    {
      LayerPathScope layer(node->layer);
      const std::string label = "backward of " + node->op;
      OpScope scope(label.c_str());
      input_grads = node->backward(grad_output);
    }
    for (size_t i = 0; i < node->inputs.size(); ++i) {
      if (i >= input_grads.size() || !input_grads[i].defined() || !node->needs_grad[i]) continue;
      const Tensor& input = node->inputs[i];
      const Tensor& g = input_grads[i];
      if (g.shape() != input.shape() || g.dtype() != input.dtype()) {
        throw RuntimeError("internal: backward of '" + node->op + "' returned a gradient of shape " +
                           shape_str(g.shape()) + " " + std::string(dtype_name(g.dtype())) + " for input " +
                           std::to_string(i) + " of shape " + shape_str(input.shape()) + " " +
                           std::string(dtype_name(input.dtype())));
      }
      if (Node* child = input.grad_fn().get()) {
        node_grads[child] = accumulate(node_grads[child], g);
      } else if (input.requires_grad()) {
        auto [slot, inserted] = leaf_slot.try_emplace(input.impl(), leaf_grads.size());
        if (inserted) {
          leaf_grads.emplace_back(input, g);
        } else {
          leaf_grads[slot->second].second = add(leaf_grads[slot->second].second, g);
        }
      }
    }
  }
  for (auto& [leaf, g] : leaf_grads) leaf_sink(leaf, g);
  return node_grads;
}

}  // namespace

bool grad_enabled() { return grad_mode; }
void set_grad_enabled(bool enabled) { grad_mode = enabled; }

NoGradGuard::NoGradGuard() : previous_(grad_mode) { grad_mode = false; }
NoGradGuard::~NoGradGuard() { grad_mode = previous_; }

bool needs_record(const std::vector<Tensor>& inputs) {
  if (!grad_mode) return false;
  for (const auto& t : inputs) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

void record(Tensor& output, const char* op, std::vector<Tensor> inputs, BackwardFn backward) {
  auto node = std::make_shared<Node>();
  node->op = op;
  node->needs_grad.reserve(inputs.size());
  for (const auto& t : inputs) node->needs_grad.push_back(t.defined() && t.requires_grad());
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  node->sequence = node_counter.fetch_add(1, std::memory_order_relaxed);
  node->layer = current_layer_path();
  output.impl()->grad_fn = std::move(node);
  output.impl()->requires_grad = true;
}

std::vector<Tensor> gradients(const Tensor& root, const std::vector<Tensor>& sources, const Tensor& root_grad) {
  std::unordered_map<TensorImpl*, Tensor> leaf_results;
  std::unordered_set<Node*> keep;
  for (const auto& source : sources) {
    if (source.defined() && source.grad_fn()) keep.insert(source.grad_fn().get());
  }
  auto node_grads = run_backward(
      root, root_grad, [&](const Tensor& leaf, const Tensor& g) { leaf_results[leaf.impl()] = g; }, keep);
  std::vector<Tensor> out;
  out.reserve(sources.size());
  for (const auto& source : sources) {
    if (!source.defined()) {
      out.emplace_back();
    } else if (Node* node = source.grad_fn().get()) {
      auto it = node_grads.find(node);
      out.push_back(it == node_grads.end() ? Tensor() : it->second);
    } else {
      auto it = leaf_results.find(source.impl());
      out.push_back(it == leaf_results.end() ? Tensor() : it->second);
    }
  }
  return out;
}

void backward(const Tensor& root, const Tensor& root_grad) {
  run_backward(root, root_grad, [](const Tensor& leaf, const Tensor& g) {
    const Tensor existing = leaf.grad();
    leaf.set_grad(existing.defined() ? add(existing, g) : g);
  });
}

}  // namespace pitfall
