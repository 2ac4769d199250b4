#include "pitfall/core/threadpool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
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
// Hand-offs are the cost that matters for the many small ops of a training step: a worker that just
// finished a job spins for a short while (kSpinSeconds) on the job counter before it sleeps on the
// condition variable, and the caller spins the same way on the completion count, so back-to-back
// ops do not pay a futex wake-up and a context switch each.
class Pool {
 public:
  explicit Pool(int threads) { resize(threads); }
  ~Pool() { stop_workers(); }

  int size() const { return threads_; }

  void resize(int threads) {
    std::lock_guard<std::mutex> call_lock(call_mutex_);
    stop_workers();
    threads_ = threads;
    stopping_.store(false);
    // New workers must not mistake the last finished job for a new one.
    const uint64_t current = generation_.load();
    for (int t = 1; t < threads_; ++t) workers_.emplace_back([this, t, current] { worker_loop(t, current); });
  }

  void run(int64_t nblocks, const std::function<void(int64_t)>& block_fn) {
    std::lock_guard<std::mutex> call_lock(call_mutex_);
    const int parts = static_cast<int>(std::min<int64_t>(threads_, nblocks));
    job_ = &block_fn;
    nblocks_ = nblocks;
    parts_ = parts;
    error_ = nullptr;
    // Every worker acknowledges every job (those past `parts` run nothing), so none can still be
    // reading this job's fields when the next run() overwrites them.
    pending_.store(threads_ - 1, std::memory_order_relaxed);
    {
      // Under the mutex, so a worker that is about to sleep sees the new generation first.
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    run_part(0);
    if (!spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  static constexpr double kSpinSeconds = 50e-6;

  // Polls `ready` for up to kSpinSeconds; true once it holds. After the first few microseconds it
  // yields between polls, so on an oversubscribed machine the thread it waits for gets the core.
  template <class Ready>
  static bool spin_until(Ready ready) {
    if (ready()) return true;
    const auto start = std::chrono::steady_clock::now();
    const auto polite = start + std::chrono::microseconds(5);
    const auto deadline = start + std::chrono::duration<double>(kSpinSeconds);
    for (;;) {
      for (int i = 0; i < 64; ++i) {
        if (ready()) return true;
        cpu_relax();
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return ready();
      if (now >= polite) std::this_thread::yield();
    }
  }

  static void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  void run_part(int part) {
    const int64_t begin = nblocks_ * part / parts_;
    const int64_t end = nblocks_ * (part + 1) / parts_;
    inside_parallel_region = true;
    try {
      for (int64_t b = begin; b < end; ++b) (*job_)(b);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    inside_parallel_region = false;
  }

  void worker_loop(int index, uint64_t seen) {
    for (;;) {
      const auto new_job = [&] {
        return stopping_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
      };
      if (!spin_until(new_job)) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, new_job);
      }
      if (stopping_.load(std::memory_order_acquire)) return;
      seen = generation_.load(std::memory_order_acquire);
      if (index < parts_) run_part(index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        // The caller may be asleep on done_; taking the mutex orders this notify after its check.
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_.store(true, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
    workers_.clear();
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex call_mutex_, mutex_, error_mutex_;
  std::condition_variable wake_, done_;
  // Written by run() before the generation is published (release) and read by workers after they
  // see it (acquire).
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t nblocks_ = 0;
  int parts_ = 0;
  std::exception_ptr error_;
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};
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
