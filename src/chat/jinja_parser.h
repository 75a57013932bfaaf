// Parser of the Jinja-subset template engine: tokens to a syntax tree, following Jinja2's grammar and operator
// precedence. Constructs the engine does not support (include, extends, import, block...) are rejected here
// with their line and column.
#pragma once

#include <string_view>
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace whale::jinja {

// Deepest nesting of expressions and statements accepted; deeper input is rejected with an error rather than
// risking the stack.
inline constexpr int kMaxNesting = 200;

// Parses a normalized source (see normalize_source). Throws whale::Error "NAME:LINE:COLUMN: message".
Body parse(std::string_view source, std::string_view name);

}  // namespace whale::jinja
