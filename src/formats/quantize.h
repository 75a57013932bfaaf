// `whale quantize`: re-encodes a model (GGUF or Hugging Face folder, any weight type) into a GGUF file of a
// llama.cpp quantization scheme, including the mixed "_M" schemes that keep the most sensitive matrices at
// higher precision. The tokenizer of a Hugging Face folder is added by the caller (tokenizer sits above
// formats), as for `whale convert`.
//
// Per-tensor rule (type_for):
//   - 1-D tensors, norms, biases and the MoE router stay F32 (as gguf_convert's converted_type);
//   - Q4_K_M / Q5_K_M: output.weight (token_embd.weight when the head is tied to it), and attn_v.weight and
//     every ffn_down* of the layers where more_bits(layer, block_count) holds, are Q6_K; the rest Q4_K / Q5_K.
//     more_bits: the first and last eighth of the layers, and every third layer in between
//     (i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2), as llama.cpp's recipe does;
//   - Q4_K_S / Q5_K_S: output.weight Q6_K, the rest Q4_K / Q5_K; Q6_K, Q8_0, Q4_0, F16, BF16, F32: every matrix;
//   - a matrix whose rows do not split into the type's blocks falls back to Q8_0 (rows a multiple of 32),
//     else F16.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "formats/gguf.h"
#include "formats/model_source.h"

namespace whale::gguf {

struct QuantScheme {
  std::string name;      // "q4_k_m"
  DType base;            // the type of most matrices
  bool more_bits_mix;    // the _M rule for attn_v / ffn_down
  bool q6_k_output;      // output (or tied token_embd) at Q6_K
  uint32_t file_type;    // llama.cpp general.file_type
};

// The scheme named `name` (case-insensitive), or nullopt.
std::optional<QuantScheme> quant_scheme(std::string_view name);
// Names quant_scheme accepts, for help texts and error messages.
std::vector<std::string> quant_scheme_names();

// Whether layer `layer` of `layers` gets the higher-precision type under the _M mixes.
bool more_bits(int64_t layer, int64_t layers);

// The type `tensor` is written with. `block_count` is the model's layer count; `tied_output` whether the
// model has no output.weight (the head reuses token_embd).
DType type_for(const TensorView& tensor, const QuantScheme& scheme, int64_t block_count, bool tied_output);

// Copies `source`'s metadata (general.file_type set to the scheme's) and adds every tensor re-encoded to
// type_for(). Rows are converted on `pool` while writer.write() runs; `source` and `pool` must outlive it.
void add_quantized_model(const ModelSource& source, const QuantScheme& scheme, ThreadPool& pool, Writer& writer);

}  // namespace whale::gguf
