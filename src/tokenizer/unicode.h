// UTF-8 and Unicode helpers the tokenizers need: validation, code point decoding, the White_Space property,
// NFC normalization (through utf8proc) and lossy repair of byte strings that are not valid UTF-8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace whale::tok {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Length in bytes of the first invalid sequence's position, or npos when `text` is valid UTF-8 (no overlong
// forms, no surrogates, nothing above U+10FFFF).
size_t find_invalid_utf8(std::string_view text);

// Decodes the code point starting at text[pos] of valid UTF-8 and advances pos past it.
uint32_t next_code_point(std::string_view text, size_t& pos);

void append_utf8(std::string& out, uint32_t code_point);

// Unicode White_Space (what Rust's char::is_whitespace and Oniguruma's \s test).
bool is_white_space(uint32_t code_point);
// Letters, marks, numbers and connector punctuation: a "word" character for single_word added tokens.
bool is_word_char(uint32_t code_point);

// Canonical composition (NFC) of valid UTF-8, through utf8proc.
std::string nfc(std::string_view text);
// False when NFC certainly leaves `text` unchanged (every code point is without decomposition, of combining
// class 0 and in no composition pair), so callers can skip nfc(). Valid UTF-8 only.
bool may_change_under_nfc(std::string_view text);

// Length of a trailing run of bytes that begins a valid UTF-8 sequence but is not yet complete (0..3). A
// streaming decoder holds these back until the next bytes arrive.
size_t incomplete_utf8_tail(std::string_view bytes);

// Appends `bytes` to `out`, replacing each maximal invalid subsequence with U+FFFD (the Unicode "maximal
// subpart" practice, as Rust's String::from_utf8_lossy and Python's decode(errors="replace") do).
void append_utf8_lossy(std::string& out, std::string_view bytes);
std::string utf8_lossy(std::string_view bytes);

}  // namespace whale::tok
