// ChatTemplate: validates OpenAI-style input and renders the model's template with transformers' variables.
#include "chat/chat_template.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "chat/jinja_lexer.h"
#include "chat/jinja_value.h"
#include "core/error.h"

namespace whale {
namespace {

// How deep a JSON value nests, counted without recursion: input nested deeper than the stack allows must get
// an error here, before anything copies or walks it recursively.
size_t json_depth(const nlohmann::ordered_json& root) {
  size_t deepest = 0;
  std::vector<std::pair<const nlohmann::ordered_json*, size_t>> pending{{&root, 1}};
  while (!pending.empty()) {
    const auto [value, depth] = pending.back();
    pending.pop_back();
    deepest = std::max(deepest, depth);
    if (value->is_structured())
      for (const auto& child : *value) pending.emplace_back(&child, depth + 1);
  }
  return deepest;
}

}  // namespace

ChatTemplate::ChatTemplate(std::string source, std::string bos_token, std::string eos_token, std::string name)
    : source_(std::move(source)),
      bos_token_(std::move(bos_token)),
      eos_token_(std::move(eos_token)),
      template_(source_, std::move(name)) {}

std::string ChatTemplate::apply(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                const nlohmann::ordered_json& tools, const nlohmann::ordered_json& extra) const {
  const std::string& name = template_.name();
  const std::pair<const char*, const nlohmann::ordered_json*> inputs[] = {
      {"messages", &messages}, {"tools", &tools}, {"extra variables", &extra}};
  for (const auto& [what, value] : inputs) {
    if (json_depth(*value) > static_cast<size_t>(jinja::kMaxValueNesting))
      fail("{}: {} nest deeper than {} levels", name, what, jinja::kMaxValueNesting);
  }
  if (!messages.is_array()) fail("{}: messages must be a JSON array, got {}", name, messages.type_name());
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& message = messages[i];
    if (!message.is_object()) fail("{}: messages[{}] must be an object, got {}", name, i, message.type_name());
    auto role = message.find("role");
    if (role == message.end() || !role->is_string()) fail("{}: messages[{}].role must be a string", name, i);
  }
  if (!tools.is_null() && !tools.is_array())
    fail("{}: tools must be null or an array, got {}", name, tools.type_name());
  if (!extra.is_object()) fail("{}: extra template variables must be a JSON object, got {}", name, extra.type_name());

  nlohmann::ordered_json variables = nlohmann::ordered_json::object();
  variables["messages"] = messages;
  variables["tools"] = tools;
  variables["documents"] = nullptr;  // transformers passes documents=None when there are none
  variables["add_generation_prompt"] = add_generation_prompt;
  variables["bos_token"] = bos_token_;
  variables["eos_token"] = eos_token_;
  for (const auto& [key, value] : extra.items()) {
    if (key == "messages" || key == "tools" || key == "add_generation_prompt") {
      fail("{}: extra template variable '{}' would replace an argument of apply()", name, key);
    }
    variables[key] = value;
  }
  return template_.render(variables, limits_);
}

bool ChatTemplate::uses_variable(std::string_view variable) const {
  std::vector<jinja::Token> tokens = jinja::tokenize(jinja::normalize_source(source_), template_.name());
  for (size_t i = 0; i < tokens.size(); ++i) {
    bool attribute = i > 0 && tokens[i - 1].type == jinja::TokenType::Operator && tokens[i - 1].value == ".";
    if (tokens[i].type == jinja::TokenType::Name && tokens[i].value == variable && !attribute) return true;
  }
  return false;
}

}  // namespace whale
