// Conversion rules (which tensors keep F32, the F16 fallback for rows that do not fit a block) and a
// convert-then-read round trip through the GGUF writer and reader.
#include "formats/gguf_convert.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "formats/hf_test_folder.h"
#include "kernels/ref/quant.h"

namespace whale::gguf {
namespace {

using testing::TempDir;

TensorView view(std::string name, Shape shape) {
  TensorView t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  return t;
}

TEST(GgufConvert, TypeRulesFollowLlamaCpp) {
  EXPECT_EQ(converted_type(view("blk.0.attn_q.weight", {64, 64}), DType::Q8_0), DType::Q8_0);
  EXPECT_EQ(converted_type(view("token_embd.weight", {100, 64}), DType::BF16), DType::BF16);
  EXPECT_EQ(converted_type(view("blk.0.attn_norm.weight", {64}), DType::Q8_0), DType::F32);      // 1-D
  EXPECT_EQ(converted_type(view("blk.0.attn_q.bias", {64}), DType::F16), DType::F32);
  EXPECT_EQ(converted_type(view("blk.0.exp_probs_b.bias", {8}), DType::F16), DType::F32);
  EXPECT_EQ(converted_type(view("blk.0.ffn_gate_inp.weight", {8, 64}), DType::Q8_0), DType::F32);  // router
  EXPECT_EQ(converted_type(view("blk.0.attn_q_a_norm.weight", {2, 4}), DType::F16), DType::F32);   // any norm
  EXPECT_EQ(converted_type(view("blk.0.attn_k_b.weight", {2, 8, 48}), DType::Q8_0), DType::F16);   // 48 % 32
  EXPECT_EQ(converted_type(view("blk.0.ffn_up_exps.weight", {4, 8, 64}), DType::Q8_0), DType::Q8_0);
  EXPECT_EQ(llama_file_type(DType::Q8_0), 7u);
  EXPECT_EQ(llama_file_type(DType::BF16), 32u);
}

TEST(GgufConvert, RoundTripThroughWriterAndReader) {
  TempDir dir;
  // Source: a GGUF with an F32 matrix of multiples of 1/8 and a norm.
  std::vector<float> matrix(2 * 64);
  for (size_t i = 0; i < matrix.size(); ++i) matrix[i] = static_cast<float>(static_cast<int>(i % 64) - 32) / 8.0f;
  Writer source_writer;
  source_writer.metadata().set_string("general.architecture", "llama");
  source_writer.metadata().set_uint32("llama.block_count", 1);
  source_writer.add_tensor("blk.0.attn_q.weight", DType::F32, {2, 64}, testing::f32_bytes(matrix));
  source_writer.add_tensor("blk.0.attn_norm.weight", DType::F32, {64}, testing::f32_bytes(std::vector<float>(64, 1.5f)));
  source_writer.write(dir.file("src.gguf"));
  const ModelSource source = ModelSource::open(dir.file("src.gguf"));

  for (DType type : {DType::F16, DType::Q8_0, DType::BF16}) {
    Writer writer;
    add_model(source, type, writer);
    writer.write(dir.file("out.gguf"));
    File out = File::open(dir.file("out.gguf"));
    EXPECT_EQ(out.metadata().get_int("general.file_type"), llama_file_type(type));
    EXPECT_EQ(out.metadata().get_int("llama.block_count"), 1);
    EXPECT_EQ(out.metadata().get_string("general.type"), "model");
    const TensorView& q = out.tensor("blk.0.attn_q.weight");
    EXPECT_EQ(q.dtype, type);
    EXPECT_EQ(q.shape, (Shape{2, 64}));
    EXPECT_EQ(out.tensor("blk.0.attn_norm.weight").dtype, DType::F32);
    std::vector<float> back(matrix.size());
    ref::dequantize_row(q.dtype, q.data, back.data(), static_cast<int64_t>(back.size()));
    // Every value is a multiple of 1/8 within [-4, 3.875]: exact in f16 and bf16. For q8_0 the block's
    // max |x| is 4 (d = 4/127); values come back within half a step.
    for (size_t i = 0; i < matrix.size(); ++i) {
      const float tolerance = type == DType::Q8_0 ? 4.0f / 127.0f / 2.0f * 1.01f : 0.0f;
      EXPECT_NEAR(back[i], matrix[i], tolerance) << dtype_name(type) << " " << i;
    }
  }
}

}  // namespace
}  // namespace whale::gguf
