// Typed request bodies of the API, parsed and validated where they enter. Every check names the field in
// ApiError::param; wrong types and out-of-range values are 422, a body that is not a JSON object or lacks a
// required field is 400. Unknown fields are ignored, as OpenAI-compatible clients send extras.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/scheduler.h"

namespace whale::server {

// Limits on what one request may ask for.
struct RequestLimits {
  size_t max_messages = 1024;
  size_t max_stop_strings = 16;
  size_t max_stop_length = 256;  // bytes per stop string
  int64_t max_tokens = 1 << 20;  // max_tokens above this is refused (the context caps it further)
};

struct ChatMessage {
  std::string role;          // system, user, assistant, tool
  std::string content;       // text parts joined; an input assistant message's reasoning_content is dropped
  std::string name;          // optional
  std::string tool_call_id;  // role tool
};

// What both endpoints share: sampling, stopping, streaming, logprobs.
struct GenerationOptions {
  std::string model;                  // as the client sent it (empty = the served model)
  std::optional<int64_t> max_tokens;  // unset = until the context is full or the model stops
  SamplingParams sampling;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;
};

struct ChatCompletionRequest {
  GenerationOptions options;
  std::vector<ChatMessage> messages;
  bool json_object = false;  // response_format {"type": "json_object"}
};

struct CompletionRequest {
  GenerationOptions options;
  std::string prompt;
};

// Parse a request body; throw ApiError (400 / 422) on anything invalid.
ChatCompletionRequest parse_chat_completion_request(const std::string& body, const RequestLimits& limits);
CompletionRequest parse_completion_request(const std::string& body, const RequestLimits& limits);

}  // namespace whale::server
