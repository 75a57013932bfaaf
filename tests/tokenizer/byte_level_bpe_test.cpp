// Byte-level BPE on the tiny tokenizer of tiny_tokenizers.h, whose ids are worked out by hand in the comments:
// merge order and ties, ignore_merges, added tokens and their flags, NFC, BOS/EOS, decoding.
#include <gtest/gtest.h>

#include "core/error.h"
#include "tiny_tokenizers.h"
#include "tokenizer/tokenizer.h"

namespace whale {
namespace {

using namespace whale::testing;
using Ids = std::vector<int32_t>;

Tokenizer tiny(bool ignore_merges = false, bool nfc = false, bool with_config = false) {
  return Tokenizer::from_hf_json(tiny_tokenizer_json(ignore_merges, nfc), with_config ? tiny_tokenizer_config() : "");
}

TEST(ByteLevelBpe, MergesInRankOrder) {
  Tokenizer t = tiny();
  EXPECT_EQ(t.encode("ab"), (Ids{kAb}));
  // a b c: "b c" (rank 0) before "a b" (rank 1), then "a bc" (rank 2).
  EXPECT_EQ(t.encode("abc"), (Ids{kAbc}));
  EXPECT_EQ(t.encode("abab"), (Ids{kAb, kAb}));
  // a b c a b: "b c" first; the queued "a b" at 0 is stale; "a b" at 3; then "a bc".
  EXPECT_EQ(t.encode("abcab"), (Ids{kAbc, kAb}));
  // Bytes without merges stay single bytes: ids are byte values.
  EXPECT_EQ(t.encode("cb"), (Ids{'c', 'b'}));
}

TEST(ByteLevelBpe, EqualRanksMergeLeftmostFirst) {
  Tokenizer t = tiny();
  // a a a: both pairs have the rank of "a a"; the left one merges, leaving "aa a".
  EXPECT_EQ(t.encode("aaa"), (Ids{kAa, 'a'}));
  EXPECT_EQ(t.encode("aaaa"), (Ids{kAa, kAa}));
}

TEST(ByteLevelBpe, IgnoreMergesEmitsWholeVocabularyWords) {
  EXPECT_EQ(tiny(false).encode("xyz"), (Ids{'x', 'y', 'z'}));
  EXPECT_EQ(tiny(true).encode("xyz"), (Ids{kXyz}));
  EXPECT_EQ(tiny(true).encode("abc"), (Ids{kAbc}));
}

TEST(ByteLevelBpe, PreTokenizerSplitsWordsAndSpaces) {
  Tokenizer t = tiny();
  // GPT-2 split: "ab", " ab" -> the space is its own byte token (no "Ġ a" merge), "  " before "c" -> " ", " c".
  EXPECT_EQ(t.encode("ab ab  c"), (Ids{kAb, ' ', kAb, ' ', ' ', 'c'}));
  EXPECT_EQ(t.token_text(' '), "\xc4\xa0");  // Ġ
  EXPECT_EQ(t.token_text('\n'), "\xc4\x8a");  // Ċ
}

TEST(ByteLevelBpe, AddedTokensLongestMatch) {
  Tokenizer t = tiny();
  EXPECT_EQ(t.encode("a<|x|>b"), (Ids{'a', kMarker, 'b'}));
  EXPECT_EQ(t.encode("a<|x|b"), (Ids{'a', kMarkerPrefix, 'b'}));
  EXPECT_EQ(t.encode("<s><|x|>"), (Ids{kBos, kMarker}));
  EXPECT_EQ(t.encode("<|x<s>"), (Ids{'<', '|', 'x', kBos}));
}

TEST(ByteLevelBpe, AddedTokenFlags) {
  Tokenizer t = tiny();
  // lstrip + rstrip: the whitespace on both sides belongs to the token.
  EXPECT_EQ(t.encode("a  <m>  b"), (Ids{'a', kStrip, 'b'}));
  EXPECT_EQ(t.encode("a<m>b"), (Ids{'a', kStrip, 'b'}));
  // single_word: only between non-word characters.
  EXPECT_EQ(t.encode("a sw b"), (Ids{'a', ' ', kWord, ' ', 'b'}));
  EXPECT_EQ(t.encode("sw"), (Ids{kWord}));
  EXPECT_EQ(t.encode("aswb"), (Ids{'a', 's', 'w', 'b'}));
  EXPECT_EQ(t.encode("sw_"), (Ids{'s', 'w', '_'}));
}

TEST(ByteLevelBpe, NfcNormalizerAndNormalizedAddedTokens) {
  // Without NFC, e + U+0301 stays decomposed: "e" is a letter run, the mark is split off ([^\s\p{L}\p{N}]+).
  EXPECT_EQ(tiny(false, false).encode("e\xcc\x81"), (Ids{'e', 0xCC, 0x81}));
  // With NFC it becomes U+00E9, bytes C3 A9.
  EXPECT_EQ(tiny(false, true).encode("e\xcc\x81"), (Ids{0xC3, 0xA9}));
  // "café" is not normalized: matched in the raw text only, so decomposed input is not it.
  EXPECT_EQ(tiny(false, true).encode("caf\xc3\xa9"), (Ids{kCafe}));
  EXPECT_EQ(tiny(false, true).encode("cafe\xcc\x81"), (Ids{'c', 'a', 'f', 0xC3, 0xA9}));
  // "ñ!" is normalized: found after NFC composes n + U+0303.
  EXPECT_EQ(tiny(false, true).encode("n\xcc\x83!"), (Ids{kEnye}));
  EXPECT_EQ(tiny(false, false).encode("n\xcc\x83!"), (Ids{'n', 0xCC, 0x83, '!'}));
}

TEST(ByteLevelBpe, SpecialTokensFromConfig) {
  Tokenizer plain = tiny();
  EXPECT_EQ(plain.encode("ab", true), (Ids{kAb}));  // the post-processor adds nothing
  Tokenizer t = tiny(false, false, true);
  EXPECT_EQ(t.bos_id(), kBos);
  EXPECT_EQ(t.eos_id(), kMarker);
  EXPECT_TRUE(t.add_bos());
  EXPECT_FALSE(t.add_eos());
  EXPECT_EQ(t.encode("ab", true), (Ids{kBos, kAb}));
  EXPECT_EQ(t.encode("ab", false), (Ids{kAb}));
  EXPECT_TRUE(t.is_end_of_generation(kMarker));
  EXPECT_FALSE(t.is_end_of_generation(kAb));
}

TEST(ByteLevelBpe, Decode) {
  Tokenizer t = tiny();
  EXPECT_EQ(t.decode(Ids{kAbc, ' ', kMarker}), "abc <|x|>");
  // The ByteLevel decoder maps every character of a token through the byte alphabet when it can, added tokens
  // included: "ñ!" is bytes F1 21, and F1 alone is not UTF-8 (Hugging Face decodes it the same way).
  EXPECT_EQ(t.decode(Ids{kEnye}), "\xef\xbf\xbd!");
  EXPECT_EQ(t.decode(Ids{kAbc, ' ', kMarker, kBos}, true), "abc ");
  EXPECT_EQ(t.decode_bytes(Ids{0xC3}), "\xc3");
  EXPECT_EQ(t.decode(Ids{0xC3}), "\xef\xbf\xbd");  // an unfinished character becomes U+FFFD
  EXPECT_EQ(t.decode(Ids{0xC3, 0xA9}), "\xc3\xa9");
  EXPECT_THROW(t.decode(Ids{t.vocab_size()}), Error);
  EXPECT_THROW(t.decode(Ids{-1}), Error);
}

TEST(ByteLevelBpe, Lookups) {
  Tokenizer t = tiny();
  EXPECT_EQ(t.vocab_size(), kEnye + 1);
  EXPECT_EQ(t.token_id("<|x|>"), kMarker);
  EXPECT_EQ(t.token_id("ab"), kAb);
  EXPECT_EQ(t.token_id("\xc4\xa0"), ' ');
  EXPECT_FALSE(t.token_id("nope").has_value());
  EXPECT_TRUE(t.is_special(kBos));
  EXPECT_FALSE(t.is_special(kStrip));
  EXPECT_EQ(t.token_bytes(' '), " ");
}

TEST(ByteLevelBpe, AddedTokenIdsFollowHuggingFaceNumbering) {
  // An added token whose content is already a vocabulary token takes that token's id, whatever the file says;
  // a new one takes the next id after the model vocabulary (here 261 tokens: 256 bytes and 5 merges).
  auto json = nlohmann::json::parse(tiny_tokenizer_json());
  json["added_tokens"] = nlohmann::json::array(
      {{{"id", 500}, {"content", "ab"}, {"special", true}}, {{"id", 600}, {"content", "<new>"}, {"special", true}}});
  Tokenizer t = Tokenizer::from_hf_json(json.dump(), "");
  EXPECT_EQ(t.encode("x<new>ab"), (Ids{'x', 261, kAb}));
  EXPECT_EQ(t.vocab_size(), 262);
  EXPECT_TRUE(t.is_special(kAb));
}

TEST(ByteLevelBpe, DefaultConstructedIsEmpty) {
  Tokenizer t;
  EXPECT_EQ(t.vocab_size(), 0);
  EXPECT_TRUE(t.encode("hello <s>", true).empty());
  EXPECT_THROW(t.decode(Ids{0}), Error);
  t = tiny();
  EXPECT_EQ(t.encode("ab"), (Ids{kAb}));
}

TEST(ByteLevelBpe, RejectsInvalidUtf8) {
  Tokenizer t = tiny();
  try {
    t.encode("ab\xff");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("invalid UTF-8 at byte 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(t.encode("\xc0\x80"), Error);       // overlong
  EXPECT_THROW(t.encode("\xed\xa0\x80"), Error);   // surrogate
  EXPECT_THROW(t.encode("\xe2\x82"), Error);       // truncated
}

TEST(ByteLevelBpe, EmptyAndLongInputs) {
  Tokenizer t = tiny();
  EXPECT_TRUE(t.encode("").empty());
  // 1000 "ab": one word; every pair merges at rank 1 (the leftmost first), giving 1000 "ab" tokens.
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "ab";
  EXPECT_EQ(t.encode(text), Ids(1000, kAb));
}

}  // namespace
}  // namespace whale
