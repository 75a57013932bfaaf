// whale's tokenizer: text -> token ids -> text for the model families whale runs. Two algorithms sit behind
// one interface: byte-level BPE (DeepSeek-V3/R1, Qwen2/2.5/3, Llama 3; tokenizer.json or GGUF "gpt2") and
// SentencePiece-style BPE (GGUF "llama", the Llama 2 family). Encoding follows Hugging Face tokenizers:
// added tokens are cut out first, the rest is normalized (NFC for Qwen), pre-tokenized with the model's split
// regexes and BPE-encoded word by word.
//
// A Tokenizer is immutable after loading, cheap to copy (shared state) and safe to use from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace whale::gguf {
class Metadata;
}

namespace whale {

class ModelSource;

namespace tok {
struct TokenizerData;
}

enum class TokenizerKind { ByteLevelBpe, SentencePieceBpe };

class Tokenizer {
 public:
  // An empty tokenizer (no tokens: encode gives no ids, every id is out of range), so that structs holding a
  // Tokenizer can be default-constructed before a real one is assigned.
  Tokenizer();

  // From the contents of tokenizer.json and, optionally, tokenizer_config.json (empty string: none), which
  // supplies bos/eos and add_bos_token/add_eos_token. `source` names the files in error messages.
  static Tokenizer from_hf_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json,
                                std::string source = "tokenizer.json");
  // From files: a tokenizer.json path, or a folder holding tokenizer.json. tokenizer_config.json is read from
  // the same folder when present.
  static Tokenizer from_hf_files(const std::string& path);
  // From GGUF metadata: tokenizer.ggml.model ("gpt2" or "llama"), .pre, .tokens, .token_type, .merges,
  // .scores, .bos_token_id, .eos_token_id, .add_bos_token, .add_eos_token, .add_space_prefix ...
  static Tokenizer from_gguf(const gguf::Metadata& metadata);
  // From an opened model: its tokenizer.json when it is a Hugging Face folder, else its GGUF metadata.
  static Tokenizer from_model(const ModelSource& model);
  // From what a user names with -m: a .gguf file, a Hugging Face folder, a folder or path holding just
  // tokenizer.json (+ tokenizer_config.json). Throws whale::Error naming the path when it is none of these.
  static Tokenizer from_path(const std::string& path);

  TokenizerKind kind() const;
  // One more than the largest id.
  int32_t vocab_size() const;

  // Ids of `text` (valid UTF-8; anything else throws whale::Error). Added and special tokens written in the
  // text are always recognized. With `add_special`, BOS/EOS are added as the model's configuration asks.
  std::vector<int32_t> encode(std::string_view text, bool add_special = false) const;
  // Appends to `out` instead of returning a new vector.
  void encode_append(std::string_view text, bool add_special, std::vector<int32_t>& out) const;

  // Text of `ids` (throws whale::Error for an id outside the vocabulary). Byte sequences that are not valid
  // UTF-8 become U+FFFD. With `skip_special`, special tokens (BOS, EOS, <|im_start|>...) are left out.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;
  // The exact bytes of `ids`, without UTF-8 repair.
  std::string decode_bytes(std::span<const int32_t> ids, bool skip_special = false) const;
  // Whether decoding drops one space at the start of the text (SentencePiece models that add a space prefix
  // when encoding).
  bool decode_strips_leading_space() const;

  // The raw bytes one token stands for (for SentencePiece, ▁ already turned into a space).
  std::string_view token_bytes(int32_t id) const;
  // The token as the vocabulary spells it ("Ġthe", "▁the", "<|im_start|>").
  const std::string& token_text(int32_t id) const;
  bool is_special(int32_t id) const;
  bool is_valid_id(int32_t id) const { return id >= 0 && id < vocab_size(); }
  // The id of an added token by its content, or of a vocabulary token by its spelling.
  std::optional<int32_t> token_id(std::string_view text) const;

  // -1 when the model has none.
  int32_t bos_id() const;
  int32_t eos_id() const;
  bool add_bos() const;
  bool add_eos() const;
  // Tokens that end a generation: EOS and the end-of-turn tokens the vocabulary has (<|im_end|>,
  // <|eot_id|>, <｜end▁of▁sentence｜>, <|endoftext|> ...), sorted.
  const std::vector<int32_t>& end_of_generation_ids() const;
  bool is_end_of_generation(int32_t id) const;

  // Internal state, for tests and benchmarks.
  const tok::TokenizerData& data() const { return *data_; }

 private:
  explicit Tokenizer(std::shared_ptr<const tok::TokenizerData> data) : data_(std::move(data)) {}
  friend struct tok::TokenizerData;

  std::shared_ptr<const tok::TokenizerData> data_;
};

}  // namespace whale
