// OutputAssembler: reasoning/content split and stop strings over streamed text (see output.h).
#include "server/output.h"

#include <algorithm>

namespace whale::server {
namespace {

// Length of the longest suffix of `text` that is a proper prefix of `stop` (text that may still become it).
size_t partial_suffix(std::string_view text, std::string_view stop) {
  size_t longest = std::min(text.size(), stop.size() - 1);
  for (size_t k = longest; k > 0; --k)
    if (text.substr(text.size() - k) == stop.substr(0, k)) return k;
  return 0;
}

ReasoningSplitter::Options splitter_options(bool split_reasoning, bool opens_reasoning) {
  ReasoningSplitter::Options o;
  o.detect = split_reasoning;
  o.start_in_reasoning = split_reasoning && opens_reasoning;
  return o;
}

}  // namespace

OutputAssembler::OutputAssembler(bool split_reasoning, bool opens_reasoning, std::vector<std::string> stop)
    : splitter_(splitter_options(split_reasoning, opens_reasoning)), stop_(std::move(stop)) {}

OutputDelta OutputAssembler::push(const std::string& text) {
  OutputDelta out;
  if (!stopped_) take(splitter_.feed(text), out, false);
  return out;
}

OutputDelta OutputAssembler::finish() {
  OutputDelta out;
  if (!stopped_) take(splitter_.finish(), out, true);
  return out;
}

void OutputAssembler::take(ReasoningDelta delta, OutputDelta& out, bool final) {
  out.reasoning += delta.reasoning;
  held_ += delta.content;
  size_t first = std::string::npos;
  for (const auto& s : stop_) first = std::min(first, held_.find(s));
  if (first != std::string::npos) {
    out.content += held_.substr(0, first);
    held_.clear();
    stopped_ = true;
    return;
  }
  size_t keep = 0;
  if (!final)
    for (const auto& s : stop_) keep = std::max(keep, partial_suffix(held_, s));
  out.content += held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
}

}  // namespace whale::server
