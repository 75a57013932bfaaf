// The byte <-> character tables of the byte-level BPE alphabet.
#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/unicode.h"

namespace whale::tok {
namespace {

bool stands_for_itself(int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

struct Tables {
  std::array<uint32_t, 256> to_char{};
  std::array<int16_t, 324> to_byte{};  // indexed by code point; the alphabet ends below U+0144

  Tables() {
    to_byte.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      to_char[b] = stands_for_itself(b) ? static_cast<uint32_t>(b) : next++;
      to_byte[to_char[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

uint32_t byte_to_char(uint8_t byte) { return tables().to_char[byte]; }

void append_byte_level(std::string& out, std::string_view bytes) {
  const auto& t = tables();
  for (char c : bytes) append_utf8(out, t.to_char[static_cast<uint8_t>(c)]);
}

std::string to_byte_level(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  append_byte_level(out, bytes);
  return out;
}

bool from_byte_level(std::string_view text, std::string& out) {
  if (find_invalid_utf8(text) != std::string_view::npos) return false;
  const auto& t = tables();
  size_t pos = 0;
  while (pos < text.size()) {
    uint32_t cp = next_code_point(text, pos);
    if (cp >= t.to_byte.size() || t.to_byte[cp] < 0) return false;
    out.push_back(static_cast<char>(t.to_byte[cp]));
  }
  return true;
}

}  // namespace whale::tok
