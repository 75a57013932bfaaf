// The state behind a Tokenizer, filled by the loaders (tokenizer.json, GGUF) and read by encode/decode. Internal to
// the tokenizer module (tests and benchmarks look inside).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/spm.h"
#include "tokenizer/tokenizer.h"

namespace whale::tok {

// GGUF token types (tokenizer.ggml.token_type), as llama.cpp numbers them.
enum class GgufTokenType : int32_t {
  Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

struct TokenizerData {
  std::string source;
  TokenizerKind kind = TokenizerKind::ByteLevelBpe;

  // Indexed by id; ids that no token uses have empty text and bytes.
  std::vector<std::string> token_text;
  std::vector<std::string> token_bytes;
  std::vector<uint8_t> special;  // 1: skipped by decode(skip_special)
  std::vector<AddedToken> added;  // as loaded; finish() builds the matchers from them

  // Added tokens matched in raw text, then (inside what is left, after normalization) in normalized text.
  AddedTokenMatcher raw_added;
  AddedTokenMatcher normalized_added;

  bool nfc = false;
  PreTokenizer pre;
  bool byte_level_add_prefix_space = false;
  bool ignore_merges = false;
  std::unique_ptr<BpeModel> bpe;

  std::unique_ptr<SpmModel> spm;
  std::vector<float> scores;
  std::vector<GgufTokenType> token_types;  // from GGUF, else empty
  bool add_space_prefix = true;

  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t pad_id = -1;
  int32_t unk_id = -1;
  bool add_bos = false;
  bool add_eos = false;
  std::string gguf_pre;  // GGUF pre-tokenizer name, when loaded from GGUF

  std::unordered_map<std::string, int32_t> by_text;  // token_id() lookups
  std::vector<int32_t> end_of_generation;

  // Builds the lookup tables that every loader needs (by_text, end-of-generation set, matchers from `added`)
  // and wraps the data in a Tokenizer.
  static Tokenizer finish(std::shared_ptr<TokenizerData> data);
};

}  // namespace whale::tok
