// Training examples in the chat format the server renders: the template applied to one user message, then
// the completion the model learns to write. Prompt and completion are tokenized separately and joined, which
// is exactly what generation sees: the server encodes the rendered prompt, and the model's tokens follow.
#include "train/chat_format.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace whale::train {
namespace {

constexpr std::string_view kOpenThink = "<think>\n";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

const std::string& r1_chat_template() {
  // Copied verbatim from the model's tokenizer_config.json (tests compare it with tests/chat/templates).
  static const std::string text =
      R"TPL({% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %}{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}{%- set ns.is_first = true -%}{%- else %}{{'\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}{%- else %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</thi)TPL"
      R"TPL(nk>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_output_first = false %}{%- else %}{{'\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\n'}}{% endif %})TPL";
  return text;
}

ChatTemplate r1_chat() {
  return ChatTemplate(r1_chat_template(), "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "DeepSeek-R1 chat template");
}

std::string prompt_text(const ChatTemplate& chat_template, const Problem& problem) {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  messages.push_back({{"role", "user"}, {"content", problem.question}});
  return chat_template.apply(messages, /*add_generation_prompt=*/true);
}

std::vector<int32_t> prompt_tokens(const Tokenizer& tokenizer, const ChatTemplate& chat_template, const Problem& problem) {
  // As the server does: the rendered text holds BOS already, so no special tokens are added.
  return tokenizer.encode(prompt_text(chat_template, problem), /*add_special=*/false);
}

std::string completion_text(const std::string& prompt, const std::string& reasoning, const std::string& answer) {
  std::string text = ends_with(prompt, kOpenThink) ? "" : std::string(kOpenThink);
  text += reasoning;
  text += "\n</think>\n\n";
  text += answer;
  return text;
}

Example sft_example(const Tokenizer& tokenizer, const ChatTemplate& chat_template, const Problem& problem,
                    const std::string& reasoning, const std::string& answer) {
  if (tokenizer.eos_id() < 0) fail("tokenizer: no EOS token; the chat format ends every completion with one");
  std::string prompt = prompt_text(chat_template, problem);
  Example example;
  example.tokens = tokenizer.encode(prompt, /*add_special=*/false);
  example.prompt_length = example.tokens.size();
  tokenizer.encode_append(completion_text(prompt, reasoning, answer), /*add_special=*/false, example.tokens);
  example.tokens.push_back(tokenizer.eos_id());
  return example;
}

Example sft_example(const Tokenizer& tokenizer, const ChatTemplate& chat_template, const Problem& problem) {
  return sft_example(tokenizer, chat_template, problem, problem.reasoning, problem.answer);
}

}  // namespace whale::train
