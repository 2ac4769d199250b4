#include "pitfall/training/training_callbacks.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <set>

#include "pitfall/core/error.h"
#include "pitfall/core/warnings.h"

namespace pitfall {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::ostream& stream_or_cout(std::ostream* out) { return out ? *out : std::cout; }

// Keras lists dict keys joined by "," in its missing-monitor warnings.
std::string joined_keys(const Logs& logs) {
  std::string out;
  for (const auto& [name, value] : logs) out += (out.empty() ? "" : ",") + name;
  return out;
}

// " (did you mean 'val_loss'?)" when a log key is a likely typo of `monitor`, else "".
std::string typo_hint(const std::string& monitor, const Logs& logs) {
  std::vector<std::string> keys;
  for (const auto& [name, value] : logs) keys.push_back(name);
  const std::string hint = did_you_mean(monitor, keys);
  return hint.rfind("did you mean", 0) == 0 ? " (" + hint + ")" : "";
}

Model& model_of(Model* model, const char* callback) {
  if (!model) {
    throw ValueError(std::string(callback) + ": no model is set; pass the callback to fit() (or call set_model) "
                     "before driving its hooks");
  }
  return *model;
}

Optimizer& optimizer_of(Model* model, const char* callback) {
  Model& m = model_of(model, callback);
  if (!m.optimizer()) {
    throw ValueError(std::string(callback) + ": " + m.describe() +
                     " has no optimizer; call compile(optimizer, loss, ...) before fit()");
  }
  return *m.optimizer();
}

// Keras's `_direction` of its built-in metric classes: +1 up (larger is better), -1 down, 0 none.
int metric_direction(const std::string& class_name) {
  static const std::set<std::string> up{"Accuracy",      "BinaryAccuracy",     "CategoricalAccuracy",
                                        "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
                                        "SparseTopKCategoricalAccuracy", "Precision", "Recall", "AUC",
                                        "F1Score", "FBetaScore", "R2Score", "MeanIoU", "IoU"};
  static const std::set<std::string> down{"MeanSquaredError",         "MeanAbsoluteError",
                                          "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError",
                                          "RootMeanSquaredError",     "LogCoshError"};
  if (up.count(class_name)) return 1;
  if (down.count(class_name)) return -1;
  return 0;
}

}  // namespace


// ---------------------------------------------------------------- EarlyStopping

EarlyStopping::EarlyStopping(EarlyStoppingOptions options, std::ostream* out)
    : options_(std::move(options)), out_(out), min_delta_(std::abs(options_.min_delta)) {
  if (options_.mode != "auto" && options_.mode != "min" && options_.mode != "max") {
    warn("EarlyStopping mode " + options_.mode + " is unknown, fallback to auto mode.");
    options_.mode = "auto";
  }
  config_ = callback_config(
      "EarlyStopping",
      Json::Object{{"monitor", options_.monitor}, {"min_delta", options_.min_delta}, {"patience", options_.patience},
                   {"verbose", options_.verbose}, {"mode", options_.mode},
                   {"baseline", options_.baseline ? Json(*options_.baseline) : Json()},
                   {"restore_best_weights", options_.restore_best_weights},
                   {"start_from_epoch", options_.start_from_epoch}});
}

void EarlyStopping::set_monitor_direction() {
  if (options_.mode == "min") {
    direction_ = Direction::minimize;
  } else if (options_.mode == "max") {
    direction_ = Direction::maximize;
  } else {
    const std::string& monitor = options_.monitor;
    const std::string name = monitor.rfind("val_", 0) == 0 ? monitor.substr(4) : monitor;
    if (name == "loss") direction_ = Direction::minimize;
    // A compiled metric of that name decides (Keras looks at the metric objects' direction). The
    // name may also carry its output's prefix, as multi-output logs do ("dense_1_accuracy").
    if (model_) {
      const auto& per_output = model_->compiled_metrics();
      const auto outputs = per_output.empty() ? std::vector<std::string>{} : model_->output_names();
      for (size_t i = 0; i < per_output.size(); ++i) {
        for (const auto& metric : per_output[i]) {
          const bool same = metric->name() == name || (i < outputs.size() && outputs[i] + "_" + metric->name() == name);
          const int direction = same ? metric_direction(metric->class_name()) : 0;
          if (direction > 0) direction_ = Direction::maximize;
          if (direction < 0) direction_ = Direction::minimize;
        }
      }
    }
    if (direction_ == Direction::unset) {
      throw ValueError("EarlyStopping callback received monitor=" + monitor +
                       " but Keras isn't able to automatically determine whether that metric should be maximized "
                       "or minimized. Pass `mode='max'` in order to do early stopping based on the highest metric "
                       "value, or pass `mode='min'` in order to use the lowest value.");
    }
  }
  if (direction_ == Direction::minimize) min_delta_ = -min_delta_;
  best_ = direction_ == Direction::minimize ? kInf : -kInf;
}

bool EarlyStopping::is_improvement(double value, double reference) const {
  const double shifted = value - min_delta_;
  return direction_ == Direction::minimize ? shifted < reference : shifted > reference;
}

void EarlyStopping::on_train_begin(const Logs&) {
  // Reusable across fits, as in Keras: the counters and the snapshot restart, the best value and
  // the direction (chosen once) carry over.
  wait_ = 0;
  stopped_epoch_ = 0;
  best_weights_.reset();
  best_epoch_ = 0;
}

void EarlyStopping::on_epoch_end(int epoch, const Logs& logs) {
  if (direction_ == Direction::unset) set_monitor_direction();
  const auto found = logs.find(options_.monitor);
  if (found == logs.end()) {
    warn("Early stopping conditioned on metric `" + options_.monitor +
         "` which is not available. Available metrics are: " + joined_keys(logs) +
         typo_hint(options_.monitor, logs));
    return;
  }
  if (epoch < options_.start_from_epoch) return;  // warm-up
  const double current = found->second;
  if (options_.restore_best_weights && !best_weights_) {
    // Nothing snapshotted yet: the weights now are the best seen.
    best_weights_ = model_of(model_, "EarlyStopping").get_weights();
    best_epoch_ = epoch;
  }
  ++wait_;
  if (is_improvement(current, best_)) {
    best_ = current;
    best_epoch_ = epoch;
    if (options_.restore_best_weights) best_weights_ = model_of(model_, "EarlyStopping").get_weights();
    // Patience restarts only when the epoch beats the baseline as well as the previous best.
    if (!options_.baseline || is_improvement(current, *options_.baseline)) wait_ = 0;
    return;
  }
  if (wait_ >= options_.patience && epoch > 0) {
    stopped_epoch_ = epoch;
    model_of(model_, "EarlyStopping").stop_training = true;
  }
}

void EarlyStopping::on_train_end(const Logs&) {
  std::ostream& out = stream_or_cout(out_);
  if (stopped_epoch_ > 0 && options_.verbose > 0) out << "Epoch " << stopped_epoch_ + 1 << ": early stopping\n";
  if (options_.restore_best_weights && best_weights_) {
    if (options_.verbose > 0) {
      out << "Restoring model weights from the end of the best epoch: " << best_epoch_ + 1 << ".\n";
    }
    model_of(model_, "EarlyStopping").set_weights(*best_weights_);
  }
  out.flush();
}

// ---------------------------------------------------------------- ReduceLROnPlateau

ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions options, std::ostream* out)
    : options_(std::move(options)), out_(out) {
  if (options_.factor >= 1.0) {
    throw ValueError("ReduceLROnPlateau does not support a factor >= 1.0. Received factor=" +
                     python_float_repr(options_.factor) + "; use a factor in (0, 1), e.g. 0.1 or 0.5");
  }
  reset();
  config_ = callback_config(
      "ReduceLROnPlateau",
      Json::Object{{"monitor", options_.monitor}, {"factor", options_.factor}, {"patience", options_.patience},
                   {"verbose", options_.verbose}, {"mode", options_.mode}, {"min_delta", options_.min_delta},
                   {"cooldown", options_.cooldown}, {"min_lr", options_.min_lr}});
}

void ReduceLROnPlateau::reset() {
  if (options_.mode != "auto" && options_.mode != "min" && options_.mode != "max") {
    warn("Learning rate reduction mode " + options_.mode + " is unknown, fallback to auto mode.");
    options_.mode = "auto";
  }
  maximize_ = !(options_.mode == "min" || (options_.mode == "auto" && options_.monitor.find("acc") == std::string::npos));
  best_ = maximize_ ? -kInf : kInf;
  cooldown_counter_ = 0;
  wait_ = 0;
}

bool ReduceLROnPlateau::is_improvement(double current, double best) const {
  return maximize_ ? current > best + options_.min_delta : current < best - options_.min_delta;
}

void ReduceLROnPlateau::on_train_begin(const Logs&) { reset(); }

void ReduceLROnPlateau::on_epoch_end_with_logs(int epoch, Logs& logs) {
  Optimizer& optimizer = optimizer_of(model_, "ReduceLROnPlateau");
  logs["learning_rate"] = optimizer.learning_rate();
  const auto found = logs.find(options_.monitor);
  if (found == logs.end()) {
    warn("Learning rate reduction is conditioned on metric `" + options_.monitor +
         "` which is not available. Available metrics are: " + joined_keys(logs) + "." +
         typo_hint(options_.monitor, logs));
    return;
  }
  const double current = found->second;
  if (in_cooldown()) {
    --cooldown_counter_;
    wait_ = 0;
  }
  if (is_improvement(current, best_)) {
    best_ = current;
    wait_ = 0;
  } else if (!in_cooldown()) {
    ++wait_;
    if (wait_ >= options_.patience) {
      const double old_lr = optimizer.learning_rate();
      // Keras compares against min_lr rounded to float32.
      if (old_lr > static_cast<double>(static_cast<float>(options_.min_lr))) {
        const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
        optimizer.set_learning_rate(new_lr);
        if (options_.verbose > 0) {
          stream_or_cout(out_) << "\nEpoch " << epoch + 1 << ": ReduceLROnPlateau reducing learning rate to "
                               << python_float_repr(new_lr) << ".\n"
                               << std::flush;
        }
        cooldown_counter_ = options_.cooldown;
        wait_ = 0;
      }
    }
  }
}

// ---------------------------------------------------------------- LearningRateScheduler

LearningRateScheduler::LearningRateScheduler(EpochLearningRateFunction schedule, int verbose, std::ostream* out)
    : schedule_(std::move(schedule)), verbose_(verbose), out_(out) {
  if (!schedule_) throw ValueError("LearningRateScheduler: schedule is empty; give a function (epoch, lr) -> lr");
  config_ = callback_config("LearningRateScheduler", Json::Object{{"verbose", verbose_}},
                            {{"schedule", std::make_shared<EpochLearningRateFunction>(schedule_)}});
}

void LearningRateScheduler::on_epoch_begin(int epoch, const Logs&) {
  Optimizer& optimizer = optimizer_of(model_, "LearningRateScheduler");
  const double current = optimizer.learning_rate();
  const double learning_rate = schedule_(epoch, current);
  try {
    optimizer.set_learning_rate(learning_rate);
  } catch (const Error& e) {
    throw ValueError("LearningRateScheduler: schedule(epoch=" + std::to_string(epoch) +
                     ", lr=" + python_float_repr(current) + ") returned " + python_float_repr(learning_rate) +
                     ", which the optimizer rejects: " + e.message());
  }
  if (verbose_ > 0) {
    stream_or_cout(out_) << "\nEpoch " << epoch + 1 << ": LearningRateScheduler setting learning rate to "
                         << python_float_repr(learning_rate) << ".\n"
                         << std::flush;
  }
}

void LearningRateScheduler::on_epoch_end_with_logs(int, Logs& logs) {
  logs["learning_rate"] = optimizer_of(model_, "LearningRateScheduler").learning_rate();
}

// ---------------------------------------------------------------- TerminateOnNaN

TerminateOnNaN::TerminateOnNaN(bool raise_error, std::ostream* out) : raise_error_(raise_error), out_(out) {
  config_ = callback_config("TerminateOnNaN", Json::Object{{"raise_error", raise_error_}});
}

void TerminateOnNaN::on_train_batch_end(int64_t batch, const Logs& logs) {
  const auto found = logs.find("loss");
  if (found == logs.end() || std::isfinite(found->second)) return;
  if (raise_error_) {
    throw RuntimeError("NaN or Inf loss encountered at batch " + std::to_string(batch) +
                       ". Loss value: " + python_float_repr(found->second) + ". Terminating training immediately.");
  }
  stream_or_cout(out_) << "Batch " << batch << ": Invalid loss, terminating training\n" << std::flush;
  model_of(model_, "TerminateOnNaN").stop_training = true;
}

// ---------------------------------------------------------------- CheckNumerics

CheckNumerics::CheckNumerics(bool raise_error, std::ostream* out) : raise_error_(raise_error), out_(out) {
  config_ = callback_config("CheckNumerics", Json::Object{{"raise_error", raise_error_}});
}

void CheckNumerics::on_train_begin(const Logs&) {
  Model& model = model_of(model_, "CheckNumerics");
  report_.reset();
  if (!previous_) previous_ = model.check_numerics();
  model.set_check_numerics(true);
}

void CheckNumerics::restore() {
  if (previous_ && model_) model_->set_check_numerics(*previous_);
  previous_.reset();
}

void CheckNumerics::on_train_end(const Logs&) { restore(); }

bool CheckNumerics::on_numeric_error(const NumericReport& report) {
  report_ = report;
  if (raise_error_) {
    restore();  // fit raises: on_train_end will not run
    return false;
  }
  stream_or_cout(out_) << report.str() << "\n" << std::flush;
  return true;
}

// ---------------------------------------------------------------- CSVLogger

CSVLogger::CSVLogger(std::string filename, std::string separator, bool append)
    : filename_(std::move(filename)), separator_(std::move(separator)), append_(append) {
  if (separator_.empty()) throw ValueError("CSVLogger('" + filename_ + "'): separator is empty; use e.g. \",\"");
  config_ = callback_config("CSVLogger",
                            Json::Object{{"filename", filename_}, {"separator", separator_}, {"append", append_}});
}

CSVLogger::~CSVLogger() {
  if (file_.is_open()) file_.close();
}

void CSVLogger::on_train_begin(const Logs&) {
  std::ios::openmode mode = std::ios::out | std::ios::binary;
  if (append_) {
    std::ifstream existing(filename_, std::ios::binary);
    // The header goes in only when the file is new or empty.
    if (existing.is_open()) append_header_ = existing.peek() == std::ifstream::traits_type::eof();
    mode |= std::ios::app;
  } else {
    mode |= std::ios::trunc;
  }
  if (file_.is_open()) file_.close();
  file_.clear();
  file_.open(filename_, mode);
  if (!file_.is_open()) {
    throw RuntimeError("CSVLogger: cannot open '" + filename_ + "' for writing (" + std::strerror(errno) +
                       "); check that the directory exists and is writable");
  }
  keys_.reset();
  header_done_ = false;
}

std::string CSVLogger::field(const std::string& text) const {
  const bool quote = text.find(separator_) != std::string::npos || text.find_first_of("\"\r\n") != std::string::npos;
  if (!quote) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

void CSVLogger::on_epoch_end(int epoch, const Logs& logs) {
  if (!file_.is_open()) {
    throw RuntimeError("CSVLogger('" + filename_ + "'): on_epoch_end before on_train_begin; the file is not open");
  }
  if (!keys_) {
    keys_.emplace();
    for (const auto& [name, value] : logs) keys_->push_back(name);  // a std::map: already sorted
  }
  // Header and row go out in one write, then a flush: a crash never leaves half an epoch behind.
  std::string text;
  if (!header_done_) {
    if (append_header_) {
      text += field("epoch");
      for (const auto& key : *keys_) text += separator_ + field(key);
      text += "\r\n";
    }
    header_done_ = true;
  }
  text += std::to_string(epoch);
  for (const auto& key : *keys_) {
    const auto found = logs.find(key);
    text += separator_ + field(found == logs.end() ? "NA" : python_float_repr(found->second));
  }
  text += "\r\n";
  file_.write(text.data(), static_cast<std::streamsize>(text.size()));
  file_.flush();
  if (!file_) throw RuntimeError("CSVLogger: writing epoch " + std::to_string(epoch) + " to '" + filename_ + "' failed");
}

void CSVLogger::on_train_end(const Logs&) {
  if (file_.is_open()) file_.close();
  header_done_ = false;
}

// ---------------------------------------------------------------- LambdaCallback

LambdaCallback::LambdaCallback(LambdaCallbackHooks hooks) : hooks_(std::move(hooks)) {
  config_ = callback_config("LambdaCallback", Json::object());
}

void LambdaCallback::on_epoch_begin(int epoch, const Logs& logs) {
  if (hooks_.on_epoch_begin) hooks_.on_epoch_begin(epoch, logs);
}
void LambdaCallback::on_epoch_end(int epoch, const Logs& logs) {
  if (hooks_.on_epoch_end) hooks_.on_epoch_end(epoch, logs);
}
void LambdaCallback::on_train_begin(const Logs& logs) {
  if (hooks_.on_train_begin) hooks_.on_train_begin(logs);
}
void LambdaCallback::on_train_end(const Logs& logs) {
  if (hooks_.on_train_end) hooks_.on_train_end(logs);
}
void LambdaCallback::on_train_batch_begin(int64_t batch, const Logs& logs) {
  if (hooks_.on_train_batch_begin) hooks_.on_train_batch_begin(batch, logs);
}
void LambdaCallback::on_train_batch_end(int64_t batch, const Logs& logs) {
  if (hooks_.on_train_batch_end) hooks_.on_train_batch_end(batch, logs);
}

}  // namespace pitfall
