// TrainingMonitor: what the doctor (pf.callbacks.Doctor, docs/doctor.md) reads of a model's training
// steps. A model with a monitor attached counts its train steps; on a step the monitor was armed for
// it keeps, without changing anything the step computes:
//   - the batch (x, y, sample_weight), the predictions and the loss (its value, and the tensor with
//     the autograd graph that computed it);
//   - every trainable variable's path, its gradient as the optimizer receives it, and a copy of its
//     value before the update (the value after is the variable itself once the step returned);
//   - each layer call's outputs in the model's own graph (functional and Sequential models; a nested
//     model counts as one layer), in execution order.
// Unarmed steps cost one branch per layer call. Arming is per step, so what is sampled is decided
// by the caller and is deterministic. Targets can also be kept on every step (record_targets), for
// label statistics over a whole epoch at the cost of one tensor handle per step.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pitfall/core/tensor.h"

namespace pitfall {

class Layer;

class TrainingMonitor {
 public:
  struct Sample {
    int64_t step = -1;  // the monitor's count of train steps before this one (0 = the first)
    std::vector<Tensor> x, y, y_pred;
    Tensor sample_weight;
    double loss = 0.0;
    Tensor loss_tensor;  // the loss with its autograd graph (the doctor reads which ops computed it)
    // Gradients are those of the loss times gradient_scale (a LossScaleOptimizer's dynamic scale, 1
    // otherwise): divide by it for the gradient of the loss itself.
    double gradient_scale = 1.0;
    std::vector<std::string> variable_paths;
    std::vector<Tensor> gradients;
    std::vector<Tensor> values_before;
    std::vector<std::string> layer_names;
    std::vector<std::vector<Tensor>> layer_outputs;
  };

  // Keep the next train step (the one started after this call) as a sample.
  void arm() { armed_ = true; }
  bool armed() const { return armed_; }
  void set_record_targets(bool on) { record_targets_ = on; }
  bool recording() const { return recording_; }

  // ---- called by the model's train step
  void begin_step();
  void record_layer_call(const Layer& layer, const std::vector<Tensor>& outputs);
  void record_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight,
                    const std::vector<Tensor>& y_pred);
  // Before the optimizer changes the variables: keeps the gradients and copies of the values.
  void record_update(const std::vector<std::string>& paths, const std::vector<Tensor>& gradients,
                     const std::vector<Tensor>& variables, double gradient_scale);
  void record_loss(const Tensor& loss);
  void end_step(double loss);

  int64_t steps() const { return steps_; }
  // The sample of the last armed step (step -1 when none), handed over once.
  Sample take_sample();
  // The targets of every step since the last call (when record_targets is on), handed over once.
  std::vector<std::vector<Tensor>> take_targets();

 private:
  bool armed_ = false;
  bool recording_ = false;  // inside an armed step
  bool record_targets_ = false;
  int64_t steps_ = 0;
  Sample current_, ready_;
  std::vector<std::vector<Tensor>> targets_;
};

}  // namespace pitfall
