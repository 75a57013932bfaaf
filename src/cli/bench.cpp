// `whale bench`: speed of a model on this machine, in llama-bench's terms (prompt processing and decode
// tokens/s) plus what bounds decode: weight bytes read per token, the GB/s that makes, and its share of the
// machine's read bandwidth. `whale bench --membw` measures that bandwidth with 1..T threads.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "formats/model_source.h"
#include "kernels/isa.h"
#include "models/model.h"
#include "runtime/loaded_model.h"
#include "runtime/process_memory.h"

namespace whale::cli {
namespace {

using Clock = std::chrono::steady_clock;
using ordered_json = nlohmann::ordered_json;

struct BenchOptions {
  std::string model;
  int64_t prompt = 512;
  int64_t decode = 128;
  int threads = 0;
  int64_t batch = 512;
  int repetitions = 1;
  bool json = false;
  bool membw = false;
  size_t membw_mib = 1024;
  bool map_weights = false;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Read bandwidth of `threads` threads each summing its share of `buffer` (GB/s, best of three passes).
// Eight independent sums keep enough loads in flight for the prefetchers; the sum is kept so the loads stay.
double read_bandwidth(const std::vector<uint64_t>& buffer, int threads) {
  const size_t words = buffer.size();
  double best = 0.0;
  std::vector<uint64_t> sinks(static_cast<size_t>(threads));
  for (int pass = 0; pass < 3; ++pass) {
    const Clock::time_point start = Clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        const size_t lo = words * static_cast<size_t>(t) / static_cast<size_t>(threads);
        const size_t hi = words * static_cast<size_t>(t + 1) / static_cast<size_t>(threads);
        uint64_t s[8] = {};
        size_t i = lo;
        for (; i + 8 <= hi; i += 8) {
          for (int k = 0; k < 8; ++k) s[k] += buffer[i + static_cast<size_t>(k)];
        }
        for (; i < hi; ++i) s[0] += buffer[i];
        sinks[static_cast<size_t>(t)] = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
      });
    }
    for (std::thread& w : workers) w.join();
    best = std::max(best, static_cast<double>(words * sizeof(uint64_t)) / seconds_since(start) / 1e9);
  }
  volatile uint64_t keep = 0;
  for (uint64_t s : sinks) keep = keep + s;
  return best;
}

std::vector<double> measure_bandwidth(int max_threads, size_t mib) {
  std::vector<uint64_t> buffer(mib * 1024 * 1024 / sizeof(uint64_t));
  for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = i;
  std::vector<double> gbps;
  for (int t = 1; t <= max_threads; ++t) gbps.push_back(read_bandwidth(buffer, t));
  return gbps;
}

int resolve_threads(int threads) {
  return threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void run_membw(const BenchOptions& o) {
  const int threads = resolve_threads(o.threads);
  const std::vector<double> gbps = measure_bandwidth(threads, o.membw_mib);
  if (o.json) {
    ordered_json j{{"buffer_mib", o.membw_mib}, {"read_gb_per_s", gbps}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  for (size_t t = 0; t < gbps.size(); ++t) std::printf("threads %zu: %.1f GB/s read\n", t + 1, gbps[t]);
}

// Bytes of weights one decode step reads: every tensor except the embedding table (one row per token) unless
// the output projection is tied to it, and only experts_per_token / expert_count of the routed experts.
uint64_t weight_bytes_per_token(const ModelSource& source, const ModelConfig& config) {
  const bool tied = source.find_tensor("output.weight") == nullptr;
  double bytes = 0.0;
  for (const TensorView& t : source.tensors()) {
    if (t.name == "token_embd.weight" && !tied) continue;
    double b = static_cast<double>(t.bytes);
    if (t.name.find("_exps.") != std::string::npos && config.expert_count > 0) {
      b *= static_cast<double>(config.experts_per_token) / static_cast<double>(config.expert_count);
    }
    bytes += b;
  }
  return static_cast<uint64_t>(bytes);
}

void touch_pages(const ModelSource& source) {
  volatile uint8_t sink = 0;
  for (const TensorView& t : source.tensors()) {
    for (size_t off = 0; off < t.bytes; off += 4096) sink = static_cast<uint8_t>(sink + t.data[off]);
  }
}

void run_bench(const BenchOptions& o) {
  if (o.model.empty()) fail("whale bench: expected -m MODEL (or --membw)");
  const int threads = resolve_threads(o.threads);
  ThreadPool pool(threads);
  const Clock::time_point load_start = Clock::now();
  auto source = std::make_shared<const ModelSource>(
      ModelSource::open(o.model, inference_source_options(o.model, o.map_weights, available_memory())));
  LoadOptions load;
  load.pool = &pool;
  load.max_batch_tokens = std::max<int64_t>(1, std::min(o.batch, std::max<int64_t>(o.prompt, 1)));
  std::unique_ptr<Model> model = load_model(source, load);
  const double load_s = seconds_since(load_start);
  touch_pages(*source);  // page faults are load cost, not decode cost
  const double load_touch_s = seconds_since(load_start);

  const ModelConfig& config = model->config();
  const int64_t context = o.prompt + o.decode + 1;
  std::unique_ptr<KvCache> cache = model->create_cache(context);
  std::vector<float> logits(static_cast<size_t>(config.vocab_size));
  std::vector<int32_t> prompt(static_cast<size_t>(o.prompt));
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 7919 + 13) % static_cast<size_t>(config.vocab_size));

  // Warm-up: one token, so the first measured call does not pay for first-touch scratch pages.
  const int32_t first = 1;
  model->forward(std::span<const int32_t>(&first, 1), 0, *cache, logits);

  double prompt_s = 1e30, decode_s = 1e30;
  for (int rep = 0; rep < o.repetitions; ++rep) {
    if (o.prompt > 0) {
      const Clock::time_point start = Clock::now();
      model->forward(prompt, 0, *cache, logits);
      prompt_s = std::min(prompt_s, seconds_since(start));
    }
    if (o.decode > 0) {
      const Clock::time_point start = Clock::now();
      int32_t token = 2;
      for (int64_t i = 0; i < o.decode; ++i) {
        model->forward(std::span<const int32_t>(&token, 1), o.prompt + i, *cache, logits);
        token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      }
      decode_s = std::min(decode_s, seconds_since(start));
    }
  }
  const double prompt_tps = o.prompt > 0 ? static_cast<double>(o.prompt) / prompt_s : 0.0;
  const double decode_tps = o.decode > 0 ? static_cast<double>(o.decode) / decode_s : 0.0;
  const uint64_t bytes_per_token = weight_bytes_per_token(*source, config);
  const double gbps = static_cast<double>(bytes_per_token) * decode_tps / 1e9;
  const std::vector<double> bandwidth = measure_bandwidth(threads, 512);
  const double limit = bandwidth.back();
  const std::string isa(kernels::isa_name(kernels::active_isa()));
  if (o.json) {
    ordered_json j{{"model", o.model},
                   {"architecture", config.arch},
                   {"threads", threads},
                   {"isa", isa},
                   {"prompt_tokens", o.prompt},
                   {"prompt_tokens_per_second", prompt_tps},
                   {"decode_tokens", o.decode},
                   {"decode_tokens_per_second", decode_tps},
                   {"weight_bytes_per_token", bytes_per_token},
                   {"decode_gb_per_s", gbps},
                   {"read_bandwidth_gb_per_s", limit},
                   {"bandwidth_share", limit > 0 ? gbps / limit : 0.0},
                   {"load_seconds", load_s},
                   {"load_and_touch_seconds", load_touch_s},
                   {"peak_rss_bytes", peak_rss_bytes()}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("model      %s (%s), %d threads, %s kernels\n", o.model.c_str(), config.arch.c_str(), threads, isa.c_str());
  std::printf("load       %.2f s (%.2f s with every weight page read)\n", load_s, load_touch_s);
  std::printf("prompt     %lld tokens: %.2f tok/s\n", static_cast<long long>(o.prompt), prompt_tps);
  std::printf("decode     %lld tokens: %.2f tok/s\n", static_cast<long long>(o.decode), decode_tps);
  std::printf("bandwidth  %.2f GB weights/token -> %.1f GB/s = %.0f%% of %.1f GB/s measured read bandwidth\n",
              static_cast<double>(bytes_per_token) / 1e9, gbps, limit > 0 ? 100.0 * gbps / limit : 0.0, limit);
  std::printf("peak RSS   %.2f GB\n", static_cast<double>(peak_rss_bytes()) / 1e9);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prompt and decode speed of a model (or --membw: memory bandwidth)");
  cmd->add_option("-m,--model", o->model, "Model: a .gguf file or a Hugging Face folder");
  cmd->add_option("-p,--prompt", o->prompt, "Prompt tokens to process")->check(CLI::Range(0, 1 << 20))->capture_default_str();
  cmd->add_option("-n,--decode", o->decode, "Tokens to decode")->check(CLI::Range(0, 1 << 20))->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "Threads (0: all cores)")->capture_default_str();
  cmd->add_option("-b,--batch", o->batch, "Prompt tokens per forward step")->check(CLI::Range(1, 8192))->capture_default_str();
  cmd->add_option("-r,--repetitions", o->repetitions, "Runs (the best is reported)")->check(CLI::Range(1, 100))->capture_default_str();
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->add_flag("--mmap", o->map_weights, "Use the weights from the file's memory map (as run and serve --mmap)");
  cmd->add_flag("--membw", o->membw, "Measure memory read bandwidth with 1..T threads instead");
  cmd->add_option("--membw-mib", o->membw_mib, "Buffer size for --membw")->check(CLI::Range(16, 1 << 16))->capture_default_str();
  cmd->callback([o] {
    if (o->membw) {
      run_membw(*o);
    } else {
      run_bench(*o);
    }
  });
}

}  // namespace whale::cli
