// SentencePiece-style BPE (GGUF tokenizer.ggml.model "llama", the Llama 2 family): the text, with spaces
// written as U+2581 "▁", starts as one symbol per character; the adjacent pair whose concatenation is the
// vocabulary token with the highest score is merged first (leftmost on ties) until no pair forms a token.
// Characters left without a token fall back to their bytes as <0xXX> tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace whale::tok {

inline constexpr std::string_view kSpmSpace = "\xe2\x96\x81";  // U+2581, the SentencePiece space

class SpmModel {
 public:
  // `tokens` and `scores` are indexed by id; `byte_tokens[b]` is the id of <0xXX> for byte b (-1 if missing);
  // `unk_id` stands in for a byte without a token (-1: the byte is dropped).
  SpmModel(const std::vector<std::string>& tokens, const std::vector<float>& scores,
           const std::vector<int32_t>& byte_tokens, int32_t unk_id);

  // Appends the ids of `text`, which already has spaces replaced with ▁ and any prefix added.
  void encode(std::string_view text, std::vector<int32_t>& out) const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  int32_t find(std::string_view text) const;

  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> text_to_id_;
  std::vector<float> scores_;
  std::vector<int32_t> byte_tokens_;
  int32_t unk_id_ = -1;
};

}  // namespace whale::tok
