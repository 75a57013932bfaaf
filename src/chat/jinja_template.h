// The Jinja-subset template engine's public face: parse a template once, render it many times. It implements
// the parts of Jinja2 that model chat templates use, with Jinja2's (Python's) semantics, configured as
// transformers' apply_chat_template configures it (trim_blocks, lstrip_blocks, raise_exception,
// strftime_now, transformers' tojson).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "chat/jinja_ast.h"

namespace whale::jinja {

// Bounds on one render, so that a runaway template fails with a clear error instead of exhausting memory,
// stack or time.
struct RenderLimits {
  size_t max_output_bytes = size_t{64} << 20;  // also bounds any single string built while rendering
  size_t max_items = size_t{1} << 20;          // longest list built by range() or repetition
  int max_call_depth = 100;                    // nested macro calls
  uint64_t max_iterations = 10'000'000;        // loop iterations and macro calls over the whole render
};

class Template {
 public:
  // Parses `source`. `name` prefixes error messages ("NAME:LINE:COLUMN: message"). Throws whale::Error on a
  // syntax error or an unsupported construct.
  explicit Template(std::string_view source, std::string name = "template");

  // Renders with `variables`, a JSON object whose keys become template variables. Object key order is kept
  // (it shows in `tojson` and `items()`). Throws whale::Error, located at the failing expression, when the
  // template fails or raise_exception() is called.
  std::string render(const nlohmann::ordered_json& variables, const RenderLimits& limits = {}) const;

  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::shared_ptr<const std::string> source_;  // normalized; error offsets refer to it
  std::shared_ptr<const Body> body_;
};

}  // namespace whale::jinja
