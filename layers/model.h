// Models: functional (a DAG of layer calls from pf.Input to outputs), Sequential, and subclassed
// (override call()). compile / fit / evaluate / predict run entirely in C++.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pitfall/layers/layer.h"
#include "pitfall/layers/losses.h"
#include "pitfall/layers/metrics.h"
#include "pitfall/optim/optimizer.h"

namespace pitfall {

class Model;

// pf.Input(shape=(784,), dtype=...): shape without the batch dimension.
KerasTensor Input(const Shape& shape, DType dtype = DType::float32, const std::string& name = "");

struct History {
  std::vector<int> epoch;
  std::map<std::string, std::vector<double>> history;  // "loss", "accuracy", "val_loss", ...
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
  virtual void on_train_batch_begin(int64_t, const Logs&) {}
  virtual void on_train_batch_end(int64_t, const Logs&) {}

 protected:
  Model* model_ = nullptr;
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
};

class Model : public Layer {
 public:
  // Functional model over the graph between inputs and outputs.
  Model(const std::vector<KerasTensor>& inputs, const std::vector<KerasTensor>& outputs, const LayerOptions& options = {});
  // Subclassed model: override call(); register sublayers with track().
  explicit Model(const LayerOptions& options = {}, std::string class_name = "Model");

  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  Json get_config() const override;
  int num_inputs() const override;

  // Layers in order (a functional model lists its InputLayers first, as Keras does; Sequential not).
  virtual std::vector<std::shared_ptr<Layer>> layers() const;
  std::shared_ptr<Layer> get_layer(const std::string& name) const;  // ValueError listing the names
  std::vector<Weight*> weights() override;

  // ---- training
  void compile(std::shared_ptr<Optimizer> optimizer, std::vector<std::shared_ptr<Loss>> losses,
               std::vector<std::vector<std::shared_ptr<Metric>>> metrics = {}, std::vector<double> loss_weights = {});
  bool compiled() const { return optimizer_ != nullptr; }
  History fit(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const FitOptions& options = {});
  Logs evaluate(const std::vector<Tensor>& x, const std::vector<Tensor>& y, int64_t batch_size = 32, int verbose = 1);
  std::vector<Tensor> predict(const std::vector<Tensor>& x, int64_t batch_size = 32, int verbose = 0);
  Logs train_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight = Tensor());
  Logs test_on_batch(const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& sample_weight = Tensor());
  std::vector<Tensor> predict_on_batch(const std::vector<Tensor>& x);
  bool stop_training = false;  // set by callbacks (EarlyStopping, TerminateOnNaN)
  const std::shared_ptr<Optimizer>& optimizer() const { return optimizer_; }
  const std::vector<std::shared_ptr<Loss>>& compiled_losses() const { return losses_; }

  // ---- inspection
  std::string summary(int line_length = 80) const;  // Keras-like table: layer (type), output shape, params
  std::vector<Tensor> get_weights();                 // copies, Keras layouts and order
  void set_weights(const std::vector<Tensor>& weights);  // ValueError naming the first mismatch

  const std::vector<KerasTensor>& inputs() const { return inputs_; }
  const std::vector<KerasTensor>& outputs() const { return outputs_; }

 protected:
  std::vector<KerasTensor> inputs_, outputs_;
  std::vector<std::shared_ptr<SymbolicNode>> nodes_;  // topological order (functional)
  std::shared_ptr<Optimizer> optimizer_;
  std::vector<std::shared_ptr<Loss>> losses_;
  std::vector<std::vector<std::shared_ptr<Metric>>> metrics_;
  std::vector<double> loss_weights_;
};

class Sequential : public Model {
 public:
  explicit Sequential(const std::vector<std::shared_ptr<Layer>>& layers = {}, const LayerOptions& options = {});
  void add(const std::shared_ptr<Layer>& layer);
  void pop();
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) override;
  std::vector<std::shared_ptr<Layer>> layers() const override;
  Json get_config() const override;

 private:
  std::vector<std::shared_ptr<Layer>> sequence_;
};

}  // namespace pitfall
