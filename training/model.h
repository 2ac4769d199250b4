// Models: functional (a DAG of layer calls from pf.Input to outputs), Sequential, and subclassed
// (override call()). compile / fit / evaluate / predict run entirely in C++.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pitfall/data/dataset.h"
#include "pitfall/layers/layer.h"
#include "pitfall/layers/losses.h"
#include "pitfall/layers/metrics.h"
#include "pitfall/training/monitor.h"
#include "pitfall/training/numeric_report.h"
#include "pitfall/optim/optimizer.h"

namespace pitfall {

class Model;

// pf.Input(shape=(784,), dtype=...): shape without the batch dimension.
KerasTensor Input(const Shape& shape, DType dtype = DType::float32, const std::string& name = "");

struct History {
  std::vector<int> epoch;
  std::map<std::string, std::vector<double>> history;  // "loss", "accuracy", "val_loss", ...
  // Where each epoch's time went: "input_wait_seconds" (fit blocked waiting for the next batch),
  // "step_seconds" (train steps), "epoch_seconds" (all of it, validation and callbacks included)
  // and "input_wait_fraction" = input_wait / (input_wait + step). A pipeline without prefetch
  // feeding a slow input shows up here (pitfall P26).
  std::map<std::string, std::vector<double>> timing;
};

using Logs = std::map<std::string, double>;

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void set_model(Model* model) { model_ = model; }
  virtual void on_train_begin(const Logs&) {}
  virtual void on_train_end(const Logs&) {}
  virtual void on_epoch_begin(int, const Logs&) {}
  virtual void on_epoch_end(int, const Logs&) {}
  // fit() calls this at the end of an epoch. A Keras callback may add entries to the epoch logs
  // that the callbacks after it then see (ReduceLROnPlateau and LearningRateScheduler add
  // "learning_rate", which History records); the default forwards to on_epoch_end, which is what
  // read-only callbacks override.
  virtual void on_epoch_end_with_logs(int epoch, Logs& logs) { on_epoch_end(epoch, logs); }
  virtual void on_train_batch_begin(int64_t, const Logs&) {}
  virtual void on_train_batch_end(int64_t, const Logs&) {}
  // fit's validation pass (keras/src/trainers/trainer.py fit -> evaluate(callbacks=...)): its start,
  // each batch, and its end with the validation logs (unprefixed: "loss", not "val_loss").
  virtual void on_test_begin(const Logs&) {}
  virtual void on_test_end(const Logs&) {}
  virtual void on_test_batch_begin(int64_t, const Logs&) {}
  virtual void on_test_batch_end(int64_t, const Logs&) {}
  // fit() calls this when a train step raises NumericError (an inf/NaN found by check numerics, see
  // Model::set_check_numerics), before anything else happens. Return true to handle it: fit then
  // stops training (stop_training, the epoch ends normally) instead of raising the error, prefixed
  // with the step (report.message). The default (false) lets it propagate.
  virtual bool on_numeric_error(const NumericReport&) { return false; }
  // A built-in callback's arguments, resolved, by their Keras names (its argument table,
  // training/callback_arguments.h); functions are not in it. Empty for a user's own callback.
  const Json& config() const { return config_; }

 protected:
  Model* model_ = nullptr;
  Json config_ = Json::object();
};

struct FitOptions {
  int64_t batch_size = 32;
  int epochs = 1;
  int verbose = 1;  // 0 silent, 1 progress bar, 2 one line per epoch
  bool shuffle = true;
  // Keras semantics: the LAST fraction of the arrays, taken before any shuffling.
  double validation_split = 0.0;
  std::optional<std::pair<std::vector<Tensor>, std::vector<Tensor>>> validation_data;
  int initial_epoch = 0;
  std::vector<std::shared_ptr<Callback>> callbacks;
  std::map<int64_t, double> class_weight;
  Tensor sample_weight;  // (N,)
  // Dataset input only. 0: each epoch iterates the dataset afresh until it ends. n > 0: an epoch is
  // n batches, taken from one iterator that continues across epochs (Keras); running out of data
  // warns and stops training.
  int64_t steps_per_epoch = 0;
  std::optional<data::Dataset> validation_dataset;
  int64_t validation_steps = 0;  // 0: the whole validation dataset
  // Keras's validation_freq (keras/src/trainers/trainer.py _should_eval): validation runs after
  // epoch e (1-based, counting initial_epoch) when e % validation_freq == 0, or, when
  // validation_epochs is not empty, when e is one of them.
  int validation_freq = 1;
  std::vector<int> validation_epochs;
  bool validates_after(int epoch) const;  // epoch 0-based, as fit counts
};

class Model : public Layer {
 public:
  // Functional model over the graph between inputs and outputs.
  // class_name: "Functional", or the name of a Model subclass built functionally (CustomModel(inputs,
  // outputs)), which its config records so that loading rebuilds that class.
  Model(const std::vector<KerasTensor>& inputs, const std::vector<KerasTensor>& outputs, const LayerOptions& options = {},
        std::string class_name = "Functional");
  // Subclassed model: override call(); register sublayers with track().
  explicit Model(const LayerOptions& options = {}, std::string class_name = "Model");

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  Json get_config() const override;
  int num_inputs() const override;
  // A functional model casts at its Inputs (standardize_inputs); a subclassed one autocasts
  // floating inputs like any layer. Integers pass through to the first layers, which decide.
  bool autocasts() const override { return !is_functional(); }
  bool takes_float_inputs() const override { return false; }

  // Layers in order (a functional model lists its InputLayers first, as Keras does; Sequential not).
  virtual std::vector<std::shared_ptr<Layer>> layers() const;
  std::shared_ptr<Layer> get_layer(const std::string& name) const;  // ValueError listing the names
  std::vector<std::shared_ptr<Layer>> sublayers() const override;

  void set_trainable(bool trainable) override;

  // ---- training
  // One loss per output, or a single loss used for every output (Keras). metrics: one list per
  // output (or one list for a single-output model). loss_weights default to 1 per output.
  void compile(std::shared_ptr<Optimizer> optimizer, std::vector<std::shared_ptr<Loss>> losses,
               std::vector<std::vector<std::shared_ptr<Metric>>> metrics = {}, std::vector<double> loss_weights = {});
  // Keras identifiers: compile_by_name("sgd", {"sparse_categorical_crossentropy"}, {"accuracy"}).
  // "accuracy" is resolved per output from that output's loss and shape (Keras); a flat metric list
  // applies to every output, each output getting its own metric objects.
  void compile_by_name(const std::string& optimizer, const std::vector<std::string>& losses,
                       const std::vector<std::string>& metrics = {}, std::vector<double> loss_weights = {});
  void compile_by_name(std::shared_ptr<Optimizer> optimizer, const std::vector<std::string>& losses,
                       const std::vector<std::string>& metrics = {}, std::vector<double> loss_weights = {});
  bool compiled() const { return optimizer_ != nullptr; }
  // The metric a compile() identifier means for output `output` ("accuracy" resolved from that
  // output's loss in `losses` and its shape, as compile_by_name does).
  std::shared_ptr<Metric> metric_for_output(const std::string& name, size_t output,
                                            const std::vector<std::shared_ptr<Loss>>& losses) const;
  // Resets the loss trackers and every compiled metric (fit/evaluate do it; *_on_batch do not,
  // as in Keras 3, so their logs are running values until this is called).
  void reset_metrics();
  // Keras's compute_loss: the compiled losses (weighted by loss_weights) plus the regularization
  // and add_loss terms. per_output_loss, when given, receives each output's compiled loss. A model
  // compiled without a loss may still train on add_loss terms; with neither it raises.
  Tensor compute_loss(const std::vector<Tensor>& y, const std::vector<Tensor>& y_pred, const Tensor& sample_weight,
                      std::vector<double>* per_output_loss = nullptr);
  // The compiled losses alone (tf.keras's compiled_loss): undefined when compile() had no loss.
  Tensor compiled_loss(const std::vector<Tensor>& y, const std::vector<Tensor>& y_pred, const Tensor& sample_weight,
                       std::vector<double>* per_output_loss = nullptr);
  // The tracker of the mean loss ("loss") and those of each output's loss ("<output>_loss", made
  // at the first multi-output step); null / empty before compile.
  const std::shared_ptr<Mean>& loss_tracker() const { return loss_tracker_; }
  const std::vector<std::shared_ptr<Mean>>& output_loss_trackers() const { return output_loss_trackers_; }
  // Names of the outputs as logs use them (the producing layers' names; "output_1".. otherwise).
  std::vector<std::string> output_names() const;
  History fit(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const FitOptions& options = {});
  Logs evaluate(const std::vector<Tensor>& x, const std::vector<Tensor>& y, int64_t batch_size = 32, int verbose = 1,
                const Tensor& sample_weight = Tensor());
  std::vector<Tensor> predict(const std::vector<Tensor>& x, int64_t batch_size = 32, int verbose = 0);
  // Dataset input (Keras semantics): each element is a batch, either x alone or a tuple (x,),
  // (x, y) or (x, y, sample_weight); x and y are a tensor, a tuple/list of tensors (one per model
  // input/output, in order) or a dict keyed by input/output names. batch_size, shuffle and
  // validation_split do not apply (the dataset decides). steps: 0 = until the data ends.
  History fit(const data::Dataset& dataset, const FitOptions& options = {});
  Logs evaluate(const data::Dataset& dataset, int verbose = 1, int64_t steps = 0);
  std::vector<Tensor> predict(const data::Dataset& dataset, int verbose = 0, int64_t steps = 0);
  Logs train_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight = Tensor());
  Logs test_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight = Tensor());
  std::vector<Tensor> predict_on_batch(const std::vector<Tensor>& x);
  bool stop_training = false;  // set by callbacks (EarlyStopping, TerminateOnNaN)
  // Check numerics for this model (pf.debug.check_numerics(model)): while set, each fit / evaluate /
  // predict step (forward, backward and optimizer update) runs under CheckNumericsScope, so the
  // first op turning finite values into inf/NaN raises NumericError naming its layer and op. fit
  // prefixes it with the step: "training step 13 (epoch 1, batch 13): ..." (step 1-based across the
  // epochs of the fit call, epoch and batch 1-based). The *_on_batch methods are not affected.
  void set_check_numerics(bool enabled) { check_numerics_ = enabled; }
  bool check_numerics() const { return check_numerics_; }
  // The doctor's tap on this model's train steps (training/monitor.h); null when none is attached.
  void set_monitor(std::shared_ptr<TrainingMonitor> monitor) { monitor_ = std::move(monitor); }
  const std::shared_ptr<TrainingMonitor>& monitor() const { return monitor_; }
  const std::shared_ptr<Optimizer>& optimizer() const { return optimizer_; }
  const std::vector<std::shared_ptr<Loss>>& compiled_losses() const { return losses_; }
  const std::vector<double>& compiled_loss_weights() const { return loss_weights_; }
  // One list per output (empty before compile or without metrics).
  const std::vector<std::vector<std::shared_ptr<Metric>>>& compiled_metrics() const { return metrics_; }

  // ---- inspection
  std::string summary(int line_length = 80) const;  // Keras-like table: layer (type), output shape, params
  std::vector<Tensor> get_weights();                 // copies, Keras layouts and order
  void set_weights(const std::vector<Tensor>& weights);  // ValueError naming the first mismatch

  const std::vector<KerasTensor>& inputs() const { return inputs_; }
  const std::vector<KerasTensor>& outputs() const { return outputs_; }
  // The functional graph's layer calls in execution (topological) order; empty for subclassed models.
  const std::vector<std::shared_ptr<SymbolicNode>>& nodes() const { return nodes_; }
  bool is_functional() const { return !outputs_.empty(); }

  // A functional model from get_config() (the "Functional" entry of the layer registry).
  static std::shared_ptr<Model> functional_from_config(const Json& config);

 protected:
  // Sets the graph (inputs_, outputs_, nodes_) and tracks its layers; raises "Graph disconnected".
  void set_graph(const std::vector<KerasTensor>& inputs, const std::vector<KerasTensor>& outputs);
  // Tells an armed monitor about a layer call of this model's own graph.
  void monitor_layer_call(const Layer& layer, const std::vector<Tensor>& outputs) const {
    if (monitoring()) monitor_->record_layer_call(layer, outputs);
  }
  // Whether an armed monitor records this step (callers skip building what it would read).
  bool monitoring() const { return monitor_ && monitor_->recording(); }
  // Runs the graph's nodes on concrete inputs.
  std::vector<Tensor> run_graph(const std::vector<Tensor>& inputs, bool training);
  // Raises ShapeError naming the model, the input index and both shapes when the data cannot feed
  // the model's inputs; casts (with a warning, once) inputs whose dtype differs from the Input's.
  std::vector<Tensor> standardize_inputs(const std::vector<Tensor>& inputs) const;
  // The count and shape checks of standardize_inputs, without casting (fit/evaluate/predict run
  // them once on the whole arrays).
  void check_inputs(const std::vector<Tensor>& inputs) const;
  // Builds an unbuilt model by one forward pass in inference mode on the first rows (Keras's
  // symbolic build), so weights are drawn before fit draws its shuffling permutations.
  void build_from_data(const std::vector<Tensor>& x);

 private:
  // The train/test step shared by fit and *_on_batch (and evaluate).
  Logs train_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight);
  Logs test_step(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight);
  // Hands an armed monitor the step's gradients and the variables' paths (before the update).
  void record_monitored_update(const std::vector<Tensor>& grads, const std::vector<Tensor>& variables);
  void update_metrics(const std::vector<Tensor>& y, const std::vector<Tensor>& y_pred, const Tensor& sample_weight,
                      int64_t batch_rows, double loss, const std::vector<double>& per_output_loss);
  Logs metrics_logs() const;
  Logs evaluate_arrays(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight,
                       int64_t batch_size, int verbose);
  // The loops every fit / evaluate / predict runs, on arrays (from_array_batches) or datasets.
  History fit_loop(const data::Dataset& train, const FitOptions& options, const std::function<Logs()>& validate);
  Logs evaluate_loop(const data::Dataset& dataset, int64_t steps, int verbose, const char* where_called);
  std::vector<Tensor> predict_loop(const data::Dataset& dataset, int64_t steps, int verbose);
  struct Batch {
    std::vector<Tensor> x, y;
    Tensor sample_weight;
  };
  // A dataset element as (x, y, sample_weight); the error names the element's structure.
  Batch unpack_batch(const data::Element& element, const char* where_called, bool targets_needed) const;
  std::vector<std::string> input_names() const;
  void check_compiled(const char* where) const;
  void check_targets(const std::vector<Tensor>& y, const char* where) const;

  bool check_numerics_ = false;
  std::shared_ptr<TrainingMonitor> monitor_;
  // fit's callbacks while its validation pass runs (evaluate_loop calls their on_test_* hooks).
  const std::vector<std::shared_ptr<Callback>>* validation_callbacks_ = nullptr;
  std::shared_ptr<Mean> loss_tracker_;
  std::vector<std::shared_ptr<Mean>> output_loss_trackers_;

 protected:
  std::vector<KerasTensor> inputs_, outputs_;
  std::vector<std::shared_ptr<SymbolicNode>> nodes_;  // topological order (functional)
  std::shared_ptr<Optimizer> optimizer_;
  std::vector<std::shared_ptr<Loss>> losses_;
  std::vector<std::vector<std::shared_ptr<Metric>>> metrics_;
  std::vector<double> loss_weights_;
};

// Sequential: built eagerly when the first layer declares input_shape (or an InputLayer is added
// first), else on the first call. Building runs the layers on a pf.Input, like Keras 3, so the
// weights are created in the same order as the same stack written as a functional model.
class Sequential : public Model {
 public:
  explicit Sequential(const std::vector<std::shared_ptr<Layer>>& layers = {}, const LayerOptions& options = {});
  void add(const std::shared_ptr<Layer>& layer);
  void pop();
  void build(const std::vector<Shape>& input_shapes) override;
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<std::shared_ptr<Layer>> layers() const override;
  std::vector<std::shared_ptr<Layer>> sublayers() const override;
  Json get_config() const override;
  int num_inputs() const override { return 1; }
  // The InputLayer (null until the model has an input).
  const std::shared_ptr<Layer>& input_layer() const { return input_layer_; }
  static std::shared_ptr<Sequential> from_config(const Json& config);

 private:
  // Rebuilds the symbolic graph from the InputLayer through every layer (after add/pop).
  void rebuild_graph();
  std::vector<std::shared_ptr<Layer>> sequence_;
  std::shared_ptr<Layer> input_layer_;
  // True when input_layer_ was made by a lazy build (from shapes only, in floatx): the first call's
  // integer data then re-types it (token ids for an Embedding must not become floats).
  bool input_from_build_ = false;
};

}  // namespace pitfall
