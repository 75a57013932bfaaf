// UTF-8 and Python-whitespace helpers for the template engine.
#include "chat/jinja_text.h"

namespace whale::jinja {

char32_t decode_utf8(std::string_view text, size_t& pos) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(pos);
  int length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 0;
  if (length <= 1 || pos + length > text.size()) {
    ++pos;
    return lead;
  }
  char32_t cp = lead & (0xFF >> (length + 1));
  for (int i = 1; i < length; ++i) {
    unsigned char next = byte(pos + i);
    if ((next & 0xC0) != 0x80) {
      ++pos;
      return lead;
    }
    cp = (cp << 6) | (next & 0x3F);
  }
  pos += length;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::vector<size_t> code_point_offsets(std::string_view text) {
  std::vector<size_t> offsets;
  size_t pos = 0;
  while (pos < text.size()) {
    offsets.push_back(pos);
    decode_utf8(text, pos);
  }
  offsets.push_back(text.size());
  return offsets;
}

size_t code_point_count(std::string_view text) {
  size_t count = 0;
  for (size_t pos = 0; pos < text.size(); ++count) decode_utf8(text, pos);
  return count;
}

bool is_python_space(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

namespace {

bool in_chars(char32_t cp, const std::string* chars) {
  if (chars == nullptr) return is_python_space(cp);
  for (size_t pos = 0; pos < chars->size();) {
    if (decode_utf8(*chars, pos) == cp) return true;
  }
  return false;
}

}  // namespace

std::string_view strip_left(std::string_view text, const std::string* chars) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t next = pos;
    if (!in_chars(decode_utf8(text, next), chars)) break;
    pos = next;
  }
  return text.substr(pos);
}

std::string_view strip_right(std::string_view text, const std::string* chars) {
  std::vector<size_t> offsets = code_point_offsets(text);
  size_t end_index = offsets.size() - 1;  // index of the end offset
  while (end_index > 0) {
    size_t pos = offsets[end_index - 1];
    if (!in_chars(decode_utf8(text, pos), chars)) break;
    --end_index;
  }
  return text.substr(0, offsets[end_index]);
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string ascii_upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string title_case(std::string_view text) {
  std::string out(text);
  bool previous_is_letter = false;
  for (char& c : out) {
    bool upper = c >= 'A' && c <= 'Z';
    bool lower = c >= 'a' && c <= 'z';
    if (upper && previous_is_letter) c = static_cast<char>(c - 'A' + 'a');
    if (lower && !previous_is_letter) c = static_cast<char>(c - 'a' + 'A');
    // Non-ASCII bytes count as letters so that a word like "école" is not split mid-word.
    previous_is_letter = upper || lower || (static_cast<unsigned char>(c) >= 0x80);
  }
  return out;
}

std::string capitalize(std::string_view text) {
  std::string out = ascii_lower(text);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

}  // namespace whale::jinja
