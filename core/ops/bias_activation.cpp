// bias_activation: act(x + bias) in one pass, the epilogue of Dense and Conv2D.
//
// Unfused, a layer makes three tensors the size of its output (the product, the biased product, the
// activation) and relu's gradient re-reads the biased product; fused, it makes one, and when the
// caller hands over a product nobody else holds, none: the result overwrites it. The values are
// those of add(x, bias) then the activation, rounded the same way (a reduced float is rounded after
// the add, as add's kernel does), and the gradients are relu_grad and sum_to_shape as add and relu
// produce them, so fused and unfused layers train bit for bit alike (tests/cpp/test_bias_activation.cpp).
#include "pitfall/core/ops/op_helpers.h"

namespace pitfall {

using detail::describe;

namespace {

bool fusable(const Tensor& x, const Tensor& bias) {
  return is_floating(x.dtype()) && x.dtype() == bias.dtype() &&
         x.device() == bias.device() && x.ndim() >= 1 && bias.ndim() == 1 && bias.dim(0) == x.shape().back() &&
         x.is_contiguous() && !check_numerics_active();
}

Tensor unfused(const Tensor& x, const Tensor& bias, const std::string& activation) {
  const Tensor biased = add(x, bias);
  return activation == "relu" ? relu(biased) : biased;
}

}  // namespace

bool is_fused_activation(const std::string& activation) { return activation == "relu" || activation == "linear"; }

Tensor bias_activation(Tensor x, const Tensor& bias, const std::string& activation, bool overwrite_x) {
  if (!is_fused_activation(activation)) {
    throw ValueError("bias_activation: activation must be \"relu\" or \"linear\", got \"" + activation +
                     "\"; apply other activations after add(x, bias)");
  }
  // Numeric checking runs the two ops separately, so an error names the one that went non-finite;
  // other shapes and dtypes get add's own checks and messages.
  if (!fusable(x, bias)) return unfused(x, bias, activation);
  OpScope scope("bias_activation");
  Attrs attrs;
  attrs.activation.relu = activation == "relu";
  // Overwrite only a tensor no other handle or view can see: its values are read nowhere else, and
  // its own gradient path (the product's backward) never reads its output.
  const bool overwrite = overwrite_x && detail::can_overwrite(x);
  Tensor out = dispatch("bias_activation", {x, bias}, x.shape(), x.dtype(), attrs, overwrite ? 0 : -1);
  if (needs_record({x, bias})) {
    const bool is_relu = attrs.activation.relu;
    record(out, "bias_activation", {x, bias},
           [y = out.detach(), is_relu, x_shape = x.shape(), bias_shape = bias.shape()](const Tensor& g) {
             // The autograd engine hands over a gradient it no longer holds: relu_grad may reuse it.
             const Tensor dz = is_relu ? relu_grad(g, y, /*overwrite_g=*/true) : g;
             return std::vector<Tensor>{sum_to_shape(dz, x_shape), sum_to_shape(dz, bias_shape)};
           });
  }
  return out;
}

}  // namespace pitfall
