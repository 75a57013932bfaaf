// JsonPrefix (see json_prefix.h).
#include "runtime/json_prefix.h"

namespace whale {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace

bool JsonPrefix::feed(std::string_view bytes) {
  for (char c : bytes) {
    if (!feed(c)) return false;
  }
  return true;
}

bool JsonPrefix::feed(char c) {
  switch (mode_) {
    case Mode::Start:
      if (is_space(c)) return true;
      if (c != '{') return false;
      return start_value(c);
    case Mode::Done:
      return is_space(c);
    case Mode::KeyOrClose:
      if (c == '}') return close(c);
      [[fallthrough]];
    case Mode::Key:
      if (is_space(c)) return true;
      if (c != '"') return false;
      mode_ = Mode::String;
      string_is_key_ = true;
      return true;
    case Mode::Colon:
      if (is_space(c)) return true;
      if (c != ':') return false;
      mode_ = Mode::Value;
      return true;
    case Mode::ValueOrClose:
      if (c == ']') return close(c);
      [[fallthrough]];
    case Mode::Value:
      if (is_space(c)) return true;
      return start_value(c);
    case Mode::AfterValue:
      if (is_space(c)) return true;
      return after_value(c);
    case Mode::String:
      if (c == '"') {
        mode_ = string_is_key_ ? Mode::Colon : Mode::AfterValue;
        return true;
      }
      if (c == '\\') {
        mode_ = Mode::Escape;
        return true;
      }
      return static_cast<unsigned char>(c) >= 0x20;
    case Mode::Escape:
      if (c == 'u') {
        mode_ = Mode::Unicode;
        aux_ = 4;
        return true;
      }
      if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
        mode_ = Mode::String;
        return true;
      }
      return false;
    case Mode::Unicode:
      if (!is_hex(c)) return false;
      if (--aux_ == 0) mode_ = Mode::String;
      return true;
    case Mode::Literal:
      if (literal_[aux_] != c) return false;
      if (literal_[++aux_] == '\0') mode_ = Mode::AfterValue;
      return true;
    case Mode::Number:
      switch (number_) {
        case NumberState::Minus:
          if (c == '0') {
            number_ = NumberState::Zero;
          } else if (is_digit(c)) {
            number_ = NumberState::Int;
          } else {
            return false;
          }
          return true;
        case NumberState::Zero:
        case NumberState::Int:
          if (is_digit(c) && number_ == NumberState::Int) return true;
          if (c == '.') {
            number_ = NumberState::Dot;
            return true;
          }
          if (c == 'e' || c == 'E') {
            number_ = NumberState::Exp;
            return true;
          }
          return end_number(c);
        case NumberState::Dot:
          if (!is_digit(c)) return false;
          number_ = NumberState::Frac;
          return true;
        case NumberState::Frac:
          if (is_digit(c)) return true;
          if (c == 'e' || c == 'E') {
            number_ = NumberState::Exp;
            return true;
          }
          return end_number(c);
        case NumberState::Exp:
          if (c == '+' || c == '-') {
            number_ = NumberState::ExpSign;
            return true;
          }
          [[fallthrough]];
        case NumberState::ExpSign:
          if (!is_digit(c)) return false;
          number_ = NumberState::ExpDigits;
          return true;
        case NumberState::ExpDigits:
          if (is_digit(c)) return true;
          return end_number(c);
      }
      return false;
  }
  return false;
}

bool JsonPrefix::start_value(char c) {
  switch (c) {
    case '{':
    case '[':
      if (depth_ == kMaxDepth) return false;
      stack_[depth_++] = c;
      mode_ = c == '{' ? Mode::KeyOrClose : Mode::ValueOrClose;
      return true;
    case '"':
      mode_ = Mode::String;
      string_is_key_ = false;
      return true;
    case '-':
      mode_ = Mode::Number;
      number_ = NumberState::Minus;
      return true;
    case 't':
    case 'f':
    case 'n':
      literal_ = c == 't' ? "true" : c == 'f' ? "false" : "null";
      aux_ = 1;
      mode_ = Mode::Literal;
      return true;
    default:
      if (!is_digit(c)) return false;
      mode_ = Mode::Number;
      number_ = c == '0' ? NumberState::Zero : NumberState::Int;
      return true;
  }
}

bool JsonPrefix::end_number(char c) {
  mode_ = Mode::AfterValue;
  return is_space(c) || after_value(c);
}

bool JsonPrefix::after_value(char c) {
  if (c == ',') {
    mode_ = in_object() ? Mode::Key : Mode::Value;
    return true;
  }
  if (c == '}' || c == ']') return close(c);
  return false;
}

bool JsonPrefix::close(char c) {
  if (depth_ == 0 || stack_[depth_ - 1] != (c == '}' ? '{' : '[')) return false;
  --depth_;
  mode_ = depth_ == 0 ? Mode::Done : Mode::AfterValue;
  return true;
}

}  // namespace whale
