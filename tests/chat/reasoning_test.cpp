// ReasoningSplitter: think blocks are separated from the answer whatever the pieces the text arrives in; the
// expected splits are written by hand from the rules in reasoning.h.
#include "chat/reasoning.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace whale {
namespace {

ReasoningDelta feed_whole(std::string_view text, ReasoningSplitter::Options options = {}) {
  ReasoningSplitter splitter(options);
  ReasoningDelta out = splitter.feed(text);
  ReasoningDelta rest = splitter.finish();
  out.reasoning += rest.reasoning;
  out.content += rest.content;
  return out;
}

// Feeds `text` cut at the given sizes (cycling), concatenating the deltas.
ReasoningDelta feed_in_pieces(std::string_view text, const std::vector<size_t>& sizes,
                              ReasoningSplitter::Options options = {}) {
  ReasoningSplitter splitter(options);
  ReasoningDelta out;
  size_t pos = 0;
  for (size_t i = 0; pos < text.size(); ++i) {
    size_t n = std::min(sizes[i % sizes.size()], text.size() - pos);
    ReasoningDelta d = splitter.feed(text.substr(pos, n));
    out.reasoning += d.reasoning;
    out.content += d.content;
    pos += n;
  }
  ReasoningDelta rest = splitter.finish();
  out.reasoning += rest.reasoning;
  out.content += rest.content;
  return out;
}

struct Case {
  const char* name;
  std::string text;
  bool start_in_reasoning;
  std::string reasoning;
  std::string content;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> kCases = {
      {"r1 output", "<think>\nLet me think.\n</think>\n\nThe answer.", false, "Let me think.", "The answer."},
      {"prompt opened the block", "Okay, 2+2=4.\n</think>\n\n**4**", true, "Okay, 2+2=4.", "**4**"},
      {"leading newlines when opened", "\n\nHmm.\n</think>\nA", true, "Hmm.", "A"},
      {"model repeats the open tag", "<think>\nfoo\n</think>bar", true, "foo", "bar"},
      {"no thinking", "Hello <think> world</think>!", false, "", "Hello <think> world</think>!"},
      {"whitespace before the tag", " \n<think>x</think>y", false, "x", "y"},
      {"whitespace then text", "  \nHello", false, "", "  \nHello"},
      {"inner newlines kept", "<think>\na\n\nb\n</think>\n\n\nc\nd\n", false, "a\n\nb", "c\nd\n"},
      {"spaces are text", "<think> a </think> b", false, " a ", " b"},
      {"unterminated reasoning", "<think>\nstill thinking\n", false, "still thinking\n", ""},
      {"unterminated partial close", "<think>abc</thi", false, "abc</thi", ""},
      {"false partial close", "<think>a</b></thinking></think>c", false, "a</b></thinking>", "c"},
      {"tag look-alike at start", "<thinking>x", false, "", "<thinking>x"},
      {"partial open at end", "  <thi", false, "", "  <thi"},
      {"empty reasoning", "<think>\n\n</think>\n\nAnswer", false, "", "Answer"},
      {"second think block is content", "<think>a</think>b<think>c</think>", false, "a", "b<think>c</think>"},
      {"utf-8", "<think>\n思考 🐳\n</think>\n\n答案：42", false, "思考 🐳", "答案：42"},
      {"crlf", "<think>\r\nx\r\n</think>\r\n\r\ny", false, "x", "y"},
      {"empty output", "", false, "", ""},
      {"empty output, opened", "", true, "", ""},
  };
  return kCases;
}

TEST(ReasoningSplitter, WholeFeeding) {
  for (const Case& c : cases()) {
    ReasoningSplitter::Options options;
    options.start_in_reasoning = c.start_in_reasoning;
    ReasoningDelta out = feed_whole(c.text, options);
    EXPECT_EQ(out.reasoning, c.reasoning) << c.name;
    EXPECT_EQ(out.content, c.content) << c.name;
  }
}

TEST(ReasoningSplitter, ByteByByteEqualsWholeFeeding) {
  for (const Case& c : cases()) {
    ReasoningSplitter::Options options;
    options.start_in_reasoning = c.start_in_reasoning;
    ReasoningDelta out = feed_in_pieces(c.text, {1}, options);
    EXPECT_EQ(out.reasoning, c.reasoning) << c.name;
    EXPECT_EQ(out.content, c.content) << c.name;
  }
}

TEST(ReasoningSplitter, RandomPiecesEqualWholeFeeding) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<size_t> size(1, 9);
  for (const Case& c : cases()) {
    for (int trial = 0; trial < 50; ++trial) {
      std::vector<size_t> sizes(16);
      for (size_t& s : sizes) s = size(rng);
      ReasoningSplitter::Options options;
      options.start_in_reasoning = c.start_in_reasoning;
      ReasoningDelta out = feed_in_pieces(c.text, sizes, options);
      ASSERT_EQ(out.reasoning, c.reasoning) << c.name << " trial " << trial;
      ASSERT_EQ(out.content, c.content) << c.name << " trial " << trial;
    }
  }
}

TEST(ReasoningSplitter, HoldsBackOnlyWhatMayBeATag) {
  ReasoningSplitter splitter;
  ReasoningDelta d = splitter.feed("<think>\nabc</th");
  EXPECT_EQ(d.reasoning, "abc");
  EXPECT_TRUE(splitter.in_reasoning());
  d = splitter.feed("ink>\n\nde");
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "de");
  EXPECT_FALSE(splitter.in_reasoning());
  EXPECT_TRUE(splitter.reasoning_closed());

  ReasoningSplitter other;
  other.feed("<think>a<");
  d = other.feed("b");
  EXPECT_EQ(d.reasoning, "<b");  // "<" could have started "</think>", "<b" cannot

  ReasoningSplitter newlines;
  d = newlines.feed("<think>line\n\n");
  EXPECT_EQ(d.reasoning, "line");  // the newlines may precede </think>
  d = newlines.feed("more");
  EXPECT_EQ(d.reasoning, "\n\nmore");
}

TEST(ReasoningSplitter, ContentStreamsWithoutDelay) {
  ReasoningSplitter splitter;
  EXPECT_EQ(splitter.feed("Hel").content, "Hel");
  EXPECT_EQ(splitter.feed("lo").content, "lo");
  EXPECT_FALSE(splitter.in_reasoning());
  EXPECT_FALSE(splitter.reasoning_closed());
}

TEST(ReasoningSplitter, PassThroughWhenDetectionIsOff) {
  ReasoningSplitter::Options options;
  options.detect = false;
  ReasoningDelta out = feed_in_pieces("<think>\nx\n</think>\n\ny", {1}, options);
  EXPECT_EQ(out.reasoning, "");
  EXPECT_EQ(out.content, "<think>\nx\n</think>\n\ny");
}

TEST(ReasoningSplitter, OtherTags) {
  ReasoningSplitter::Options options;
  options.open_tag = "<reasoning>";
  options.close_tag = "</reasoning>";
  ReasoningDelta out = feed_in_pieces("<reasoning>r</reasoning>c", {2}, options);
  EXPECT_EQ(out.reasoning, "r");
  EXPECT_EQ(out.content, "c");
}

TEST(PromptOpensReasoning, DecidesTheStartState) {
  EXPECT_TRUE(prompt_opens_reasoning("<｜User｜>Hi<｜Assistant｜><think>\n"));
  EXPECT_TRUE(prompt_opens_reasoning("<｜User｜>Hi<｜Assistant｜><think>"));
  EXPECT_FALSE(prompt_opens_reasoning("<｜User｜>Hi<｜Assistant｜></think>"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>user\nWhat does <think> do?<|im_end|>\n<|im_start|>assistant\n"));
  EXPECT_FALSE(prompt_opens_reasoning(""));
}

}  // namespace
}  // namespace whale
