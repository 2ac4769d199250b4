#include "pitfall/core/threadpool.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "pitfall/core/error.h"

namespace pitfall {
namespace {

thread_local bool inside_parallel_region = false;

int default_threads() {
  if (const char* env = std::getenv("PITFALL_NUM_THREADS")) {
    char* end = nullptr;
    const long value = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && value >= 1 && value <= 1024) return static_cast<int>(value);
    throw ValueError(std::string("PITFALL_NUM_THREADS='") + env +
                     "' is not a thread count; set it to an integer between 1 and 1024");
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

// Workers wait for a job; each job is one parallel_for call split into per-thread block ranges.
class Pool {
 public:
  explicit Pool(int threads) { resize(threads); }
  ~Pool() { stop_workers(); }

  int size() const { return threads_; }

  void resize(int threads) {
    std::lock_guard<std::mutex> call_lock(call_mutex_);
    stop_workers();
    threads_ = threads;
    stopping_ = false;
    // New workers must not mistake the last finished job for a new one.
    for (int t = 1; t < threads_; ++t) workers_.emplace_back([this, t, current = generation_] { worker_loop(t, current); });
  }

  void run(int64_t nblocks, const std::function<void(int64_t)>& block_fn) {
    std::lock_guard<std::mutex> call_lock(call_mutex_);
    const int parts = static_cast<int>(std::min<int64_t>(threads_, nblocks));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &block_fn;
      nblocks_ = nblocks;
      parts_ = parts;
      pending_ = parts - 1;
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    run_part(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run_part(int part) {
    const int64_t begin = nblocks_ * part / parts_;
    const int64_t end = nblocks_ * (part + 1) / parts_;
    inside_parallel_region = true;
    try {
      for (int64_t b = begin; b < end; ++b) (*job_)(b);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    inside_parallel_region = false;
  }

  void worker_loop(int index, uint64_t seen) {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        if (index >= parts_) continue;
      }
      run_part(index);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
    workers_.clear();
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex call_mutex_, mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t nblocks_ = 0;
  int parts_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool instance(default_threads());
  return instance;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int threads) {
  if (threads < 1 || threads > 1024) {
    throw ValueError("set_num_threads(" + std::to_string(threads) +
                     "): the thread count must be between 1 and 1024");
  }
  if (threads != pool().size()) pool().resize(threads);
}

void parallel_for(int64_t n, int64_t block, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  block = std::max<int64_t>(block, 1);
  const int64_t nblocks = (n + block - 1) / block;
  if (nblocks == 1 || inside_parallel_region || pool().size() == 1) {
    for (int64_t b = 0; b < nblocks; ++b) fn(b * block, std::min(n, (b + 1) * block));
    return;
  }
  pool().run(nblocks, [&](int64_t b) { fn(b * block, std::min(n, (b + 1) * block)); });
}

InlineParallelScope::InlineParallelScope() : previous_(inside_parallel_region) { inside_parallel_region = true; }
InlineParallelScope::~InlineParallelScope() { inside_parallel_region = previous_; }

}  // namespace pitfall
