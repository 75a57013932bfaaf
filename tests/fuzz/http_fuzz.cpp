// Fuzz target: raw HTTP requests through whale's real routes, request parsing and API code, served by the toy
// engine (server/toy_engine.h, what `whale serve --toy` runs). No socket is involved: a subclass of
// httplib::Server feeds the bytes to its request handler through an in-memory stream and discards the
// response, keeping only each response's status.
//
// Input: one flags byte, then the bytes a client would send (up to kMaxRequests requests, as on a keep-alive
// connection). Flag bit 0: the toy answers with its script (else with hash noise until the context is full);
// bit 1: the server requires an API key (Authorization: Bearer sk-fuzz-key).
//
// Each input gets a fresh engine and server, so no state carries over from one input to the next. The
// context is kept at kContext tokens so that every generation ends quickly. Property: no request ends in
// 500 (internal error) — every bad request is the client's error, with a 4xx status.
#include <fcntl.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "server/server.h"
#include "server/toy_engine.h"

namespace whale {
namespace {

constexpr int64_t kContext = 128;
constexpr int kMaxRequests = 4;

// The client's bytes in; the response out, of which only the status line of each response is kept.
class MemoryStream : public httplib::Stream {
 public:
  explicit MemoryStream(std::string_view input) : input_(input) {}

  bool is_readable() const override { return position_ < input_.size(); }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, input_.size() - position_);
    std::memcpy(ptr, input_.data() + position_, n);
    position_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    // "HTTP/1.1 200 OK\r\n...": httplib writes the status line and the headers in one piece, first. An
    // interim "100 Continue" comes before the real one.
    const std::string_view head(ptr, size);
    if (awaiting_status_ && head.size() >= 12 && head.starts_with("HTTP/1.1 ")) {
      status_ = std::atoi(std::string(head.substr(9, 3)).c_str());
      awaiting_status_ = status_ >= 100 && status_ < 200;
    }
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 8080;
  }
  // No socket. whale's ClientProbe looks for the request's two endpoints among the process's sockets, finds
  // none and treats the client as connected.
  socket_t socket() const override { return INVALID_SOCKET; }

  // Starts listening for the status of the next response; -1 until one is written.
  void expect_response() {
    awaiting_status_ = true;
    status_ = -1;
  }
  int status() const { return status_; }

 private:
  std::string_view input_;
  size_t position_ = 0;
  bool awaiting_status_ = false;
  int status_ = -1;
};

class InMemoryHttp : public httplib::Server {
 public:
  InMemoryHttp() {
    // httplib treats a server without a listening socket as shutting down and stops streamed responses at
    // once; a descriptor of /dev/null stands in for it (nothing reads it: this server never listens).
    svr_sock_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  ~InMemoryHttp() override { ::close(svr_sock_); }

  // Handles the requests in `input` one after another, as a keep-alive connection would; aborts when one
  // ends in an internal error.
  void serve(std::string_view input) {
    MemoryStream stream(input);
    for (int i = 0; i < kMaxRequests && stream.is_readable(); ++i) {
      bool connection_closed = false;
      stream.expect_response();
      const bool last = i + 1 == kMaxRequests;
      const bool ok = process_request(stream, last, connection_closed, [](httplib::Request&) {});
      if (stream.status() == 500) fuzz::violated("no request ends in an internal error (500)");
      if (!ok || connection_closed) break;
    }
  }
};

}  // namespace
}  // namespace whale

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace whale;
  if (size == 0) return 0;
  server::ToyOptions toy;
  toy.script = (data[0] & 1) != 0;
  SchedulerOptions scheduler;
  scheduler.context_length = kContext;
  scheduler.prefix_cache_bytes = size_t{1} << 20;  // the shared context cache, as `whale serve` has it
  server::ToyEngine engine(toy, scheduler);

  server::ServerOptions options;
  options.keep_alive_interval = std::chrono::milliseconds(1000);  // the SSE comment of a stream that waits
  if (data[0] & 2) options.keys = server::ApiKeys::from_text("fuzz sk-fuzz-key\n", "fuzz keys");
  auto transport = std::make_unique<InMemoryHttp>();
  InMemoryHttp& http = *transport;
  server::HttpServer server(engine, options, std::move(transport));
  http.serve({reinterpret_cast<const char*>(data) + 1, size - 1});
  return 0;
}
