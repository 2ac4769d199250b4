// ModelCheckpoint (keras.callbacks.ModelCheckpoint): saves the model (save_model) or its weights
// (save_weights) at the end of every epoch or every `save_freq` batches, optionally only when the
// monitored value improves.
//
// Keras 3 semantics:
// - filepath may hold placeholders filled from epoch + 1, batch + 1 (batch-level saves) and the logs:
//   "ckpt-{epoch:02d}-{val_loss:.2f}.pitfall" (see format_checkpoint_path for the subset supported).
// - mode 'min' / 'max' / 'auto'; an unknown mode warns and falls back to 'auto'. 'auto' minimizes
//   losses (monitor "loss", "val_loss", "<output>_loss") and errors (mean_squared_error, ...) and
//   maximizes accuracies (names containing "acc"), precision, recall and auc; any other name raises
//   ValueError asking for mode='min' or mode='max' (Keras 3 cannot tell either). The direction is
//   resolved at the first save_best_only decision (Keras resolves it, and raises, even without
//   save_best_only; here a callback that never compares never raises).
// - save_best_only: saves only when the value improves on the best so far (strictly: less / greater),
//   starting from initial_value_threshold when given, else +inf / -inf. When the monitored value is
//   missing from the logs it warns "Can save best model only with <monitor> available." and saves.
// - The file's directory is created when missing.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <variant>

#include "pitfall/training/callback_arguments.h"
#include "pitfall/training/model.h"

namespace pitfall {

class ModelCheckpoint : public Callback {
 public:
  // "epoch", or a number of batches.
  using SaveFreq = std::variant<std::string, int64_t>;

  // `out`: where verbose=1 messages go (std::cout when null).
  // The defaults are the argument table's (training/callback_arguments.cpp).
  explicit ModelCheckpoint(std::string filepath,
                           std::string monitor = callback_default("ModelCheckpoint", "monitor").as_string(),
                           int verbose = static_cast<int>(callback_default("ModelCheckpoint", "verbose").as_int()),
                           bool save_best_only = callback_default("ModelCheckpoint", "save_best_only").as_bool(),
                           bool save_weights_only = callback_default("ModelCheckpoint", "save_weights_only").as_bool(),
                           std::string mode = callback_default("ModelCheckpoint", "mode").as_string(),
                           SaveFreq save_freq = callback_default("ModelCheckpoint", "save_freq").as_string(),
                           std::optional<double> initial_value_threshold = std::nullopt, std::ostream* out = nullptr);

  void on_epoch_begin(int epoch, const Logs& logs) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  void on_train_batch_end(int64_t batch, const Logs& logs) override;

  const std::string& filepath() const { return filepath_; }
  const std::string& monitor() const { return monitor_; }
  // The best monitored value so far (the threshold, or +/-inf, before the first save).
  std::optional<double> best() const { return best_; }
  // The path of the last file written ("" before the first save).
  const std::string& last_saved_path() const { return last_saved_path_; }

 private:
  enum class Direction { unset, minimize, maximize };
  void resolve_direction();
  // Saves if due (save_best_only decides); epoch is 0-based, batch is set for batch-level saves.
  void save(int epoch, std::optional<int64_t> batch, const Logs& logs);
  bool should_save(int epoch, const Logs& logs, const std::string& path);

  std::string filepath_, monitor_, mode_;
  int verbose_;
  bool save_best_only_, save_weights_only_;
  std::optional<int64_t> save_every_batches_;  // unset: save per epoch
  std::optional<double> best_;
  std::ostream* out_;
  Direction direction_ = Direction::unset;
  int current_epoch_ = 0;
  int64_t batches_since_save_ = 0, last_batch_seen_ = 0;
  std::string last_saved_path_;
};

// Keras filepath formatting (Python str.format on epoch + 1, batch + 1 and the logs), the subset a
// checkpoint path needs: "{name}" and "{name:[0][width][.precision]type}" with type d, f, e or g;
// "{{" and "}}" are literal braces. "{name}" of a float prints Python's repr ("0.25", "1e-05").
// An unknown name raises ValueError listing the available ones; 'd' on a float raises, as Python does.
std::string format_checkpoint_path(const std::string& pattern, int64_t epoch, std::optional<int64_t> batch,
                                   const Logs& logs);

}  // namespace pitfall
