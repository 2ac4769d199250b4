// The Keras 3 training callbacks: EarlyStopping, ReduceLROnPlateau, LearningRateScheduler,
// TerminateOnNaN, CheckNumerics, CSVLogger and LambdaCallback. Each follows keras.callbacks exactly: the same
// counters, the same order of checks, the same messages (printed to `out`, std::cout by default,
// when verbose > 0), the same warning when the monitored quantity is missing from the logs.
//
//   auto stop = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.patience = 2, .restore_best_weights = true});
//   options.callbacks = {stop, std::make_shared<CSVLogger>("train.csv")};
#pragma once
#include <fstream>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "pitfall/training/callback_arguments.h"
#include "pitfall/training/model.h"

namespace pitfall {

// ---------------------------------------------------------------- EarlyStopping

struct EarlyStoppingOptions {
  std::string monitor = callback_default("EarlyStopping", "monitor").as_string();
  // An improvement must beat the best value by more than |min_delta|.
  double min_delta = callback_default("EarlyStopping", "min_delta").as_double();
  // Epochs without improvement after which training stops.
  int patience = static_cast<int>(callback_default("EarlyStopping", "patience").as_int());
  int verbose = static_cast<int>(callback_default("EarlyStopping", "verbose").as_int());
  // "min", "max", or "auto": "loss"/"val_loss" are minimised, a compiled metric goes the way its
  // kind says (accuracy, precision, recall, auc up; mean_squared_error, mean_absolute_error down),
  // anything else raises ValueError at the first epoch end. Unknown modes warn and use "auto".
  std::string mode = callback_default("EarlyStopping", "mode").as_string();
  // When set, `wait` is reset only by epochs that also beat the baseline (Keras: None).
  std::optional<double> baseline = std::nullopt;
  // Restore the weights of the best epoch at the end of training, whether or not training was
  // stopped early (Keras 3).
  bool restore_best_weights = callback_default("EarlyStopping", "restore_best_weights").as_bool();
  // Epochs (counted from 0) ignored before monitoring starts.
  int start_from_epoch = static_cast<int>(callback_default("EarlyStopping", "start_from_epoch").as_int());
};

class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {}, std::ostream* out = nullptr);
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  void on_train_end(const Logs& logs) override;

  const EarlyStoppingOptions& options() const { return options_; }
  int wait() const { return wait_; }
  // The epoch (from 0) at which training was stopped; 0 when it was not.
  int stopped_epoch() const { return stopped_epoch_; }
  int best_epoch() const { return best_epoch_; }
  // Best monitored value so far (+-inf before the first monitored epoch). As in Keras it is not
  // reset by on_train_begin, so a reused callback keeps the best value of its previous fit.
  double best() const { return best_; }
  const std::optional<std::vector<Tensor>>& best_weights() const { return best_weights_; }

 private:
  // Chooses the comparison on the first epoch end, when the model's metrics are known.
  void set_monitor_direction();
  bool is_improvement(double value, double reference) const;

  EarlyStoppingOptions options_;
  std::ostream* out_;
  enum class Direction { unset, minimize, maximize } direction_ = Direction::unset;
  double min_delta_;  // signed once the direction is known: negative when minimising
  double best_ = 0.0;
  int wait_ = 0, stopped_epoch_ = 0, best_epoch_ = 0;
  std::optional<std::vector<Tensor>> best_weights_;
};

// ---------------------------------------------------------------- ReduceLROnPlateau

struct ReduceLROnPlateauOptions {
  std::string monitor = callback_default("ReduceLROnPlateau", "monitor").as_string();
  // new_lr = lr * factor; must be < 1.
  double factor = callback_default("ReduceLROnPlateau", "factor").as_double();
  int patience = static_cast<int>(callback_default("ReduceLROnPlateau", "patience").as_int());
  int verbose = static_cast<int>(callback_default("ReduceLROnPlateau", "verbose").as_int());
  // "min", "max", or "auto": maximise when the monitor's name contains "acc", else minimise.
  std::string mode = callback_default("ReduceLROnPlateau", "mode").as_string();
  // Improvement threshold: min mode needs current < best - min_delta.
  double min_delta = callback_default("ReduceLROnPlateau", "min_delta").as_double();
  // Epochs after a reduction during which `wait` is held at 0.
  int cooldown = static_cast<int>(callback_default("ReduceLROnPlateau", "cooldown").as_int());
  // Lower bound on the learning rate; no reduction once lr <= min_lr (compared in float32, as Keras).
  double min_lr = callback_default("ReduceLROnPlateau", "min_lr").as_double();
};

// Sets logs["learning_rate"] at every epoch end (visible to History and the callbacks after it).
class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {}, std::ostream* out = nullptr);
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end_with_logs(int epoch, Logs& logs) override;

  const ReduceLROnPlateauOptions& options() const { return options_; }
  int wait() const { return wait_; }
  int cooldown_counter() const { return cooldown_counter_; }
  double best() const { return best_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }

 private:
  void reset();
  bool is_improvement(double current, double best) const;

  ReduceLROnPlateauOptions options_;
  std::ostream* out_;
  bool maximize_ = false;
  double best_ = 0.0;
  int wait_ = 0, cooldown_counter_ = 0;
};

// ---------------------------------------------------------------- LearningRateScheduler

// schedule(epoch, current_lr) -> new lr, epoch counted from 0.
using EpochLearningRateFunction = std::function<double(int epoch, double learning_rate)>;

// Sets the optimizer's learning rate from schedule at every epoch begin, and logs["learning_rate"]
// at every epoch end.
class LearningRateScheduler : public Callback {
 public:
  explicit LearningRateScheduler(EpochLearningRateFunction schedule,
                                 int verbose = static_cast<int>(callback_default("LearningRateScheduler", "verbose").as_int()),
                                 std::ostream* out = nullptr);
  void on_epoch_begin(int epoch, const Logs& logs) override;
  void on_epoch_end_with_logs(int epoch, Logs& logs) override;

 private:
  EpochLearningRateFunction schedule_;
  int verbose_;
  std::ostream* out_;
};

// ---------------------------------------------------------------- TerminateOnNaN

// Stops training (model->stop_training) at the end of the first train batch whose logged loss, the
// epoch's running mean, is NaN or infinite; prints "Batch N: Invalid loss, terminating training".
// The epoch still ends normally (validation, on_epoch_end) and on_train_end runs. With raise_error
// it throws RuntimeError instead, so on_train_end does not run.
class TerminateOnNaN : public Callback {
 public:
  explicit TerminateOnNaN(bool raise_error = callback_default("TerminateOnNaN", "raise_error").as_bool(),
                          std::ostream* out = nullptr);
  void on_train_batch_end(int64_t batch, const Logs& logs) override;

 private:
  bool raise_error_;
  std::ostream* out_;
};

// ---------------------------------------------------------------- CheckNumerics

// Finds the first layer and op that turn finite values into inf/NaN during fit, in the forward
// pass, the backward pass or the optimizer update. It switches check numerics on for the model in
// on_train_begin (Model::set_check_numerics) and restores the model's previous setting when
// training ends, or when it lets a failure raise. On a failure fit hands it a NumericReport (step,
// epoch, batch, phase, layer path, op, message; see training/numeric_report.h), which report() keeps:
//   raise_error (default): fit raises the NumericError "training step 13 (epoch 1, batch 13): ...".
//   otherwise: it prints report.str() (one line, to `out`, std::cout by default) and training stops
//   like TerminateOnNaN (the epoch ends normally, on_train_end runs); fit returns the History.
// TerminateOnNaN only sees the loss become NaN, steps after the cause; this names the cause.
class CheckNumerics : public Callback {
 public:
  explicit CheckNumerics(bool raise_error = callback_default("CheckNumerics", "raise_error").as_bool(),
                         std::ostream* out = nullptr);
  void on_train_begin(const Logs& logs) override;
  void on_train_end(const Logs& logs) override;
  bool on_numeric_error(const NumericReport& report) override;

  bool raise_error() const { return raise_error_; }
  // The last fit's failure; empty when training stayed finite (reset by each on_train_begin).
  const std::optional<NumericReport>& report() const { return report_; }

 private:
  void restore();

  bool raise_error_;
  std::ostream* out_;
  std::optional<NumericReport> report_;
  std::optional<bool> previous_;  // the model's setting before on_train_begin, until restored
};

// ---------------------------------------------------------------- CSVLogger

// Streams one row per epoch to a CSV file: "epoch" then the log keys in sorted order (fixed by the
// first epoch; a key missing later is written "NA"), floats as Python writes them (shortest
// round-trip repr), rows ended by "\r\n" (Python's csv dialect). Each row is flushed as soon as the
// epoch ends, so a crash leaves a valid file of the completed epochs. With append, rows are added
// to an existing file and the header is written only when the file is empty or new.
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string filename,
                     std::string separator = callback_default("CSVLogger", "separator").as_string(),
                     bool append = callback_default("CSVLogger", "append").as_bool());
  ~CSVLogger() override;
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  void on_train_end(const Logs& logs) override;

  const std::string& filename() const { return filename_; }

 private:
  std::string field(const std::string& text) const;  // quoted when it holds the separator, '"' or a newline

  std::string filename_, separator_;
  bool append_;
  bool append_header_ = true;
  std::ofstream file_;
  std::optional<std::vector<std::string>> keys_;
  bool header_done_ = false;
};

// ---------------------------------------------------------------- LambdaCallback

struct LambdaCallbackHooks {
  std::function<void(int epoch, const Logs& logs)> on_epoch_begin = nullptr;
  std::function<void(int epoch, const Logs& logs)> on_epoch_end = nullptr;
  std::function<void(const Logs& logs)> on_train_begin = nullptr;
  std::function<void(const Logs& logs)> on_train_end = nullptr;
  std::function<void(int64_t batch, const Logs& logs)> on_train_batch_begin = nullptr;
  std::function<void(int64_t batch, const Logs& logs)> on_train_batch_end = nullptr;
};

// Calls the hooks that are set; the others do nothing.
//   LambdaCallback({.on_epoch_end = [](int epoch, const Logs& logs) { ... }})
class LambdaCallback : public Callback {
 public:
  explicit LambdaCallback(LambdaCallbackHooks hooks);
  void on_epoch_begin(int epoch, const Logs& logs) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  void on_train_begin(const Logs& logs) override;
  void on_train_end(const Logs& logs) override;
  void on_train_batch_begin(int64_t batch, const Logs& logs) override;
  void on_train_batch_end(int64_t batch, const Logs& logs) override;

 private:
  LambdaCallbackHooks hooks_;
};

}  // namespace pitfall
