// Generation: the server's view of one running request — scheduler events in, API-shaped pieces out. It
// detokenizes, splits reasoning from content, applies stop strings, counts tokens, times the first and
// following tokens, and at the end writes the request's log line and metrics. Used by completion.cpp from
// the HTTP worker that owns the request.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "server/engine.h"
#include "server/output.h"
#include "server/requests.h"

namespace whale::server {

class HttpServer;

struct Generation {
  using Clock = std::chrono::steady_clock;

  Generation(HttpServer& server, std::string endpoint, std::string id, GenerationOptions options, bool chat,
             bool split_reasoning, bool opens_reasoning);

  // Applies one scheduler event; returns the text it released. token_logprobs (when logprobs were asked
  // for) receives this token's entry in the endpoint's logprobs format.
  OutputDelta consume(const GenerationEvent& event, nlohmann::json* token_logprobs);
  // The usage object of the response.
  nlohmann::json usage() const;
  // Writes the log line and the metrics once; `status` is the HTTP status the client saw (499: it left).
  void record(int status);

  HttpServer& server;
  Engine& engine;
  std::string endpoint;
  std::string id;
  std::string model;
  int64_t created = 0;
  GenerationOptions options;
  bool chat = true;
  std::string key_name;
  std::shared_ptr<void> in_flight;  // HttpServer::begin_response, held until the response is written
  std::shared_ptr<GenerationHandle> handle;
  std::unique_ptr<TokenDecoder> decoder;
  OutputAssembler assembler;

  Clock::time_point arrived = Clock::now();
  Clock::time_point started;  // got a slot
  Clock::time_point first_token;
  Clock::time_point last_token;
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t reasoning_tokens = 0;
  int64_t text_offset = 0;  // legacy completions logprobs: bytes of text so far
  bool has_started = false;
  bool finished = false;
  bool recorded = false;
  std::string finish_reason;  // "stop" or "length" once finished
  std::string error;          // set when the engine failed mid-generation
  int error_status = 500;     // 503 when the server is shutting down
};

}  // namespace whale::server
