// Fuzz target: the Jinja-subset template engine behind chat templates. The input is a template, then
// kSeparator, then a JSON object of variables. With "messages" in it, the template is applied as a chat
// template (the messages checked, the other keys passed as extra variables); with any object it is also
// rendered directly; without valid JSON it is applied to a fixed conversation.
//
// Templates run under tight render limits, so a runaway template ends quickly. Every failure must be a
// whale::Error; any other exception, a crash, a sanitizer report, a hang or a failed invariant is a bug.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "chat/chat_template.h"
#include "chat/jinja_template.h"
#include "core/error.h"
#include "fuzz/fuzz_util.h"

namespace whale {
namespace {

using nlohmann::ordered_json;

constexpr std::string_view kSeparator = "\n#####\n";

constexpr jinja::RenderLimits kLimits = {.max_output_bytes = size_t{1} << 20,
                                         .max_items = 10'000,
                                         .max_call_depth = 100,
                                         .max_iterations = 100'000};

const ordered_json& default_messages() {
  static const ordered_json messages = ordered_json::parse(R"([
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is 4821 + 3907?"},
    {"role": "assistant", "content": "<think>\nAdd the columns.\n</think>\n\n8728"},
    {"role": "user", "content": [{"type": "text", "text": "And times 2?"}]}
  ])");
  return messages;
}

template <typename Step>
void try_step(Step step) {
  try {
    step();
  } catch (const Error&) {
  }
}

}  // namespace
}  // namespace whale

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace whale;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find(kSeparator);
  const std::string_view source = input.substr(0, split);
  const std::string_view variables_text =
      split == std::string_view::npos ? std::string_view() : input.substr(split + kSeparator.size());

  std::optional<ChatTemplate> chat;
  try {
    chat.emplace(std::string(source), "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "fuzz");
  } catch (const Error&) {
    return 0;
  }
  chat->set_limits(kLimits);
  (void)chat->uses_variable("enable_thinking");

  ordered_json variables = ordered_json::parse(variables_text, nullptr, /*allow_exceptions=*/false);
  if (!variables.is_object()) {
    try_step([&] { chat->apply(default_messages(), /*add_generation_prompt=*/true); });
    return 0;
  }
  try_step([&] { jinja::Template(source, "fuzz").render(variables, kLimits); });
  // The pieces are moved out, never copied: nlohmann copies recursively, and the input may nest deep enough to
  // overflow the stack; only whale's own code is under test.
  if (variables.contains("messages")) {
    ordered_json messages = std::move(variables["messages"]);
    variables.erase("messages");
    ordered_json tools = nullptr;
    if (variables.contains("tools")) {
      tools = std::move(variables["tools"]);
      variables.erase("tools");
    }
    bool add_generation_prompt = true;
    if (variables.contains("add_generation_prompt")) {
      add_generation_prompt =
          variables["add_generation_prompt"].is_boolean() && variables["add_generation_prompt"].get<bool>();
      variables.erase("add_generation_prompt");
    }
    try_step([&] { chat->apply(messages, add_generation_prompt, tools, variables); });
  }
  return 0;
}
