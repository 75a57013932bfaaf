// Python str methods for templates (internal): startswith, split, strip, replace, format and the rest that
// chat templates call on message content.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja_value.h"

namespace whale::jinja {

class Interpreter;

bool is_string_method(std::string_view name);
Value call_string_method(Interpreter& interp, const std::string& self, std::string_view name, CallArgs& args);

// Python str.splitlines(): splits at \n, \r\n, \r, \v, \f, \x1c-\x1e, \x85, U+2028 and U+2029.
std::vector<std::string> split_lines(std::string_view text, bool keep_ends);
// Python str.replace(old, new, count); count < 0 replaces all.
std::string replace_all(Interpreter& interp, const std::string& text, const std::string& old_text,
                        const std::string& new_text, int64_t count);

}  // namespace whale::jinja
