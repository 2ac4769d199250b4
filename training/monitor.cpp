#include "pitfall/training/monitor.h"

#include "pitfall/layers/layer.h"

namespace pitfall {

void TrainingMonitor::begin_step() {
  recording_ = armed_;
  armed_ = false;
  if (recording_) {
    current_ = Sample{};
    current_.step = steps_;
  }
}

void TrainingMonitor::record_layer_call(const Layer& layer, const std::vector<Tensor>& outputs) {
  if (!recording_) return;
  current_.layer_names.push_back(layer.name());
  current_.layer_outputs.push_back(outputs);
}

void TrainingMonitor::record_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                                   const Tensor& sample_weight, const std::vector<Tensor>& y_pred) {
  if (record_targets_) targets_.push_back(y);
  if (!recording_) return;
  current_.x = x;
  current_.y = y;
  current_.sample_weight = sample_weight;
  current_.y_pred = y_pred;
}

void TrainingMonitor::record_update(const std::vector<std::string>& paths, const std::vector<Tensor>& gradients,
                                    const std::vector<Tensor>& variables, double gradient_scale) {
  if (!recording_) return;
  current_.variable_paths = paths;
  current_.gradients = gradients;
  current_.gradient_scale = gradient_scale;
  current_.values_before.clear();
  for (const Tensor& v : variables) current_.values_before.push_back(v.clone());
}

void TrainingMonitor::record_loss(const Tensor& loss) {
  if (recording_) current_.loss_tensor = loss;
}

void TrainingMonitor::end_step(double loss) {
  ++steps_;
  if (!recording_) return;
  recording_ = false;
  current_.loss = loss;
  ready_ = std::move(current_);
  current_ = Sample{};
}

TrainingMonitor::Sample TrainingMonitor::take_sample() {
  Sample out = std::move(ready_);
  ready_ = Sample{};
  return out;
}

std::vector<std::vector<Tensor>> TrainingMonitor::take_targets() {
  std::vector<std::vector<Tensor>> out;
  out.swap(targets_);
  return out;
}

}  // namespace pitfall
