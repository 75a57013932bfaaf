// A conversation over a Session (see chat_session.h).
#include "runtime/chat_session.h"

#include "chat/reasoning.h"
#include "core/error.h"

namespace whale {

ChatSession::ChatSession(Session& session, const LoadedModel& model, ChatSessionOptions options)
    : session_(session), model_(model), options_(std::move(options)) {}

bool ChatSession::can_switch_thinking() const {
  return model_.chat_template &&
         (model_.chat_template->uses_variable("enable_thinking") || model_.chat_template->uses_variable("thinking"));
}

void ChatSession::reset() {
  history_ = nlohmann::ordered_json::array();
  raw_text_.clear();
  session_.reset();
}

std::vector<int32_t> ChatSession::prompt_for(const std::string& user_message) {
  if (options_.raw) {
    prompt_opens_think_ = false;
    return model_.tokenizer.encode(raw_text_ + user_message, /*add_special=*/true);
  }
  if (!model_.chat_template) {
    fail("{}: the model has no chat template; use --raw to feed the text as it is", model_.source->path());
  }
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (!options_.system.empty()) messages.push_back({{"role", "system"}, {"content", options_.system}});
  for (const auto& m : history_) messages.push_back(m);
  messages.push_back({{"role", "user"}, {"content", user_message}});
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  if (thinking_) {
    extra["enable_thinking"] = *thinking_;
    extra["thinking"] = *thinking_;
  }
  const std::string text = model_.chat_template->apply(messages, /*add_generation_prompt=*/true, nullptr, extra);
  prompt_opens_think_ = prompt_opens_reasoning(text);
  return model_.tokenizer.encode(text, /*add_special=*/false);
}

ChatTurn ChatSession::generate(std::span<const int32_t> prompt, const GenerationOptions& options,
                               const ChatCallback& on_delta) {
  ChatTurn turn;
  ReasoningSplitter::Options split;
  split.start_in_reasoning = prompt_opens_think_;
  split.detect = !options_.raw;
  ReasoningSplitter splitter(split);
  auto forward = [&](const ReasoningDelta& d) {
    turn.reasoning += d.reasoning;
    turn.content += d.content;
    if (on_delta && (!d.reasoning.empty() || !d.content.empty())) on_delta(ChatDelta{d.reasoning, d.content});
  };
  turn.result = session_.generate(prompt, options, [&](std::string_view piece) { forward(splitter.feed(piece)); });
  forward(splitter.finish());
  return turn;
}

ChatTurn ChatSession::send(const std::string& user_message, const GenerationOptions& options,
                           const ChatCallback& on_delta) {
  std::vector<int32_t> prompt = prompt_for(user_message);
  ChatTurn turn = generate(prompt, options, on_delta);
  if (options_.raw) {
    raw_text_ += user_message + turn.result.text;
  } else {
    history_.push_back({{"role", "user"}, {"content", user_message}});
    history_.push_back({{"role", "assistant"}, {"content", turn.content}});
  }
  return turn;
}

}  // namespace whale
