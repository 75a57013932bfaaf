// Jinja lexer: text, {{ }}, {% %}, {# #} and {% raw %}, with the whitespace control of Jinja2 configured with
// trim_blocks and lstrip_blocks (what transformers' apply_chat_template uses).
#include "chat/jinja_lexer.h"

#include <fmt/format.h>

#include "chat/jinja_text.h"
#include "core/error.h"

namespace whale::jinja {

std::string normalize_source(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string location(std::string_view source, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t pos = 0; pos < offset && pos < source.size();) {
    if (source[pos] == '\n') {
      ++line;
      column = 1;
      ++pos;
    } else {
      decode_utf8(source, pos);
      ++column;
    }
  }
  return fmt::format("{}:{}", line, column);
}

void fail_at(std::string_view name, std::string_view source, size_t offset, std::string_view message) {
  throw Error(fmt::format("{}:{}: {}", name, location(source, offset), message));
}

namespace {

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_tag_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  Lexer(std::string_view source, std::string_view name) : src_(source), name_(name) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      size_t tag = find_tag(pos_);
      if (tag == std::string_view::npos) {
        emit_text(std::string(src_.substr(pos_)), pos_);
        break;
      }
      char kind = src_[tag + 1];
      char modifier = tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+') ? src_[tag + 2] : 0;
      std::string_view text = src_.substr(pos_, tag - pos_);
      size_t text_offset = pos_;
      bool raw = kind == '%' && is_raw_begin(tag, modifier);
      text = apply_left_whitespace(text, kind != '{', modifier);
      emit_text(std::string(text), text_offset);
      if (kind == '#') {
        lex_comment(tag, modifier);
      } else if (raw) {
        lex_raw(tag);
      } else {
        lex_tag(tag, kind, modifier);
      }
    }
    tokens_.push_back({TokenType::End, "", src_.size()});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void error(size_t offset, std::string_view message) const { fail_at(name_, src_, offset, message); }

  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string_view::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string_view::npos;
  }

  // `{%-` strips all whitespace before the tag; otherwise lstrip_blocks removes spaces and tabs between the
  // start of the line and a block or comment tag (unless `{%+`).
  std::string_view apply_left_whitespace(std::string_view text, bool block_or_comment, char modifier) const {
    if (modifier == '-') return strip_right(text, nullptr);
    if (!block_or_comment || modifier == '+') return text;
    size_t line_start = text.rfind('\n');
    line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
    if (line_start == 0 && !line_starting_) return text;
    for (size_t i = line_start; i < text.size(); ++i) {
      if (text[i] != ' ' && text[i] != '\t') return text;
    }
    return text.substr(0, line_start);
  }

  void emit_text(std::string text, size_t offset) {
    if (!text.empty()) tokens_.push_back({TokenType::Text, std::move(text), offset});
  }

  // After a tag: `-` strips all following whitespace; a plain block or comment end drops one newline
  // (trim_blocks); `+` keeps everything.
  void apply_right_whitespace(char modifier, bool trim_newline) {
    size_t start = pos_;
    if (modifier == '-') {
      pos_ = src_.size() - strip_left(src_.substr(pos_), nullptr).size();
    } else if (modifier != '+' && trim_newline && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
    }
    line_starting_ = pos_ > start && src_[pos_ - 1] == '\n';
  }

  void lex_comment(size_t tag, char modifier) {
    size_t body = tag + 2 + (modifier ? 1 : 0);
    size_t end = src_.find("#}", body);
    if (end == std::string_view::npos) error(tag, "unterminated comment, expected '#}'");
    char end_modifier = end > body && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : 0;
    pos_ = end + 2;
    apply_right_whitespace(end_modifier, true);
  }

  // {% raw %} ... {% endraw %}: the content is text, tags inside are not interpreted.
  bool is_raw_begin(size_t tag, char modifier) const {
    size_t p = tag + 2 + (modifier ? 1 : 0);
    while (p < src_.size() && is_tag_space(src_[p])) ++p;
    if (src_.substr(p, 3) != "raw" || (p + 3 < src_.size() && is_name_char(src_[p + 3]))) return false;
    p += 3;
    while (p < src_.size() && is_tag_space(src_[p])) ++p;
    if (p < src_.size() && src_[p] == '-') ++p;
    return src_.substr(p, 2) == "%}";
  }

  void lex_raw(size_t tag) {
    size_t p = src_.find("%}", tag) + 2;
    if (src_[p - 3] == '-') p = src_.size() - strip_left(src_.substr(p), nullptr).size();
    for (size_t search = p;;) {
      size_t end_tag = src_.find("{%", search);
      if (end_tag == std::string_view::npos) error(tag, "unterminated raw block, expected '{% endraw %}'");
      size_t q = end_tag + 2;
      char modifier = q < src_.size() && (src_[q] == '-' || src_[q] == '+') ? src_[q] : 0;
      if (modifier) ++q;
      while (q < src_.size() && is_tag_space(src_[q])) ++q;
      if (src_.substr(q, 6) != "endraw") {
        search = end_tag + 2;
        continue;
      }
      q += 6;
      while (q < src_.size() && is_tag_space(src_[q])) ++q;
      char end_modifier = q < src_.size() && (src_[q] == '-' || src_[q] == '+') ? src_[q] : 0;
      if (end_modifier) ++q;
      if (src_.substr(q, 2) != "%}") error(end_tag, "expected '%}' after 'endraw'");
      line_starting_ = false;
      std::string_view content = apply_left_whitespace(src_.substr(p, end_tag - p), true, modifier);
      emit_text(std::string(content), p);
      pos_ = q + 2;
      apply_right_whitespace(end_modifier, true);
      return;
    }
  }

  void lex_tag(size_t tag, char kind, char modifier) {
    const bool block = kind == '%';
    tokens_.push_back({block ? TokenType::BlockBegin : TokenType::VarBegin, "", tag});
    pos_ = tag + 2 + (modifier == '-' || (block && modifier == '+') ? 1 : 0);
    int depth = 0;  // open brackets: a closing delimiter inside them belongs to the expression
    for (;;) {
      while (pos_ < src_.size() && is_tag_space(src_[pos_])) ++pos_;
      if (pos_ >= src_.size()) {
        error(tag, fmt::format("unexpected end of template, expected '{}'", block ? "%}" : "}}"));
      }
      if (depth == 0) {
        std::string_view rest = src_.substr(pos_);
        std::string_view close = block ? "%}" : "}}";
        char end_modifier = 0;
        size_t length = 0;
        if (rest.substr(0, 2) == close) {
          length = 2;
        } else if ((rest[0] == '-' || (block && rest[0] == '+')) && rest.substr(1, 2) == close) {
          end_modifier = rest[0];
          length = 3;
        }
        if (length > 0) {
          tokens_.push_back({block ? TokenType::BlockEnd : TokenType::VarEnd, "", pos_});
          pos_ += length;
          apply_right_whitespace(end_modifier, block);
          return;
        }
      }
      lex_expression_token(depth);
    }
  }

  void lex_expression_token(int& depth) {
    size_t start = pos_;
    char c = src_[pos_];
    if (c == '\'' || c == '"') {
      tokens_.push_back({TokenType::String, lex_string(), start});
      return;
    }
    if (is_digit(c)) {
      bool after_dot = !tokens_.empty() && tokens_.back().type == TokenType::Operator && tokens_.back().value == ".";
      lex_number(after_dot);
      return;
    }
    if (is_name_start(c)) {
      while (pos_ < src_.size() && is_name_char(src_[pos_])) ++pos_;
      tokens_.push_back({TokenType::Name, std::string(src_.substr(start, pos_ - start)), start});
      return;
    }
    static constexpr std::string_view kTwoChar[] = {"//", "**", "==", "!=", "<=", ">="};
    for (std::string_view op : kTwoChar) {
      if (src_.substr(pos_, 2) == op) {
        tokens_.push_back({TokenType::Operator, std::string(op), start});
        pos_ += 2;
        return;
      }
    }
    if (std::string_view("+-*/%~<>=()[]{},.:|").find(c) != std::string_view::npos) {
      if (c == '(' || c == '[' || c == '{') ++depth;
      if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
      tokens_.push_back({TokenType::Operator, std::string(1, c), start});
      ++pos_;
      return;
    }
    size_t next = pos_;
    char32_t cp = decode_utf8(src_, next);
    std::string shown;
    append_utf8(shown, cp);
    error(start, fmt::format("unexpected character '{}' in tag", shown));
  }

  void lex_number(bool integer_only) {
    size_t start = pos_;
    auto digits = [&] {
      while (pos_ < src_.size() &&
             (is_digit(src_[pos_]) || (src_[pos_] == '_' && pos_ + 1 < src_.size() && is_digit(src_[pos_ + 1])))) {
        ++pos_;
      }
    };
    digits();
    bool is_float = false;
    if (!integer_only && pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
      ++pos_;
      digits();
      is_float = true;
    }
    if (!integer_only && pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && is_digit(src_[p])) {
        pos_ = p;
        digits();
        is_float = true;
      }
    }
    std::string text;
    for (char ch : src_.substr(start, pos_ - start)) {
      if (ch != '_') text += ch;
    }
    tokens_.push_back({is_float ? TokenType::Float : TokenType::Integer, std::move(text), start});
  }

  // A quoted string with Python's escapes (\n, \t, \xhh, \uhhhh, \Uhhhhhhhh, octal...); unknown escapes are kept.
  std::string lex_string() {
    size_t start = pos_;
    char quote = src_[pos_++];
    std::string out;
    for (;;) {
      if (pos_ >= src_.size()) error(start, "unterminated string literal");
      char c = src_[pos_++];
      if (c == quote) return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= src_.size()) error(start, "unterminated string literal");
      char e = src_[pos_++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case 'a': out += '\a'; break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case '\n': break;  // a backslash before a newline continues the line
        case 'x':
        case 'u':
        case 'U': {
          int length = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          char32_t cp = 0;
          for (int i = 0; i < length; ++i) {
            int h = pos_ < src_.size() ? hex_value(src_[pos_]) : -1;
            if (h < 0) error(pos_ - 2 - i, fmt::format("truncated \\{} escape in string literal", e));
            cp = cp * 16 + static_cast<char32_t>(h);
            ++pos_;
          }
          if (cp > 0x10FFFF) error(pos_ - length - 2, "escape outside the Unicode range in string literal");
          append_utf8(out, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            char32_t cp = static_cast<char32_t>(e - '0');
            for (int i = 0; i < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7'; ++i) {
              cp = cp * 8 + static_cast<char32_t>(src_[pos_++] - '0');
            }
            append_utf8(out, cp);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
  }

  std::string_view src_;
  std::string_view name_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, std::string_view name) { return Lexer(source, name).run(); }

}  // namespace whale::jinja
