// The byte-level alphabet of GPT-2-style BPE: every byte is shown as one printable character, so that a
// vocabulary of strings can hold arbitrary bytes. Printable Latin-1 bytes stand for themselves; the other 68
// bytes (controls, space, DEL, NBSP, soft hyphen...) take the code points U+0100.. in byte order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace whale::tok {

// The character that stands for `byte`.
uint32_t byte_to_char(uint8_t byte);

// Appends the byte-level spelling of raw `bytes` (each byte as its character, UTF-8 encoded).
void append_byte_level(std::string& out, std::string_view bytes);
std::string to_byte_level(std::string_view bytes);

// Turns a byte-level string back into raw bytes. Returns false (and leaves `out` in an unspecified state)
// when `text` holds a character outside the alphabet or is not valid UTF-8.
bool from_byte_level(std::string_view text, std::string& out);

}  // namespace whale::tok
