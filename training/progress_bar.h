// The Keras-style progress bar of fit / evaluate / predict (keras.utils.Progbar, Keras 2 layout):
//
//    7/12 [================>.............] - ETA: 1s - loss: 0.3456 - accuracy: 0.9012
//   12/12 [==============================] - 1s 5ms/step - loss: 0.3456 - accuracy: 0.9012
//
// update() rewrites the line in place with '\r'; finish() writes the final line and a newline.
#pragma once
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pitfall {

using LogValues = std::vector<std::pair<std::string, double>>;

class ProgressBar {
 public:
  // target: the number of steps (0 or less: unknown, shown as "12/Unknown"); width: characters
  // between the brackets.
  ProgressBar(int64_t target, std::ostream& out, int width = 30);
  // The bar after `current` steps with the running values (loss first, as Keras 2 prints them).
  // Like Keras (interval=0.05), redraws at most every 50 ms, plus the first and the last step.
  void update(int64_t current, const LogValues& values);
  // The final line. input_wait_seconds: the time this epoch spent waiting for input data (a
  // Dataset-fed fit reports it; printed as " - input wait: 0.12s (8%)").
  void finish(const LogValues& values, std::optional<double> input_wait_seconds = std::nullopt);
  double elapsed_seconds() const;

  // "[=====>....]" part with the step counter, e.g. " 7/12 [====>...]".
  static std::string bar(int64_t current, int64_t target, int width);
  // Keras: "%.4f" when |v| > 1e-3, else "%.4e".
  static std::string format_value(double value);
  // " - loss: 0.3456 - accuracy: 0.9012"
  static std::string format_values(const LogValues& values);
  // ETA text: "1s", "1:05", "1:01:05".
  static std::string format_eta(double seconds);
  // Time per step: "5ms/step", "2s/step", "120us/step".
  static std::string format_per_step(double seconds);
  // " - input wait: 0.12s (8%)": time spent waiting for input and its share of the epoch.
  static std::string format_input_wait(double wait_seconds, double elapsed_seconds);

 private:
  int64_t target_;
  std::ostream& out_;
  int width_;
  size_t previous_width_ = 0;
  int64_t seen_ = 0;  // steps reported by update() (the count when the target is unknown)
  std::chrono::steady_clock::time_point start_, last_update_;
};

}  // namespace pitfall
