// Lexer of the Jinja-subset template engine. Splits a template into text and tag tokens, applying Jinja's
// whitespace rules as Hugging Face renders chat templates: trim_blocks and lstrip_blocks on, `-` and `+`
// modifiers, newlines normalized to "\n" and one trailing newline dropped.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace whale::jinja {

enum class TokenType {
  Text,        // template data between tags
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,
  String,  // value holds the decoded string
  Integer,
  Float,
  Operator,  // + - * / // % ** ~ == != < <= > >= = ( ) [ ] { } , . : |
  End,       // end of the template
};

struct Token {
  TokenType type;
  std::string value;
  size_t offset;  // byte offset in the normalized source
};

// The normalized source (CR LF and CR become LF, one trailing newline dropped), which token offsets refer to.
std::string normalize_source(std::string_view source);

// Tokenizes a normalized source. Throws whale::Error "NAME:LINE:COLUMN: message" on a lexical error.
std::vector<Token> tokenize(std::string_view source, std::string_view name);

// "LINE:COLUMN" (1-based, the column counted in code points) of a byte offset.
std::string location(std::string_view source, size_t offset);

// Throws whale::Error "NAME:LINE:COLUMN: message".
[[noreturn]] void fail_at(std::string_view name, std::string_view source, size_t offset, std::string_view message);

}  // namespace whale::jinja
