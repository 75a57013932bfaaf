// The per-tensor type rule of `whale quantize` (formats/quantize.h), case by case: which tensors the _M
// mixes keep at Q6_K, what stays F32, and the fallbacks for rows that do not split into blocks.
#include "formats/quantize.h"

#include <gtest/gtest.h>

namespace whale::gguf {
namespace {

TensorView tensor(std::string name, Shape shape) {
  TensorView t;
  t.name = std::move(name);
  t.dtype = DType::F16;
  t.shape = std::move(shape);
  return t;
}

TEST(QuantizeScheme, SchemesByName) {
  ASSERT_TRUE(quant_scheme("Q4_K_M").has_value());
  EXPECT_EQ(quant_scheme("q4_k_m")->base, DType::Q4_K);
  EXPECT_EQ(quant_scheme("q4_k_m")->file_type, 15u);
  EXPECT_EQ(quant_scheme("q5_k_m")->base, DType::Q5_K);
  EXPECT_EQ(quant_scheme("q6_k")->base, DType::Q6_K);
  EXPECT_FALSE(quant_scheme("q3_k_xl").has_value());
}

TEST(QuantizeScheme, MoreBitsLayers) {
  // 28 layers: n/8 = 3, 7n/8 = 24; in between every third layer starting at 3 + 2 = 5.
  for (int64_t i : {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 27}) EXPECT_TRUE(more_bits(i, 28)) << i;
  for (int64_t i : {3, 4, 6, 7, 9, 22}) EXPECT_FALSE(more_bits(i, 28)) << i;
}

TEST(QuantizeScheme, Q4KMMix) {
  const QuantScheme s = *quant_scheme("q4_k_m");
  EXPECT_EQ(type_for(tensor("blk.5.attn_v.weight", {256, 1536}), s, 28, false), DType::Q6_K);
  EXPECT_EQ(type_for(tensor("blk.4.attn_v.weight", {256, 1536}), s, 28, false), DType::Q4_K);
  EXPECT_EQ(type_for(tensor("blk.0.ffn_down.weight", {1536, 8960}), s, 28, false), DType::Q6_K);
  EXPECT_EQ(type_for(tensor("blk.4.ffn_down.weight", {1536, 8960}), s, 28, false), DType::Q4_K);
  EXPECT_EQ(type_for(tensor("blk.2.ffn_down_exps.weight", {64, 2048, 2048}), s, 27, false), DType::Q6_K);
  // V2-Lite's experts are 1408 wide: not whole super-blocks, so Q8_0 (1408 = 44 x 32).
  EXPECT_EQ(type_for(tensor("blk.2.ffn_down_exps.weight", {64, 2048, 1408}), s, 27, false), DType::Q8_0);
  EXPECT_EQ(type_for(tensor("blk.4.ffn_up.weight", {8960, 1536}), s, 28, false), DType::Q4_K);
  EXPECT_EQ(type_for(tensor("output.weight", {151936, 1536}), s, 28, false), DType::Q6_K);
  // The embedding is the head only when output.weight is absent.
  EXPECT_EQ(type_for(tensor("token_embd.weight", {151936, 1536}), s, 28, false), DType::Q4_K);
  EXPECT_EQ(type_for(tensor("token_embd.weight", {151936, 1536}), s, 28, true), DType::Q6_K);
}

TEST(QuantizeScheme, VectorsStayF32AndNarrowRowsFallBack) {
  const QuantScheme s = *quant_scheme("q4_k_m");
  EXPECT_EQ(type_for(tensor("blk.0.attn_norm.weight", {1536}), s, 28, false), DType::F32);
  EXPECT_EQ(type_for(tensor("blk.0.attn_q.bias", {1536}), s, 28, false), DType::F32);
  EXPECT_EQ(type_for(tensor("blk.1.ffn_gate_inp.weight", {64, 2048}), s, 27, false), DType::F32);
  EXPECT_EQ(type_for(tensor("blk.4.attn_q.weight", {64, 96}), s, 28, false), DType::Q8_0);  // 96 = 3 x 32
  EXPECT_EQ(type_for(tensor("blk.4.attn_q.weight", {64, 100}), s, 28, false), DType::F16);
  const QuantScheme q8 = *quant_scheme("q8_0");
  EXPECT_EQ(type_for(tensor("output.weight", {151936, 1536}), q8, 28, false), DType::Q8_0);
  EXPECT_EQ(type_for(tensor("blk.5.attn_v.weight", {256, 1536}), q8, 28, false), DType::Q8_0);
}

}  // namespace
}  // namespace whale::gguf
