// ThreadPool: every index of a range is visited exactly once, thread indices stay in range, and repeated
// short jobs (the decode pattern) complete.
#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace whale {
namespace {

TEST(ThreadPool, VisitsEveryIndexOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 7, 64, 1000, 4097}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.parallel_for(0, n, 3, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n=" << n << " i=" << i;
    }
  }
}

TEST(ThreadPool, ThreadIndexInRangeAndOffsetRanges) {
  ThreadPool pool(3);
  std::atomic<int64_t> sum{0};
  std::atomic<bool> bad_thread{false};
  pool.parallel_for(100, 200, 1, [&](int64_t lo, int64_t hi, int thread) {
    if (thread < 0 || thread >= 3) bad_thread = true;
    for (int64_t i = lo; i < hi; ++i) sum += i;
  });
  EXPECT_FALSE(bad_thread.load());
  EXPECT_EQ(sum.load(), (100 + 199) * 100 / 2);
}

TEST(ThreadPool, ManyShortJobs) {
  ThreadPool pool(2);
  int64_t total = 0;
  std::vector<int64_t> out(16);
  for (int rep = 0; rep < 5000; ++rep) {
    pool.parallel_for(0, 16, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) out[static_cast<size_t>(i)] = i + rep;
    });
    for (int64_t v : out) total += v;
  }
  // sum over rep of (sum_i i + 16 rep) = 5000 * 120 + 16 * (4999 * 5000 / 2)
  EXPECT_EQ(total, int64_t{5000} * 120 + int64_t{16} * (int64_t{4999} * 5000 / 2));
}

}  // namespace
}  // namespace whale
