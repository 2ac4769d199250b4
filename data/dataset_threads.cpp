// The transforms that run on background threads: map (inline or parallel) and prefetch.
//
// Every wait is on a condition variable that cancel() also signals, so destroying an iterator (or
// shutdown_all_pipelines at exit) stops its threads promptly, whatever they were waiting for.
#include <algorithm>
#include <deque>
#include <map>
#include <thread>

#include "pitfall/data/dataset_internal.h"

namespace pitfall::data::internal {

namespace {

// An element or the error that replaced it.
struct Produced {
  std::optional<Element> element;
  std::exception_ptr error;
};

std::optional<Element> deliver(Produced produced) {
  if (produced.error) std::rethrow_exception(produced.error);
  return std::move(produced.element);
}

// ---------------------------------------------------------------- map

class InlineMapIterator : public UnaryIterator {
 public:
  InlineMapIterator(std::unique_ptr<Iterator> input, ElementFunction fn, std::string name, int64_t iteration)
      : UnaryIterator(std::move(input)), fn_(std::move(fn)), name_(std::move(name)), iteration_(iteration) {}
  std::optional<Element> next() override {
    auto e = input_->next();
    if (!e) return std::nullopt;
    const int64_t index = index_++;
    try {
      return fn_(std::move(*e), ElementContext{index, iteration_});
    } catch (...) {
      rethrow_element_error(std::current_exception(), name_, index);
    }
  }

 private:
  ElementFunction fn_;
  std::string name_;
  int64_t iteration_, index_ = 0;
};

// Workers take input elements in order (one at a time, under input_mutex_), number them, run the
// function concurrently and file the results by number. A deterministic consumer takes them in
// number order; a non-deterministic one takes whichever finished first.
class ParallelMapIterator : public Iterator {
 public:
  ParallelMapIterator(std::unique_ptr<Iterator> input, ElementFunction fn, std::string name, int64_t iteration,
                      int threads, bool deterministic)
      : input_(std::move(input)),
        fn_(std::move(fn)),
        name_(std::move(name)),
        iteration_(iteration),
        deterministic_(deterministic),
        max_outstanding_(2 * static_cast<int64_t>(threads)),
        work_([this] { cancel(); }) {
    for (int t = 0; t < threads; ++t) work_.start([this] { worker(); });
  }
  ~ParallelMapIterator() override { work_.stop(); }

  std::optional<Element> next() override {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (cancelled_) throw_cancelled(name_);
      auto ready = deterministic_ ? done_.find(next_output_) : done_.begin();
      if (ready != done_.end()) {
        Produced produced = std::move(ready->second);
        done_.erase(ready);
        ++next_output_;
        ++consumed_;
        room_.notify_all();
        lock.unlock();
        return deliver(std::move(produced));
      }
      if (input_done_ && in_flight_ == 0) return std::nullopt;
      produced_.wait(lock);
    }
  }

  void cancel() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancelled_ = true;
    }
    room_.notify_all();
    produced_.notify_all();
    input_->cancel();
  }

 private:
  void worker() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        room_.wait(lock, [&] { return cancelled_ || input_done_ || pulled_ - consumed_ < max_outstanding_; });
        if (cancelled_ || input_done_) return;
      }
      int64_t index = 0;
      Produced produced;
      {
        std::lock_guard<std::mutex> input_lock(input_mutex_);
        {
          std::lock_guard<std::mutex> lock(mutex_);
          if (cancelled_ || input_done_) return;
          index = pulled_++;
          ++in_flight_;
        }
        try {
          produced.element = input_->next();
        } catch (...) {
          produced.error = std::current_exception();
        }
        if (!produced.element && !produced.error) {
          std::lock_guard<std::mutex> lock(mutex_);
          input_done_ = true;
          --pulled_;
          --in_flight_;
          produced_.notify_all();
          room_.notify_all();
          return;
        }
      }
      if (produced.element) {
        try {
          produced.element = fn_(std::move(*produced.element), ElementContext{index, iteration_});
        } catch (...) {
          produced.element.reset();
          try {
            rethrow_element_error(std::current_exception(), name_, index);
          } catch (...) {
            produced.error = std::current_exception();
          }
        }
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        done_[index] = std::move(produced);
        --in_flight_;
      }
      produced_.notify_all();
    }
  }

  std::unique_ptr<Iterator> input_;
  ElementFunction fn_;
  std::string name_;
  int64_t iteration_;
  bool deterministic_;
  int64_t max_outstanding_;

  std::mutex input_mutex_;  // serializes input_->next() so element numbers follow input order
  std::mutex mutex_;
  std::condition_variable produced_, room_;
  std::map<int64_t, Produced> done_;
  int64_t pulled_ = 0, consumed_ = 0, next_output_ = 0, in_flight_ = 0;
  bool input_done_ = false, cancelled_ = false;
  BackgroundWork work_;  // last: its threads stop before the members above go away
};

int resolve_threads(int64_t requested) {
  if (requested == kAutotune) return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return static_cast<int>(std::min<int64_t>(requested, 256));
}

class MapNode : public UnaryNode {
 public:
  MapNode(std::shared_ptr<const DatasetNode> input, ElementFunction fn, std::optional<int64_t> threads,
          std::optional<bool> deterministic, std::string name)
      : UnaryNode(std::move(input)), fn_(std::move(fn)), threads_(threads), deterministic_(deterministic), name_(std::move(name)) {}
  std::unique_ptr<Iterator> make_iterator(const IteratorContext& context) const override {
    const int64_t iteration = iterations_++;
    auto input = input_->make_iterator(context);
    if (!threads_) return std::make_unique<InlineMapIterator>(std::move(input), fn_, name_, iteration);
    const bool deterministic = deterministic_.value_or(context.options.deterministic.value_or(true));
    return std::make_unique<ParallelMapIterator>(std::move(input), fn_, name_, iteration, resolve_threads(*threads_),
                                                 deterministic);
  }
  int64_t cardinality() const override { return input_->cardinality(); }
  std::string name() const override { return "map"; }

 private:
  ElementFunction fn_;
  std::optional<int64_t> threads_;
  std::optional<bool> deterministic_;
  std::string name_;
  mutable std::atomic<int64_t> iterations_{0};
};

// ---------------------------------------------------------------- prefetch

// One producer thread keeps up to `capacity` elements ready. Under AUTOTUNE the capacity starts
// at 1 and doubles (up to 64) each time the consumer finds the buffer empty.
class PrefetchIterator : public Iterator {
 public:
  PrefetchIterator(std::unique_ptr<Iterator> input, int64_t buffer_size)
      : input_(std::move(input)),
        autotune_(buffer_size == kAutotune),
        capacity_(autotune_ ? 1 : buffer_size),
        work_([this] { cancel(); }) {
    work_.start([this] { producer(); });
  }
  ~PrefetchIterator() override { work_.stop(); }

  std::optional<Element> next() override {
    std::unique_lock<std::mutex> lock(mutex_);
    if (buffer_.empty() && !end_ && autotune_ && capacity_ < kMaxAutotune) {
      capacity_ *= 2;
      room_.notify_all();
    }
    ready_.wait(lock, [&] { return cancelled_ || !buffer_.empty() || end_; });
    if (cancelled_) throw_cancelled("prefetch");
    if (buffer_.empty()) return std::nullopt;
    Produced produced = std::move(buffer_.front());
    buffer_.pop_front();
    room_.notify_all();
    lock.unlock();
    return deliver(std::move(produced));
  }

  void cancel() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancelled_ = true;
    }
    ready_.notify_all();
    room_.notify_all();
    input_->cancel();
  }

 private:
  static constexpr int64_t kMaxAutotune = 64;

  void producer() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        room_.wait(lock, [&] { return cancelled_ || static_cast<int64_t>(buffer_.size()) < capacity_; });
        if (cancelled_) return;
      }
      Produced produced;
      try {
        produced.element = input_->next();
      } catch (...) {
        produced.error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex_);
      if (!produced.element && !produced.error) {
        end_ = true;
        ready_.notify_all();
        return;
      }
      buffer_.push_back(std::move(produced));
      ready_.notify_all();
    }
  }

  std::unique_ptr<Iterator> input_;
  bool autotune_;
  std::mutex mutex_;
  std::condition_variable ready_, room_;
  std::deque<Produced> buffer_;
  int64_t capacity_;
  bool end_ = false, cancelled_ = false;
  BackgroundWork work_;  // last: its thread stops before the members above go away
};

class PrefetchNode : public UnaryNode {
 public:
  PrefetchNode(std::shared_ptr<const DatasetNode> input, int64_t buffer_size)
      : UnaryNode(std::move(input)), buffer_size_(buffer_size) {}
  std::unique_ptr<Iterator> make_iterator(const IteratorContext& context) const override {
    auto input = input_->make_iterator(context);
    if (buffer_size_ == 0) return input;
    return std::make_unique<PrefetchIterator>(std::move(input), buffer_size_);
  }
  int64_t cardinality() const override { return input_->cardinality(); }
  std::string name() const override { return "prefetch"; }

 private:
  int64_t buffer_size_;
};

}  // namespace

std::shared_ptr<const DatasetNode> make_map_node(std::shared_ptr<const DatasetNode> input, ElementFunction fn,
                                                 std::optional<int64_t> threads, std::optional<bool> deterministic,
                                                 std::string name) {
  return std::make_shared<MapNode>(std::move(input), std::move(fn), threads, deterministic, std::move(name));
}

std::shared_ptr<const DatasetNode> make_prefetch_node(std::shared_ptr<const DatasetNode> input, int64_t buffer_size) {
  return std::make_shared<PrefetchNode>(std::move(input), buffer_size);
}

}  // namespace pitfall::data::internal
