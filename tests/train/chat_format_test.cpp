// Tests of the training chat format: the prompt part of an example is token for token what the DeepSeek-R1
// template renders for the server (one user message, add_generation_prompt), and the completion follows it.
#include "train/chat_format.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "train/bpe_trainer.h"

namespace whale::train {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const Tokenizer& tokenizer() {
  static const Tokenizer tok = [] {
    TrainedTokenizer t = train_bpe(task_corpus(all_tasks(), 200, 1), 400, r1_chat_template());
    return Tokenizer::from_hf_json(t.tokenizer_json, t.tokenizer_config_json);
  }();
  return tok;
}

TEST(ChatFormat, TemplateIsTheShippedR1Template) {
  std::string file = read_file(std::string(WHALE_SOURCE_DIR) +
                               "/tests/chat/templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja");
  ASSERT_FALSE(file.empty());
  EXPECT_EQ(r1_chat_template(), file);
}

TEST(ChatFormat, PromptIsWhatTheTemplateRendersForTheServer) {
  ChatTemplate chat = r1_chat();
  Problem p = make_problem(Task::Addition, Split::HeldOut, 1, 3);
  // The expected text is written out from the template's definition.
  std::string expected = fmt::format("<｜begin▁of▁sentence｜><｜User｜>{}<｜Assistant｜><think>\n", p.question);
  EXPECT_EQ(prompt_text(chat, p), expected);
  nlohmann::ordered_json messages = nlohmann::ordered_json::array({{{"role", "user"}, {"content", p.question}}});
  std::vector<int32_t> server_ids = tokenizer().encode(chat.apply(messages, true), false);
  EXPECT_EQ(prompt_tokens(tokenizer(), chat, p), server_ids);
  Example ex = sft_example(tokenizer(), chat, p);
  ASSERT_EQ(ex.prompt_length, server_ids.size());
  EXPECT_EQ(std::vector<int32_t>(ex.tokens.begin(), ex.tokens.begin() + static_cast<long>(ex.prompt_length)), server_ids);
  // The prompt starts with BOS and ends with the "<think>" token and a newline.
  EXPECT_EQ(server_ids.front(), tokenizer().bos_id());
  EXPECT_EQ(ex.tokens[ex.prompt_length - 2], *tokenizer().token_id("<think>"));
}

TEST(ChatFormat, CompletionIsReasoningThenAnswerThenEos) {
  ChatTemplate chat = r1_chat();
  for (Task t : all_tasks()) {
    Problem p = make_problem(t, Split::Train, 2, 5);
    Example ex = sft_example(tokenizer(), chat, p);
    EXPECT_EQ(ex.tokens.back(), tokenizer().eos_id());
    std::vector<int32_t> completion(ex.tokens.begin() + static_cast<long>(ex.prompt_length), ex.tokens.end());
    std::string text = tokenizer().decode(completion);
    EXPECT_EQ(text, fmt::format("{}\n</think>\n\n{}<｜end▁of▁sentence｜>", p.reasoning, p.answer));
    std::string generated = tokenizer().decode(completion, /*skip_special=*/true);
    EXPECT_TRUE(format_ok(generated)) << generated;
    EXPECT_TRUE(answer_correct(p, generated));
    // The whole example decodes to the prompt followed by the completion.
    EXPECT_EQ(tokenizer().decode(ex.tokens), prompt_text(chat, p) + text);
  }
}

TEST(ChatFormat, OlderTemplateOpensTheThinkBlockInTheCompletion) {
  std::string old = read_file(std::string(WHALE_SOURCE_DIR) +
                              "/tests/chat/templates/deepseek-ai-DeepSeek-R1-Distill-Llama-8B@8b576b6c.jinja");
  ChatTemplate chat(old, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>");
  Problem p = make_problem(Task::Linear, Split::Train, 2, 5);
  std::string prompt = prompt_text(chat, p);
  ASSERT_NE(prompt.find("<｜Assistant｜>"), std::string::npos);
  ASSERT_EQ(prompt.find("<think>"), std::string::npos);
  EXPECT_EQ(completion_text(prompt, "r", "a"), "<think>\nr\n</think>\n\na");
  EXPECT_EQ(completion_text(fmt::format("{}<think>\n", prompt), "r", "a"), "r\n</think>\n\na");
}

}  // namespace
}  // namespace whale::train
