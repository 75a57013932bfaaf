// SentencePiece-style BPE from GGUF metadata, on the hand-made vocabulary of tiny_tokenizers.h:
//   259 ▁  260 h  261 e  262 l  263 o  (score -10 each)   270 w (-10)
//   264 ll (-1)  265 he (-2)  266 ▁he (-3)  267 llo (-4)  268 hello (-5)  269 ▁hello (-6)
// plus <unk>=0, <s>=1, </s>=2 and the byte tokens <0x00>..<0xFF> = 3..258.
#include <gtest/gtest.h>

#include "core/error.h"
#include "tiny_tokenizers.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace whale {
namespace {

using namespace whale::testing;
using Ids = std::vector<int32_t>;

TEST(SentencePiece, HighestScoreMergesFirst) {
  Tokenizer t = Tokenizer::from_gguf(tiny_spm_metadata());
  EXPECT_EQ(t.kind(), TokenizerKind::SentencePieceBpe);
  // "▁hello": ll (-1) -> he (-2) -> ▁he (-3) -> llo (-4) -> ▁he+llo = ▁hello (-6). "hello" (-5) never forms
  // because ▁he took the "he" first.
  EXPECT_EQ(t.encode("hello"), (Ids{kSpmSpaceHello}));
  // Without the space prefix: ll, he, llo, then he+llo = hello.
  EXPECT_EQ(Tokenizer::from_gguf(tiny_spm_metadata(false)).encode("hello"), (Ids{kSpmHello}));
  // The space becomes ▁; "▁w", "wo" and "▁hello▁" are not tokens.
  EXPECT_EQ(t.encode("hello wo"), (Ids{kSpmSpaceHello, kSpmSpace, kSpmW, kSpmO}));
}

TEST(SentencePiece, EqualScoresMergeLeftmost) {
  Tokenizer t = Tokenizer::from_gguf(tiny_spm_metadata());
  // ▁ l l l: both "ll" pairs score -1; the left one merges; "lll" is not a token.
  EXPECT_EQ(t.encode("lll"), (Ids{kSpmSpace, kSpmLl, kSpmL}));
}

TEST(SentencePiece, ByteFallback) {
  Tokenizer t = Tokenizer::from_gguf(tiny_spm_metadata());
  // é (C3 A9) is not in the vocabulary: its bytes become <0xC3> <0xA9>.
  EXPECT_EQ(t.encode("h\xc3\xa9"), (Ids{kSpmSpace, kSpmH, kSpmByte0 + 0xC3, kSpmByte0 + 0xA9}));
  EXPECT_EQ(t.decode(Ids{kSpmSpace, kSpmH, kSpmByte0 + 0xC3, kSpmByte0 + 0xA9}), "h\xc3\xa9");
}

TEST(SentencePiece, SpecialTokensAndSpacePrefix) {
  Tokenizer t = Tokenizer::from_gguf(tiny_spm_metadata());
  // Text after a special token gets the space prefix again, as at the start.
  EXPECT_EQ(t.encode("<s>hello"), (Ids{kSpmBos, kSpmSpaceHello}));
  EXPECT_EQ(t.encode("hello", true), (Ids{kSpmBos, kSpmSpaceHello}));  // add_bos is the SentencePiece default
  EXPECT_EQ(t.encode("hello</s>", false), (Ids{kSpmSpaceHello, kSpmEos}));
}

TEST(SentencePiece, DecodeDropsThePrefixSpace) {
  Tokenizer t = Tokenizer::from_gguf(tiny_spm_metadata());
  EXPECT_EQ(t.decode(Ids{kSpmSpaceHello, kSpmSpace, kSpmW, kSpmO}), "hello wo");
  EXPECT_EQ(t.decode(Ids{kSpmBos, kSpmSpaceHello}), "<s> hello");
  EXPECT_EQ(t.decode(Ids{kSpmBos, kSpmSpaceHello}, true), "hello");
  StreamingDetokenizer s(t, true);
  std::string out;
  for (int32_t id : Ids{kSpmBos, kSpmSpaceHello, kSpmSpace, kSpmW}) s.push(id, out);
  EXPECT_EQ(out, "hello w");
}

TEST(SentencePiece, BadMetadata) {
  gguf::Metadata md = tiny_spm_metadata();
  md.set_float32_array("tokenizer.ggml.scores", {1.0f, 2.0f});
  EXPECT_THROW(Tokenizer::from_gguf(md), Error);

  md = tiny_spm_metadata();
  std::vector<std::string> tokens = md.get_string_array("tokenizer.ggml.tokens");
  tokens[kSpmByte0] = "<0xZZ>";
  md.set_string_array("tokenizer.ggml.tokens", tokens);
  EXPECT_THROW(Tokenizer::from_gguf(md), Error);

  md = tiny_spm_metadata();
  md.set_uint32("tokenizer.ggml.bos_token_id", 100000);
  EXPECT_THROW(Tokenizer::from_gguf(md), Error);

  md = tiny_spm_metadata();
  md.set_string("tokenizer.ggml.model", "bert");
  EXPECT_THROW(Tokenizer::from_gguf(md), Error);
}

}  // namespace
}  // namespace whale
