// Hostile GGUF files: each case builds broken bytes and checks that opening fails with one whale::Error
// naming the file, the key or tensor, and what was expected. Plus every truncation and random byte flips of
// a valid file, which must fail cleanly or load, never crash.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_test_bytes.h"

namespace whale::gguf {
namespace {

using testing::GgufBytes;
using testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr uint32_t kF32 = 0;
constexpr uint32_t kQ8_0 = 8;

class GgufHostile : public ::testing::Test {
 protected:
  // Writes `bytes`, expects File::open to fail, and returns the message (which must name the file).
  std::string open_error(const std::vector<uint8_t>& bytes) {
    const std::string path = dir_.write("bad.gguf", bytes);
    try {
      File::open(path);
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(path));
      return e.what();
    }
    ADD_FAILURE() << "file opened without error";
    return {};
  }
  TempDir dir_;
};

GgufBytes one_tensor_file(std::vector<uint64_t> dims, uint32_t type, uint64_t offset, size_t data_bytes) {
  GgufBytes b;
  b.header(1, 0).tensor("blk.0.attn_q.weight", std::move(dims), type, offset).pad(32).zeros(data_bytes);
  return b;
}

TEST_F(GgufHostile, EmptyFile) { EXPECT_THAT(open_error({}), HasSubstr("truncated")); }

TEST_F(GgufHostile, WrongMagic) {
  GgufBytes b;
  b.raw("GGML", 4).u32(3).u64(0).u64(0);
  EXPECT_THAT(open_error(b.bytes), AllOf(HasSubstr("not a GGUF file"), HasSubstr("expected magic")));
}

TEST_F(GgufHostile, UnsupportedVersion) {
  EXPECT_THAT(open_error(GgufBytes().header(0, 0, 1).bytes),
              HasSubstr("unsupported GGUF version 1 (expected 2 or 3)"));
  EXPECT_THAT(open_error(GgufBytes().header(0, 0, 99).bytes), HasSubstr("version 99"));
  EXPECT_THAT(open_error(GgufBytes().header(0, 0, 0x03000000).bytes), HasSubstr("big-endian"));
}

TEST_F(GgufHostile, TruncatedHeader) {
  GgufBytes b;
  b.raw("GGUF", 4).u32(3).u32(0);
  EXPECT_THAT(open_error(b.bytes), AllOf(HasSubstr("truncated"), HasSubstr("tensor count")));
}

TEST_F(GgufHostile, AbsurdTensorCount) {
  EXPECT_THAT(open_error(GgufBytes().header(uint64_t{1} << 60, 0).bytes),
              AllOf(HasSubstr("tensor count 1152921504606846976"), HasSubstr("larger than the file can hold")));
}

TEST_F(GgufHostile, AbsurdKvCount) {
  EXPECT_THAT(open_error(GgufBytes().header(0, ~uint64_t{0}).bytes),
              AllOf(HasSubstr("key/value count"), HasSubstr("larger than the file can hold")));
}

TEST_F(GgufHostile, AbsurdKeyLength) {
  GgufBytes b;
  b.header(0, 1).u64(uint64_t{1} << 62).zeros(16);
  EXPECT_THAT(open_error(b.bytes), AllOf(HasSubstr("key #0"), HasSubstr("string length 4611686018427387904")));
}

TEST_F(GgufHostile, AbsurdStringValueLength) {
  GgufBytes b;
  b.header(0, 1).str("general.name").u32(8).u64(1000).raw("abc", 3);
  EXPECT_THAT(open_error(b.bytes), AllOf(HasSubstr("key general.name"), HasSubstr("string length 1000"),
                                         HasSubstr("3 bytes left")));
}

TEST_F(GgufHostile, AbsurdArrayLength) {
  GgufBytes b;
  b.header(0, 1).str("tokenizer.ggml.tokens").u32(9).u32(8).u64(uint64_t{1} << 40).str("a");
  EXPECT_THAT(open_error(b.bytes),
              AllOf(HasSubstr("key tokenizer.ggml.tokens"), HasSubstr("array length 1099511627776")));
}

TEST_F(GgufHostile, ArraysNestedTooDeep) {
  GgufBytes b;
  b.header(0, 1).str("deep").u32(9);
  for (int i = 0; i < 20; ++i) b.u32(9).u64(1);  // array of one array of one array ...
  b.u32(0).u64(0);
  EXPECT_THAT(open_error(b.bytes), AllOf(HasSubstr("key deep"), HasSubstr("nested deeper")));
}

TEST_F(GgufHostile, UnknownValueType) {
  GgufBytes b;
  b.header(0, 1).str("general.x").u32(13).u32(0);
  EXPECT_THAT(open_error(b.bytes), AllOf(HasSubstr("key general.x"), HasSubstr("unknown value type 13")));
}

TEST_F(GgufHostile, UnknownArrayElementType) {
  GgufBytes b;
  b.header(0, 1).str("general.x").u32(9).u32(77).u64(0);
  EXPECT_THAT(open_error(b.bytes), AllOf(HasSubstr("key general.x"), HasSubstr("unknown value type 77")));
}

TEST_F(GgufHostile, BoolOutOfRange) {
  GgufBytes b;
  b.header(0, 1).str("general.flag").u32(7).u8(2);
  EXPECT_THAT(open_error(b.bytes), AllOf(HasSubstr("key general.flag"), HasSubstr("expected a bool")));
}

TEST_F(GgufHostile, DuplicateKey) {
  GgufBytes b;
  b.header(0, 2).kv_u32("llama.block_count", 1).kv_u32("llama.block_count", 2);
  EXPECT_THAT(open_error(b.bytes), AllOf(HasSubstr("key llama.block_count"), HasSubstr("duplicate key")));
}

TEST_F(GgufHostile, BadAlignment) {
  EXPECT_THAT(open_error(GgufBytes().header(0, 1).kv_u32("general.alignment", 3).bytes),
              AllOf(HasSubstr("general.alignment"), HasSubstr("power of two"), HasSubstr("got 3")));
  EXPECT_THAT(open_error(GgufBytes().header(0, 1).kv_u32("general.alignment", 0).bytes),
              HasSubstr("power of two"));
  EXPECT_THAT(open_error(GgufBytes().header(0, 1).kv_str("general.alignment", "32").bytes),
              AllOf(HasSubstr("general.alignment"), HasSubstr("expected an integer, got string")));
}

TEST_F(GgufHostile, TooManyDimensions) {
  EXPECT_THAT(open_error(one_tensor_file({1, 1, 1, 1, 1}, kF32, 0, 4).bytes),
              AllOf(HasSubstr("tensor blk.0.attn_q.weight"), HasSubstr("5 dimensions (expected at most 4)")));
}

TEST_F(GgufHostile, ZeroDimension) {
  EXPECT_THAT(open_error(one_tensor_file({4, 0}, kF32, 0, 16).bytes),
              AllOf(HasSubstr("tensor blk.0.attn_q.weight"), HasSubstr("dimension 1 is 0"),
                    HasSubstr("expected a positive size")));
}

TEST_F(GgufHostile, NegativeDimension) {
  EXPECT_THAT(open_error(one_tensor_file({uint64_t{1} << 63}, kF32, 0, 16).bytes),
              AllOf(HasSubstr("tensor blk.0.attn_q.weight"), HasSubstr("expected a positive size")));
}

TEST_F(GgufHostile, OverflowingElementCount) {
  EXPECT_THAT(open_error(one_tensor_file({uint64_t{1} << 32, uint64_t{1} << 32}, kF32, 0, 16).bytes),
              AllOf(HasSubstr("tensor blk.0.attn_q.weight"), HasSubstr("element count overflows")));
}

TEST_F(GgufHostile, HugeTensorBeyondFile) {
  EXPECT_THAT(open_error(one_tensor_file({uint64_t{1} << 20, uint64_t{1} << 20}, kF32, 0, 16).bytes),
              AllOf(HasSubstr("tensor blk.0.attn_q.weight"), HasSubstr("outside the data section")));
}

TEST_F(GgufHostile, UnknownTensorType) {
  EXPECT_THAT(open_error(one_tensor_file({4}, 99, 0, 16).bytes),
              AllOf(HasSubstr("tensor blk.0.attn_q.weight"), HasSubstr("unknown tensor type id 99"),
                    HasSubstr("expected one of f32, f16")));
  // FP8 has a whale id but no GGUF one.
  EXPECT_THAT(open_error(one_tensor_file({4}, 1000, 0, 16).bytes), HasSubstr("unknown tensor type id 1000"));
}

TEST_F(GgufHostile, RowNotMultipleOfBlock) {
  EXPECT_THAT(open_error(one_tensor_file({31, 2}, kQ8_0, 0, 68).bytes),
              AllOf(HasSubstr("tensor blk.0.attn_q.weight"), HasSubstr("row length 31"),
                    HasSubstr("q8_0 block size 32")));
}

TEST_F(GgufHostile, MisalignedOffset) {
  EXPECT_THAT(open_error(one_tensor_file({4}, kF32, 4, 32).bytes),
              AllOf(HasSubstr("tensor blk.0.attn_q.weight"), HasSubstr("data offset 4"),
                    HasSubstr("alignment 32")));
}

TEST_F(GgufHostile, OffsetOutOfBounds) {
  EXPECT_THAT(open_error(one_tensor_file({4}, kF32, 64, 32).bytes),
              AllOf(HasSubstr("tensor blk.0.attn_q.weight"), HasSubstr("outside the data section")));
  EXPECT_THAT(open_error(one_tensor_file({4}, kF32, ~uint64_t{0} - 31, 32).bytes),
              HasSubstr("outside the data section"));
}

TEST_F(GgufHostile, TruncatedTensorData) {
  EXPECT_THAT(open_error(one_tensor_file({8}, kF32, 0, 31).bytes),
              AllOf(HasSubstr("tensor blk.0.attn_q.weight"), HasSubstr("[0, 32)"), HasSubstr("31 bytes")));
}

TEST_F(GgufHostile, DuplicateTensorName) {
  GgufBytes b;
  b.header(2, 0).tensor("output.weight", {4}, kF32, 0).tensor("output.weight", {4}, kF32, 32).pad(32).zeros(64);
  EXPECT_THAT(open_error(b.bytes), AllOf(HasSubstr("tensor output.weight"), HasSubstr("duplicate tensor name")));
}

GgufBytes valid_file() {
  GgufBytes b;
  b.header(2, 3).kv_str("general.architecture", "llama").kv_u32("llama.block_count", 1);
  b.str("tokenizer.ggml.tokens").u32(9).u32(8).u64(2).str("a").str("bc");
  b.tensor("token_embd.weight", {32, 2}, kQ8_0, 0).tensor("output_norm.weight", {4}, kF32, 96);
  b.pad(32).zeros(68).pad(32).f32(1).f32(2).f32(3).f32(4);
  return b;
}

TEST_F(GgufHostile, EveryTruncationFailsCleanly) {
  const std::vector<uint8_t> full = valid_file().bytes;
  ASSERT_NO_THROW(File::open(dir_.write("ok.gguf", full)));
  for (size_t n = 0; n < full.size(); ++n) {
    const std::string path = dir_.write("cut.gguf", std::vector<uint8_t>(full.begin(), full.begin() + n));
    EXPECT_THROW(File::open(path), Error) << "prefix of " << n << " bytes";
  }
}

TEST_F(GgufHostile, RandomByteFlipsNeverCrash) {
  const std::vector<uint8_t> full = valid_file().bytes;
  std::mt19937 rng(11);
  int failures = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<uint8_t> bytes = full;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) {
      // Most flips land in the header and table, where they matter.
      bytes[rng() % 200] = static_cast<uint8_t>(rng());
    }
    const std::string path = dir_.write("flip.gguf", bytes);
    try {
      File file = File::open(path);
      for (const TensorView& t : file.tensors()) {
        ASSERT_GE(t.data, file.tensors()[0].data - file.data_offset());
      }
    } catch (const Error&) {
      ++failures;
    }
  }
  EXPECT_GT(failures, 100);
}

}  // namespace
}  // namespace whale::gguf
