#include "threadpool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace sparsenn {

namespace {

int default_threads() {
  if (const char* env = std::getenv("SPARSENN_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1) return std::min(n, 1024);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? int(hw) : 1;
}

// How long a thread spins on a flag before it sleeps on the condition variable.
// Waking a sleeping thread through a futex measured ~48 us per parallel region on
// this (virtualised) machine, a tenth of a 4096 x 4096 sparse decode GEMV, while
// a decoding loop issues its next op within microseconds. So workers keep
// spinning a little after each region (as onnxruntime's and OpenMP's pools do), and
// the caller spins for the end of the region. SPARSENN_SPIN_US=0 turns it off.
std::chrono::microseconds spin_budget() {
  long us = 100;
  if (const char* env = std::getenv("SPARSENN_SPIN_US")) us = std::max(0L, std::min(std::atol(env), 100000L));
  return std::chrono::microseconds(us);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until done() or the budget runs out; true when done() became true.
template <typename Done>
bool spin_until(Done done, std::chrono::microseconds budget) {
  if (budget.count() == 0) return done();
  const auto deadline = std::chrono::steady_clock::now() + budget;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}

class Pool {
 public:
  explicit Pool(int n) : spin_(spin_budget()) { start(n); }
  ~Pool() { stop(); }

  int size() const { return int(workers_.size()) + 1; }

  void resize(int n) {
    std::lock_guard<std::mutex> region(region_mutex_);
    stop();
    start(n);
  }

  void run(int64_t n_tasks, const std::function<void(int64_t)>& fn) {
    if (n_tasks <= 0) return;
    if (n_tasks == 1 || workers_.empty()) {
      for (int64_t t = 0; t < n_tasks; ++t) fn(t);
      return;
    }
    std::lock_guard<std::mutex> region(region_mutex_);
    job_ = &fn;
    n_tasks_ = n_tasks;
    next_.store(0, std::memory_order_relaxed);
    error_ = nullptr;
    active_.store(int(workers_.size()), std::memory_order_relaxed);
    {
      // Under the mutex so a worker about to sleep cannot miss the new generation;
      // the release store publishes the job to spinning workers.
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    work();
    if (!spin_until([&] { return active_.load(std::memory_order_acquire) == 0; }, spin_)) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [&] { return active_.load(std::memory_order_acquire) == 0; });
    }
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void start(int n) {
    quit_.store(false);
    // A worker must count from the generation at its creation, not at its first run: a
    // region may start before the thread does.
    const uint64_t now = generation_.load();
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, now] { loop(now); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      quit_.store(true);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  // Dynamic scheduling: each thread grabs the next task index.
  void work() {
    for (;;) {
      int64_t t = next_.fetch_add(1);
      if (t >= n_tasks_) return;
      try {
        (*job_)(t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }

  void loop(uint64_t seen) {
    for (;;) {
      const auto news = [&] {
        return quit_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
      };
      if (!spin_until(news, spin_)) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, news);
      }
      if (quit_.load(std::memory_order_acquire)) return;
      seen = generation_.load(std::memory_order_acquire);
      work();
      if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        // The caller may be asleep on done_: notify under the mutex so the wake-up cannot
        // fall between its check and its wait.
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
    }
  }

  const std::chrono::microseconds spin_;
  std::vector<std::thread> workers_;
  std::mutex region_mutex_;  // one parallel region at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t n_tasks_ = 0;
  std::atomic<int64_t> next_{0};
  std::exception_ptr error_;
  std::atomic<int> active_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> quit_{false};
};

Pool& pool() {
  // Leaked on purpose: joining threads during static destruction at process
  // exit can deadlock inside Node's teardown.
  static Pool* p = new Pool(default_threads());
  return *p;
}

}  // namespace

int thread_count() { return pool().size(); }

void set_thread_count(int n) { pool().resize(std::max(1, std::min(n, 1024))); }

void parallel_for(int64_t n_tasks, const std::function<void(int64_t)>& fn) { pool().run(n_tasks, fn); }

void parallel_ranges(int64_t n, int64_t align, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  align = std::max<int64_t>(1, align);
  const int64_t units = (n + align - 1) / align;
  // A few tasks per thread so uneven progress (a busy core) still balances.
  const int64_t parts = std::min<int64_t>(units, int64_t(thread_count()) * 4);
  const int64_t per = (units + parts - 1) / parts;
  parallel_for((units + per - 1) / per, [&](int64_t t) {
    const int64_t b = t * per * align;
    const int64_t e = std::min(n, (t + 1) * per * align);
    if (b < e) fn(b, e);
  });
}

}  // namespace sparsenn
