// A model's chat template: turns OpenAI-style messages into the prompt text the model was trained on, by
// rendering the template shipped with the model (tokenizer_config.json chat_template, or GGUF
// tokenizer.chat_template) the way transformers' apply_chat_template does.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "chat/jinja_template.h"

namespace whale {

class ChatTemplate {
 public:
  // Parses `source` once (the parse is kept for every apply()). `name` prefixes error messages, e.g. the file
  // the template came from. Throws whale::Error "NAME:LINE:COLUMN: message" on a syntax error or an
  // unsupported construct.
  ChatTemplate(std::string source, std::string bos_token, std::string eos_token, std::string name = "chat template");

  // Renders the prompt. The template sees the variables transformers passes: messages, add_generation_prompt,
  // tools (null when absent), documents (null), bos_token, eos_token, plus every key of `extra` (e.g.
  // enable_thinking for Qwen3, thinking for DeepSeek-V3.1; extra may also override bos_token, eos_token and
  // documents).
  //   messages: a JSON array of objects with a string "role" (content, tool_calls, ... as OpenAI sends them).
  //   tools: null or an array of tool schemas.
  // Pass nlohmann::ordered_json to keep object key order, which shows wherever a template prints JSON
  // (`tools | tojson`); a plain nlohmann::json converts implicitly with its keys sorted.
  // Throws whale::Error for malformed input, a failing template or raise_exception() in the template.
  std::string apply(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                    const nlohmann::ordered_json& tools = nullptr,
                    const nlohmann::ordered_json& extra = nlohmann::ordered_json::object()) const;

  const std::string& source() const { return source_; }
  const std::string& bos_token() const { return bos_token_; }
  const std::string& eos_token() const { return eos_token_; }
  // Whether the template reads a variable of this name (e.g. "enable_thinking" or "thinking": the template
  // can switch reasoning on and off).
  bool uses_variable(std::string_view name) const;

  void set_limits(const jinja::RenderLimits& limits) { limits_ = limits; }

 private:
  std::string source_;
  std::string bos_token_;
  std::string eos_token_;
  jinja::Template template_;
  jinja::RenderLimits limits_;
};

}  // namespace whale
