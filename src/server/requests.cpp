// Parsing and validation of /v1/chat/completions and /v1/completions bodies (see requests.h).
#include "server/requests.h"

#include <nlohmann/json.hpp>

#include "server/api_error.h"

namespace whale::server {
namespace {

using nlohmann::json;

json parse_object(const std::string& body) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) fail_request("", "the request body is not valid JSON");
  if (!doc.is_object()) fail_request("", "the request body must be a JSON object, got {}", doc.type_name());
  return doc;
}

// A present, non-null field.
const json* field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

double number_in(const json& object, const char* name, double low, double high, double fallback) {
  const json* v = field(object, name);
  if (!v) return fallback;
  if (!v->is_number()) fail_param(name, "{}: expected a number, got {}", name, v->type_name());
  double x = v->get<double>();
  if (!(x >= low && x <= high)) fail_param(name, "{}: expected a number from {} to {}, got {}", name, low, high, x);
  return x;
}

std::optional<int64_t> integer_in(const json& object, const char* name, int64_t low, int64_t high) {
  const json* v = field(object, name);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) fail_param(name, "{}: expected an integer, got {}", name, v->dump());
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(high))
    fail_param(name, "{}: expected an integer from {} to {}, got {}", name, low, high, v->dump());
  int64_t x = v->get<int64_t>();
  if (x < low || x > high) fail_param(name, "{}: expected an integer from {} to {}, got {}", name, low, high, x);
  return x;
}

bool boolean(const json& object, const char* name, bool fallback) {
  const json* v = field(object, name);
  if (!v) return fallback;
  if (!v->is_boolean()) fail_param(name, "{}: expected true or false, got {}", name, v->dump());
  return v->get<bool>();
}

std::vector<std::string> parse_stop(const json& object, const RequestLimits& limits) {
  const json* v = field(object, "stop");
  std::vector<std::string> stop;
  if (!v) return stop;
  auto add = [&](const json& s, const std::string& param) {
    if (!s.is_string()) fail_param(param, "{}: expected a string, got {}", param, s.type_name());
    auto text = s.get<std::string>();
    if (text.empty()) fail_param(param, "{}: a stop string must not be empty", param);
    if (text.size() > limits.max_stop_length)
      fail_param(param, "{}: a stop string is at most {} bytes, got {}", param, limits.max_stop_length, text.size());
    stop.push_back(std::move(text));
  };
  if (v->is_string()) {
    add(*v, "stop");
  } else if (v->is_array()) {
    if (v->size() > limits.max_stop_strings)
      fail_param("stop", "stop: at most {} strings, got {}", limits.max_stop_strings, v->size());
    for (size_t i = 0; i < v->size(); ++i) add((*v)[i], fmt::format("stop[{}]", i));
  } else {
    fail_param("stop", "stop: expected a string or a list of strings, got {}", v->type_name());
  }
  return stop;
}

GenerationOptions parse_options(const json& doc, const RequestLimits& limits) {
  GenerationOptions o;
  if (const json* model = field(doc, "model")) {
    if (!model->is_string()) fail_param("model", "model: expected a string, got {}", model->type_name());
    o.model = model->get<std::string>();
  }
  o.max_tokens = integer_in(doc, "max_tokens", 1, limits.max_tokens);
  if (!o.max_tokens) o.max_tokens = integer_in(doc, "max_completion_tokens", 1, limits.max_tokens);
  if (auto n = integer_in(doc, "n", 1, 1000); n && *n != 1)
    fail_param("n", "n: only 1 choice per request is supported, got {}", *n);
  SamplingParams& s = o.sampling;
  s.temperature = static_cast<float>(number_in(doc, "temperature", 0.0, 2.0, 1.0));
  s.top_p = static_cast<float>(number_in(doc, "top_p", 0.0, 1.0, 1.0));
  if (s.top_p <= 0.0f) fail_param("top_p", "top_p: expected a number above 0 and at most 1, got 0");
  s.presence_penalty = static_cast<float>(number_in(doc, "presence_penalty", -2.0, 2.0, 0.0));
  s.frequency_penalty = static_cast<float>(number_in(doc, "frequency_penalty", -2.0, 2.0, 0.0));
  if (auto seed = integer_in(doc, "seed", INT64_MIN, INT64_MAX)) {
    s.has_seed = true;
    s.seed = static_cast<uint64_t>(*seed);
  }
  o.stop = parse_stop(doc, limits);
  o.stream = boolean(doc, "stream", false);
  if (const json* so = field(doc, "stream_options")) {
    if (!so->is_object()) fail_param("stream_options", "stream_options: expected an object, got {}", so->type_name());
    if (const json* iu = field(*so, "include_usage")) {
      if (!iu->is_boolean())
        fail_param("stream_options.include_usage", "stream_options.include_usage: expected true or false");
      o.include_usage = iu->get<bool>();
    }
  }
  return o;
}

// A message's content: a string, or a list of {"type": "text", "text": ...} parts joined together.
std::string message_content(const json& message, const std::string& param, bool may_be_null) {
  const json* content = field(message, "content");
  if (!content) {
    if (may_be_null) return {};
    fail_request(param, "{}: missing", param);
  }
  if (content->is_string()) return content->get<std::string>();
  if (!content->is_array())
    fail_param(param, "{}: expected a string or a list of text parts, got {}", param, content->type_name());
  std::string text;
  for (size_t i = 0; i < content->size(); ++i) {
    const json& part = (*content)[i];
    std::string part_param = fmt::format("{}[{}]", param, i);
    if (!part.is_object()) fail_param(part_param, "{}: expected an object, got {}", part_param, part.type_name());
    const json* type = field(part, "type");
    if (!type || !type->is_string() || type->get<std::string>() != "text")
      fail_param(part_param + ".type", "{}.type: only \"text\" parts are supported", part_param);
    const json* part_text = field(part, "text");
    if (!part_text || !part_text->is_string())
      fail_param(part_param + ".text", "{}.text: expected a string", part_param);
    text += part_text->get<std::string>();
  }
  return text;
}

std::vector<ChatMessage> parse_messages(const json& doc, const RequestLimits& limits) {
  const json* messages = field(doc, "messages");
  if (!messages) fail_request("messages", "messages: missing (a list of {{role, content}} objects is required)");
  if (!messages->is_array()) fail_param("messages", "messages: expected a list, got {}", messages->type_name());
  if (messages->empty()) fail_param("messages", "messages: expected at least one message, got an empty list");
  if (messages->size() > limits.max_messages)
    fail_param("messages", "messages: at most {} messages, got {}", limits.max_messages, messages->size());
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    std::string param = fmt::format("messages[{}]", i);
    if (!m.is_object()) fail_param(param, "{}: expected an object, got {}", param, m.type_name());
    const json* role = field(m, "role");
    if (!role) fail_request(param + ".role", "{}.role: missing", param);
    if (!role->is_string()) fail_param(param + ".role", "{}.role: expected a string, got {}", param, role->type_name());
    ChatMessage message;
    message.role = role->get<std::string>();
    if (message.role == "developer") message.role = "system";
    if (message.role != "system" && message.role != "user" && message.role != "assistant" && message.role != "tool")
      fail_param(param + ".role", "{}.role: expected system, user, assistant or tool, got \"{}\"", param, message.role);
    message.content = message_content(m, param + ".content", message.role == "assistant");
    if (const json* name = field(m, "name")) {
      if (!name->is_string()) fail_param(param + ".name", "{}.name: expected a string", param);
      message.name = name->get<std::string>();
    }
    if (message.role == "tool") {
      const json* id = field(m, "tool_call_id");
      if (id && !id->is_string()) fail_param(param + ".tool_call_id", "{}.tool_call_id: expected a string", param);
      if (id) message.tool_call_id = id->get<std::string>();
    }
    if (boolean(m, "prefix", false))
      fail_param(param + ".prefix", "{}.prefix: chat prefix completion is not supported", param);
    out.push_back(std::move(message));
  }
  return out;
}

}  // namespace

ChatCompletionRequest parse_chat_completion_request(const std::string& body, const RequestLimits& limits) {
  json doc = parse_object(body);
  ChatCompletionRequest request;
  request.messages = parse_messages(doc, limits);
  request.options = parse_options(doc, limits);
  GenerationOptions& o = request.options;
  o.logprobs = boolean(doc, "logprobs", false);
  if (auto top = integer_in(doc, "top_logprobs", 0, 20)) {
    if (!o.logprobs && *top > 0) fail_param("top_logprobs", "top_logprobs: requires logprobs: true");
    o.sampling.top_logprobs = static_cast<int32_t>(*top);
  }
  if (const json* tools = field(doc, "tools"); tools && !(tools->is_array() && tools->empty()))
    fail_param("tools", "tools: function calling is not supported by this server");
  if (const json* format = field(doc, "response_format")) {
    const json* type = format->is_object() ? field(*format, "type") : nullptr;
    std::string kind = type && type->is_string() ? type->get<std::string>() : "";
    if (kind == "json_object") {
      request.json_object = true;
    } else if (kind != "text") {
      fail_param("response_format.type", "response_format.type: expected \"text\" or \"json_object\"");
    }
  }
  if (request.json_object) {
    // As OpenAI and DeepSeek require: the instruction to answer in JSON must be in the conversation.
    bool mentioned = false;
    for (const auto& m : request.messages) {
      std::string lower = m.content;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      mentioned = mentioned || lower.find("json") != std::string::npos;
    }
    if (!mentioned)
      fail_param("messages",
                 "messages: response_format json_object needs the word \"json\" in a message, "
                 "telling the model to answer in JSON");
  }
  return request;
}

CompletionRequest parse_completion_request(const std::string& body, const RequestLimits& limits) {
  json doc = parse_object(body);
  CompletionRequest request;
  const json* prompt = field(doc, "prompt");
  if (!prompt) fail_request("prompt", "prompt: missing");
  if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) prompt = &(*prompt)[0];
  if (!prompt->is_string()) fail_param("prompt", "prompt: expected a string, got {}", prompt->type_name());
  request.prompt = prompt->get<std::string>();
  if (request.prompt.empty()) fail_param("prompt", "prompt: expected a non-empty string");
  if (field(doc, "suffix")) fail_param("suffix", "suffix: fill-in-the-middle is not supported");
  request.options = parse_options(doc, limits);
  if (boolean(doc, "echo", false)) fail_param("echo", "echo: echoing the prompt is not supported");
  // Legacy completions: logprobs is the number of alternatives (0 .. 5).
  if (auto n = integer_in(doc, "logprobs", 0, 5)) {
    request.options.logprobs = true;
    request.options.sampling.top_logprobs = static_cast<int32_t>(*n);
  }
  return request;
}

}  // namespace whale::server
