// Helpers shared by the C++ tests.
#pragma once
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <pitfall/pitfall.h>

namespace pitfall::testing {

// what() of the pitfall::Error that fn throws ("" when it throws none).
inline std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), a.numel() * dtype_size(a.dtype())) == 0;
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Layer options with a name (and an input shape).
inline LayerOptions named(const std::string& name, std::optional<Shape> input_shape = std::nullopt) {
  LayerOptions options;
  options.name = name;
  options.input_shape = std::move(input_shape);
  return options;
}

// Runs fn once with 1 thread and once with 2, restoring the thread count; returns both results.
inline std::pair<std::vector<Tensor>, std::vector<Tensor>> run_with_1_and_2_threads(
    const std::function<std::vector<Tensor>()>& fn) {
  const int saved = num_threads();
  set_num_threads(1);
  auto one = fn();
  set_num_threads(2);
  auto two = fn();
  set_num_threads(saved);
  return {std::move(one), std::move(two)};
}

// Collects the engine's warnings for the scope's duration.
struct WarningCapture {
  std::vector<std::string> messages;
  WarningHandler previous;
  WarningCapture() {
    reset_warnings_once();  // warn-once messages already shown by earlier tests count again
    previous = set_warning_handler([this](const std::string& m) { messages.push_back(m); });
  }
  ~WarningCapture() {
    set_warning_handler(previous);
    reset_warnings_once();
  }
  bool any(const std::string& part) const {
    for (const auto& m : messages) {
      if (m.find(part) != std::string::npos) return true;
    }
    return false;
  }
};

// Sets the engine's dtype mode (core/dtype_rules.h) for a scope.
struct DTypeModeScope {
  DTypeMode previous;
  explicit DTypeModeScope(DTypeMode mode) : previous(dtype_mode()) { set_dtype_mode(mode); }
  ~DTypeModeScope() { set_dtype_mode(previous); }
  DTypeModeScope(const DTypeModeScope&) = delete;
  DTypeModeScope& operator=(const DTypeModeScope&) = delete;
};

// fit() options for tests: silent, unshuffled (batches in data order), with these callbacks.
inline FitOptions quiet_fit(int epochs, int64_t batch_size, std::vector<std::shared_ptr<Callback>> callbacks = {}) {
  FitOptions options;
  options.epochs = epochs;
  options.batch_size = batch_size;
  options.verbose = 0;
  options.shuffle = false;
  options.callbacks = std::move(callbacks);
  return options;
}

// A subclassed model: Dense(hidden, relu) -> Dense(units, activation), its sublayers tracked.
class TwoDense : public Model {
 public:
  explicit TwoDense(int64_t hidden = 16, int64_t units = 3, const std::string& activation = "softmax")
      : Model(LayerOptions{}, "TwoDense"),
        hidden_(std::make_shared<Dense>(hidden, "relu")),
        out_(std::make_shared<Dense>(units, activation)) {
    track(hidden_);
    track(out_);
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, bool training) override {
    return {(*out_)((*hidden_)(inputs.at(0), training), training)};
  }

 private:
  std::shared_ptr<Dense> hidden_, out_;
};

}  // namespace pitfall::testing
