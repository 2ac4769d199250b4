// Callbacks that fit() always installs (Keras's CallbackList adds them after the user's): History,
// which records the epoch logs fit() returns, and ProgbarLogger, the verbose=1/2 output.
#pragma once
#include <iosfwd>
#include <memory>
#include <optional>

#include "pitfall/training/model.h"
#include "pitfall/training/progress_bar.h"

namespace pitfall {

class HistoryCallback : public Callback {
 public:
  void on_train_begin(const Logs&) override { history.epoch.clear(); }
  void on_epoch_end(int epoch, const Logs& logs) override;
  History history;
};

// verbose 1: "Epoch 1/5" then a progress bar per epoch; verbose 2: one line per epoch
// ("Epoch 1/5 - 0s - loss: 0.3456 - val_loss: 0.4012"); verbose 0: nothing.
class ProgbarLogger : public Callback {
 public:
  ProgbarLogger(int verbose, int epochs, int64_t steps_per_epoch, std::ostream* out = nullptr);
  void on_epoch_begin(int epoch, const Logs& logs) override;
  void on_train_batch_end(int64_t step, const Logs& logs) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  // Hook for Dataset-fed training: seconds this epoch waited for input, printed on its final line.
  void set_epoch_input_wait(double seconds) { input_wait_ = seconds; }

 private:
  int verbose_, epochs_;
  int64_t steps_;
  std::ostream* out_;
  std::unique_ptr<ProgressBar> bar_;
  std::optional<double> input_wait_;
};

// Logs in display order: loss, the other training values, then val_loss and the other val_ values.
LogValues display_order(const Logs& logs);

}  // namespace pitfall
