// Text helpers for the template engine: UTF-8 code points (Python indexes strings by code point) and Python's
// notion of whitespace (what str.strip(), str.split() and Jinja's `-` whitespace control remove).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace whale::jinja {

// Decodes the code point at `pos` and advances `pos`. Invalid bytes decode as themselves (one byte each), so
// any byte string round-trips.
char32_t decode_utf8(std::string_view text, size_t& pos);
void append_utf8(std::string& out, char32_t cp);

// Byte offsets of each code point start, plus text.size() at the end.
std::vector<size_t> code_point_offsets(std::string_view text);
size_t code_point_count(std::string_view text);

// Python's str.isspace() for one code point.
bool is_python_space(char32_t cp);

// Python str.strip()/lstrip()/rstrip(): with chars == nullptr, Python whitespace; otherwise any code point of
// *chars.
std::string_view strip_left(std::string_view text, const std::string* chars);
std::string_view strip_right(std::string_view text, const std::string* chars);

// ASCII case mapping (non-ASCII code points are left as they are).
std::string ascii_lower(std::string_view text);
std::string ascii_upper(std::string_view text);
// Python str.title(): upper-cases the first letter of each run of letters, lower-cases the rest.
std::string title_case(std::string_view text);
// Python str.capitalize(): first character upper, the rest lower.
std::string capitalize(std::string_view text);

}  // namespace whale::jinja
