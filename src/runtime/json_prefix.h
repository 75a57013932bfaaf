// JsonPrefix: an incremental JSON syntax checker over bytes (RFC 8259), for constrained decoding. It accepts
// exactly the byte strings that can still be extended to one JSON object followed by optional whitespace, and
// says when the object is complete. The state is a small fixed-size value, cheap to copy, so a sampler can try
// every vocabulary token from the same state.
//
// The top-level value must be an object (response_format "json_object"); nesting is limited to kMaxDepth.
// Strings are checked for escapes (\uXXXX included) and control characters; bytes >= 0x80 are accepted inside
// strings without UTF-8 validation (the tokenizer's byte tokens may split a character).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace whale {

class JsonPrefix {
 public:
  static constexpr int kMaxDepth = 32;

  // Feeds one byte; false (and the state is then unusable) when no JSON object can start with the bytes so far.
  bool feed(char c);
  bool feed(std::string_view bytes);
  // The top-level object has been closed (only whitespace may follow).
  bool complete() const { return mode_ == Mode::Done; }

 private:
  enum class Mode : uint8_t {
    Start,        // before the top-level object
    Value,        // expecting a value (after ':' or '[' or ',' in an array)
    ValueOrClose, // just after '[': a value or ']'
    Key,          // expecting a key string (after ',' in an object)
    KeyOrClose,   // just after '{': a key or '}'
    Colon,        // after a key
    AfterValue,   // after a value: ',' or the container's close
    String,       // inside a string
    Escape,       // after a backslash
    Unicode,      // inside \uXXXX (aux_ = hex digits still expected)
    Literal,      // inside true/false/null (aux_ = index into the literal)
    Number,       // inside a number (number_ holds its sub-state)
    Done,         // the top-level object is complete
  };
  enum class NumberState : uint8_t { Minus, Zero, Int, Dot, Frac, Exp, ExpSign, ExpDigits };

  bool close(char c);          // '}' or ']' in AfterValue / *OrClose
  bool start_value(char c);    // the first byte of a value
  bool end_number(char c);     // a byte that is not part of the number ends it
  bool after_value(char c);
  bool in_object() const { return depth_ > 0 && stack_[depth_ - 1] == '{'; }

  Mode mode_ = Mode::Start;
  bool string_is_key_ = false;
  NumberState number_ = NumberState::Int;
  uint8_t aux_ = 0;
  const char* literal_ = nullptr;
  uint8_t depth_ = 0;
  std::array<char, kMaxDepth> stack_{};
};

}  // namespace whale
