// The pipelines' background threads: the registry that shutdown_all_pipelines() stops, the live
// thread count, and PipelineThreadScope (data/dataset_internal.h BackgroundWork).
#include <atomic>
#include <map>
#include <mutex>

#include "pitfall/core/autograd.h"
#include "pitfall/data/dataset_internal.h"

namespace pitfall::data {

using namespace internal;

namespace internal {

// ---------------------------------------------------------------- background threads

namespace {

std::atomic<int64_t> live_threads{0};

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::map<BackgroundWork::State*, std::weak_ptr<BackgroundWork::State>>& registry() {
  static std::map<BackgroundWork::State*, std::weak_ptr<BackgroundWork::State>> works;
  return works;
}

}  // namespace

BackgroundWork::BackgroundWork(std::function<void()> cancel) : state_(std::make_shared<State>()) {
  state_->cancel = std::move(cancel);
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry()[state_.get()] = state_;
}

BackgroundWork::~BackgroundWork() {
  state_->stop();
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry().erase(state_.get());
}

void BackgroundWork::start(std::function<void()> body) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (state_->stopped) return;
  ++live_threads;
  state_->threads.emplace_back([body = std::move(body)] {
    try {
      PipelineThreadScope scope;
      body();
    } catch (...) {
      // The iterator stores its errors for the consumer; nothing may escape a thread.
    }
    --live_threads;
  });
}

void BackgroundWork::stop() { state_->stop(); }

void BackgroundWork::State::stop() {
  std::lock_guard<std::mutex> lock(mutex);
  if (stopped) return;
  stopped = true;
  cancel();
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  threads.clear();
}

}  // namespace internal

int64_t live_pipeline_threads() { return internal::live_threads.load(); }

void shutdown_all_pipelines() {
  // Stopped outside the registry lock: a thread that ends may destroy iterators of its own.
  std::vector<std::shared_ptr<BackgroundWork::State>> works;
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    for (auto& [raw, weak] : registry()) {
      if (auto w = weak.lock()) works.push_back(std::move(w));
    }
  }
  for (auto& w : works) w->stop();
}

PipelineThreadScope::PipelineThreadScope() : previous_grad_mode_(grad_enabled()) { set_grad_enabled(false); }
PipelineThreadScope::~PipelineThreadScope() { set_grad_enabled(previous_grad_mode_); }

}  // namespace pitfall::data
