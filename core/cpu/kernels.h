// Registration entry points of the CPU kernels, one per kernel file.
#pragma once
#include "pitfall/core/registry.h"

namespace pitfall {

void register_cpu_copy_kernels(OpRegistry& registry);         // copy, copy_into, fill
void register_cpu_elementwise_kernels(OpRegistry& registry);  // binary, comparisons, where, unary, cast
void register_cpu_reduction_kernels(OpRegistry& registry);    // sum, max, min, argmax, softmax, log_softmax
void register_cpu_shape_kernels(OpRegistry& registry);        // concatenate, take, one_hot, slice grads
void register_cpu_scan_kernels(OpRegistry& registry);         // cumsum, cumprod (and its gradient), argsort
void register_cpu_linalg_kernels(OpRegistry& registry);       // matmul
void register_cpu_conv_kernels(OpRegistry& registry);         // conv2d, pooling and their gradients
void register_cpu_batch_norm_kernels(OpRegistry& registry);   // batch_norm_moments/_apply and their gradients
void register_cpu_update_kernels(OpRegistry& registry);       // the fused optimizer updates (in place)

inline void register_cpu_kernels(OpRegistry& registry) {
  register_cpu_copy_kernels(registry);
  register_cpu_elementwise_kernels(registry);
  register_cpu_reduction_kernels(registry);
  register_cpu_shape_kernels(registry);
  register_cpu_scan_kernels(registry);
  register_cpu_linalg_kernels(registry);
  register_cpu_conv_kernels(registry);
  register_cpu_batch_norm_kernels(registry);
  register_cpu_update_kernels(registry);
}

}  // namespace pitfall
