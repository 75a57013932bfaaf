// The memory figures and the check that refuses a model too large for the machine.
#include "runtime/process_memory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"

namespace whale {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

TEST(ProcessMemory, AvailableMemoryIsKnownAndBelowTheTotal) {
  const AvailableMemory available = available_memory();
  EXPECT_GT(available.bytes, 0u);
  EXPECT_LE(available.bytes, meminfo_bytes("MemTotal"));
  EXPECT_FALSE(available.source.empty());
}

TEST(ProcessMemory, AModelThatFitsPasses) {
  MemoryNeed need{3 * kGiB, 1 * kGiB, "4 sequences x 4096 tokens"};
  EXPECT_NO_THROW(check_memory_fits("m.gguf", need, {4 * kGiB, "test"}));
  EXPECT_NO_THROW(check_memory_fits("m.gguf", need, {0, "unknown"}));  // no figure, no refusal
}

TEST(ProcessMemory, AModelThatDoesNotFitIsRefusedWithTheFigures) {
  MemoryNeed need{3 * kGiB, 2 * kGiB, "4 sequences x 4096 tokens"};
  try {
    check_memory_fits("m.gguf", need, {4 * kGiB, "the cgroup's memory.max"});
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), testing::HasSubstr("m.gguf: needs about 5.00 GiB of memory (weights 3.00 GiB + KV cache "
                                             "2.00 GiB for 4 sequences x 4096 tokens), but only 4.00 GiB is "
                                             "available (the cgroup's memory.max)"));
    EXPECT_THAT(e.what(), testing::HasSubstr("lower --ctx or --parallel"));
  }
  // Weights alone too large: the advice is about the weights.
  MemoryNeed weights{9 * kGiB, kGiB / 8, "4096 tokens"};
  try {
    check_memory_fits("big.gguf", weights, {4 * kGiB, "test"});
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), testing::HasSubstr("smaller quantization (whale quantize)"));
  }
}

}  // namespace
}  // namespace whale
