// Regex splits on PCRE2, and the split patterns behind llama.cpp's tokenizer.ggml.pre names.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenizer.h"

#include <pcre2.h>

#include <utility>

#include "core/error.h"

namespace whale::tok {
namespace {

// Hugging Face compiles these patterns with Oniguruma, whose \s is Unicode White_Space. PCRE2's \s (with UCP)
// is the Z categories plus tab, LF, VT, FF and CR: it misses U+0085 (NEXT LINE). Spell that one in.
std::string adapt_pattern(const std::string& pattern) {
  std::string out;
  out.reserve(pattern.size() + 16);
  bool in_class = false;
  size_t class_start = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      char e = pattern[i + 1];
      ++i;
      if (e == 's') {
        out += in_class ? "\\s\\x{85}" : "[\\s\\x{85}]";
      } else if (e == 'S' && !in_class) {
        out += "[^\\s\\x{85}]";
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      class_start = i;
    } else if (in_class && c == ']') {
      // A ']' right after '[' or '[^' is a literal member of the class.
      bool first = i == class_start + 1 || (i == class_start + 2 && pattern[class_start + 1] == '^');
      if (!first) in_class = false;
    }
    out += c;
  }
  return out;
}

struct MatchScratch {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;

  MatchScratch() {
    // Only the whole match is read, so one ovector pair is enough.
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
    WHALE_ASSERT(data && context && stack);
    pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~MatchScratch() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
};

MatchScratch& scratch() {
  thread_local MatchScratch s;
  return s;
}

}  // namespace

RegexSplit::RegexSplit(const std::string& pattern, std::string_view what) : pattern_(pattern) {
  std::string adapted = adapt_pattern(pattern);
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(adapted.data()), adapted.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    fail("{}: split regex does not compile at offset {}: {}: {}", what, offset,
         reinterpret_cast<const char*>(message), pattern);
  }
  // Without JIT (unsupported CPU) pcre2_match falls back to the interpreter; results are the same.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  code_ = code;
}

RegexSplit::~RegexSplit() {
  if (code_) pcre2_code_free(static_cast<pcre2_code*>(code_));
}

RegexSplit::RegexSplit(RegexSplit&& other) noexcept
    : pattern_(std::move(other.pattern_)), code_(std::exchange(other.code_, nullptr)) {}

RegexSplit& RegexSplit::operator=(RegexSplit&& other) noexcept {
  if (this != &other) {
    if (code_) pcre2_code_free(static_cast<pcre2_code*>(code_));
    pattern_ = std::move(other.pattern_);
    code_ = std::exchange(other.code_, nullptr);
  }
  return *this;
}

void RegexSplit::split(std::string_view text, std::vector<std::string_view>& out) const {
  auto* code = static_cast<const pcre2_code*>(code_);
  MatchScratch& s = scratch();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t last = 0;  // end of the previous match
  size_t from = 0;  // where the next search starts
  while (from <= text.size()) {
    // Text was validated as UTF-8 where it entered the tokenizer, and pieces are cut on character boundaries.
    int rc = pcre2_match(code, subject, text.size(), from, PCRE2_NO_UTF_CHECK, s.data, s.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof(message));
      fail("split regex failed on a {}-byte piece: {}", text.size(), reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.data);
    size_t start = ov[0], end = ov[1];
    if (end == start) {
      // An empty match cuts nothing; step over one character so the search moves on.
      if (start >= text.size()) break;
      from = start + 1;
      while (from < text.size() && (static_cast<uint8_t>(text[from]) & 0xC0) == 0x80) ++from;
      continue;
    }
    if (start > last) out.push_back(text.substr(last, start - last));
    out.push_back(text.substr(start, end - start));
    last = from = end;
  }
  if (last < text.size()) out.push_back(text.substr(last));
}

void PreTokenizer::add_split(const std::string& pattern, std::string_view what) { splits_.emplace_back(pattern, what); }

std::vector<std::string> PreTokenizer::patterns() const {
  std::vector<std::string> out;
  for (const auto& s : splits_) out.push_back(s.pattern());
  return out;
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& pieces,
                         std::vector<std::string_view>& scratch_pieces) const {
  pieces.clear();
  if (text.empty()) return;
  if (splits_.empty()) {
    pieces.push_back(text);
    return;
  }
  splits_[0].split(text, pieces);
  for (size_t i = 1; i < splits_.size(); ++i) {
    scratch_pieces.clear();
    for (std::string_view piece : pieces) splits_[i].split(piece, scratch_pieces);
    std::swap(pieces, scratch_pieces);
  }
}

const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

// The patterns as the models' tokenizer.json files spell them.
const char* const kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kDeepseekV3Patterns[] = {
    R"(\p{N}{1,3})",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    // Spelled with ordinary escapes: the pattern holds literal CR and LF characters. (One pattern in two
    // pieces, in parentheses to say so.)
    ("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
     "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
};
// llama.cpp's own presets for older BPE models.
const char* const kDefaultPatterns[] = {
    R"([\p{P}\$\+<=>\^~\|]+)",
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))",
    R"(\p{N}+)",
    R"([0-9][0-9][0-9])",
};
const char* const kStarcoderPatterns[] = {
    R"(\p{N})",
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))",
};

template <size_t N>
std::vector<std::string> list(const char* const (&patterns)[N]) {
  return std::vector<std::string>(patterns, patterns + N);
}

}  // namespace

std::optional<PreTokenizerPreset> preset_for_gguf_pre(std::string_view name) {
  PreTokenizerPreset p;
  if (name == "llama3" || name == "llama-v3" || name == "llama-bpe" || name == "falcon3" || name == "pixtral") {
    p.patterns = {kLlama3Pattern};
    p.ignore_merges = true;
    p.add_bos = true;
  } else if (name == "dbrx" || name == "smaug-bpe" || name == "chatglm-bpe" || name == "glm4") {
    p.patterns = {kLlama3Pattern};
  } else if (name == "deepseek-v3") {
    p.patterns = list(kDeepseekV3Patterns);
  } else if (name == "qwen2" || name == "deepseek-r1-qwen" || name == "megrez") {
    // The Qwen2 tokenizers normalize with NFC before splitting (llama.cpp skips this step).
    p.patterns = {kQwen2Pattern};
    p.nfc = true;
  } else if (name == "stablelm2") {
    p.patterns = {kQwen2Pattern};
  } else if (name == "gpt-2" || name == "phi-2" || name == "mpt" || name == "olmo" || name == "jais") {
    p.patterns = {kGpt2Pattern};
  } else if (name == "starcoder" || name == "refact" || name == "command-r" || name == "smollm" ||
             name == "codeshell" || name == "exaone" || name == "minerva-7b") {
    p.patterns = list(kStarcoderPatterns);
  } else if (name == "default") {
    p.patterns = list(kDefaultPatterns);
  } else {
    return std::nullopt;
  }
  return p;
}

std::string supported_gguf_pre_names() {
  return "default, llama3, llama-v3, llama-bpe, falcon3, pixtral, dbrx, smaug-bpe, chatglm-bpe, glm4, "
         "deepseek-v3, qwen2, deepseek-r1-qwen, megrez, stablelm2, gpt-2, phi-2, mpt, olmo, jais, starcoder, "
         "refact, command-r, smollm, codeshell, exaone, minerva-7b";
}

std::optional<std::string> gguf_pre_for_patterns(const std::vector<std::string>& patterns, bool nfc) {
  if (patterns == list(kDeepseekV3Patterns) && !nfc) return "deepseek-v3";
  if (patterns == std::vector<std::string>{kLlama3Pattern} && !nfc) return "llama-bpe";
  if (patterns == std::vector<std::string>{kQwen2Pattern}) return nfc ? "qwen2" : "stablelm2";
  if (patterns == std::vector<std::string>{kGpt2Pattern} && !nfc) return "gpt-2";
  return std::nullopt;
}

}  // namespace whale::tok
