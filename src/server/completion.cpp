// POST /v1/chat/completions and POST /v1/completions (see completion.h).
//
// A request is validated and encoded on the HTTP worker, submitted to the scheduler, and then either waited
// for (one JSON body) or streamed: the worker's content provider blocks on the request's events and writes
// each as an SSE chunk. A failed write means the client left: the handle is cancelled, so the scheduler drops
// the sequence at its next step.
#include "server/completion.h"

#include <httplib.h>

#include "server/api_error.h"
#include "server/client_probe.h"
#include "server/generation.h"
#include "server/server.h"
#include "server/sse.h"

namespace whale::server {
namespace {

using nlohmann::json;

constexpr const char* kFingerprint = "whale-0.1.0";

// Submits after the checks that need the token count; maps scheduler refusals to API statuses.
void submit(Generation& gen, std::vector<int32_t> prompt, std::shared_ptr<TokenConstraint> constraint = nullptr) {
  int64_t context = gen.engine.context_length();
  auto n = static_cast<int64_t>(prompt.size());
  if (n > context)
    fail_request("messages", "the prompt is {} tokens, over the context of {} tokens by {}; shorten it", n, context,
                 n - context);
  GenerationRequest request;
  request.prompt = std::move(prompt);
  request.max_tokens = gen.options.max_tokens.value_or(context - n + 1);
  request.sampling = gen.options.sampling;
  request.constraint = std::move(constraint);
  try {
    gen.handle = gen.engine.scheduler().submit(std::move(request));
  } catch (const QueueFullError& e) {
    throw ApiError{429, std::string(e.what()) + "; retry later", "", "queue_full"};
  } catch (const Error& e) {
    throw ApiError{503, e.what(), "", "overloaded"};
  }
}

ApiError generation_error(const Generation& gen) {
  if (gen.error_status == 503) return {503, gen.error, "", "overloaded"};
  return {500, "generation failed: " + gen.error, "", "internal_error"};
}

json chat_chunk(const Generation& gen, json delta, json finish_reason = nullptr, json logprobs = nullptr) {
  return {{"id", gen.id},
          {"object", "chat.completion.chunk"},
          {"created", gen.created},
          {"model", gen.model},
          {"system_fingerprint", kFingerprint},
          {"choices", json::array({{{"index", 0},
                                    {"delta", std::move(delta)},
                                    {"logprobs", std::move(logprobs)},
                                    {"finish_reason", std::move(finish_reason)}}})}};
}

json text_chunk(const Generation& gen, const std::string& text, json finish_reason = nullptr, json logprobs = nullptr) {
  return {{"id", gen.id},
          {"object", "text_completion"},
          {"created", gen.created},
          {"model", gen.model},
          {"system_fingerprint", kFingerprint},
          {"choices", json::array({{{"index", 0},
                                    {"text", text},
                                    {"logprobs", std::move(logprobs)},
                                    {"finish_reason", std::move(finish_reason)}}})}};
}

// Legacy completions logprobs from per-token entries.
json text_logprobs(const json& entries) {
  json out = {{"tokens", json::array()},
              {"token_logprobs", json::array()},
              {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  for (const auto& e : entries) {
    out["tokens"].push_back(e["token"]);
    out["token_logprobs"].push_back(e["logprob"]);
    out["top_logprobs"].push_back(e["top"]);
    out["text_offset"].push_back(e["offset"]);
  }
  return out;
}

void respond_whole(Generation& gen, const httplib::Request& request, httplib::Response& response) {
  std::string reasoning, content;
  json entries = json::array();
  GenerationEvent event;
  const ClientProbe client(request);
  bool client_gone = false;
  while (!gen.finished) {
    if (!client_gone && client.closed()) {
      client_gone = true;
      gen.handle->cancel();  // nobody will read the answer: free the slot
    }
    if (!gen.handle->next(event, std::chrono::milliseconds(20))) continue;
    json entry;
    OutputDelta d = gen.consume(event, &entry);
    reasoning += d.reasoning;
    content += d.content;
    if (!entry.is_null()) entries.push_back(std::move(entry));
  }
  if (client_gone) {
    gen.record(499);
    return;
  }
  if (!gen.error.empty()) {
    ApiError error = generation_error(gen);
    gen.record(error.status);
    response.status = error.status;
    response.set_content(dump_json(error.body()), "application/json");
    return;
  }
  json body;
  if (gen.chat) {
    json message = {{"role", "assistant"}, {"content", content}};
    if (gen.engine.reasoning_model()) message["reasoning_content"] = reasoning;
    json logprobs = gen.options.logprobs ? json{{"content", entries}} : json(nullptr);
    body = {{"id", gen.id},
            {"object", "chat.completion"},
            {"created", gen.created},
            {"model", gen.model},
            {"system_fingerprint", kFingerprint},
            {"choices",
             json::array(
                 {{{"index", 0}, {"message", message}, {"logprobs", logprobs}, {"finish_reason", gen.finish_reason}}})},
            {"usage", gen.usage()}};
  } else {
    json logprobs = gen.options.logprobs ? text_logprobs(entries) : json(nullptr);
    body = text_chunk(gen, content, gen.finish_reason, logprobs);
    body["usage"] = gen.usage();
  }
  gen.record(200);
  response.set_content(dump_json(body), "application/json");
}

// One provider call: waits for the next event (or sends a keep-alive comment) and writes what it released.
bool stream_step(Generation& gen, httplib::DataSink& sink, std::chrono::milliseconds keep_alive) {
  auto write = [&](const std::string& text) { return sink.write(text.data(), text.size()); };
  GenerationEvent event;
  if (!gen.handle->next(event, keep_alive)) return write(sse_comment("keep-alive"));
  json entry;
  OutputDelta d = gen.consume(event, &entry);
  json logprobs = nullptr;
  if (!entry.is_null())
    logprobs = gen.chat ? json{{"content", json::array({entry})}} : text_logprobs(json::array({entry}));
  std::string out;
  if (gen.chat) {
    if (event.kind == GenerationEvent::Kind::Started)
      out += sse_data(chat_chunk(gen, {{"role", "assistant"}, {"content", ""}}));
    if (!d.reasoning.empty()) {
      out += sse_data(chat_chunk(gen, {{"content", nullptr}, {"reasoning_content", d.reasoning}}, nullptr,
                                 d.content.empty() ? logprobs : json(nullptr)));
      if (d.content.empty()) logprobs = nullptr;
    }
    if (!d.content.empty() || !logprobs.is_null())
      out += sse_data(chat_chunk(gen, {{"content", d.content}, {"reasoning_content", nullptr}}, nullptr, logprobs));
  } else if (!d.content.empty() || !logprobs.is_null()) {
    out += sse_data(text_chunk(gen, d.content, nullptr, logprobs));
  }
  if (gen.finished) {
    if (!gen.error.empty()) {
      out += sse_data(generation_error(gen).body());
    } else {
      out += sse_data(gen.chat ? chat_chunk(gen, json::object(), gen.finish_reason)
                               : text_chunk(gen, "", gen.finish_reason));
      if (gen.options.include_usage) {
        json usage_chunk = gen.chat ? chat_chunk(gen, json::object()) : text_chunk(gen, "");
        usage_chunk["choices"] = json::array();
        usage_chunk["usage"] = gen.usage();
        out += sse_data(usage_chunk);
      }
    }
    out += sse_done();
  }
  if (!out.empty() && !write(out)) return false;
  if (gen.finished) {
    gen.record(gen.error.empty() ? 200 : gen.error_status);
    sink.done();
  }
  return true;
}

void respond_stream(std::shared_ptr<Generation> gen, httplib::Response& response) {
  response.set_header("Cache-Control", "no-cache");
  response.set_header("X-Accel-Buffering", "no");
  auto keep_alive = gen->server.options().keep_alive_interval;
  response.set_chunked_content_provider(
      "text/event-stream",
      [gen, keep_alive](size_t, httplib::DataSink& sink) { return stream_step(*gen, sink, keep_alive); },
      [gen](bool) {
        // Runs when the response ends. One not recorded yet stopped early, even if generation had finished: the
        // client went away before the last chunks were written. Free the slot and record it.
        if (!gen->recorded) {
          gen->handle->cancel();
          gen->record(499);
        }
      });
}

}  // namespace

void handle_chat_completion(HttpServer& server, const httplib::Request& request, httplib::Response& response,
                            const std::string& key_name) {
  std::shared_ptr<void> in_flight = server.begin_response(key_name);
  ChatCompletionRequest parsed = parse_chat_completion_request(request.body, server.options().limits);
  Engine& engine = server.engine();
  ChatPrompt prompt;
  try {
    prompt = engine.encode_chat(parsed.messages);
  } catch (const Error& e) {
    fail_request("messages", "messages: the chat template failed: {}", e.what());
  }
  bool split = engine.reasoning_model();
  auto gen = std::make_shared<Generation>(server, "/v1/chat/completions", server.next_request_id("chatcmpl"),
                                          parsed.options, true, split, split && prompt.opens_reasoning);
  gen->key_name = key_name;
  gen->in_flight = std::move(in_flight);
  std::shared_ptr<TokenConstraint> constraint;
  if (parsed.json_object) {
    constraint = std::make_shared<JsonObjectConstraint>(engine.vocabulary(), engine.scheduler().options().end_tokens,
                                                        split && prompt.opens_reasoning);
  }
  submit(*gen, std::move(prompt.ids), std::move(constraint));
  if (gen->options.stream) {
    respond_stream(gen, response);
  } else {
    respond_whole(*gen, request, response);
  }
}

void handle_completion(HttpServer& server, const httplib::Request& request, httplib::Response& response,
                       const std::string& key_name) {
  std::shared_ptr<void> in_flight = server.begin_response(key_name);
  CompletionRequest parsed = parse_completion_request(request.body, server.options().limits);
  auto gen = std::make_shared<Generation>(server, "/v1/completions", server.next_request_id("cmpl"), parsed.options,
                                          false, false, false);
  gen->key_name = key_name;
  gen->in_flight = std::move(in_flight);
  std::vector<int32_t> ids;
  try {
    ids = server.engine().encode_text(parsed.prompt);
  } catch (const Error& e) {
    fail_request("prompt", "prompt: {}", e.what());
  }
  if (ids.empty()) fail_param("prompt", "prompt: encodes to no tokens");
  submit(*gen, std::move(ids));
  if (gen->options.stream) {
    respond_stream(gen, response);
  } else {
    respond_whole(*gen, request, response);
  }
}

}  // namespace whale::server
