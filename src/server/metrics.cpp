// Prometheus text rendering of the server's metrics (see metrics.h).
#include "server/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace whale::server {
namespace {

// Label values are quoted; backslash, quote and newline must be escaped.
std::string label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t bucket = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

void Histogram::render(const std::string& name, std::string& out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count_, name, sum_, name, count_);
}

Metrics::Metrics()
    : first_token_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      inter_token_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}) {}

void Metrics::record_request(const RequestRecord& r) {
  std::lock_guard lock(mutex_);
  ++requests_[{r.endpoint, r.status}];
  prompt_tokens_ += static_cast<uint64_t>(r.prompt_tokens);
  cached_tokens_ += static_cast<uint64_t>(r.cached_tokens);
  completion_tokens_ += static_cast<uint64_t>(r.completion_tokens);
  if (!r.key_name.empty()) {
    KeyUsage& k = keys_[r.key_name];
    ++k.requests;
    k.prompt_tokens += static_cast<uint64_t>(r.prompt_tokens);
    k.completion_tokens += static_cast<uint64_t>(r.completion_tokens);
  }
}

void Metrics::observe_first_token(double seconds) {
  std::lock_guard lock(mutex_);
  first_token_.observe(seconds);
}

void Metrics::observe_inter_token(double seconds) {
  std::lock_guard lock(mutex_);
  inter_token_.observe(seconds);
}

std::string Metrics::render(const SchedulerStats& stats) const {
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP whale_requests_total Finished HTTP requests by endpoint and status.\n";
  out += "# TYPE whale_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    out += fmt::format("whale_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", label(key.first), key.second, n);
  out +=
      "# HELP whale_prompt_tokens_total Prompt tokens of finished requests.\n# TYPE whale_prompt_tokens_total "
      "counter\n";
  out += fmt::format("whale_prompt_tokens_total {}\n", prompt_tokens_);
  out +=
      "# HELP whale_prompt_cache_hit_tokens_total Prompt tokens served from the prefix cache.\n"
      "# TYPE whale_prompt_cache_hit_tokens_total counter\n";
  out += fmt::format("whale_prompt_cache_hit_tokens_total {}\n", cached_tokens_);
  out += "# HELP whale_completion_tokens_total Generated tokens.\n# TYPE whale_completion_tokens_total counter\n";
  out += fmt::format("whale_completion_tokens_total {}\n", completion_tokens_);
  out += "# HELP whale_queue_depth Requests waiting for a sequence slot.\n# TYPE whale_queue_depth gauge\n";
  out += fmt::format("whale_queue_depth {}\n", stats.queued);
  out += "# HELP whale_running_sequences Sequences being prefilled or decoded.\n# TYPE whale_running_sequences gauge\n";
  out += fmt::format("whale_running_sequences {}\n", stats.running);
  out += "# HELP whale_context_cache_blocks Blocks of computed prefixes held by the shared context cache.\n"
         "# TYPE whale_context_cache_blocks gauge\n";
  out += fmt::format("whale_context_cache_blocks {}\n", stats.cached_blocks);
  out += "# HELP whale_context_cache_bytes KV bytes held by the shared context cache.\n"
         "# TYPE whale_context_cache_bytes gauge\n";
  out += fmt::format("whale_context_cache_bytes {}\n", stats.cached_bytes);
  out += "# HELP whale_context_cache_disk_writes_total Context cache blocks written to --cache-dir.\n"
         "# TYPE whale_context_cache_disk_writes_total counter\n";
  out += fmt::format("whale_context_cache_disk_writes_total {}\n", stats.disk_blocks_written);
  out += "# HELP whale_decode_steps_total Forward steps of the scheduler.\n# TYPE whale_decode_steps_total counter\n";
  out += fmt::format("whale_decode_steps_total {}\n", stats.steps);
  out +=
      "# HELP whale_time_to_first_token_seconds From request arrival to the first generated token.\n"
      "# TYPE whale_time_to_first_token_seconds histogram\n";
  first_token_.render("whale_time_to_first_token_seconds", out);
  out +=
      "# HELP whale_inter_token_latency_seconds Between consecutive generated tokens of a request.\n"
      "# TYPE whale_inter_token_latency_seconds histogram\n";
  inter_token_.render("whale_inter_token_latency_seconds", out);
  if (!keys_.empty()) {
    out += "# HELP whale_key_requests_total Requests per API key name.\n# TYPE whale_key_requests_total counter\n";
    for (const auto& [name, k] : keys_)
      out += fmt::format("whale_key_requests_total{{key=\"{}\"}} {}\n", label(name), k.requests);
    out += "# HELP whale_key_tokens_total Tokens per API key name and kind.\n# TYPE whale_key_tokens_total counter\n";
    for (const auto& [name, k] : keys_) {
      out += fmt::format("whale_key_tokens_total{{key=\"{}\",kind=\"prompt\"}} {}\n", label(name), k.prompt_tokens);
      out += fmt::format("whale_key_tokens_total{{key=\"{}\",kind=\"completion\"}} {}\n", label(name),
                         k.completion_tokens);
    }
  }
  return out;
}

}  // namespace whale::server
