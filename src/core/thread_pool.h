// ThreadPool: a small fixed set of worker threads for data-parallel kernels. It is created once (from
// --threads) and passed explicitly to whoever runs kernels; there is no global pool.
//
// parallel_for(begin, end, grain, fn) splits [begin, end) into chunks of at least `grain` items, runs them on
// the workers and the calling thread, and returns when all are done. fn is called as fn(lo, hi) or, if it
// accepts a third argument, fn(lo, hi, thread) with thread in [0, size()) (for per-thread scratch). Chunks
// are handed out dynamically, so uneven work balances. Nothing is allocated per call.
//
// Calls must not nest, and only one thread may call parallel_for at a time (the inference thread).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace whale {

class ThreadPool {
 public:
  // `threads` counts the calling thread: ThreadPool(1) runs everything inline. threads <= 0 means
  // std::thread::hardware_concurrency().
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }

  template <typename F>
  void parallel_for(int64_t begin, int64_t end, int64_t grain, F&& fn) {
    if (end <= begin) return;
    auto call = [](void* ctx, int64_t lo, int64_t hi, int thread) {
      F& f = *static_cast<std::remove_reference_t<F>*>(ctx);
      if constexpr (std::is_invocable_v<F&, int64_t, int64_t, int>) {
        f(lo, hi, thread);
      } else {
        f(lo, hi);
      }
    };
    run(begin, end, grain, call, const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using Task = void (*)(void* ctx, int64_t lo, int64_t hi, int thread);
  void run(int64_t begin, int64_t end, int64_t grain, Task task, void* ctx);
  void claim_chunks(Task task, void* ctx, int64_t end, int64_t chunk, int thread);
  void worker_loop(int thread);

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  // The current job, written under mutex_. Workers join it under mutex_ while job_open_, copy it and then
  // claim chunks from next_; the caller closes the job once every chunk is claimed and waits only for the
  // workers that joined, so a worker the OS has not scheduled yet never holds the caller up.
  Task task_ = nullptr;
  void* ctx_ = nullptr;
  int64_t end_ = 0;
  int64_t chunk_ = 1;
  bool job_open_ = false;
  int sleepers_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> in_flight_{0};  // workers that joined the current job and have not left it
  bool stop_ = false;
};

}  // namespace whale
