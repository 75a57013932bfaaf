// OutputAssembler: reasoning/content split and stop strings, with the text fed whole and split at every byte.
#include "server/output.h"

#include <gtest/gtest.h>

#include "server/sse.h"

namespace whale::server {
namespace {

struct Result {
  std::string reasoning;
  std::string content;
  bool stopped = false;
};

// Feeds `text` in pieces of `piece` bytes (0 = whole) and collects everything released.
Result run(const std::string& text, size_t piece, bool split, bool opens, std::vector<std::string> stop = {}) {
  OutputAssembler a(split, opens, std::move(stop));
  Result r;
  size_t step = piece == 0 ? text.size() : piece;
  for (size_t i = 0; i < text.size() && !a.stopped(); i += step) {
    OutputDelta d = a.push(text.substr(i, step));
    r.reasoning += d.reasoning;
    r.content += d.content;
  }
  OutputDelta d = a.finish();
  r.reasoning += d.reasoning;
  r.content += d.content;
  r.stopped = a.stopped();
  return r;
}

TEST(OutputAssembler, SplitsThinkBlockAtAnyPieceSize) {
  const std::string text = "<think>\nStep one.\nStep two.\n</think>\n\nThe answer is 4.";
  for (size_t piece : {0, 1, 2, 3, 5, 7}) {
    Result r = run(text, piece, true, false);
    // chat/reasoning drops the newlines around the tags.
    EXPECT_EQ(r.reasoning, "Step one.\nStep two.") << piece;
    EXPECT_EQ(r.content, "The answer is 4.") << piece;
  }
}

TEST(OutputAssembler, PromptThatOpensTheBlock) {
  // R1 templates end with "<think>\n": the output starts inside the chain of thought.
  for (size_t piece : {0, 1, 4}) {
    Result r = run("Let me see.</think>Four.", piece, true, true);
    EXPECT_EQ(r.reasoning, "Let me see.");
    EXPECT_EQ(r.content, "Four.");
  }
}

TEST(OutputAssembler, NoThinkTagIsAllContent) {
  Result r = run("Just an answer <thin", 1, true, false);
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "Just an answer <thin");
  Result plain = run("<think>kept</think>", 3, false, false);
  EXPECT_EQ(plain.content, "<think>kept</think>");
}

TEST(OutputAssembler, UnfinishedThoughtStaysReasoning) {
  Result r = run("<think>still thinking </thi", 2, true, false);
  EXPECT_EQ(r.reasoning, "still thinking </thi");
  EXPECT_EQ(r.content, "");
}

TEST(OutputAssembler, StopStringsCutContentOnly) {
  const std::string text = "<think>a\nb</think>line one\nline two";
  for (size_t piece : {0, 1, 2, 4}) {
    Result r = run(text, piece, true, false, {"\n"});
    EXPECT_EQ(r.reasoning, "a\nb") << piece;
    EXPECT_EQ(r.content, "line one") << piece;
    EXPECT_TRUE(r.stopped);
  }
}

TEST(OutputAssembler, StopStringSplitAcrossPiecesAndEarliestWins) {
  for (size_t piece : {1, 2, 3}) {
    Result r = run("abcENDxyzSTOP", piece, false, false, {"STOP", "END"});
    EXPECT_EQ(r.content, "abc") << piece;
    EXPECT_TRUE(r.stopped);
  }
  // A held-back partial match that never completes is released at the end.
  Result partial = run("abcEN", 1, false, false, {"END"});
  EXPECT_EQ(partial.content, "abcEN");
  EXPECT_FALSE(partial.stopped);
}

TEST(Sse, Framing) {
  EXPECT_EQ(sse_data(nlohmann::json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
  EXPECT_EQ(sse_comment("keep-alive"), ": keep-alive\n\n");
  EXPECT_EQ(sse_comment("two\nlines"), ": two lines\n\n");
  // Invalid UTF-8 from a model becomes U+FFFD instead of an exception.
  EXPECT_EQ(dump_json(nlohmann::json("a\xff")), "\"a\xef\xbf\xbd\"");
}

}  // namespace
}  // namespace whale::server
