// ChatTemplate: the DeepSeek templates render what their source says (read by hand from the template text),
// input is validated with clear errors, and template errors carry the template's name and position.
#include "chat/chat_template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <sstream>

#include "core/error.h"

namespace whale {
namespace {

using nlohmann::ordered_json;
using ::testing::HasSubstr;

const std::string kBos = "<｜begin▁of▁sentence｜>";
const std::string kEos = "<｜end▁of▁sentence｜>";

std::string read_template(const std::string& name) {
  std::ifstream in(std::string(WHALE_SOURCE_DIR) + "/tests/chat/templates/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const ordered_json kReasoningChat = ordered_json::parse(R"([
  {"role": "system", "content": "S"},
  {"role": "user", "content": "U1"},
  {"role": "assistant", "content": "<think>\nR\n</think>\n\nA1"},
  {"role": "user", "content": "U2"}])");

TEST(ChatTemplate, R1DistillDropsEarlierReasoningAndOpensThinkBlock) {
  ChatTemplate chat(read_template("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"), kBos, kEos);
  // content.split('</think>')[-1] keeps what follows the last </think>, including its newlines.
  EXPECT_EQ(chat.apply(kReasoningChat, true),
            kBos + "S<｜User｜>U1<｜Assistant｜>\n\nA1" + kEos + "<｜User｜>U2<｜Assistant｜><think>\n");
  EXPECT_EQ(chat.apply(kReasoningChat, false), kBos + "S<｜User｜>U1<｜Assistant｜>\n\nA1" + kEos + "<｜User｜>U2");
}

TEST(ChatTemplate, V3KeepsAssistantTextAndJoinsSystemPrompts) {
  ChatTemplate chat(read_template("deepseek-ai-DeepSeek-V3.jinja"), kBos, kEos);
  ordered_json messages = ordered_json::parse(R"([
    {"role": "system", "content": "A"}, {"role": "system", "content": "B"},
    {"role": "user", "content": "Q"}, {"role": "assistant", "content": "<think>x</think>y"}])");
  EXPECT_EQ(chat.apply(messages, false), kBos + "A\n\nB<｜User｜>Q<｜Assistant｜><think>x</think>y" + kEos);
}

TEST(ChatTemplate, V3ToolCallsAndOutputs) {
  ChatTemplate chat(read_template("deepseek-ai-DeepSeek-V3.jinja"), kBos, kEos);
  ordered_json messages = ordered_json::parse(R"([
    {"role": "user", "content": "Weather?"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "content": "sunny"},
    {"role": "tool", "content": "21C"},
    {"role": "assistant", "content": "Sunny, 21C."}])");
  EXPECT_EQ(chat.apply(messages, true),
            kBos +
                "<｜User｜>Weather?<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>"
                "get_weather\n```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜>"
                "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>sunny<｜tool▁output▁end｜>"
                "\n<｜tool▁output▁begin｜>21C<｜tool▁output▁end｜><｜tool▁outputs▁end｜>Sunny, 21C." +
                kEos + "<｜Assistant｜>");
}

TEST(ChatTemplate, V31ThinkingSwitchComesFromExtraVariables) {
  ChatTemplate chat(read_template("deepseek-ai-DeepSeek-V3.1.jinja"), kBos, kEos);
  ordered_json messages = ordered_json::parse(R"([{"role": "user", "content": "Hi"}])");
  EXPECT_EQ(chat.apply(messages, true), kBos + "<｜User｜>Hi<｜Assistant｜></think>");
  EXPECT_EQ(chat.apply(messages, true, nullptr, {{"thinking", true}}), kBos + "<｜User｜>Hi<｜Assistant｜><think>");
  EXPECT_TRUE(chat.uses_variable("thinking"));
  EXPECT_FALSE(chat.uses_variable("enable_thinking"));
  EXPECT_FALSE(chat.uses_variable("think"));
}

TEST(ChatTemplate, BosAndEosCanBeOverridden) {
  ChatTemplate chat("{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ tools }}", "<s>", "</s>");
  ordered_json messages = ordered_json::array();
  EXPECT_EQ(chat.apply(messages, true), "<s>|</s>|True|None");
  EXPECT_EQ(chat.apply(messages, false, ordered_json::parse(R"([{"type": "function"}])"), {{"bos_token", "B"}}),
            "B|</s>|False|[{'type': 'function'}]");
}

TEST(ChatTemplate, MalformedInputIsRefused) {
  ChatTemplate chat("{{ messages | length }}", "", "", "tpl");
  EXPECT_EQ(error_of([&] { chat.apply(ordered_json::object(), true); }),
            "tpl: messages must be a JSON array, got object");
  EXPECT_EQ(error_of([&] { chat.apply(ordered_json::array({1}), true); }),
            "tpl: messages[0] must be an object, got number");
  EXPECT_EQ(error_of([&] { chat.apply(ordered_json::parse(R"([{"role": "user"}, {"content": "x"}])"), true); }),
            "tpl: messages[1].role must be a string");
  EXPECT_EQ(error_of([&] { chat.apply(ordered_json::array(), true, "tools"); }),
            "tpl: tools must be null or an array, got string");
  EXPECT_EQ(error_of([&] {
              chat.apply(ordered_json::array(), true, nullptr, {{"messages", 1}});
            }),
            "tpl: extra template variable 'messages' would replace an argument of apply()");
  EXPECT_EQ(error_of([&] { chat.apply(ordered_json::array(), true, nullptr, ordered_json::array()); }),
            "tpl: extra template variables must be a JSON object, got array");
}

TEST(ChatTemplate, TemplateErrorsCarryNameLineAndColumn) {
  EXPECT_EQ(error_of([] { ChatTemplate("ok\n{% if %}", "", "", "cfg.json chat_template"); }),
            "cfg.json chat_template:2:7: expected an expression, got '%}'");
  ChatTemplate chat("{{ raise_exception('roles must alternate') }}", "", "", "tpl");
  EXPECT_EQ(error_of([&] { chat.apply(ordered_json::array(), true); }),
            "tpl:1:4: raise_exception: roles must alternate");
}

TEST(ChatTemplate, PlainJsonConvertsWithSortedKeys) {
  ChatTemplate chat("{{ messages[0] | tojson }}", "", "");
  nlohmann::json messages = nlohmann::json::parse(R"([{"role": "user", "content": "x"}])");
  EXPECT_EQ(chat.apply(messages, false), R"({"content": "x", "role": "user"})");
}

}  // namespace
}  // namespace whale
