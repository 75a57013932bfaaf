// HttpServer: the API routes over an Engine, and the embedded web chat (server/web_assets.h) at GET /. One place turns
// ApiError (and any other exception) into an OpenAI-style error response; one log line is written per request (id,
// status, tokens, cache hits, timings).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "server/auth.h"
#include "server/engine.h"
#include "server/metrics.h"
#include "server/requests.h"

namespace httplib {
class Server;
}

namespace whale::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = any free port (see HttpServer::bind)
  ApiKeys keys;     // empty: no authentication
  RequestLimits limits;
  size_t max_body_bytes = 8u << 20;
  size_t max_requests_per_key = 0;  // generation requests one API key may have in flight (0: no limit)
  size_t http_threads = 32;  // must exceed parallel + queue, or waiting clients see no keep-alives
  std::chrono::milliseconds keep_alive_interval{5000};  // SSE comment while a streamed request waits
};

class HttpServer {
 public:
  HttpServer(Engine& engine, ServerOptions options);
  // `http` is the transport the routes are installed on; a subclass of httplib::Server may be given to feed
  // requests without a socket (the HTTP fuzz target does).
  HttpServer(Engine& engine, ServerOptions options, std::unique_ptr<httplib::Server> http);
  ~HttpServer();

  // Binds the listening socket; returns the port (useful with port 0). Throws whale::Error when it cannot.
  int bind();
  // Serves until stop() (from another thread or a signal handler's helper thread).
  void run();
  void stop();
  // Shutdown has begun: /health answers 503 {"status":"draining"}, so that a balancer stops sending work.
  void set_draining() { draining_.store(true); }

  Engine& engine() { return engine_; }
  Metrics& metrics() { return metrics_; }
  const ServerOptions& options() const { return options_; }
  std::string next_request_id(const char* prefix);
  // Marks a generation response as in flight until the returned handle is destroyed (keep it as long as the
  // response streams). Throws ApiError 429 when the request's key already has max_requests_per_key in flight.
  std::shared_ptr<void> begin_response(const std::string& key_name);
  // Waits until every response begun has been written, or `deadline`; true when none is left.
  bool wait_for_responses(std::chrono::steady_clock::time_point deadline);

 private:
  void install_routes();

  Engine& engine_;
  ServerOptions options_;
  Metrics metrics_;
  std::unique_ptr<httplib::Server> http_;
  std::atomic<uint64_t> request_counter_{0};
  uint64_t id_salt_ = 0;
  int bound_port_ = -1;
  std::atomic<bool> draining_{false};
  std::mutex in_flight_mutex_;
  size_t responses_in_flight_ = 0;
  std::map<std::string, size_t, std::less<>> key_in_flight_;  // per key name, when keys are limited
};

}  // namespace whale::server
