#include "pitfall/training/callbacks.h"

#include <cstdio>
#include <iostream>

namespace pitfall {

void HistoryCallback::on_epoch_end(int epoch, const Logs& logs) {
  history.epoch.push_back(epoch);
  for (const auto& [name, value] : logs) history.history[name].push_back(value);
}

LogValues display_order(const Logs& logs) {
  LogValues out;
  auto take = [&](bool validation) {
    const std::string loss = validation ? "val_loss" : "loss";
    if (logs.count(loss)) out.emplace_back(loss, logs.at(loss));
    for (const auto& [name, value] : logs) {
      const bool is_val = name.rfind("val_", 0) == 0;
      if (is_val == validation && name != loss) out.emplace_back(name, value);
    }
  };
  take(false);
  take(true);
  return out;
}

ProgbarLogger::ProgbarLogger(int verbose, int epochs, int64_t steps_per_epoch, std::ostream* out)
    : verbose_(verbose), epochs_(epochs), steps_(steps_per_epoch), out_(out ? out : &std::cout) {}

void ProgbarLogger::on_epoch_begin(int epoch, const Logs&) {
  input_wait_.reset();
  if (verbose_ == 1) *out_ << "Epoch " << epoch + 1 << "/" << epochs_ << "\n" << std::flush;
  bar_ = std::make_unique<ProgressBar>(steps_, *out_);
}

void ProgbarLogger::on_train_batch_end(int64_t step, const Logs& logs) {
  if (verbose_ == 1 && bar_) bar_->update(step + 1, display_order(logs));
}

void ProgbarLogger::on_epoch_end(int epoch, const Logs& logs) {
  if (!bar_) return;
  if (verbose_ == 1) {
    bar_->finish(display_order(logs), input_wait_);
  } else if (verbose_ == 2) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.0fs", bar_->elapsed_seconds());
    *out_ << "Epoch " << epoch + 1 << "/" << epochs_ << " - " << seconds
          << ProgressBar::format_values(display_order(logs));
    if (input_wait_) *out_ << ProgressBar::format_input_wait(*input_wait_, bar_->elapsed_seconds());
    *out_ << "\n" << std::flush;
  }
  bar_.reset();
}

}  // namespace pitfall
