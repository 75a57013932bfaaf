// One view of a model whatever its files: a GGUF file, or a Hugging Face folder (config.json, safetensors,
// tokenizer.json, tokenizer_config.json, generation_config.json). Both present llama.cpp's GGUF metadata keys
// and tensor names and layouts, so the rest of whale reads a single vocabulary:
//   - HF folders are translated the way llama.cpp's converter does it: llama q/k rows permuted for its rope,
//     rope_freqs.weight for llama3 rope scaling, deepseek kv_b split into attn_k_b (transposed) and attn_v_b,
//     routed experts stacked into 3-D ffn_*_exps tensors.
//   - Tensors are views into the memory maps where the bytes can be used as they are, and the rearranged
//     tensors above are owned copies.
//   - FP8 checkpoints (DeepSeek-V3's float8_e4m3fn weights with float 128x128 block scales) stay FP8: a
//     weight keeps dtype F8_E4M3 (a view into the map, or stacked / split bytes for the rearranged ones) and
//     its scales appear next to it as "<name>_scale_inv", F32, [ceil(rows/128), ceil(cols/128)] (with a
//     leading expert / head dimension for 3-D stacks). The real value is w[r, c] * scale[r / 128, c / 128].
//     Where a rearrangement would split a 128-row block (llama's rope permutation, or a kv_b whose per-head
//     row counts are not multiples of 128) that tensor is dequantized to F32 instead. Consumers that re-encode
//     tensors (convert, quantize) read rows through dequantize_row() and skip the scale tensors.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"
#include "formats/gguf.h"

namespace whale {

class ModelSource {
 public:
  enum class Kind { Gguf, HuggingFace };
  struct Options {
    // Also present DeepSeek's multi-token-prediction layers (HF layers >= num_hidden_layers) as
    // blk.N.nextn.* plus their block tensors, with block_count and nextn_predict_layers counting them.
    // llama.cpp's converter leaves them out, so `whale convert` does too unless asked.
    bool include_mtp = false;
    // How the weight files are held (core/mapped_file.h): inference copies them into huge pages.
    MappedFile::Residency residency = MappedFile::Residency::Map;
  };

  // Opens a .gguf file or a Hugging Face folder. Throws whale::Error naming the file, key or tensor at fault:
  // unsupported architecture, missing or mis-shaped tensors, tensors the config does not account for.
  static ModelSource open(const std::string& path) { return open(path, Options{}); }
  static ModelSource open(const std::string& path, const Options& options);

  Kind kind() const { return kind_; }
  const std::string& path() const { return path_; }
  const gguf::Metadata& metadata() const { return metadata_; }
  std::string architecture() const { return metadata_.get_string("general.architecture"); }

  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find_tensor(std::string_view name) const;
  const TensorView& tensor(std::string_view name) const;  // throws naming the model and tensor when missing

  // The F32 block scales ("<name>_scale_inv") of an F8_E4M3 tensor; nullptr for other types. Throws naming
  // the tensor when an F8 tensor has none or they are mis-shaped.
  const TensorView* scale_of(const TensorView& tensor) const;
  // Whether `tensor` is the block-scale companion of an F8_E4M3 tensor (not a tensor of the model itself).
  bool is_block_scale(const TensorView& tensor) const;
  // Row `row` of `tensor` (rows as TensorView::rows() counts them, across a 3-D stack) as floats, with F8
  // block scales applied.
  void dequantize_row(const TensorView& tensor, int64_t row, float* out) const;

  // Hugging Face tokenizer files as text (nullopt for GGUF files, whose vocabulary is in metadata()).
  const std::optional<std::string>& tokenizer_json() const { return tokenizer_json_; }
  const std::optional<std::string>& tokenizer_config_json() const { return tokenizer_config_json_; }
  const std::optional<std::string>& generation_config_json() const { return generation_config_json_; }
  // tokenizer_config.json's chat_template (or chat_template.jinja), or GGUF tokenizer.chat_template.
  const std::optional<std::string>& chat_template() const { return chat_template_; }

  // Bytes of the files behind the model (the GGUF file, or config + safetensors).
  uint64_t file_bytes() const { return file_bytes_; }
  // Bytes of all tensors as presented (what inference keeps in memory).
  uint64_t tensor_bytes() const;

 private:
  friend class HfLoader;
  friend class HfTensorMapper;
  Kind kind_ = Kind::Gguf;
  std::string path_;
  gguf::Metadata metadata_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
  std::shared_ptr<const void> keep_alive_;                 // the gguf::File or safetensors::Checkpoint
  std::vector<std::unique_ptr<uint8_t[]>> owned_;          // converted tensors' bytes
  std::optional<std::string> tokenizer_json_, tokenizer_config_json_, generation_config_json_, chat_template_;
  uint64_t file_bytes_ = 0;
};

}  // namespace whale
