#include "gmai/threadpool.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#ifdef __linux__
#include <sched.h>
#endif

namespace gmai {

namespace {
// A kernel that calls parallelFor from inside a pool job runs the inner loop serially
// instead of deadlocking on the pool.
thread_local bool insideJob = false;
struct JobScope {
  bool saved;
  JobScope() : saved(insideJob) { insideJob = true; }
  ~JobScope() { insideJob = saved; }
};
}  // namespace

int defaultThreadCount() {
  if (const char* env = std::getenv("GMAI_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return std::min(n, 256);
  }
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  unsigned n = std::thread::hardware_concurrency();
  return n ? int(n) : 1;
}

ThreadPool::ThreadPool(int numThreads) : numThreads_(std::max(1, numThreads)) {
  for (int t = 1; t < numThreads_; ++t) workers_.emplace_back([this, t] { workerLoop(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::workerLoop(int tid) {
  uint64_t seen = 0;
  for (;;) {
    // Spin a little (a decode step issues many short kernels back to back), then sleep.
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen && spin < 20000; ++spin) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load()) return;
    const auto* job = job_;
    int threads = jobThreads_;
    if (job && tid < threads) { JobScope scope; (*job)(tid, threads); }
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (numThreads_ == 1 || insideJob) { fn(0, 1); return; }
  std::lock_guard<std::mutex> runLock(runMutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    jobThreads_ = numThreads_;
    pending_.store(numThreads_ - 1, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_.notify_all();
  {
    JobScope scope;
    fn(0, numThreads_);
  }
  // Spin while the workers are about done; past that, a worker is not running (a busy machine
  // descheduled it): yield the core rather than burn the time slice it may be waiting for.
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < 20000) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      std::this_thread::yield();
    }
  }
  job_ = nullptr;
}

void ThreadPool::parallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t chunks = insideJob ? 1 : std::min<int64_t>(numThreads_, (n + grain - 1) / grain);
  if (chunks <= 1) { fn(0, n); return; }
  run([&](int tid, int) {
    if (tid >= chunks) return;
    int64_t begin = n * tid / chunks, end = n * (tid + 1) / chunks;
    if (begin < end) fn(begin, end);
  });
}

}  // namespace gmai
