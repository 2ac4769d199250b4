// compile / fit / evaluate / predict and the *_on_batch methods.
//
// One train step is exactly what a hand-written loop does: forward with training=true, the
// compiled losses (weighted), plus the model's regularization losses, pitfall::gradients with
// respect to trainable_weights(), optimizer->apply_gradients. The same seed and batches therefore
// give bitwise-identical weights with fit() and with a GradientTape-style loop.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <set>

#include "pitfall/core/autograd.h"
#include "pitfall/core/ops.h"
#include "pitfall/core/random.h"
#include "pitfall/core/registry.h"
#include "pitfall/core/warnings.h"
#include "pitfall/training/callbacks.h"
#include "pitfall/training/model.h"
#include "pitfall/training/model_internal.h"
#include "pitfall/training/progress_bar.h"

namespace pitfall {

using namespace model_internal;

namespace {

// Rows [begin, begin + count) of every array (views).
std::vector<Tensor> rows_of(const std::vector<Tensor>& arrays, int64_t begin, int64_t count) {
  std::vector<Tensor> out;
  for (const auto& a : arrays) {
    std::vector<int64_t> start(a.ndim(), 0), size(a.ndim(), -1);
    start[0] = begin;
    size[0] = count;
    out.push_back(slice(a, start, size));
  }
  return out;
}

Tensor rows_of(const Tensor& a, int64_t begin, int64_t count) {
  return a.defined() ? rows_of(std::vector<Tensor>{a}, begin, count)[0] : Tensor();
}

// Every array must have the same number of rows; the error names each array and its count.
int64_t common_rows(const char* where_called, const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                    const Tensor& sample_weight = Tensor()) {
  std::vector<std::pair<std::string, int64_t>> counts;
  auto add = [&](const std::string& label, const Tensor& t) {
    if (!t.defined()) throw ValueError(std::string(where_called) + ": " + label + " is an undefined tensor");
    if (t.ndim() == 0) {
      throw ShapeError(std::string(where_called) + ": " + label + " is a scalar; arrays need a first (samples) axis");
    }
    counts.emplace_back(label, t.dim(0));
  };
  for (size_t i = 0; i < x.size(); ++i) add("x[" + std::to_string(i) + "]", x[i]);
  for (size_t i = 0; i < y.size(); ++i) add("y[" + std::to_string(i) + "]", y[i]);
  if (sample_weight.defined()) add("sample_weight", sample_weight);
  if (counts.empty()) throw ValueError(std::string(where_called) + ": no input arrays given");
  bool same = true;
  for (const auto& c : counts) same = same && c.second == counts[0].second;
  if (!same) {
    std::string listing;
    for (size_t i = 0; i < counts.size(); ++i) {
      listing += (i ? ", " : "") + counts[i].first + " has " + std::to_string(counts[i].second) + " rows";
    }
    throw ValueError(std::string(where_called) + ": the arrays have different numbers of samples (" + listing +
                     "); every input, target and sample_weight array needs the same first dimension");
  }
  return counts[0].second;
}

// Per-sample weights from class_weight: labels are the argmax of one-hot targets, else the values.
Tensor class_sample_weights(const Tensor& y, const std::map<int64_t, double>& class_weight, DType dtype) {
  const int64_t rows = y.dim(0);
  // Read on the host once (value_at copies the whole tensor off a device each call).
  const Tensor labels = ((y.ndim() >= 2 && y.dim(-1) > 1) ? argmax(y, -1) : reshape(y, {rows})).to(Device{});
  std::vector<double> weights(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const double value = labels.value_at(r);
    const int64_t label = static_cast<int64_t>(std::llround(value));
    const auto it = class_weight.find(label);
    if (it == class_weight.end()) {
      std::string known;
      for (const auto& [k, w] : class_weight) known += (known.empty() ? "" : ", ") + std::to_string(k);
      throw ValueError("fit: class_weight has no entry for class " + std::to_string(label) + " (row " +
                       std::to_string(r) + "); classes given: " + known + ". Give a weight for every class");
    }
    weights[static_cast<size_t>(r)] = it->second;
  }
  return cast(Tensor::from_vector(weights, {rows}), dtype).to(y.device());
}

// fit / evaluate / predict on arrays: batches of (x-tuple, y-tuple[, weights]) from the arrays,
// in a new order each epoch when shuffling.
data::Dataset array_batches(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight,
                            int64_t batch_size, bool shuffle) {
  std::vector<Tensor> arrays = x;
  arrays.insert(arrays.end(), y.begin(), y.end());
  std::vector<int64_t> groups{static_cast<int64_t>(x.size())};
  if (!y.empty()) groups.push_back(static_cast<int64_t>(y.size()));
  if (sample_weight.defined()) {
    arrays.push_back(sample_weight);
    groups.push_back(1);
  }
  return data::Dataset::from_array_batches(arrays, batch_size, shuffle, groups);
}

void check_batch_size(const char* where_called, int64_t batch_size) {
  if (batch_size <= 0) {
    throw ValueError(std::string(where_called) + ": batch_size must be a positive integer, got " +
                     std::to_string(batch_size));
  }
}

// Builds callbacks in Keras's order: the user's, then History, then the progress bar.
struct CallbackList {
  std::vector<std::shared_ptr<Callback>> all;
  template <class Fn>
  void each(Fn fn) {
    for (auto& c : all) fn(*c);
  }
};

}  // namespace

// ---------------------------------------------------------------- compile

void Model::compile(std::shared_ptr<Optimizer> optimizer, std::vector<std::shared_ptr<Loss>> losses,
                    std::vector<std::vector<std::shared_ptr<Metric>>> metrics, std::vector<double> loss_weights) {
  const std::string here = where(*this) + ": compile";
  if (!optimizer) throw ValueError(here + ": optimizer is null");
  // One loss per output may leave outputs out (null): Keras trains them by nothing and logs no
  // "<output>_loss" for them (keras/src/trainers/compile_utils.py CompileLoss). A single loss must exist.
  if (losses.size() == 1 && !losses[0]) throw ValueError(here + ": the loss is null");
  if (!losses.empty() && std::none_of(losses.begin(), losses.end(), [](const auto& l) { return l != nullptr; })) {
    losses.clear();  // every output without a loss: no compiled loss at all
  }
  const int64_t outputs = is_functional() ? static_cast<int64_t>(outputs_.size())
                                          : (class_name() == "Sequential" ? 1 : -1);
  auto count_ok = [&](size_t n) { return outputs < 0 || n == static_cast<size_t>(outputs); };
  const std::string expected = outputs < 0 ? std::string("one per output") : std::to_string(outputs);
  if (!losses.empty() && losses.size() != 1 && !count_ok(losses.size())) {
    throw ValueError(here + ": got " + std::to_string(losses.size()) + " losses but the model has " + expected +
                     " output(s); give one loss per output or a single loss for all");
  }
  if (!metrics.empty() && !count_ok(metrics.size())) {
    throw ValueError(here + ": got metric lists for " + std::to_string(metrics.size()) +
                     " outputs but the model has " + expected + " output(s)");
  }
  for (const auto& list : metrics) {
    for (const auto& m : list) {
      if (!m) throw ValueError(here + ": a metric is null");
    }
  }
  if (!loss_weights.empty() && !count_ok(loss_weights.size()) && !(loss_weights.size() == 1 && losses.size() == 1)) {
    throw ValueError(here + ": got " + std::to_string(loss_weights.size()) + " loss_weights but the model has " +
                     expected + " output(s)");
  }
  // Keras: a mixed_float16 model trains with dynamic loss scaling unless the optimizer already scales
  // (a LossScaleOptimizer, or a fixed loss_scale_factor the user chose). float16 gradients below
  // 2^-24 would flush to zero without it; bfloat16 has float32's range and needs none.
  if (dtype_policy().name == "mixed_float16" && !dynamic_cast<LossScaleOptimizer*>(optimizer.get()) &&
      optimizer->hyperparameter("loss_scale_factor").is_null()) {
    optimizer = loss_scale_optimizer(optimizer, Json::object(), optimizer->convention());
  }
  optimizer_ = std::move(optimizer);
  losses_ = std::move(losses);
  metrics_ = std::move(metrics);
  loss_weights_ = std::move(loss_weights);
  loss_tracker_ = std::make_shared<Mean>("loss");
  output_loss_trackers_.clear();
}

void Model::compile_by_name(const std::string& optimizer, const std::vector<std::string>& losses,
                            const std::vector<std::string>& metrics, std::vector<double> loss_weights) {
  compile_by_name(get_optimizer(optimizer), losses, metrics, std::move(loss_weights));
}

void Model::compile_by_name(std::shared_ptr<Optimizer> optimizer, const std::vector<std::string>& losses,
                            const std::vector<std::string>& metrics, std::vector<double> loss_weights) {
  std::vector<std::shared_ptr<Loss>> loss_objects;
  for (const auto& name : losses) loss_objects.push_back(get_loss(name));
  size_t outputs = is_functional() ? outputs_.size() : (class_name() == "Sequential" ? 1 : loss_objects.size());
  std::vector<std::vector<std::shared_ptr<Metric>>> metric_objects;
  if (!metrics.empty()) {
    for (size_t i = 0; i < outputs; ++i) {
      std::vector<std::shared_ptr<Metric>> list;
      for (const auto& name : metrics) list.push_back(metric_for_output(name, i, loss_objects));
      metric_objects.push_back(std::move(list));
    }
  }
  compile(std::move(optimizer), std::move(loss_objects), std::move(metric_objects), std::move(loss_weights));
}

std::shared_ptr<Metric> Model::metric_for_output(const std::string& name, size_t output,
                                                 const std::vector<std::shared_ptr<Loss>>& losses) const {
  const Loss* loss = losses.empty() ? nullptr : losses[losses.size() == 1 ? 0 : std::min(output, losses.size() - 1)].get();
  const Shape shape = is_functional() && output < outputs_.size() ? outputs_[output].shape : Shape{};
  std::shared_ptr<Metric> metric = get_metric(name, loss, shape);
  // A metric compiled by name is logged under that name: metrics=["mae"] logs "mae", not
  // "mean_absolute_error" (keras/src/trainers/compile_utils.py get_metric: metric_obj.name = identifier).
  if (metric->name() != name) {
    Json config = metric->get_config();
    config["name"] = name;
    metric = make_metric(metric->class_name(), config);
  }
  return metric;
}

void Model::check_compiled(const char* where_called) const {
  if (!compiled() || !loss_tracker_) {
    throw RuntimeError(where(*this) + ": call compile(optimizer, loss, ...) before " + where_called + "()");
  }
}

std::vector<std::string> Model::output_names() const {
  std::vector<std::string> names;
  if (is_functional()) {
    std::set<std::string> seen;
    for (size_t i = 0; i < outputs_.size(); ++i) {
      std::string n = outputs_[i].node->layer->name();
      if (!seen.insert(n).second) n += "_" + std::to_string(outputs_[i].index);
      names.push_back(n);
    }
  } else {
    const size_t n = std::max<size_t>(1, std::max(losses_.size(), metrics_.size()));
    for (size_t i = 0; i < n; ++i) names.push_back("output_" + std::to_string(i + 1));
  }
  return names;
}

void Model::check_targets(const std::vector<Tensor>& y, const char* where_called) const {
  if (y.empty()) throw ValueError(where(*this) + ": " + where_called + "() needs target arrays y");
  int64_t outputs = is_functional() ? static_cast<int64_t>(outputs_.size()) : (class_name() == "Sequential" ? 1 : -1);
  if (outputs < 0 && losses_.size() > 1) outputs = static_cast<int64_t>(losses_.size());
  if (outputs >= 0 && static_cast<int64_t>(y.size()) != outputs) {
    std::string names;
    const auto on = output_names();
    for (size_t i = 0; i < on.size(); ++i) names += (i ? ", " : "") + on[i];
    throw ValueError(where(*this) + ": " + where_called + "() got " + std::to_string(y.size()) +
                     " target array(s) but the model has " + std::to_string(outputs) + " output(s) (" + names +
                     "); give one y per output, in order");
  }
}

void Model::reset_metrics() {
  if (loss_tracker_) loss_tracker_->reset_state();
  for (auto& t : output_loss_trackers_) {
    if (t) t->reset_state();
  }
  for (auto& list : metrics_) {
    for (auto& m : list) m->reset_state();
  }
}

// ---------------------------------------------------------------- steps

Tensor Model::compute_loss(const std::vector<Tensor>& y, const std::vector<Tensor>& y_pred, const Tensor& sample_weight,
                           std::vector<double>* per_output_loss) {
  Tensor total = compiled_loss(y, y_pred, sample_weight, per_output_loss);
  // Regularization penalties and add_loss terms, after the compiled losses (Keras 3 order).
  for (Tensor extra : losses()) {
    if (total.defined() && extra.dtype() != total.dtype()) extra = cast(extra, total.dtype());
    if (extra.ndim() != 0) extra = sum(extra);
    total = total.defined() ? add(total, extra) : extra;
  }
  if (!total.defined()) {
    // keras/src/trainers/trainer.py compute_loss: "No loss to compute."
    throw ValueError(where(*this) + ": no loss to compute: compile() was given no loss and the model added none "
                     "with add_loss(); pass loss= to compile(), or override train_step to compute one");
  }
  return total;
}

Tensor Model::compiled_loss(const std::vector<Tensor>& y, const std::vector<Tensor>& y_pred, const Tensor& sample_weight,
                            std::vector<double>* per_output_loss) {
  if (per_output_loss) per_output_loss->clear();
  if (losses_.empty()) return Tensor();
  if (y.size() != y_pred.size()) {
    throw ValueError(where(*this) + ": the model returned " + std::to_string(y_pred.size()) + " output(s) but " +
                     std::to_string(y.size()) + " target array(s) were given");
  }
  if (losses_.size() != 1 && losses_.size() != y_pred.size()) {
    throw ValueError(where(*this) + ": compiled with " + std::to_string(losses_.size()) + " losses but the model has " +
                     std::to_string(y_pred.size()) + " outputs");
  }
  const auto names = output_names();
  Tensor total;
  if (per_output_loss) per_output_loss->clear();
  for (size_t i = 0; i < y_pred.size(); ++i) {
    const std::shared_ptr<Loss>& entry = losses_[losses_.size() == 1 ? 0 : i];
    if (!entry) {
      if (per_output_loss) per_output_loss->push_back(std::nan(""));  // no loss for this output
      continue;
    }
    const Loss& loss = *entry;
    Tensor value;
    try {
      value = loss(y[i], y_pred[i], sample_weight);
    } catch (const Error& e) {
      // The loss's own messages start with "loss 'name'", so the prefix names only the output.
      const std::string loss_prefix = "loss '" + loss.name() + "'";
      const bool names_loss = std::string(e.message()).rfind(loss_prefix, 0) == 0;
      rethrow_with_context(e, where(*this) + ", output " + std::to_string(i) + " ('" +
                                  (i < names.size() ? names[i] : std::string("?")) + "'), " +
                                  (names_loss ? std::string() : loss_prefix + ": "));
    }
    if (per_output_loss) {
      NoGradGuard no_grad;
      per_output_loss->push_back(value.item());
    }
    const double weight = loss_weights_.empty() ? 1.0 : loss_weights_[std::min(i, loss_weights_.size() - 1)];
    // A weight of 1 is not multiplied in, so a single-output model's loss is exactly the loss object's.
    Tensor term = weight == 1.0 ? value : multiply(value, weight);
    total = total.defined() ? add(total, term) : term;
  }
  return total;
}

void Model::update_metrics(const std::vector<Tensor>& y, const std::vector<Tensor>& y_pred, const Tensor& sample_weight,
                           int64_t batch_rows, double loss, const std::vector<double>& per_output_loss) {
  NoGradGuard no_grad;
  loss_tracker_->add(loss, static_cast<double>(batch_rows));
  if (y_pred.size() > 1) {
    const auto names = output_names();
    // One tracker per output, null for an output compiled without a loss.
    while (output_loss_trackers_.size() < y_pred.size()) {
      const size_t i = output_loss_trackers_.size();
      const bool has_loss = losses_.size() == 1 || (i < losses_.size() && losses_[i]);
      output_loss_trackers_.push_back(has_loss ? std::make_shared<Mean>(names[i] + "_loss") : nullptr);
    }
    for (size_t i = 0; i < y_pred.size() && i < per_output_loss.size(); ++i) {
      if (output_loss_trackers_[i]) output_loss_trackers_[i]->add(per_output_loss[i], static_cast<double>(batch_rows));
    }
  }
  for (size_t i = 0; i < metrics_.size() && i < y_pred.size(); ++i) {
    Tensor prediction = y_pred[i].detach();
    prediction.set_keras_mask(y_pred[i].keras_mask());  // the metrics honour the output's mask, as Keras's do
    for (auto& m : metrics_[i]) m->update_state(y[i], prediction, sample_weight);
  }
}

Logs Model::metrics_logs() const {
  Logs logs;
  if (loss_tracker_) logs["loss"] = loss_tracker_->result();
  const auto names = output_names();
  const bool several = metrics_.size() > 1 || output_loss_trackers_.size() > 1 || (is_functional() && outputs_.size() > 1);
  for (const auto& t : output_loss_trackers_) {
    if (t) logs[t->name()] = t->result();
  }
  for (size_t i = 0; i < metrics_.size(); ++i) {
    for (const auto& m : metrics_[i]) {
      const std::string key = several && i < names.size() ? names[i] + "_" + m->name() : m->name();
      logs[key] = m->result();
    }
  }
  return logs;
}

void Model::record_monitored_update(const std::vector<Tensor>& grads, const std::vector<Tensor>& variables) {
  NoGradGuard no_grad;
  std::vector<std::string> paths;
  for (Weight* w : weights()) {
    if (w->value.requires_grad()) paths.push_back(w->path);
  }
  const double scale = optimizer_->scale_loss(Tensor::scalar(1.0, DType::float32)).item();
  monitor_->record_update(paths, grads, variables, scale);
}

Logs Model::train_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight) {
  if (monitor_) monitor_->begin_step();
  std::vector<Tensor> y_pred = (*this)(x, /*training=*/true);
  std::vector<double> per_output;
  Tensor loss = compute_loss(y, y_pred, sample_weight, y_pred.size() > 1 ? &per_output : nullptr);
  if (monitor_) {
    monitor_->record_batch(x, y, sample_weight, y_pred);
    monitor_->record_loss(loss);
  }
  const std::vector<Tensor> variables = trainable_weights();
  if (variables.empty()) {
    // keras/src/backend/tensorflow/trainer.py train_step: a warning, and no update.
    warn_once("no-trainable-weights-" + name(), where(*this) + ": the model does not have any trainable weights; "
              "fit computes the loss and metrics but changes nothing (were all its layers frozen with "
              "trainable = False?)");
  } else {
    // A loss-scaling optimizer differentiates the scaled loss and unscales the gradients itself.
    const std::vector<Tensor> grads = gradients(optimizer_->scale_loss(loss), variables);
    if (monitor_ && monitor_->recording()) record_monitored_update(grads, variables);
    NumericsPhaseScope phase("optimizer");  // names the pass in check numerics reports
    optimizer_->apply_gradients(grads, variables);
  }
  double loss_value;
  {
    NoGradGuard no_grad;
    loss_value = loss.item();
  }
  if (monitor_) monitor_->end_step(loss_value);
  update_metrics(y, y_pred, sample_weight, x.at(0).dim(0), loss_value, per_output);
  return metrics_logs();
}

Logs Model::test_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight) {
  NoGradGuard no_grad;
  std::vector<Tensor> y_pred = (*this)(x, /*training=*/false);
  std::vector<double> per_output;
  Tensor loss = compute_loss(y, y_pred, sample_weight, y_pred.size() > 1 ? &per_output : nullptr);
  update_metrics(y, y_pred, sample_weight, x.at(0).dim(0), loss.item(), per_output);
  return metrics_logs();
}

void Model::build_from_data(const std::vector<Tensor>& x) {
  if (built()) return;
  NoGradGuard no_grad;
  (*this)(rows_of(x, 0, std::min<int64_t>(1, x.at(0).dim(0))), /*training=*/false);
}

// ---------------------------------------------------------------- dataset elements

std::vector<std::string> Model::input_names() const {
  std::vector<std::string> names;
  for (const auto& in : inputs_) names.push_back(in.node && in.node->layer ? in.node->layer->name() : std::string());
  return names;
}

namespace {

// One part (x or y) of a batch element as tensors in model order; `names` order a dict.
std::vector<Tensor> part_tensors(const data::Element& part, const std::vector<std::string>& names, const std::string& what,
                                 const std::string& where_called) {
  using Kind = data::Structure::Kind;
  const data::Structure& s = *part.structure;
  if (s.kind() == Kind::leaf) return part.components;
  for (const auto& child : s.children()) {
    if (child.kind() != Kind::leaf) {
      throw ValueError(where_called + ": " + what + " has the nested structure " + s.str() +
                       "; give one tensor, a tuple of tensors or a dict of tensors");
    }
  }
  if (s.kind() != Kind::dict) return part.components;
  std::vector<Tensor> out;
  for (const auto& name : names) {
    const auto& keys = s.keys();
    const auto it = std::find(keys.begin(), keys.end(), name);
    if (it == keys.end()) {
      std::string known;
      for (const auto& k : keys) known += (known.empty() ? "" : ", ") + k;
      std::string wanted;
      for (const auto& n : names) wanted += (wanted.empty() ? "" : ", ") + n;
      throw ValueError(where_called + ": " + what + " is a dict with keys {" + known + "} but the model needs '" + name +
                       "' (its " + what + " names are: " + wanted + "); key the dict by those names");
    }
    out.push_back(part.components[static_cast<size_t>(it - keys.begin())]);
  }
  return out;
}

}  // namespace

Model::Batch Model::unpack_batch(const data::Element& element, const char* where_called, bool targets_needed) const {
  using Kind = data::Structure::Kind;
  const std::string here = where(*this) + ": " + where_called;
  const data::Structure& s = *element.structure;
  const bool sequence = s.kind() == Kind::tuple || s.kind() == Kind::list;
  const size_t parts = sequence && s.children().size() <= 3 ? s.children().size() : 0;
  Batch batch;
  const data::Element x = parts ? element.child(0) : element;
  batch.x = part_tensors(x, input_names(), "x", here);
  if (parts >= 2) batch.y = part_tensors(element.child(1), output_names(), "y", here);
  if (parts == 3) {
    const data::Element w = element.child(2);
    if (w.components.size() != 1) {
      throw ValueError(here + ": the third part of a dataset element is sample_weight and must be one tensor, got " +
                       w.structure->str());
    }
    batch.sample_weight = w.components[0];
  }
  if (targets_needed && batch.y.empty()) {
    throw ValueError(here + ": the dataset's elements have the structure " + s.str() +
                     ", which holds no targets; elements must be (x, y) or (x, y, sample_weight) tuples");
  }
  bool unbatched = batch.x.empty() || batch.x[0].ndim() == 0;
  for (size_t i = 0; i < batch.x.size() && i < inputs_.size() && !unbatched; ++i) {
    // Elements shaped like one sample of the input (its shape without the batch axis).
    const Shape& want = inputs_[i].shape;
    unbatched = batch.x[i].ndim() + 1 == static_cast<int64_t>(want.size()) &&
                std::equal(want.begin() + 1, want.end(), batch.x[i].shape().begin(),
                           [](int64_t w, int64_t got) { return w < 0 || w == got; });
  }
  if (unbatched) {
    throw ValueError(here + ": the dataset's elements (" + element.describe() +
                     ") are single samples, not batches; call .batch(batch_size) on the dataset");
  }
  // The batch goes where the model's weights are (built under a device scope: the GPU).
  const Device placement = const_cast<Model&>(*this).weights_device();
  auto place = [&](Tensor& t) {
    if (t.defined() && t.device() != placement) t = t.to(placement);
  };
  for (auto& t : batch.x) place(t);
  for (auto& t : batch.y) place(t);
  place(batch.sample_weight);
  return batch;
}

// ---------------------------------------------------------------- fit

bool FitOptions::validates_after(int epoch) const {
  const int one_based = epoch + 1;
  if (!validation_epochs.empty()) {
    return std::find(validation_epochs.begin(), validation_epochs.end(), one_based) != validation_epochs.end();
  }
  return validation_freq > 0 && one_based % validation_freq == 0;
}

History Model::fit_loop(const data::Dataset& train, const FitOptions& options, const std::function<Logs()>& validate) {
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };

  const int64_t cardinality = train.cardinality();
  if (options.steps_per_epoch <= 0 && cardinality == data::kInfiniteCardinality) {
    throw ValueError(where(*this) + ": fit: the dataset is infinite (" + train.describe() +
                     "); give steps_per_epoch, or do not repeat() it forever");
  }
  const int64_t steps = options.steps_per_epoch > 0 ? options.steps_per_epoch : (cardinality >= 0 ? cardinality : -1);
  CallbackList callbacks;
  callbacks.all = options.callbacks;
  auto history = std::make_shared<HistoryCallback>();
  callbacks.all.push_back(history);
  std::shared_ptr<ProgbarLogger> progress;
  if (options.verbose > 0) {
    progress = std::make_shared<ProgbarLogger>(options.verbose, options.epochs, steps);
    callbacks.all.push_back(progress);
  }
  callbacks.each([&](Callback& c) { c.set_model(this); });

  // With steps_per_epoch the iterator continues across epochs (Keras); otherwise each epoch
  // iterates afresh (reshuffling where the dataset says so).
  std::unique_ptr<data::Iterator> iterator;
  bool out_of_data = false;
  std::map<std::string, std::vector<double>> timing;
  stop_training = false;
  Logs epoch_logs;
  int64_t global_step = 0;  // 1-based train step across the epochs of this call (NumericReport)
  callbacks.each([&](Callback& c) { c.on_train_begin({}); });
  for (int epoch = options.initial_epoch; epoch < options.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    reset_metrics();
    callbacks.each([&](Callback& c) { c.on_epoch_begin(epoch, {}); });
    if (!iterator || options.steps_per_epoch <= 0) iterator = train.make_iterator();
    double waited = 0.0, computed = 0.0;
    int64_t step = 0;
    for (; options.steps_per_epoch <= 0 || step < options.steps_per_epoch; ++step) {
      const auto wait_start = Clock::now();
      std::optional<data::Element> element = iterator->next();
      waited += seconds_since(wait_start);
      if (!element) {
        if (options.steps_per_epoch > 0) out_of_data = true;
        break;
      }
      Batch batch = unpack_batch(*element, "fit", true);
      if (epoch == options.initial_epoch && step == 0) {
        check_targets(batch.y, "fit");
        check_inputs(batch.x);
      }
      common_rows("fit", batch.x, batch.y, batch.sample_weight);
      if (!options.class_weight.empty()) {
        if (batch.y.size() != 1) {
          throw ValueError(where(*this) + ": fit: class_weight is only supported for models with one output; use "
                           "sample_weight for several outputs");
        }
        const DType dtype = batch.sample_weight.defined() ? batch.sample_weight.dtype() : floatx();
        Tensor weights = class_sample_weights(batch.y[0], options.class_weight, dtype);
        if (batch.sample_weight.defined()) {
          // One class weight per sample, against sample weights (N,), (N, 1) or (N, T, ...).
          Shape per_sample(batch.sample_weight.ndim(), 1);
          per_sample[0] = weights.dim(0);
          batch.sample_weight = multiply(batch.sample_weight, reshape(weights, per_sample));
        } else {
          batch.sample_weight = weights;
        }
      }
      callbacks.each([&](Callback& c) { c.on_train_batch_begin(step, {}); });
      const auto step_start = Clock::now();
      ++global_step;
      Logs logs;
      try {
        // Read per step: a callback (CheckNumerics) may switch checking on in on_train_begin.
        CheckNumericsScope numerics(check_numerics_ || thread_check_numerics_enabled());
        clear_numeric_failure();
        logs = train_step(batch.x, batch.y, batch.sample_weight);
      } catch (const NumericError& e) {
        // Name the step; a callback may take the failure over and stop training instead.
        const NumericReport report = make_numeric_report(e, global_step, epoch + 1, step + 1);
        bool handled = false;
        callbacks.each([&](Callback& c) { handled = c.on_numeric_error(report) || handled; });
        if (!handled) throw NumericError(report.message);
        stop_training = true;
        break;
      }
      computed += seconds_since(step_start);
      callbacks.each([&](Callback& c) { c.on_train_batch_end(step, logs); });
      if (stop_training) break;
    }
    const auto warn_out_of_data = [&] {
      warn("fit: your input ran out of data; interrupting training. Make sure the dataset can give at least "
           "steps_per_epoch * epochs batches (" + std::to_string(options.steps_per_epoch) + " * " +
           std::to_string(options.epochs) + "); you may need .repeat() on the dataset");
    };
    if (step == 0 && !stop_training) {
      if (out_of_data) {
        warn_out_of_data();
        break;
      }
      throw ValueError(where(*this) + ": fit: the dataset (" + train.describe() + ") gave no batches in epoch " +
                       std::to_string(epoch + 1));
    }
    epoch_logs = metrics_logs();
    if (validate && options.validates_after(epoch)) {
      validation_callbacks_ = &callbacks.all;
      Logs val_logs;
      try {
        val_logs = validate();
      } catch (...) {
        validation_callbacks_ = nullptr;
        throw;
      }
      validation_callbacks_ = nullptr;
      for (const auto& [name, value] : val_logs) epoch_logs["val_" + name] = value;
    }
    if (progress) progress->set_epoch_input_wait(waited);
    timing["input_wait_seconds"].push_back(waited);
    timing["step_seconds"].push_back(computed);
    timing["input_wait_fraction"].push_back(waited + computed > 0 ? waited / (waited + computed) : 0.0);
    callbacks.each([&](Callback& c) { c.on_epoch_end_with_logs(epoch, epoch_logs); });
    timing["epoch_seconds"].push_back(seconds_since(epoch_start));
    if (stop_training) break;
    if (out_of_data) {
      warn_out_of_data();
      break;
    }
  }
  callbacks.each([&](Callback& c) { c.on_train_end(epoch_logs); });
  History result = history->history;
  result.timing = std::move(timing);
  return result;
}

History Model::fit(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const FitOptions& options) {
  check_compiled("fit");
  check_batch_size("fit", options.batch_size);
  if (options.validation_split < 0.0 || options.validation_split >= 1.0) {
    throw ValueError(where(*this) + ": fit: validation_split must be in [0, 1), got " +
                     std::to_string(options.validation_split));
  }
  if (options.steps_per_epoch > 0) {
    throw ValueError(where(*this) + ": fit: steps_per_epoch applies to Dataset input; with arrays an epoch is "
                     "ceil(samples / batch_size) steps (pass a Dataset with .repeat() to choose the steps)");
  }
  check_targets(y, "fit");
  const int64_t rows = common_rows("fit", x, y, options.sample_weight);
  if (options.sample_weight.defined() && options.sample_weight.ndim() == 0) {
    throw ShapeError(where(*this) + ": fit: sample_weight needs one weight per sample, shape (samples,) or "
                     "(samples, 1) (or (samples, timesteps) for sequence outputs), got a scalar");
  }
  std::vector<Tensor> train_x = x, train_y = y;
  Tensor train_w = options.sample_weight;
  std::vector<Tensor> val_x, val_y;
  Tensor val_w;
  if (options.validation_data) {
    val_x = options.validation_data->first;
    val_y = options.validation_data->second;
    check_targets(val_y, "fit (validation_data)");
    common_rows("fit (validation_data)", val_x, val_y);
  } else if (options.validation_split > 0.0) {
    // Keras: the LAST fraction of the rows, before any shuffling.
    const int64_t split_at = static_cast<int64_t>(std::floor(static_cast<double>(rows) * (1.0 - options.validation_split)));
    if (split_at <= 0 || split_at >= rows) {
      throw ValueError(where(*this) + ": fit: validation_split=" + std::to_string(options.validation_split) + " of " +
                       std::to_string(rows) + " samples leaves " + std::to_string(split_at) +
                       " for training and " + std::to_string(rows - split_at) +
                       " for validation; both need at least one sample");
    }
    train_x = rows_of(x, 0, split_at);
    train_y = rows_of(y, 0, split_at);
    val_x = rows_of(x, split_at, rows - split_at);
    val_y = rows_of(y, split_at, rows - split_at);
    train_w = rows_of(options.sample_weight, 0, split_at);
    val_w = rows_of(options.sample_weight, split_at, rows - split_at);
  }
  const int64_t train_rows = train_x.at(0).dim(0);
  if (train_rows == 0) throw ValueError(where(*this) + ": fit: no training samples");
  if (!options.class_weight.empty() && train_y.size() != 1) {
    throw ValueError(where(*this) + ": fit: class_weight is only supported for models with one output; use "
                     "sample_weight for several outputs");
  }

  // Weights are created before the first shuffle draws from the global generator, whichever way
  // the model was written (Keras builds it symbolically here).
  check_inputs(train_x);
  build_from_data(train_x);

  std::function<Logs()> validate;
  if (!val_x.empty()) {
    validate = [&] { return evaluate_arrays(val_x, val_y, val_w, options.batch_size, 0); };
  }
  return fit_loop(array_batches(train_x, train_y, train_w, options.batch_size, options.shuffle), options, validate);
}

History Model::fit(const data::Dataset& dataset, const FitOptions& options) {
  check_compiled("fit");
  if (options.validation_split > 0.0) {
    throw ValueError(where(*this) + ": fit: validation_split is only supported for arrays; with a Dataset give "
                     "validation_data (another Dataset), e.g. the last batches split off with take()/skip()");
  }
  if (options.sample_weight.defined()) {
    throw ValueError(where(*this) + ": fit: sample_weight cannot be given with a Dataset; make it the third part of "
                     "each element: (x, y, sample_weight)");
  }
  std::function<Logs()> validate;
  if (options.validation_dataset) {
    validate = [&] { return evaluate_loop(*options.validation_dataset, options.validation_steps, 0, "fit (validation_data)"); };
  } else if (options.validation_data) {
    validate = [&] {
      return evaluate_arrays(options.validation_data->first, options.validation_data->second, Tensor(), options.batch_size, 0);
    };
  }
  return fit_loop(dataset, options, validate);
}

// ---------------------------------------------------------------- evaluate / predict

Logs Model::evaluate_loop(const data::Dataset& dataset, int64_t steps, int verbose, const char* where_called) {
  check_compiled("evaluate");
  const int64_t cardinality = dataset.cardinality();
  if (steps <= 0 && cardinality == data::kInfiniteCardinality) {
    throw ValueError(where(*this) + ": " + where_called + ": the dataset is infinite (" + dataset.describe() +
                     "); give steps");
  }
  reset_metrics();
  CheckNumericsScope numerics(check_numerics_ || thread_check_numerics_enabled());
  const int64_t target = steps > 0 ? steps : (cardinality >= 0 ? cardinality : -1);
  std::unique_ptr<ProgressBar> bar;
  if (verbose > 0) bar = std::make_unique<ProgressBar>(target, std::cout);
  auto iterator = dataset.make_iterator();
  // Within fit, its callbacks see the validation pass (on_test_*), as Keras's fit -> evaluate does.
  const std::vector<std::shared_ptr<Callback>> no_callbacks;
  const auto& callbacks = validation_callbacks_ ? *validation_callbacks_ : no_callbacks;
  for (const auto& c : callbacks) c->on_test_begin({});
  Logs logs;
  int64_t step = 0;
  for (; steps <= 0 || step < steps; ++step) {
    std::optional<data::Element> element = iterator->next();
    if (!element) break;
    const Batch batch = unpack_batch(*element, where_called, true);
    if (step == 0) {
      check_targets(batch.y, where_called);
      check_inputs(batch.x);
      build_from_data(batch.x);
    }
    common_rows(where_called, batch.x, batch.y, batch.sample_weight);
    for (const auto& c : callbacks) c->on_test_batch_begin(step, {});
    logs = test_step(batch.x, batch.y, batch.sample_weight);
    for (const auto& c : callbacks) c->on_test_batch_end(step, logs);
    if (bar && verbose == 1) bar->update(step + 1, display_order(logs));
  }
  if (step == 0) throw ValueError(where(*this) + ": " + where_called + ": no samples (the dataset gave no batches)");
  for (const auto& c : callbacks) c->on_test_end(logs);
  if (bar) bar->finish(display_order(logs));
  return logs;
}

Logs Model::evaluate_arrays(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight,
                            int64_t batch_size, int verbose) {
  check_compiled("evaluate");
  check_batch_size("evaluate", batch_size);
  check_targets(y, "evaluate");
  const int64_t rows = common_rows("evaluate", x, y, sample_weight);
  if (rows == 0) throw ValueError(where(*this) + ": evaluate: no samples");
  check_inputs(x);
  return evaluate_loop(array_batches(x, y, sample_weight, batch_size, false), 0, verbose, "evaluate");
}

Logs Model::evaluate(const std::vector<Tensor>& x, const std::vector<Tensor>& y, int64_t batch_size, int verbose,
                     const Tensor& sample_weight) {
  return evaluate_arrays(x, y, sample_weight, batch_size, verbose);
}

Logs Model::evaluate(const data::Dataset& dataset, int verbose, int64_t steps) {
  return evaluate_loop(dataset, steps, verbose, "evaluate");
}

std::vector<Tensor> Model::predict_loop(const data::Dataset& dataset, int64_t steps, int verbose) {
  const int64_t cardinality = dataset.cardinality();
  if (steps <= 0 && cardinality == data::kInfiniteCardinality) {
    throw ValueError(where(*this) + ": predict: the dataset is infinite (" + dataset.describe() + "); give steps");
  }
  NoGradGuard no_grad;
  CheckNumericsScope numerics(check_numerics_ || thread_check_numerics_enabled());
  const int64_t target = steps > 0 ? steps : (cardinality >= 0 ? cardinality : -1);
  std::unique_ptr<ProgressBar> bar;
  if (verbose > 0) bar = std::make_unique<ProgressBar>(target, std::cout);
  auto iterator = dataset.make_iterator();
  std::vector<std::vector<Tensor>> pieces;
  int64_t step = 0;
  for (; steps <= 0 || step < steps; ++step) {
    std::optional<data::Element> element = iterator->next();
    if (!element) break;
    const Batch batch = unpack_batch(*element, "predict", false);
    if (step == 0) check_inputs(batch.x);
    common_rows("predict", batch.x, {});
    const auto outs = (*this)(batch.x, /*training=*/false);
    if (pieces.empty()) pieces.resize(outs.size());
    for (size_t i = 0; i < outs.size() && i < pieces.size(); ++i) pieces[i].push_back(outs[i]);
    if (bar && verbose == 1) bar->update(step + 1, {});
  }
  if (step == 0) throw ValueError(where(*this) + ": predict: no samples (the dataset gave no batches)");
  if (bar) bar->finish({});
  std::vector<Tensor> out;
  for (const auto& p : pieces) out.push_back(p.size() == 1 ? p[0].contiguous() : concatenate(p, 0));
  return out;
}

std::vector<Tensor> Model::predict(const std::vector<Tensor>& x, int64_t batch_size, int verbose) {
  check_batch_size("predict", batch_size);
  const int64_t rows = common_rows("predict", x, {});
  if (rows == 0) throw ValueError(where(*this) + ": predict: no samples");
  check_inputs(x);
  return predict_loop(array_batches(x, {}, Tensor(), batch_size, false), 0, verbose);
}

std::vector<Tensor> Model::predict(const data::Dataset& dataset, int verbose, int64_t steps) {
  return predict_loop(dataset, steps, verbose);
}

Logs Model::train_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight) {
  check_compiled("train_on_batch");
  check_targets(y, "train_on_batch");
  common_rows("train_on_batch", x, y, sample_weight);
  check_inputs(x);
  build_from_data(x);
  return train_step(x, y, sample_weight);
}

Logs Model::test_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight) {
  check_compiled("test_on_batch");
  check_targets(y, "test_on_batch");
  common_rows("test_on_batch", x, y, sample_weight);
  check_inputs(x);
  return test_step(x, y, sample_weight);
}

std::vector<Tensor> Model::predict_on_batch(const std::vector<Tensor>& x) {
  NoGradGuard no_grad;
  return (*this)(x, /*training=*/false);
}

}  // namespace pitfall
