// ThreadPool (see thread_pool.h). Workers spin briefly on the job counter before sleeping, because decode
// issues hundreds of short parallel_for calls per token and a condition-variable wake-up per call would
// cost more than the work. The caller never waits for a worker that has not joined the job: on a busy
// machine a descheduled worker simply misses it and the other threads do its share.
#include "core/thread_pool.h"

#include <algorithm>

namespace whale {
namespace {

constexpr int kSpinIterations = 4000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  size_ = threads;
  workers_.reserve(static_cast<size_t>(threads - 1));
  for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { worker_loop(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (std::thread& w : workers_) w.join();
}

void ThreadPool::claim_chunks(Task task, void* ctx, int64_t end, int64_t chunk, int thread) {
  for (;;) {
    const int64_t lo = next_.fetch_add(chunk, std::memory_order_relaxed);
    if (lo >= end) return;
    task(ctx, lo, std::min(end, lo + chunk), thread);
  }
}

void ThreadPool::run(int64_t begin, int64_t end, int64_t grain, Task task, void* ctx) {
  const int64_t n = end - begin;
  grain = std::max<int64_t>(grain, 1);
  if (size_ == 1 || n <= grain) {
    task(ctx, begin, end, 0);
    return;
  }
  // About four chunks per thread balances uneven chunks without much counter traffic.
  const int64_t chunk = std::max(grain, (n + size_ * 4 - 1) / (size_ * 4));
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = task;
    ctx_ = ctx;
    end_ = end;
    chunk_ = chunk;
    next_.store(begin, std::memory_order_relaxed);
    job_open_ = true;
    generation_.fetch_add(1, std::memory_order_release);
    wake = sleepers_ > 0;
  }
  if (wake) wake_.notify_all();
  claim_chunks(task, ctx, end, chunk, 0);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_open_ = false;
  }
  for (int i = 0; i < kSpinIterations && in_flight_.load(std::memory_order_acquire) != 0; ++i) cpu_relax();
  if (in_flight_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return in_flight_.load(std::memory_order_acquire) == 0; });
  }
}

void ThreadPool::worker_loop(int thread) {
  uint64_t seen = 0;
  for (;;) {
    for (int i = 0; i < kSpinIterations && generation_.load(std::memory_order_acquire) == seen; ++i) cpu_relax();
    Task task = nullptr;
    void* ctx = nullptr;
    int64_t end = 0, chunk = 1;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (generation_.load(std::memory_order_relaxed) == seen && !stop_) {
        ++sleepers_;
        wake_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_relaxed) != seen; });
        --sleepers_;
      }
      if (stop_) return;
      seen = generation_.load(std::memory_order_relaxed);
      if (!job_open_) continue;  // finished before this worker got to it
      in_flight_.fetch_add(1, std::memory_order_relaxed);
      task = task_;
      ctx = ctx_;
      end = end_;
      chunk = chunk_;
    }
    claim_chunks(task, ctx, end, chunk, thread);
    if (in_flight_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

}  // namespace whale
