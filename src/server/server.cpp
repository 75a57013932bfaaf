// HttpServer: routes, authentication, the single exception-to-status boundary, and static assets
// (see server.h).
#include "server/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <ctime>
#include <functional>
#include <random>
#include <thread>

#include "core/log.h"
#include "server/api_error.h"
#include "server/completion.h"
#include "server/sse.h"
#include "server/web_assets.h"

namespace whale::server {
namespace {

// Connections the kernel queues before they are accepted. cpp-httplib listens with a backlog of 5, too few
// when many clients connect at once: the rest are dropped and retried by their TCP stack a second later.
constexpr int kListenBacklog = 1024;

// The default transport: httplib's server, with its listening socket within reach for the backlog above.
class Transport : public httplib::Server {
 public:
  int listening_socket() const { return svr_sock_; }
};

using RouteBody = std::function<void(const httplib::Request&, httplib::Response&, const std::string& key_name)>;

void write_error(httplib::Response& response, const ApiError& error) {
  response.status = error.status;
  if (error.status == 429) response.set_header("Retry-After", "1");
  if (error.status == 401) response.set_header("WWW-Authenticate", "Bearer");
  response.set_content(dump_json(error.body()), "application/json");
}

}  // namespace

HttpServer::HttpServer(Engine& engine, ServerOptions options)
    : HttpServer(engine, std::move(options), std::make_unique<Transport>()) {}

HttpServer::HttpServer(Engine& engine, ServerOptions options, std::unique_ptr<httplib::Server> http)
    : engine_(engine), options_(std::move(options)), http_(std::move(http)) {
  id_salt_ = std::random_device{}();
  size_t threads = std::max<size_t>(options_.http_threads, 4);
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_payload_max_length(options_.max_body_bytes);
  http_->set_read_timeout(30, 0);
  http_->set_write_timeout(30, 0);
  http_->set_keep_alive_max_count(1000);
  // On every response: no content sniffing, no referrer leaving the page.
  http_->set_default_headers({{"X-Content-Type-Options", "nosniff"}, {"Referrer-Policy", "no-referrer"}});
  install_routes();
}

HttpServer::~HttpServer() = default;

std::string HttpServer::next_request_id(const char* prefix) {
  uint64_t n = request_counter_.fetch_add(1) + 1;
  return fmt::format("{}-{:08x}{:06x}", prefix, static_cast<uint32_t>(id_salt_), n);
}

std::shared_ptr<void> HttpServer::begin_response(const std::string& key_name) {
  const bool limited = options_.max_requests_per_key > 0 && options_.keys.enabled();
  {
    std::lock_guard lock(in_flight_mutex_);
    if (limited) {
      size_t& used = key_in_flight_[key_name];
      if (used >= options_.max_requests_per_key)
        throw ApiError{429,
                       fmt::format("key {} already has {} requests in flight, its limit; retry later", key_name, used),
                       "", "key_concurrency_limit"};
      ++used;
    }
    ++responses_in_flight_;
  }
  return std::shared_ptr<void>(nullptr, [this, key_name, limited](void*) {
    std::lock_guard lock(in_flight_mutex_);
    --responses_in_flight_;
    if (!limited) return;
    auto it = key_in_flight_.find(key_name);
    if (--it->second == 0) key_in_flight_.erase(it);
  });
}

bool HttpServer::wait_for_responses(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    {
      std::lock_guard lock(in_flight_mutex_);
      if (responses_in_flight_ == 0) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void HttpServer::install_routes() {
  // Every API route goes through here: the key check and the one place errors become responses.
  auto api = [this](std::string endpoint, bool needs_key, RouteBody body) {
    return [this, endpoint, needs_key, body](const httplib::Request& request, httplib::Response& response) {
      std::string key_name;
      try {
        if (needs_key && options_.keys.enabled()) {
          std::string header = request.get_header_value("Authorization");
          auto name = options_.keys.check(header);
          if (!name)
            throw ApiError{
                401,
                header.empty() ? "missing API key: send the header Authorization: Bearer YOUR_KEY" : "invalid API key",
                "", "invalid_api_key"};
          key_name = *name;
        }
        body(request, response, key_name);
        return;
      } catch (const ApiError& e) {
        write_error(response, e);
        log(LogLevel::Info, "request - {} status={} error={}", endpoint, e.status, e.message);
        metrics_.record_request({endpoint, e.status, key_name, 0, 0, 0});
      } catch (const std::exception& e) {
        ApiError error{500, std::string("internal error: ") + e.what(), "", "internal_error"};
        write_error(response, error);
        log(LogLevel::Error, "request - {} status=500 error={}", endpoint, e.what());
        metrics_.record_request({endpoint, 500, key_name, 0, 0, 0});
      }
    };
  };

  http_->Get("/health", [this](const httplib::Request&, httplib::Response& response) {
    SchedulerStats stats = engine_.scheduler().stats();
    const bool draining = draining_.load();
    nlohmann::json body = {{"status", draining ? "draining" : "ok"},
                           {"model", engine_.model_id()},
                           {"running", stats.running},
                           {"queued", stats.queued}};
    if (draining) response.status = 503;
    response.set_content(dump_json(body), "application/json");
  });
  http_->Get("/v1/models",
             api("/v1/models", true, [this](const httplib::Request&, httplib::Response& response, const std::string&) {
               nlohmann::json model = {{"id", engine_.model_id()},
                                       {"object", "model"},
                                       {"created", 0},
                                       {"owned_by", "whale"},
                                       {"context_length", engine_.context_length()}};
               response.set_content(dump_json({{"object", "list"}, {"data", nlohmann::json::array({model})}}),
                                    "application/json");
             }));
  http_->Get("/metrics",
             api("/metrics", true, [this](const httplib::Request&, httplib::Response& response, const std::string&) {
               response.set_content(metrics_.render(engine_.scheduler().stats()), "text/plain; version=0.0.4");
             }));
  http_->Post("/v1/chat/completions",
              api("/v1/chat/completions", true,
                  [this](const httplib::Request& request, httplib::Response& response, const std::string& key) {
                    handle_chat_completion(*this, request, response, key);
                  }));
  http_->Post("/v1/completions",
              api("/v1/completions", true,
                  [this](const httplib::Request& request, httplib::Response& response, const std::string& key) {
                    handle_completion(*this, request, response, key);
                  }));
  // DeepSeek's base URL has no /v1.
  http_->Post("/chat/completions",
              api("/v1/chat/completions", true,
                  [this](const httplib::Request& request, httplib::Response& response, const std::string& key) {
                    handle_chat_completion(*this, request, response, key);
                  }));
  // The web chat's files need no key: they hold no data, and the page asks for the key itself.
  http_->Get(R"(/.*)", [](const httplib::Request& request, httplib::Response& response) {
    // Only the embedded files exist: a path is looked up as a whole, never joined to a folder.
    const WebAsset* asset = find_web_asset(request.path);
    if (!asset) {
      write_error(response, ApiError{404, "no such path: " + request.path, "", "not_found"});
      return;
    }
    // The page runs only its own scripts, talks only to this server and cannot be framed; model output is
    // sanitized before it is shown, and this is the second line. KaTeX positions glyphs with style attributes.
    response.set_header("Content-Security-Policy",
                        "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
                        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                        "form-action 'none'; frame-ancestors 'none'");
    response.set_header("X-Frame-Options", "DENY");
    response.set_header("Cross-Origin-Opener-Policy", "same-origin");
    response.set_header("Cache-Control", std::string(asset->cache_control));
    response.set_content(std::string(asset->body), std::string(asset->content_type));
  });
  // Statuses httplib produces itself (404 for unknown routes, 413 for oversized bodies) get a JSON body too.
  http_->set_error_handler([](const httplib::Request& request, httplib::Response& response) {
    if (!response.body.empty()) return;
    std::string message;
    if (response.status == 404) {
      message = "no such endpoint: " + request.method + " " + request.path;
    } else if (response.status == 413) {
      // httplib caps form-encoded bodies (curl -d without a Content-Type) at 8 KiB.
      message = request.get_header_value("Content-Type") == "application/x-www-form-urlencoded"
                    ? "the request body is too large for Content-Type application/x-www-form-urlencoded (8 KiB); "
                      "send Content-Type: application/json"
                    : "the request body is too large";
    } else {
      message = "the request could not be handled";
    }
    write_error(response, ApiError{response.status, message, "", ""});
  });
}

int HttpServer::bind() {
  if (options_.port == 0) {
    bound_port_ = http_->bind_to_any_port(options_.host);
    if (bound_port_ < 0) fail("--host {}: cannot listen on any port", options_.host);
  } else {
    if (!http_->bind_to_port(options_.host, options_.port))
      fail("--host {} --port {}: cannot listen (address in use or not local?)", options_.host, options_.port);
    bound_port_ = options_.port;
  }
  // On Linux, listen() on a listening socket sets its backlog anew.
  if (auto* transport = dynamic_cast<Transport*>(http_.get())) ::listen(transport->listening_socket(), kListenBacklog);
  return bound_port_;
}

void HttpServer::run() {
  if (bound_port_ < 0) bind();
  http_->listen_after_bind();
}

void HttpServer::stop() { http_->stop(); }

}  // namespace whale::server
