// Engine warnings: one process-wide handler (stderr by default; Python installs warnings.warn) and a
// set of keys that have already warned. Both are guarded by one mutex; the handler itself runs
// outside the lock so that it may warn again or take other locks (the GIL) without deadlocking.
#include "pitfall/core/warnings.h"

#include <iostream>
#include <mutex>
#include <set>

namespace pitfall {

namespace {

struct WarningState {
  std::mutex mutex;
  WarningHandler handler;  // empty: stderr
  std::set<std::string> warned_keys;
};

WarningState& state() {
  static WarningState instance;
  return instance;
}

}  // namespace

void warn(const std::string& message) {
  WarningHandler handler;
  {
    std::lock_guard<std::mutex> lock(state().mutex);
    handler = state().handler;
  }
  if (handler) {
    handler(message);
  } else {
    std::cerr << "pitfall warning: " << message << std::endl;
  }
}

void warn_once(const std::string& key, const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(state().mutex);
    if (!state().warned_keys.insert(key).second) return;
  }
  warn(message);
}

WarningHandler set_warning_handler(WarningHandler handler) {
  std::lock_guard<std::mutex> lock(state().mutex);
  WarningHandler previous = std::move(state().handler);
  state().handler = std::move(handler);
  return previous;
}

void reset_warnings_once() {
  std::lock_guard<std::mutex> lock(state().mutex);
  state().warned_keys.clear();
}

bool has_warned(const std::string& key) {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().warned_keys.count(key) != 0;
}

}  // namespace pitfall
