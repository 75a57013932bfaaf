// HttpServer: the API routes over an Engine, and the embedded web chat (server/web_assets.h) at GET /. One place turns
// ApiError (and any other exception) into an OpenAI-style error response; one log line is written per request (id,
// status, tokens, cache hits, timings).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
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
  size_t http_threads = 32;  // must exceed parallel + queue, or waiting clients see no keep-alives
  std::chrono::milliseconds keep_alive_interval{5000};  // SSE comment while a streamed request waits
};

class HttpServer {
 public:
  HttpServer(Engine& engine, ServerOptions options);
  ~HttpServer();

  // Binds the listening socket; returns the port (useful with port 0). Throws whale::Error when it cannot.
  int bind();
  // Serves until stop() (from another thread or a signal handler's helper thread).
  void run();
  void stop();

  Engine& engine() { return engine_; }
  Metrics& metrics() { return metrics_; }
  const ServerOptions& options() const { return options_; }
  std::string next_request_id(const char* prefix);

 private:
  void install_routes();

  Engine& engine_;
  ServerOptions options_;
  Metrics metrics_;
  std::unique_ptr<httplib::Server> http_;
  std::atomic<uint64_t> request_counter_{0};
  uint64_t id_salt_ = 0;
  int bound_port_ = -1;
};

}  // namespace whale::server
