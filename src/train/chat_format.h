// Training examples rendered exactly as `whale serve` renders a one-message chat: the prompt is the model's
// chat template applied to one user message with add_generation_prompt (DeepSeek-R1: "<｜begin▁of▁sentence｜>
// <｜User｜>question<｜Assistant｜><think>\n"), the completion is what the model must write after it:
// the reasoning, "\n</think>\n\n", the answer and EOS. When a template does not open the think block in the
// prompt (older R1 revisions end with "<｜Assistant｜>"), the completion starts with "<think>\n" itself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "train/tasks.h"

namespace whale::train {

struct Example {
  std::vector<int32_t> tokens;
  size_t prompt_length = 0;  // loss on tokens[prompt_length..]
};

// DeepSeek-R1's chat template (DeepSeek-R1-Distill-Qwen-32B's tokenizer_config.json, current revision:
// earlier reasoning stripped from history, the generation prompt opens the think block with "<think>\n").
const std::string& r1_chat_template();
// A ChatTemplate of r1_chat_template() with the R1 BOS / EOS strings.
ChatTemplate r1_chat();

// The prompt text / ids for the problem's question.
std::string prompt_text(const ChatTemplate& chat_template, const Problem& problem);
std::vector<int32_t> prompt_tokens(const Tokenizer& tokenizer, const ChatTemplate& chat_template, const Problem& problem);
// The completion text that follows the prompt (without EOS).
std::string completion_text(const std::string& prompt, const std::string& reasoning, const std::string& answer);
// prompt_tokens + the completion's ids + EOS.
Example sft_example(const Tokenizer& tokenizer, const ChatTemplate& chat_template, const Problem& problem);
// The same with a given reasoning and answer (distillation: the teacher's trace instead of the built-in one).
Example sft_example(const Tokenizer& tokenizer, const ChatTemplate& chat_template, const Problem& problem,
                    const std::string& reasoning, const std::string& answer);

}  // namespace whale::train
