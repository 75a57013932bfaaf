// ChatSession: a conversation on top of a Session. It renders the chat template over the message history,
// generates, and splits the streamed text into reasoning (`<think>…</think>`) and answer, including when the
// template already opened the think block at the end of the prompt (DeepSeek-R1's newer templates) and for
// models that do not think. Earlier answers go back into the history without their reasoning, as the R1
// templates expect; the Session's KV cache keeps whatever prefix of the new prompt it already computed.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/loaded_model.h"
#include "runtime/session.h"

namespace whale {

struct ChatDelta {
  std::string_view reasoning;  // new reasoning text (may be empty)
  std::string_view content;    // new answer text (may be empty)
};
using ChatCallback = std::function<void(const ChatDelta&)>;

struct ChatSessionOptions {
  bool raw = false;     // no template: the prompt text is fed as is (with the tokenizer's BOS)
  std::string system;   // system prompt (empty: none)
};

struct ChatTurn {
  std::string reasoning;
  std::string content;
  GenerationResult result;
};

class ChatSession {
 public:
  // `session` and `model` must outlive the chat.
  ChatSession(Session& session, const LoadedModel& model, ChatSessionOptions options);

  // The prompt ids for the history plus a new user message (raw: the text itself). Throws whale::Error when
  // the model has no chat template and raw is off.
  std::vector<int32_t> prompt_for(const std::string& user_message);
  // Generates from `prompt` (e.g. from prompt_for) without touching the history.
  ChatTurn generate(std::span<const int32_t> prompt, const GenerationOptions& options, const ChatCallback& on_delta);
  // prompt_for + generate, then appends the user message and the answer to the history.
  ChatTurn send(const std::string& user_message, const GenerationOptions& options, const ChatCallback& on_delta);

  void reset();
  // Whether the template reads enable_thinking (Qwen3) or thinking (DeepSeek-V3.1).
  bool can_switch_thinking() const;
  void set_thinking(bool on) { thinking_ = on; }

 private:
  Session& session_;
  const LoadedModel& model_;
  ChatSessionOptions options_;
  nlohmann::ordered_json history_ = nlohmann::ordered_json::array();
  std::optional<bool> thinking_;
  bool prompt_opens_think_ = false;  // the last rendered prompt ends inside a <think> block
  std::string raw_text_;
};

}  // namespace whale
