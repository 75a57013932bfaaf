// The streaming detokenizer holds back the bytes of characters split across tokens and gives out exactly the
// text that decoding the whole sequence gives. UTF-8 helpers it relies on are checked here too.
#include <gtest/gtest.h>

#include <utf8proc.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "core/mapped_file.h"
#include "tiny_tokenizers.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace whale {
namespace {

using namespace whale::testing;
using Ids = std::vector<int32_t>;

const char* const kFffd = "\xef\xbf\xbd";

TEST(Streaming, HoldsBackSplitCharacters) {
  Tokenizer t = Tokenizer::from_hf_json(tiny_tokenizer_json(), "");
  StreamingDetokenizer s(t);
  // "a🙂é" as single-byte tokens: the emoji's 4 bytes and é's 2 bytes come out only when complete.
  EXPECT_EQ(s.push('a'), "a");
  EXPECT_EQ(s.push(0xF0), "");
  EXPECT_EQ(s.pending_bytes(), 1u);
  EXPECT_EQ(s.push(0x9F), "");
  EXPECT_EQ(s.push(0x99), "");
  EXPECT_EQ(s.pending_bytes(), 3u);
  EXPECT_EQ(s.push(0x82), "\xf0\x9f\x99\x82");
  EXPECT_EQ(s.push(0xC3), "");
  EXPECT_EQ(s.push(0xA9), "\xc3\xa9");
  EXPECT_EQ(s.finish(), "");
}

TEST(Streaming, InvalidAndUnfinishedBytes) {
  Tokenizer t = Tokenizer::from_hf_json(tiny_tokenizer_json(), "");
  StreamingDetokenizer s(t);
  EXPECT_EQ(s.push(0xFF), kFffd);  // can never start a character: replaced at once
  EXPECT_EQ(s.push(0xE2), "");
  EXPECT_EQ(s.push('x'), std::string(kFffd) + "x");  // E2 cut short by 'x'
  EXPECT_EQ(s.push(0xF0), "");
  EXPECT_EQ(s.push(0x9F), "");
  EXPECT_EQ(s.finish(), kFffd);  // one U+FFFD for the unfinished F0 9F
}

TEST(Streaming, SkipsSpecialTokensWhenAsked) {
  Tokenizer t = Tokenizer::from_hf_json(tiny_tokenizer_json(), "");
  StreamingDetokenizer keep(t), skip(t, true);
  std::string a, b;
  for (int32_t id : Ids{kBos, kAb, kMarker, ' ', kStrip}) {
    keep.push(id, a);
    skip.push(id, b);
  }
  EXPECT_EQ(a, "<s>ab<|x|> <m>");
  EXPECT_EQ(b, "ab <m>");  // <m> is an added token but not special
}

// With a real vocabulary: every piece is valid UTF-8, and the pieces add up to the text. Byte-level BPE splits
// rare characters (emoji, CJK) into several tokens, so some bytes must have been held back.
TEST(Streaming, RealVocabularyRoundTrip) {
  auto dir = npm_tokenizer_dir("qwen3");
  if (!std::filesystem::exists(dir / "tokenizer.json")) GTEST_SKIP() << "npm test packages not installed";
  Tokenizer t = Tokenizer::from_hf_files(dir.string());
  std::ifstream in(corpus_dir() / "crafted.json");
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto docs = nlohmann::json::parse(buffer.str());
  size_t held = 0;
  for (const auto& doc : docs) {
    std::string text = doc.get<std::string>();
    Ids ids = t.encode(text);
    StreamingDetokenizer s(t);
    std::string streamed;
    for (int32_t id : ids) {
      std::string piece = s.push(id);
      EXPECT_EQ(tok::find_invalid_utf8(piece), std::string_view::npos);
      held += s.pending_bytes() > 0;
      streamed += piece;
    }
    streamed += s.finish();
    EXPECT_EQ(streamed, t.decode(ids));
  }
  EXPECT_GT(held, 10u);
}

TEST(Utf8, IncompleteTail) {
  EXPECT_EQ(tok::incomplete_utf8_tail(""), 0u);
  EXPECT_EQ(tok::incomplete_utf8_tail("ab"), 0u);
  EXPECT_EQ(tok::incomplete_utf8_tail("a\xc3"), 1u);
  EXPECT_EQ(tok::incomplete_utf8_tail("a\xe2\x82"), 2u);
  EXPECT_EQ(tok::incomplete_utf8_tail("\xf0\x9f\x99"), 3u);
  EXPECT_EQ(tok::incomplete_utf8_tail("\xf0\x9f\x99\x82"), 0u);
  EXPECT_EQ(tok::incomplete_utf8_tail("\xe2\x28"), 0u);   // not a continuation: invalid, nothing to wait for
  EXPECT_EQ(tok::incomplete_utf8_tail("\xe0\x80"), 0u);   // overlong prefix: invalid already
  EXPECT_EQ(tok::incomplete_utf8_tail("\xed\xa0"), 0u);   // surrogate prefix
  EXPECT_EQ(tok::incomplete_utf8_tail("\x80\x80"), 0u);
}

TEST(Utf8, LossyUsesMaximalSubparts) {
  // As in the Unicode standard's example (table 3-8): each maximal subpart becomes one U+FFFD.
  std::string f = kFffd;
  EXPECT_EQ(tok::utf8_lossy("a\xf1\x80\x80" "b"), "a" + f + "b");
  EXPECT_EQ(tok::utf8_lossy("\xe1\x80\xe2\xf0\x91\x92\xf1\xbf\x41"), f + f + f + f + "A");
  EXPECT_EQ(tok::utf8_lossy("\xc0\xaf"), f + f);
  EXPECT_EQ(tok::utf8_lossy("\xed\xa0\x80"), f + f + f);
  EXPECT_EQ(tok::utf8_lossy("ok \xc3\xa9"), "ok \xc3\xa9");
}

// The quick check that lets encoding skip NFC must never skip text that NFC would change.
TEST(Utf8, NfcQuickCheckIsSafe) {
  size_t skipped = 0, changed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus_dir())) {
    std::ifstream in(entry.path());
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string text = buffer.str();
    for (size_t start = 0; start < text.size();) {
      size_t newline = text.find('\n', start);
      size_t end = newline == std::string::npos ? text.size() : newline + 1;
      std::string line = text.substr(start, end - start);
      start = end;
      if (tok::find_invalid_utf8(line) != std::string_view::npos) continue;
      bool differs = tok::nfc(line) != line;
      changed += differs;
      if (!tok::may_change_under_nfc(line)) {
        ++skipped;
        EXPECT_FALSE(differs) << line;
      }
    }
  }
  EXPECT_GT(changed, 100u);  // the nfd-*.txt files
  EXPECT_GT(skipped, 1000u);
  for (const char* s : {"e\xcc\x81", "\xe2\x84\xab", "\xea\xb0\x80\xe1\x86\xa8", "\xe0\xa4\x95\xe0\xa4\xbc",
                        "\xe0\xa5\x98", "\xe0\xad\x87\xe0\xac\xbe"}) {
    EXPECT_TRUE(tok::may_change_under_nfc(s)) << s;
  }
  EXPECT_FALSE(tok::may_change_under_nfc("\xe4\xb8\xad\xe6\x96\x87 \xd0\x9c\xd0\xb8\xd1\x80"));
}

// whale's nfc() normalizes only the stretches around code points NFC can touch; it must equal utf8proc's NFC of
// the whole text, on the corpus and on random strings of characters that compose, reorder or decompose.
std::string reference_nfc(const std::string& text) {
  utf8proc_uint8_t* out = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(text.c_str()));
  std::string result(reinterpret_cast<const char*>(out));
  std::free(out);
  return result;
}

TEST(Utf8, PiecewiseNfcEqualsWholeTextNfc) {
  for (const auto& entry : std::filesystem::directory_iterator(corpus_dir())) {
    std::string text = read_text_file(entry.path().string());
    if (text.find('\0') != std::string::npos) continue;
    EXPECT_EQ(tok::nfc(text), reference_nfc(text)) << entry.path();
  }
  const uint32_t pool[] = {
      'a', 'e', 'o', 'u', ' ', 0xE9, 0x0300, 0x0301, 0x0308, 0x0304, 0x0323, 0x031B, 0x0345, 0x05B0, 0x0591,
      0x0915, 0x093C, 0x093F, 0x094D, 0x0958, 0x09C7, 0x09BE, 0x09D7, 0x0B47, 0x0B3E, 0x0B56, 0x0CC6, 0x0CC2,
      0x0CD5, 0x0E31, 0x0E48, 0x1100, 0x1161, 0x11A8, 0xAC00, 0xAC01, 0x1E0A, 0x1E9B, 0x212B, 0x2126, 0xF900,
      0x0344, 0x0F73, 0x0F75, 0x0F81, 0x1F71, 0x03B1, 0x0391, 0x0313, 0x0342, 0x304B, 0x3099, 0x309A, 0x30AB,
      0x110B9, 0x110BA, 0x11131, 0x11127, 0x1D15E, 0x1D165, 0x1D16E, 0x0627, 0x0653, 0x0654, 0x0655,
  };
  std::mt19937 rng(7);
  std::uniform_int_distribution<size_t> pick(0, std::size(pool) - 1), length(1, 12);
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    for (size_t n = length(rng); n > 0; --n) tok::append_utf8(text, pool[pick(rng)]);
    ASSERT_EQ(tok::nfc(text), reference_nfc(text)) << text;
  }
}

TEST(Utf8, NfcAndWhiteSpace) {
  EXPECT_EQ(tok::nfc("e\xcc\x81"), "\xc3\xa9");
  EXPECT_EQ(tok::nfc("\xe2\x84\xab"), "\xc3\x85");                   // U+212B ANGSTROM SIGN -> U+00C5
  EXPECT_EQ(tok::nfc("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8"), "\xea\xb0\x81");  // jamo -> U+AC01
  EXPECT_EQ(tok::nfc("\xe0\xa5\x98"), "\xe0\xa4\x95\xe0\xa4\xbc");   // U+0958 is excluded from composition
  EXPECT_EQ(tok::nfc("plain ascii"), "plain ascii");
  EXPECT_TRUE(tok::is_white_space(0x85));
  EXPECT_TRUE(tok::is_white_space(0x3000));
  EXPECT_FALSE(tok::is_white_space(0x200B));
  EXPECT_FALSE(tok::is_white_space(0xFEFF));
}

}  // namespace
}  // namespace whale
