// Fused per-parameter optimizer updates: one pass over a variable and its slots instead of a chain
// of elementwise ops that each allocate a temporary the size of the variable.
//
// Each update is a kernel of the one registry (core/registry.h) that updates its tensors in place:
// "adam_update", "sgd_update", "sgd_velocity_update", "sgd_buffer_update", with their scalars in
// Attrs::update. The CPU's are in core/cpu/update_kernels.cpp; a device folder registers its own
// (cuda/fused_update.cu). Each performs, per element, exactly the operations the op-by-op update
// performs, in the same order and in the variable's dtype, so the two paths give bitwise-identical
// results; tests/cpp/test_fused_update.cpp compares them (and tests/cpp/test_gpu_fused_update.cpp
// the GPU kernels with both).
//
// The fused path covers float32/float64 variables whose tensors are all packed and all on one
// device that has the update kernels. Anything else (reduced floats, which round after every op;
// devices without the kernels; numeric checking, which must name the op that first turns
// non-finite) takes the op path.
#pragma once
#include <vector>

#include "pitfall/core/tensor.h"

namespace pitfall::fused {

// Whether the fused kernels may update these tensors (see above), and the switch tests use to run
// the op path for comparison (on by default).
bool applies(const std::vector<Tensor>& tensors);
void set_enabled(bool enabled);
bool enabled();

// Adam's moving averages m <- avg(m, g, beta_1), v <- avg(v, g*g, beta_2), where avg(s, x, b) is
// written as Keras writes it, s + (x - s)*(1-b), when keras_arithmetic, else as PyTorch does,
// s*b + x*(1-b) (optimizer.h moving_average).
struct AdamMoments {
  const Tensor& m;
  const Tensor& v;
  bool keras_arithmetic;
  double beta_1, beta_2;
};
// Adam, epsilon outside the uncorrected sqrt (Keras): w <- w - (m*alpha) / (sqrt(v) + epsilon)
void adam_keras(const Tensor& w, const Tensor& g, const AdamMoments& moments, double alpha, double epsilon);
// Adam, epsilon outside the corrected sqrt (PyTorch):
//   w <- w - (m / (sqrt(v)/sqrt_correction_2 + epsilon)) * step_size
void adam_torch(const Tensor& w, const Tensor& g, const AdamMoments& moments, double sqrt_correction_2,
                double epsilon, double step_size);

// SGD without momentum: w <- w - g*lr.
void sgd(const Tensor& w, const Tensor& g, double lr);
// Keras momentum (velocity includes lr): u <- u*mu - g*lr; w <- w + (nesterov ? u*mu - g*lr : u).
void sgd_velocity(const Tensor& w, const Tensor& g, const Tensor& u, double lr, double momentum, bool nesterov);
// PyTorch momentum: b <- first ? g : b*mu + g*(1-dampening); d <- nesterov ? g + b*mu : b; w <- w - d*lr.
void sgd_buffer(const Tensor& w, const Tensor& g, const Tensor& b, bool first, double lr, double momentum,
                double dampening, bool nesterov);

}  // namespace pitfall::fused
