// Added tokens (special tokens such as <|im_start|> and extra vocabulary such as <think>) are found in the
// text before any other processing and become one id each. Matching is leftmost-longest over all contents,
// with the lstrip / rstrip / single_word flags of tokenizer.json applied as Hugging Face applies them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace whale::tok {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;      // skipped when decoding with skip_special
  bool lstrip = false;       // the match swallows whitespace before it
  bool rstrip = false;       // ... and after it
  bool normalized = false;   // matched in normalized text rather than raw text
  bool single_word = false;  // only matched when not inside a word
};

// One piece of text after added tokens are cut out: either a token id or a text range.
struct Segment {
  int32_t id = -1;  // -1: text
  std::string_view text;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  bool empty() const { return tokens_.empty(); }

  // Appends the segments of `text` to `out`: added tokens and the text between them (empty text is left out).
  void split(std::string_view text, std::vector<Segment>& out) const;

 private:
  struct Node {
    int32_t token = -1;  // index in tokens_ when a content ends here
    std::vector<std::pair<uint8_t, uint32_t>> children;
  };
  // Longest content that starts at text[pos]: index in tokens_ and length, or -1.
  int32_t longest_at(std::string_view text, size_t pos, size_t& length) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_;
  bool first_byte_[256] = {};
};

}  // namespace whale::tok
