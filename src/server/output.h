// OutputAssembler: turns one request's generated text into what the API sends — the chain of thought as
// reasoning_content, the rest as content (chat/reasoning's ReasoningSplitter decides which is which) — and
// applies stop strings.
//
// Text is released as soon as it cannot change: a piece that might be the start of a stop string is held until
// the next piece decides it. Stop strings apply to the answer (content) only, so a stop such as "\n" cuts the
// reply, not the chain of thought; the stop string itself is not returned.
#pragma once

#include <string>
#include <vector>

#include "chat/reasoning.h"

namespace whale::server {

struct OutputDelta {
  std::string reasoning;
  std::string content;
  bool empty() const { return reasoning.empty() && content.empty(); }
};

class OutputAssembler {
 public:
  // split_reasoning: the model writes <think>...</think> (reasoning models); opens_reasoning: the prompt
  // already opened the block, so output starts inside it.
  OutputAssembler(bool split_reasoning, bool opens_reasoning, std::vector<std::string> stop);

  // Feeds decoded text; returns what can be released now.
  OutputDelta push(const std::string& text);
  // End of generation: releases everything still held.
  OutputDelta finish();
  // A stop string was found; generation should end (push returns nothing more).
  bool stopped() const { return stopped_; }
  // Inside the chain of thought now. A token counts toward reasoning_tokens when this holds before or after
  // its text is pushed (so both tags count).
  bool reasoning_open() const { return splitter_.in_reasoning(); }

 private:
  void take(ReasoningDelta delta, OutputDelta& out, bool final);

  ReasoningSplitter splitter_;
  std::vector<std::string> stop_;
  std::string held_;  // content held back as a possible stop-string prefix
  bool stopped_ = false;
};

}  // namespace whale::server
