// `whale serve`: loads a model and serves the DeepSeek/OpenAI-compatible API (and the web chat) over HTTP on
// loopback by default. SIGINT/SIGTERM drain it: new requests get 503 while those already admitted (running or
// queued) finish, for at most --drain-timeout seconds; then the listener closes and the process exits 0. A second
// signal during the drain cuts it short.
#include <pthread.h>

#include <csignal>
#include <filesystem>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "server/model_engine.h"
#include "server/server.h"
#include "server/toy_engine.h"

namespace whale::cli {
namespace {

struct ServeFlags {
  std::string model = "models/nano-r1.gguf";
  std::string host = "127.0.0.1";
  int port = 8080;
  int parallel = 4;
  int64_t ctx = 0;  // 0 = min(model's context, 4096)
  std::string api_key_file;
  int key_concurrency = 0;
  std::string cache_dir;
  int64_t cache_mem_mib = 1024;
  int64_t cache_dir_max_mib = 8192;
  int threads = 0;
  int queue = 64;
  int keep_alive_ms = 5000;
  double drain_timeout_s = 30;
  bool check_memory = true;
  bool map_weights = false;
  bool toy = false;
  int toy_step_ms = 0;
};

std::unique_ptr<server::Engine> make_engine(const ServeFlags& flags, SchedulerOptions scheduler) {
  if (flags.toy) {
    if (scheduler.context_length == 0) scheduler.context_length = 4096;
    server::ToyOptions toy;
    toy.step_delay = std::chrono::milliseconds(flags.toy_step_ms);
    return std::make_unique<server::ToyEngine>(toy, std::move(scheduler));
  }
  if (!std::filesystem::exists(flags.model))
    fail("-m {}: no such model file (give a GGUF file or a Hugging Face folder with -m PATH)", flags.model);
  server::ModelEngineOptions options;
  options.threads = flags.threads;
  options.check_memory = flags.check_memory;
  options.map_weights = flags.map_weights;
  options.scheduler = std::move(scheduler);
  return std::make_unique<server::ModelEngine>(flags.model, std::move(options));
}

void serve(const ServeFlags& flags) {
  if (flags.port < 0 || flags.port > 65535) fail("--port: expected 0 to 65535, got {}", flags.port);
  if (flags.parallel < 1 || flags.parallel > 256) fail("--parallel: expected 1 to 256, got {}", flags.parallel);
  if (flags.queue < 0 || flags.queue > 100000) fail("--queue: expected 0 to 100000, got {}", flags.queue);
  if (flags.ctx < 0 || flags.ctx > (int64_t{1} << 24))
    fail("--ctx: expected 0 (the model's) to 16777216 tokens, got {}", flags.ctx);
  if (!(flags.drain_timeout_s >= 0 && flags.drain_timeout_s <= 3600))
    fail("--drain-timeout: expected 0 to 3600 seconds, got {}", flags.drain_timeout_s);
  if (flags.keep_alive_ms < 10) fail("--keep-alive-ms: expected at least 10, got {}", flags.keep_alive_ms);
  set_log_level(LogLevel::Info);

  server::ServerOptions options;
  options.host = flags.host;
  options.port = flags.port;
  if (!flags.api_key_file.empty()) options.keys = server::ApiKeys::load(flags.api_key_file);
  if (flags.key_concurrency < 0) fail("--key-concurrency: expected 0 (no limit) or more, got {}", flags.key_concurrency);
  if (flags.key_concurrency > 0 && flags.api_key_file.empty()) fail("--key-concurrency needs --api-key-file");
  options.max_requests_per_key = static_cast<size_t>(flags.key_concurrency);
  options.keep_alive_interval = std::chrono::milliseconds(flags.keep_alive_ms);
  // Every waiting or running request holds an HTTP worker (it streams or waits on its events).
  options.http_threads = static_cast<size_t>(flags.parallel + flags.queue + 8);
  if (flags.cache_mem_mib < 0) fail("--cache-mem: expected MiB >= 0, got {}", flags.cache_mem_mib);
  if (flags.cache_dir_max_mib < 1) fail("--cache-dir-max: expected MiB >= 1, got {}", flags.cache_dir_max_mib);
  if (!flags.cache_dir.empty() && flags.cache_mem_mib == 0)
    fail("--cache-dir needs the in-memory context cache (--cache-mem > 0)");

  SchedulerOptions scheduler;
  scheduler.parallel = flags.parallel;
  scheduler.context_length = flags.ctx;
  scheduler.max_queue = static_cast<size_t>(flags.queue);
  scheduler.prefix_cache_bytes = static_cast<size_t>(flags.cache_mem_mib) << 20;
  scheduler.cache_dir = flags.cache_dir;
  scheduler.cache_dir_max_bytes = static_cast<uint64_t>(flags.cache_dir_max_mib) << 20;

  // Signals are taken by one waiting thread, so they must be blocked before any other thread starts.
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<server::Engine> engine = make_engine(flags, std::move(scheduler));
  server::HttpServer http(*engine, std::move(options));
  int port = http.bind();
  log(LogLevel::Info, "whale: serving {} (context {}, {} parallel) on http://{}:{}", engine->model_id(),
      engine->context_length(), flags.parallel, flags.host, port);
  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    SchedulerStats stats = engine->scheduler().stats();
    log(LogLevel::Info, "whale: signal {}, draining {} running and {} queued requests (at most {} s)", signal,
        stats.running, stats.queued, flags.drain_timeout_s);
    http.set_draining();
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(flags.drain_timeout_s));
    bool second_signal = false;
    auto signalled_again = [&] {
      timespec no_wait{};
      second_signal = sigtimedwait(&signals, nullptr, &no_wait) > 0;
      return second_signal;
    };
    if (engine->scheduler().drain(deadline, signalled_again))
      log(LogLevel::Info, "whale: every request finished, stopping");
    else
      log(LogLevel::Warn, "whale: {}, cancelling what still runs", second_signal ? "second signal" : "drain timeout");
    engine->scheduler().stop();
    // Responses still write their last events (a cancelled stream its error and [DONE]); the listener's stop
    // would cut them, so it waits for them briefly.
    http.wait_for_responses(std::chrono::steady_clock::now() + std::chrono::seconds(5));
    http.stop();
  });
  http.run();
  waiter.join();
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve a model over a DeepSeek/OpenAI-compatible HTTP API");
  cmd->add_option("-m,--model", flags->model, "GGUF file or Hugging Face folder")->capture_default_str();
  cmd->add_option("--host", flags->host, "address to listen on (loopback unless told otherwise)")
      ->capture_default_str();
  cmd->add_option("--port", flags->port, "port (0 = any free port)")->capture_default_str();
  cmd->add_option("--parallel", flags->parallel, "sequences decoded together")->capture_default_str();
  cmd->add_option("--ctx", flags->ctx, "context tokens per sequence (0 = the model's, at most 4096)");
  cmd->add_option("--api-key-file", flags->api_key_file, "file of API keys, one per line (\"KEY\" or \"NAME KEY\")");
  cmd->add_option("--key-concurrency", flags->key_concurrency,
                  "generation requests one API key may have in flight, running or queued (0 = no limit)")
      ->capture_default_str();
  cmd->add_option("--cache-mem", flags->cache_mem_mib, "MiB of KV kept by the shared context cache (0 = off)")
      ->capture_default_str();
  cmd->add_option("--cache-dir", flags->cache_dir, "keep the context cache on disk too, across restarts");
  cmd->add_option("--cache-dir-max", flags->cache_dir_max_mib, "MiB of cache files kept in --cache-dir")
      ->capture_default_str();
  cmd->add_option("--threads", flags->threads, "compute threads (0 = all cores)");
  cmd->add_option("--queue", flags->queue, "requests that may wait for a slot before 429")->capture_default_str();
  cmd->add_option("--keep-alive-ms", flags->keep_alive_ms, "SSE keep-alive comment interval while waiting")
      ->capture_default_str();
  cmd->add_option("--drain-timeout", flags->drain_timeout_s,
                  "on SIGTERM/SIGINT, seconds to let admitted requests finish before cancelling them")
      ->capture_default_str();
  cmd->add_flag("--no-memory-check{false}", flags->check_memory,
                "load even when the weights and KV caches exceed the available memory");
  cmd->add_flag("--mmap", flags->map_weights,
                "use the weights from the file's memory map rather than a copy in huge pages (slower decode)");
  cmd->add_flag("--toy", flags->toy, "serve a tiny deterministic toy model instead (for testing the API)")
      ->group("Testing");
  cmd->add_option("--toy-step-ms", flags->toy_step_ms, "toy model: milliseconds per forward step")->group("Testing");
  cmd->callback([flags] { serve(*flags); });
}

}  // namespace whale::cli
