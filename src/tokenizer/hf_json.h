// Parsing of Hugging Face tokenizer.json and tokenizer_config.json into plain structs, shared by the Tokenizer
// loader and the GGUF exporter. Only what byte-level BPE tokenizers use is accepted; anything else is an
// error naming the file and field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/added_tokens.h"

namespace whale::tok {

struct HfTokenizerJson {
  std::unordered_map<std::string, int32_t> vocab;               // model.vocab
  std::vector<std::pair<std::string, std::string>> merges;      // model.merges, in rank order
  std::vector<AddedToken> added;                                // added_tokens
  size_t vocab_size = 0;                                        // one more than the largest id of either
  bool ignore_merges = false;
  bool nfc = false;                                             // normalizer: NFC
  std::vector<std::string> split_patterns;                      // pre_tokenizer regexes, in order
  bool add_prefix_space = false;                                // ByteLevel add_prefix_space
  // What the post_processor adds with add_special_tokens (TemplateProcessing); -1 / false when nothing.
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  bool add_bos = false;
  bool add_eos = false;
};

HfTokenizerJson parse_hf_tokenizer_json(std::string_view text, const std::string& source);

struct HfTokenizerConfig {
  std::optional<std::string> bos_token, eos_token, pad_token, unk_token;  // token contents
  std::optional<bool> add_bos_token, add_eos_token;
  std::optional<std::string> chat_template;  // the default template when several are named
};

HfTokenizerConfig parse_hf_tokenizer_config(std::string_view text, const std::string& source);

}  // namespace whale::tok
