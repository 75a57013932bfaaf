// Generation: per-request event handling, usage, log line and metrics (see generation.h).
#include "server/generation.h"

#include <ctime>

#include "core/log.h"
#include "server/server.h"

namespace whale::server {
namespace {

double seconds_between(Generation::Clock::time_point a, Generation::Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

nlohmann::json byte_list(const std::string& text) {
  nlohmann::json bytes = nlohmann::json::array();
  for (unsigned char c : text) bytes.push_back(static_cast<int>(c));
  return bytes;
}

}  // namespace

Generation::Generation(HttpServer& server_, std::string endpoint_, std::string id_, GenerationOptions options_,
                       bool chat_, bool split_reasoning, bool opens_reasoning)
    : server(server_),
      engine(server_.engine()),
      endpoint(std::move(endpoint_)),
      id(std::move(id_)),
      created(static_cast<int64_t>(std::time(nullptr))),
      options(std::move(options_)),
      chat(chat_),
      decoder(engine.decoder()),
      assembler(split_reasoning, opens_reasoning, options.stop) {
  model = engine.model_id();
}

OutputDelta Generation::consume(const GenerationEvent& event, nlohmann::json* token_logprobs) {
  OutputDelta delta;
  if (finished) return delta;
  auto now = Clock::now();
  switch (event.kind) {
    case GenerationEvent::Kind::Started:
      has_started = true;
      started = now;
      prompt_tokens = event.prompt_tokens;
      cached_tokens = event.cached_tokens;
      break;
    case GenerationEvent::Kind::Token: {
      if (assembler.stopped()) break;  // a token the scheduler made before it saw the cancel
      if (completion_tokens == 0) {
        first_token = now;
        server.metrics().observe_first_token(seconds_between(arrived, now));
      } else {
        server.metrics().observe_inter_token(seconds_between(last_token, now));
      }
      last_token = now;
      ++completion_tokens;
      std::string text = decoder->push(event.token);
      bool was_reasoning = assembler.reasoning_open();
      delta = assembler.push(text);
      if (was_reasoning || assembler.reasoning_open()) ++reasoning_tokens;
      if (token_logprobs && options.logprobs) {
        std::string token = engine.token_text(event.token);
        if (chat) {
          nlohmann::json top = nlohmann::json::array();
          for (const auto& alt : event.top_logprobs) {
            std::string alt_text = engine.token_text(alt.token);
            top.push_back({{"token", alt_text}, {"logprob", alt.logprob}, {"bytes", byte_list(alt_text)}});
          }
          *token_logprobs = {
              {"token", token}, {"logprob", event.logprob}, {"bytes", byte_list(token)}, {"top_logprobs", top}};
        } else {
          nlohmann::json top = nlohmann::json::object();
          for (const auto& alt : event.top_logprobs) top[engine.token_text(alt.token)] = alt.logprob;
          *token_logprobs = {{"token", token}, {"logprob", event.logprob}, {"top", top}, {"offset", text_offset}};
        }
      }
      text_offset += static_cast<int64_t>(delta.content.size());
      if (assembler.stopped()) {
        handle->cancel();
        finish_reason = "stop";
      }
      break;
    }
    case GenerationEvent::Kind::Finished: {
      finished = true;
      if (!assembler.stopped()) {
        delta = assembler.push(decoder->flush());
        OutputDelta rest = assembler.finish();
        delta.reasoning += rest.reasoning;
        delta.content += rest.content;
      }
      if (event.finish == StopReason::Error) error = event.error.empty() ? "the engine failed" : event.error;
      // Our own cancel (a stop string) is a normal end; any other means the server is shutting down.
      if (event.finish == StopReason::Cancelled && !assembler.stopped()) {
        error = "the server is shutting down";
        error_status = 503;
      }
      if (finish_reason.empty()) finish_reason = event.finish == StopReason::Length ? "length" : "stop";
      break;
    }
  }
  return delta;
}

nlohmann::json Generation::usage() const {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens},
          {"prompt_cache_hit_tokens", cached_tokens},
          {"prompt_cache_miss_tokens", prompt_tokens - cached_tokens},
          {"prompt_tokens_details", {{"cached_tokens", cached_tokens}}},
          {"completion_tokens_details", {{"reasoning_tokens", reasoning_tokens}}}};
}

void Generation::record(int status) {
  if (recorded) return;
  recorded = true;
  auto now = Clock::now();
  double total = seconds_between(arrived, now);
  double queued = has_started ? seconds_between(arrived, started) : total;
  double ttft = completion_tokens > 0 ? seconds_between(arrived, first_token) : 0.0;
  double decode = completion_tokens > 1 ? seconds_between(first_token, last_token) : 0.0;
  double rate = decode > 0 ? static_cast<double>(completion_tokens - 1) / decode : 0.0;
  log(LogLevel::Info,
      "request {} {} status={} prompt={} cached={} completion={} reasoning={} finish={} queue_ms={:.1f} "
      "ttft_ms={:.1f} total_ms={:.1f} decode_tok_s={:.1f}{}{}",
      id, endpoint, status, prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens,
      finish_reason.empty() ? "none" : finish_reason, queued * 1e3, ttft * 1e3, total * 1e3, rate,
      key_name.empty() ? "" : " key=", key_name);
  server.metrics().record_request({endpoint, status, key_name, prompt_tokens, cached_tokens, completion_tokens});
}

}  // namespace whale::server
