// UTF-8 validation, decoding, lossy repair, White_Space and NFC for the tokenizers.
#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "core/error.h"

namespace whale::tok {
namespace {

// Number of bytes of a valid sequence that starts with `lead`, or 0 when `lead` cannot start one.
int sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Allowed range of the second byte after `lead` (the first continuation byte is narrowed to rule out overlong
// forms, surrogates and code points above U+10FFFF).
void second_byte_range(uint8_t lead, uint8_t& lo, uint8_t& hi) {
  lo = 0x80;
  hi = 0xBF;
  if (lead == 0xE0) lo = 0xA0;
  if (lead == 0xED) hi = 0x9F;
  if (lead == 0xF0) lo = 0x90;
  if (lead == 0xF4) hi = 0x8F;
}

// Length of the valid-so-far prefix of the sequence at bytes[pos] (1..4), and whether it is complete.
// Returns 0 when bytes[pos] is not a lead byte.
int valid_prefix(std::string_view bytes, size_t pos, bool& complete) {
  auto lead = static_cast<uint8_t>(bytes[pos]);
  int need = sequence_length(lead);
  complete = need == 1;
  if (need <= 1) return need;
  int have = 1;
  while (have < need && pos + have < bytes.size()) {
    auto b = static_cast<uint8_t>(bytes[pos + have]);
    uint8_t lo = 0x80, hi = 0xBF;
    if (have == 1) second_byte_range(lead, lo, hi);
    if (b < lo || b > hi) return have;
    ++have;
  }
  complete = have == need;
  return have;
}

}  // namespace

size_t find_invalid_utf8(std::string_view text) {
  size_t pos = 0;
  const size_t n = text.size();
  while (pos < n) {
    // ASCII runs are the common case; skip them eight bytes at a time.
    while (pos + 8 <= n) {
      uint64_t word;
      __builtin_memcpy(&word, text.data() + pos, 8);
      if (word & 0x8080808080808080ULL) break;
      pos += 8;
    }
    if (pos >= n) break;
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    bool complete = false;
    int len = valid_prefix(text, pos, complete);
    if (!complete) return pos;
    pos += static_cast<size_t>(len);
  }
  return std::string_view::npos;
}

uint32_t next_code_point(std::string_view text, size_t& pos) {
  auto b0 = static_cast<uint8_t>(text[pos]);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  int len = sequence_length(b0);
  WHALE_ASSERT(len >= 2 && pos + static_cast<size_t>(len) <= text.size());
  uint32_t cp = b0 & (0x7F >> len);
  for (int i = 1; i < len; ++i) cp = (cp << 6) | (static_cast<uint8_t>(text[pos + i]) & 0x3F);
  pos += static_cast<size_t>(len);
  return cp;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_white_space(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool is_word_char(uint32_t cp) {
  if (cp < 0x80) {
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
  }
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

namespace {

void append_nfc_utf8proc(std::string& out, std::string_view text) {
  utf8proc_uint8_t* mapped = nullptr;
  utf8proc_ssize_t len = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                      static_cast<utf8proc_ssize_t>(text.size()), &mapped,
                                      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (len < 0) fail("NFC normalization failed: {}", utf8proc_errmsg(len));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(mapped, &std::free);
  out.append(reinterpret_cast<const char*>(mapped), static_cast<size_t>(len));
}

// What NFC may do around each code point, computed once from utf8proc's tables:
//   second: the code point can be the second of a canonical composition pair (every code point after the first
//     of a canonical decomposition: a superset of the true second members; plus the Hangul vowel and trailing
//     jamo, which compose algorithmically);
//   unstable: NFC of the code point alone is something else (singletons, composition exclusions).
// A precomposed character such as "é" or "й" has a canonical decomposition but is stable: NFC gives it back.
class NfcTables {
 public:
  NfcTables() : second_(kLimit / 64, 0), unstable_(kLimit / 64, 0) {
    for (uint32_t cp = 0xC0; cp < kLimit; ++cp) {
      const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
      if (p->decomp_seqindex == UINT16_MAX || p->decomp_type != 0) continue;  // none, or compatibility only
      utf8proc_int32_t parts[8];
      int boundclass = 0;
      utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), parts, 8,
                                                   UTF8PROC_DECOMPOSE, &boundclass);
      for (utf8proc_ssize_t i = 1; i < n && i < 8; ++i) set(second_, static_cast<uint32_t>(parts[i]));
      std::string alone, normalized;
      append_utf8(alone, cp);
      append_nfc_utf8proc(normalized, alone);
      if (normalized != alone) set(unstable_, cp);
    }
    for (uint32_t cp = 0x1161; cp <= 0x1175; ++cp) set(second_, cp);
    for (uint32_t cp = 0x11A8; cp <= 0x11C2; ++cp) set(second_, cp);
  }
  bool second(uint32_t cp) const { return test(second_, cp); }
  bool unstable(uint32_t cp) const { return test(unstable_, cp); }

 private:
  // Canonical decompositions stop below U+30000 (the CJK compatibility supplement ends at U+2FA1D).
  static constexpr uint32_t kLimit = 0x30000;
  static void set(std::vector<uint64_t>& bits, uint32_t cp) {
    if (cp < kLimit) bits[cp / 64] |= uint64_t{1} << (cp % 64);
  }
  static bool test(const std::vector<uint64_t>& bits, uint32_t cp) {
    return cp < kLimit && (bits[cp / 64] >> (cp % 64) & 1);
  }
  std::vector<uint64_t> second_;
  std::vector<uint64_t> unstable_;
};

// A code point that NFC leaves alone wherever it stands: combining class 0, stable on its own, and never the
// second of a composition pair. (Being the first of a pair is harmless: its partner fails the test itself.)
bool is_nfc_inert(uint32_t cp) {
  if (cp < 0x300) return true;
  static const NfcTables tables;
  const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  return p->combining_class == 0 && !tables.unstable(cp) && !tables.second(cp);
}

}  // namespace

bool may_change_under_nfc(std::string_view text) {
  // Every code point below U+0300 is inert; their UTF-8 lead bytes are all below 0xCC, and continuation bytes
  // are below 0xC0. Most text never gets past this scan.
  size_t pos = 0;
  while (pos < text.size() && static_cast<uint8_t>(text[pos]) < 0xCC) ++pos;
  if (pos == text.size()) return false;
  while (pos > 0 && (static_cast<uint8_t>(text[pos]) & 0xC0) == 0x80) --pos;
  while (pos < text.size()) {
    if (!is_nfc_inert(next_code_point(text, pos))) return true;
  }
  return false;
}

std::string nfc(std::string_view text) {
  // NFC never acts across an inert code point (nothing composes with it from the left, and as a starter it
  // stops reordering), so text can be cut before each one: each piece is an inert code point and the
  // non-inert ones after it. Only runs of pieces with something non-inert go through utf8proc.
  std::string out;
  out.reserve(text.size());
  size_t copied = 0;                      // text before this was appended to out
  size_t dirty = std::string_view::npos;  // start of the pending run of pieces to normalize
  size_t pos = 0;
  while (pos < text.size()) {
    size_t piece = pos;
    size_t after = pos;
    bool clean = is_nfc_inert(next_code_point(text, after));
    while (after < text.size()) {
      size_t next = after;
      if (is_nfc_inert(next_code_point(text, next))) break;
      clean = false;
      after = next;
    }
    if (!clean && dirty == std::string_view::npos) {
      out.append(text.substr(copied, piece - copied));
      dirty = piece;
    } else if (clean && dirty != std::string_view::npos) {
      append_nfc_utf8proc(out, text.substr(dirty, piece - dirty));
      dirty = std::string_view::npos;
      copied = piece;
    }
    pos = after;
  }
  if (dirty != std::string_view::npos) {
    append_nfc_utf8proc(out, text.substr(dirty));
  } else {
    out.append(text.substr(copied));
  }
  return out;
}

size_t incomplete_utf8_tail(std::string_view bytes) {
  // A pending sequence starts at most three bytes before the end.
  size_t n = bytes.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    size_t pos = n - back;
    auto b = static_cast<uint8_t>(bytes[pos]);
    if (b >= 0x80 && b < 0xC0) continue;  // a continuation byte: the lead is further back
    bool complete = false;
    int len = valid_prefix(bytes, pos, complete);
    return (!complete && static_cast<size_t>(len) == back) ? back : 0;
  }
  return 0;
}

void append_utf8_lossy(std::string& out, std::string_view bytes) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    bool complete = false;
    int len = valid_prefix(bytes, pos, complete);
    if (complete) {
      out.append(bytes.data() + pos, static_cast<size_t>(len));
      pos += static_cast<size_t>(len);
    } else {
      append_utf8(out, kReplacementChar);
      pos += len == 0 ? 1 : static_cast<size_t>(len);
    }
  }
}

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  append_utf8_lossy(out, bytes);
  return out;
}

}  // namespace whale::tok
