#include "pitfall/training/progress_bar.h"

#include <cmath>
#include <cstdio>
#include <ostream>

namespace pitfall {

ProgressBar::ProgressBar(int64_t target, std::ostream& out, int width)
    : target_(target), out_(out), width_(width), start_(std::chrono::steady_clock::now()) {}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string ProgressBar::bar(int64_t current, int64_t target, int width) {
  if (target <= 0) {
    // A dataset of unknown length (Keras: "     12/Unknown").
    char head[64];
    std::snprintf(head, sizeof head, "%7lld/Unknown", static_cast<long long>(current));
    return head;
  }
  const int digits = target > 0 ? static_cast<int>(std::floor(std::log10(static_cast<double>(target)))) + 1 : 1;
  char head[64];
  std::snprintf(head, sizeof head, "%*lld/%lld [", digits, static_cast<long long>(current),
                static_cast<long long>(target));
  std::string out = head;
  const double progress = target > 0 ? static_cast<double>(current) / static_cast<double>(target) : 1.0;
  const int filled = static_cast<int>(width * std::min(progress, 1.0));
  if (filled > 0) {
    out += std::string(filled - 1, '=');
    out += current < target ? '>' : '=';
  }
  out += std::string(width - filled, '.');
  return out + "]";
}

std::string ProgressBar::format_value(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, std::fabs(value) > 1e-3 ? "%.4f" : "%.4e", value);
  return buf;
}

std::string ProgressBar::format_values(const LogValues& values) {
  std::string out;
  for (const auto& [name, value] : values) out += " - " + name + ": " + format_value(value);
  return out;
}

std::string ProgressBar::format_eta(double seconds) {
  const long long s = static_cast<long long>(seconds);
  char buf[64];
  if (s > 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s % 3600) / 60, s % 60);
  } else if (s > 60) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%llds", s);
  }
  return buf;
}

std::string ProgressBar::format_per_step(double seconds) {
  char buf[64];
  if (seconds >= 1) {
    std::snprintf(buf, sizeof buf, "%.0fs/step", seconds);
  } else if (seconds >= 1e-3) {
    std::snprintf(buf, sizeof buf, "%.0fms/step", seconds * 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0fus/step", seconds * 1e6);
  }
  return buf;
}

std::string ProgressBar::format_input_wait(double wait_seconds, double elapsed_seconds) {
  char wait[96];
  const double share = elapsed_seconds > 0 ? 100.0 * wait_seconds / elapsed_seconds : 0.0;
  std::snprintf(wait, sizeof wait, " - input wait: %.2fs (%.0f%%)", wait_seconds, share);
  return wait;
}

void ProgressBar::update(int64_t current, const LogValues& values) {
  const auto now = std::chrono::steady_clock::now();
  if (previous_width_ > 0 && current < target_ &&
      std::chrono::duration<double>(now - last_update_).count() < 0.05) {
    return;
  }
  last_update_ = now;
  seen_ = current;
  const double elapsed = elapsed_seconds();
  const double per_step = current > 0 ? elapsed / static_cast<double>(current) : 0.0;
  std::string line = bar(current, target_, width_);
  if (target_ > 0) {
    line += " - ETA: " + format_eta(per_step * static_cast<double>(std::max<int64_t>(target_ - current, 0)));
  } else {
    line += " - " + format_per_step(per_step);
  }
  line += format_values(values);
  // Blank out what a longer previous line left behind.
  const size_t length = line.size();
  if (previous_width_ > length) line += std::string(previous_width_ - length, ' ');
  previous_width_ = length;
  out_ << '\r' << line << std::flush;
}

void ProgressBar::finish(const LogValues& values, std::optional<double> input_wait_seconds) {
  const double elapsed = elapsed_seconds();
  const int64_t steps = target_ > 0 ? target_ : seen_;
  const double per_step = steps > 0 ? elapsed / static_cast<double>(steps) : 0.0;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.0fs", elapsed);
  std::string line = (target_ > 0 ? bar(target_, target_, width_) : bar(seen_, 0, width_)) + " - " + seconds + " " +
                     format_per_step(per_step);
  line += format_values(values);
  if (input_wait_seconds) line += format_input_wait(*input_wait_seconds, elapsed);
  const size_t length = line.size();
  if (previous_width_ > length) line += std::string(previous_width_ - length, ' ');
  out_ << (previous_width_ > 0 ? "\r" : "") << line << "\n" << std::flush;
  previous_width_ = 0;
}

}  // namespace pitfall
