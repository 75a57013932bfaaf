// Splits a reasoning model's streamed output into the chain of thought (inside <think>…</think>) and the
// answer, the way DeepSeek's API returns reasoning_content apart from content.
//
// Rules (whatever the pieces the text arrives in, the concatenated deltas are the same):
//   - Only a think block at the very start of the output counts: the output may begin with whitespace and then
//     the open tag. Output that starts with anything else is all content (a model that does not think, or a
//     thinking model told not to), and a "<think>" later in the answer is content too.
//   - When the prompt already opened the block (DeepSeek-R1 templates end the prompt with "<think>\n"; see
//     prompt_opens_reasoning), construct with start_in_reasoning: the output is reasoning until the close tag.
//     An open tag repeated at the very start is then dropped.
//   - Newlines around the tags are formatting, not text: newlines ("\n", "\r") right after the open tag, right
//     before the close tag, and right after the close tag are dropped. R1 writes "<think>\nthought\n</think>\n\n
//     answer"; that yields reasoning "thought" and content "answer". Other whitespace is kept.
//   - Text that may be the start of a tag ("</th") or newlines that may precede the close tag are held back
//     until the next piece decides; finish() releases what is still held when the stream ends (an unfinished
//     think block stays reasoning).
//   - With detect = false the splitter passes everything through as content.
#pragma once

#include <string>
#include <string_view>

namespace whale {

struct ReasoningDelta {
  std::string reasoning;
  std::string content;

  bool empty() const { return reasoning.empty() && content.empty(); }
};

class ReasoningSplitter {
 public:
  struct Options {
    std::string open_tag = "<think>";
    std::string close_tag = "</think>";
    bool start_in_reasoning = false;  // the prompt ends inside an open think block
    bool detect = true;               // false: no reasoning, all text is content
  };

  ReasoningSplitter() : ReasoningSplitter(Options{}) {}
  explicit ReasoningSplitter(Options options);

  // Feeds the next piece of output text; returns what can be emitted now.
  ReasoningDelta feed(std::string_view piece);
  // Ends the stream: returns whatever was held back.
  ReasoningDelta finish();

  // True while the text being produced is reasoning (inside the think block).
  bool in_reasoning() const { return state_ == State::ReasoningStart || state_ == State::Reasoning; }
  // True once the close tag has been seen.
  bool reasoning_closed() const { return closed_; }

 private:
  enum class State { Start, ReasoningStart, Reasoning, ContentStart, Content };
  void step(ReasoningDelta& out);

  Options options_;
  State state_;
  std::string pending_;  // received but not yet emitted
  bool at_output_start_ = true;
  bool closed_ = false;
};

// Whether a rendered prompt leaves a think block open for the model to continue: its last open tag comes after
// its last close tag and only whitespace follows it. Decides ReasoningSplitter::Options::start_in_reasoning.
bool prompt_opens_reasoning(std::string_view prompt, std::string_view open_tag = "<think>",
                            std::string_view close_tag = "</think>");

}  // namespace whale
