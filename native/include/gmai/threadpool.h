// A small fork-join thread pool for CPU kernels. One pool per addon instance (per worker
// thread that loads the addon); kernels receive it through gmai::Context.
//
// parallelFor splits [0, n) into contiguous chunks, one per thread, and the calling thread
// works too. Workers spin briefly before sleeping because decode issues hundreds of small
// kernels per token and a futex wake-up per kernel would cost more than the work.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gmai {

class ThreadPool {
 public:
  explicit ThreadPool(int numThreads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return numThreads_; }

  // fn(tid, numThreads) on every thread (tid 0 is the caller). Returns when all are done.
  void run(const std::function<void(int tid, int numThreads)>& fn);

  // fn(begin, end) over contiguous chunks of [0, n); chunks hold at least `grain` items,
  // so small loops stay on the calling thread.
  void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void workerLoop(int tid);

  int numThreads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  const std::function<void(int, int)>* job_ = nullptr;
  int jobThreads_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex runMutex_;  // one job at a time: the pool may be shared by nested callers
};

// Threads to use by default: GMAI_NUM_THREADS if set, else the cores this process may run on.
int defaultThreadCount();

}  // namespace gmai
