#include "pitfall/optim/fused_update.h"

#include <atomic>

#include "pitfall/core/registry.h"

namespace pitfall::fused {
namespace {

std::atomic<bool> fused_enabled{true};

constexpr const char* kUpdateKernels[] = {"adam_update", "sgd_update", "sgd_velocity_update", "sgd_buffer_update"};

bool has_update_kernels(DeviceType device) {
  for (const char* op : kUpdateKernels) {
    if (!OpRegistry::instance().has_kernel(op, device)) return false;
  }
  return true;
}

void adam(const Tensor& w, const Tensor& g, const AdamMoments& moments, Attrs attrs) {
  attrs.update.beta_1 = moments.beta_1;
  attrs.update.beta_2 = moments.beta_2;
  attrs.update.keras_arithmetic = moments.keras_arithmetic;
  dispatch_update("adam_update", {g}, {w, moments.m, moments.v}, attrs);
}

}  // namespace

void set_enabled(bool enabled) { fused_enabled.store(enabled); }
bool enabled() { return fused_enabled.load(); }

bool applies(const std::vector<Tensor>& tensors) {
  if (!enabled() || check_numerics_active() || tensors.empty() || !tensors[0].defined()) return false;
  const DType dtype = tensors[0].dtype();
  if (dtype != DType::float32 && dtype != DType::float64) return false;
  const Device device = tensors[0].device();
  if (!has_update_kernels(device.type)) return false;
  for (const Tensor& t : tensors) {
    if (!t.defined() || t.dtype() != dtype || t.device() != device || !t.is_contiguous() ||
        t.shape() != tensors[0].shape()) {
      return false;
    }
  }
  return true;
}

void adam_keras(const Tensor& w, const Tensor& g, const AdamMoments& moments, double alpha, double epsilon) {
  Attrs attrs;
  attrs.update.alpha = alpha;
  attrs.update.epsilon = epsilon;
  adam(w, g, moments, attrs);
}

void adam_torch(const Tensor& w, const Tensor& g, const AdamMoments& moments, double sqrt_correction_2,
                double epsilon, double step_size) {
  Attrs attrs;
  attrs.update.torch_epsilon = true;
  attrs.update.sqrt_correction_2 = sqrt_correction_2;
  attrs.update.epsilon = epsilon;
  attrs.update.step_size = step_size;
  adam(w, g, moments, attrs);
}

void sgd(const Tensor& w, const Tensor& g, double lr) {
  Attrs attrs;
  attrs.update.learning_rate = lr;
  dispatch_update("sgd_update", {g}, {w}, attrs);
}

void sgd_velocity(const Tensor& w, const Tensor& g, const Tensor& u, double lr, double momentum, bool nesterov) {
  Attrs attrs;
  attrs.update.learning_rate = lr;
  attrs.update.momentum = momentum;
  attrs.update.nesterov = nesterov;
  dispatch_update("sgd_velocity_update", {g}, {w, u}, attrs);
}

void sgd_buffer(const Tensor& w, const Tensor& g, const Tensor& b, bool first, double lr, double momentum,
                double dampening, bool nesterov) {
  Attrs attrs;
  attrs.update.first = first;
  attrs.update.learning_rate = lr;
  attrs.update.momentum = momentum;
  attrs.update.dampening = dampening;
  attrs.update.nesterov = nesterov;
  dispatch_update("sgd_buffer_update", {g}, {w, b}, attrs);
}

}  // namespace pitfall::fused
