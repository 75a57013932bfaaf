// Pre-tokenization: cutting normalized text into the words that BPE encodes one at a time. A pre-tokenizer is
// a sequence of regex splits ("Split" with behavior Isolated in tokenizer.json): each split cuts every piece
// left by the previous one into matches and the gaps between them. Regexes run on PCRE2 with UTF, UCP and JIT.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace whale::tok {

// One compiled split pattern.
class RegexSplit {
 public:
  // Compiles `pattern` (Hugging Face / Oniguruma syntax of the patterns these tokenizers use); `what` names
  // where it came from in errors.
  RegexSplit(const std::string& pattern, std::string_view what);
  ~RegexSplit();
  RegexSplit(RegexSplit&& other) noexcept;
  RegexSplit& operator=(RegexSplit&& other) noexcept;
  RegexSplit(const RegexSplit&) = delete;
  RegexSplit& operator=(const RegexSplit&) = delete;

  const std::string& pattern() const { return pattern_; }
  // Appends to `out` the pieces of `text`: every match and every non-empty gap, in order.
  void split(std::string_view text, std::vector<std::string_view>& out) const;

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8
};

class PreTokenizer {
 public:
  PreTokenizer() = default;
  void add_split(const std::string& pattern, std::string_view what);
  bool empty() const { return splits_.empty(); }
  std::vector<std::string> patterns() const;

  // Cuts `text` into `pieces` (cleared first). `scratch` is reused between calls to avoid allocations.
  void split(std::string_view text, std::vector<std::string_view>& pieces,
             std::vector<std::string_view>& scratch) const;

 private:
  std::vector<RegexSplit> splits_;
};

// The split pattern of GPT-2's ByteLevel pre-tokenizer (used when tokenizer.json says use_regex: true).
extern const char* const kGpt2Pattern;

// What a GGUF tokenizer.ggml.pre name means: the split patterns and whether text is NFC-normalized first.
struct PreTokenizerPreset {
  std::vector<std::string> patterns;
  bool nfc = false;
  bool ignore_merges = false;
  bool add_bos = false;  // llama.cpp's default when tokenizer.ggml.add_bos_token is absent
};
std::optional<PreTokenizerPreset> preset_for_gguf_pre(std::string_view name);
// The names whale understands, for error messages.
std::string supported_gguf_pre_names();
// The GGUF pre name for a sequence of Hugging Face split patterns, or nullopt when none fits.
std::optional<std::string> gguf_pre_for_patterns(const std::vector<std::string>& patterns, bool nfc);

}  // namespace whale::tok
